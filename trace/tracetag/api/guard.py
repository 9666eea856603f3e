"""The gate every request passes first: body size limits, then, for the API, the key and its rate.

FastAPI reads and parses a body before it solves a route's dependencies, so a key checked by a
dependency comes too late: a 200 MB body would be read in full before the 401. Here the key is
checked from the headers alone, and the body is counted as it streams in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tracetag.identity.api_keys import authenticate
from tracetag.web.ratelimit import RateLimiter, Rule, client_key

# Requests that may carry a product image: the API's upload, and the portal's product forms.
IMAGE_UPLOAD = re.compile(r"^/(api/v1/products/[^/]+/image|portal/products/(new|[0-9]+/image))$")
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around an image of the full size
UNAUTHORIZED = "missing or invalid API key; send Authorization: Bearer <key>"
_BODY_HEADERS = (b"content-length", b"transfer-encoding")


@dataclass(frozen=True)
class Caller:
    """Who an API request comes from, as the gate found it."""

    key_id: int
    role: str
    producer_id: int | None
    label: str


def _lookup(factory: sessionmaker[Session], token: str) -> Caller | None:
    with factory() as session:
        key = authenticate(session, token)
        return None if key is None else Caller(key.id, key.role, key.producer_id, key.label)


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_image_bytes: int,
        limiter: RateLimiter,
        per_key: Rule,
        unauthenticated: Rule,
    ) -> None:
        self.app = app
        self.limits = (max_body_bytes, max_image_bytes + MULTIPART_SLACK)
        self._small = RequestBodyLimitMiddleware(app, max_body_size=self.limits[0])
        self._large = RequestBodyLimitMiddleware(app, max_body_size=self.limits[1])
        self.limiter = limiter
        self.per_key = per_key
        self.unauthenticated = unauthenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if (
            scope["method"] in ("GET", "HEAD")
            and not path.startswith("/api/")
            and not any(name in _BODY_HEADERS for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)  # a page request without a body: no work
            return
        large = IMAGE_UPLOAD.match(path) is not None
        limit = self.limits[1] if large else self.limits[0]
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _error(413, f"the request body is larger than {limit:,} bytes", scope, send)
            return
        if path.startswith("/api/"):
            refusal = await self._check_key(scope, headers)
            if refusal is not None:
                status, detail, extra = refusal
                await _error(status, detail, scope, send, extra)
                return
        await (self._large if large else self._small)(scope, receive, send)

    async def _check_key(
        self, scope: Scope, headers: Headers
    ) -> tuple[int, str, dict[str, str]] | None:
        token = _bearer(headers)
        caller = None
        if token is not None:
            factory = scope["app"].state.session_factory
            caller = await run_in_threadpool(_lookup, factory, token)
        if caller is None:
            client = scope.get("client")
            retry = await self.limiter.hit(
                self.unauthenticated, client_key(client[0] if client else None)
            )
            if retry is not None:
                return 429, "too many requests without a valid API key", _retry(retry)
            return 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"}
        retry = await self.limiter.hit(self.per_key, str(caller.key_id))
        if retry is not None:
            return 429, "this API key sent too many requests", _retry(retry)
        scope.setdefault("state", {})["caller"] = caller
        return None


def _retry(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


async def _error(
    status: int, detail: str, scope: Scope, send: Send, headers: dict[str, str] | None = None
) -> None:
    async def no_body() -> dict[str, object]:  # the body is never read
        return {"type": "http.request", "body": b"", "more_body": False}

    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
        scope, no_body, send
    )
