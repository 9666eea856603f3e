"""Headers on every answer: safe defaults, the pages' CSP, and CORS on what is public."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# CORS for everything public and read-only (Resolver §2.2): pages, linksets, the description
# file, the JWKS and signed records. Never for /api/, where requests carry a producer's key.
CORS_PREFIXES = ("/01/", "/.well-known/", "/records/")
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"Link, Content-Language, Retry-After"),
]


def security_headers(inline_style: str, *, https: bool = False) -> list[tuple[bytes, bytes]]:
    """Safe defaults; the CSP allows one inline stylesheet, the pages' own, by its hash. Served
    over https, browsers are told to keep to https for a year (HSTS, RFC 6797)."""
    csp = (
        f"default-src 'self'; img-src 'self' data:; style-src 'self' {inline_style}; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"content-security-policy", csp.encode("ascii")),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


class SecurityHeaders:
    """Plain ASGI middleware (no per-request task overhead) adding safe defaults."""

    def __init__(self, app: ASGIApp, *, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers
        self.without_csp = [h for h in headers if h[0] != b"content-security-policy"]
        self.public = headers + CORS_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                path = scope.get("path", "")
                headers = list(message.get("headers", []))
                # Swagger UI at /docs needs its own scripts; every other page gets the CSP.
                extra = self.headers if not path.startswith("/docs") else self.without_csp
                if path.startswith(CORS_PREFIXES):  # public and read-only: any origin may read
                    extra = self.public
                names = {name for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
