"""Every state-changing portal form carries a token that must match its signed cookie.

fastapi-csrf-protect implements OWASP's signed double-submit cookie: the cookie holds the
token signed with the service's secret (itsdangerous, with a time limit), the form the token
itself. The check is a dependency of every portal router, so a new form is covered without
anyone remembering it; it reads the parsed form, multipart (image uploads) included.
(asgi-csrf was the first choice: it cannot parse multipart bodies with python-multipart 0.0.26
and later, the releases that fix CVE-2026-40347; simonw/asgi-csrf#38.)
"""

from __future__ import annotations

import os
import secrets
import time

from fastapi import Request, Response
from fastapi_csrf_protect import CsrfProtect
from fastapi_csrf_protect.exceptions import CsrfProtectError
from itsdangerous import BadData, URLSafeTimedSerializer

from tracetag.settings import Settings
from tracetag.web.portal.session import PORTAL

CSRF_COOKIE = "tt_csrf"
FIELD = "csrftoken"
MAX_AGE = 12 * 3600  # a form may stay open as long as a session lasts
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IMAGE_FORMS = ("/products/new", "/image")  # the only forms that carry a file: one photo
MAX_FIELDS = 200  # the largest form, a batch with its stages, has under a hundred


class _Protect(CsrfProtect):
    """The library's check, configured on a subclass rather than on its process-wide class."""

    _cookie_key = CSRF_COOKIE
    _token_location = "body"  # noqa: S105  where the token is, not a secret
    _token_key = FIELD
    _max_age = MAX_AGE


class FormExpired(Exception):
    """The form's token is missing, wrong, or older than MAX_AGE."""


class FormTokens:
    """Issues the token a page's forms carry, and checks it when a form comes back."""

    def __init__(self, secret: str, *, secure: bool) -> None:
        self.secret = secret
        self.secure = secure
        self.protect = _Protect()
        # The library's own serializer settings, to read back a cookie it signed.
        self._serializer = URLSafeTimedSerializer(secret, salt="fastapi-csrf-token")

    def token_for(self, request: Request) -> tuple[str, str | None]:
        """(token, signed cookie to set or None): the cookie's own token while it is valid,
        so that several open tabs keep working."""
        signed = request.cookies.get(CSRF_COOKIE)
        if signed:
            try:
                return str(self._serializer.loads(signed, max_age=MAX_AGE - 600)), None
            except BadData:
                pass
        token, signed = self.protect.generate_csrf_tokens(self.secret)
        return token, signed

    def forget(self, response: Response) -> None:
        """A new token pair after signing in or out: one planted before cannot be used after."""
        response.delete_cookie(CSRF_COOKIE, path=PORTAL, httponly=True, samesite="lax")

    def set_cookie(self, response: Response, signed: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            signed,
            max_age=MAX_AGE,
            path=PORTAL,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    async def check(self, request: Request) -> None:
        if request.method not in UNSAFE:
            return
        # Parsed once here and kept by Starlette, so these limits are the form's limits: a
        # route's own request.form(max_files=…) later gets this parse back.
        files = 1 if request.url.path.endswith(IMAGE_FORMS) else 0
        await request.form(max_files=files, max_fields=MAX_FIELDS)
        try:
            await self.protect.validate_csrf(request, secret_key=self.secret)
        except CsrfProtectError as exc:
            raise FormExpired(str(exc)) from None


async def form_token_check(request: Request) -> None:
    """The dependency every portal router carries."""
    tokens: FormTokens = request.app.state.form_tokens
    await tokens.check(request)


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
