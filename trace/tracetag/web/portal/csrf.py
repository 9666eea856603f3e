"""Every state-changing portal form carries a signed token that must match its cookie.

asgi-csrf implements OWASP's signed double-submit cookie; it guards only /portal, so scan
pages and the API (bearer keys, no cookies) never pass through it. The sign-in, sign-up and
password forms are checked even from a browser with no cookie yet (login CSRF).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from asgi_csrf import asgi_csrf
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tracetag.settings import Settings
from tracetag.web.portal.session import PORTAL

CSRF_COOKIE = "tt_csrf"
ALWAYS_PROTECT = frozenset(
    f"{PORTAL}/{path}"
    for path in ("login", "logout", "signup", "password/forgot", "password/reset")
)


class PortalCsrf:
    """ASGI middleware: /portal through asgi-csrf, everything else untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        secure: bool,
        failed_page: Callable[[Request], Any],
    ) -> None:
        self.app = app
        self.failed_page = failed_page
        self.protected = asgi_csrf(
            app,
            signing_secret=secret,
            signing_namespace="tracetag-portal",
            cookie_name=CSRF_COOKIE,
            cookie_path=PORTAL,
            cookie_secure=secure,
            always_protect=ALWAYS_PROTECT,
            send_csrf_failed=self._failed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PORTAL):
            await self.protected(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _failed(self, scope: Scope, send: Send, _reason: object) -> None:
        """A page a person can act on (the form was open too long, or cookies are off)."""
        response = self.failed_page(Request(scope))

        async def no_body() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        await response(scope, no_body, send)


def portal_secret(settings: Settings) -> str:
    """TRACETAG_SECRET_KEY, or a random secret made once and kept in secret_key_file (0600).

    Several workers starting at once agree on one: the file is created exclusively, and the
    loser reads the winner's.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.secret_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker is writing it this very moment
            text = path.read_text(encoding="ascii").strip()
            if text:
                return text
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it and start again") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret
