"""Who is signed in: a server-side session named by an HttpOnly cookie, and the roles pages need.

The cookie holds a random token; the database holds only its SHA-256 (identity/service.py).
It is HttpOnly and SameSite=Lax, Secure when the service is served over https, and scoped to
/portal so that scan pages and the API never receive it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response

from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.core.database import utcnow
from tracetag.identity.models import MemberRole, Role
from tracetag.identity.service import SessionPolicy, session_user
from tracetag.settings import Settings
from tracetag.web.deps import SessionDep

SESSION_COOKIE = "tt_session"
PORTAL = "/portal"


@dataclass(frozen=True)
class PortalUser:
    """The signed-in user, as a page needs it."""

    id: int
    email: str
    name: str
    role: Role
    producer_id: int | None
    member_role: MemberRole | None

    @property
    def is_owner(self) -> bool:
        return self.member_role is MemberRole.OWNER

    @property
    def home(self) -> str:
        return home_of(self.role)


def home_of(role: Role) -> str:
    """Where each role's portal starts."""
    return {
        Role.ADMIN: f"{PORTAL}/admin",
        Role.INSPECTOR: f"{PORTAL}/inspect",
        Role.PRODUCER: f"{PORTAL}/dashboard",
    }[role]


class LoginRequired(Exception):
    """No live session: the page sends the browser to sign in, and back afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class NotAllowed(Exception):
    """Signed in, but this page is for another role (or only for a producer's owner)."""


def login_redirect(next_path: str) -> str:
    return f"{PORTAL}/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str | None:
    """A path inside the portal to return to after sign-in; anything else is dropped, so the
    login page never sends anyone to another site (//evil.example, /\\evil.example)."""
    if not value or not value.startswith(f"{PORTAL}/") or "//" in value or "\\" in value:
        return None
    return value


def set_session_cookie(response: Response, token: str, settings: Settings, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=PORTAL,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=PORTAL,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
    )


def _signed_in(request: Request, session: SessionDep) -> PortalUser:
    policy: SessionPolicy = request.app.state.session_policy
    token = request.cookies.get(SESSION_COOKIE, "")
    found = session_user(session, token=token, now=utcnow(), policy=policy) if token else None
    if found is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path if request.method == "GET" else PORTAL)
    _row, user = found
    if request.method == "GET":
        session.commit()  # keep the last-seen time that session_user may have moved on
    portal_user = PortalUser(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        producer_id=user.producer_id,
        member_role=MemberRole(user.member_role) if user.member_role else None,
    )
    request.state.portal_user = portal_user
    return portal_user


def _producer(user: Annotated[PortalUser, Depends(_signed_in)]) -> PortalUser:
    if user.role is not Role.PRODUCER or user.producer_id is None:
        raise NotAllowed
    return user


def _owner(user: Annotated[PortalUser, Depends(_producer)]) -> PortalUser:
    if not user.is_owner:
        raise NotAllowed
    return user


def _admin(user: Annotated[PortalUser, Depends(_signed_in)]) -> PortalUser:
    if user.role is not Role.ADMIN:
        raise NotAllowed
    return user


def _inspector(user: Annotated[PortalUser, Depends(_signed_in)]) -> PortalUser:
    if user.role not in (Role.INSPECTOR, Role.ADMIN):
        raise NotAllowed
    return user


SignedInDep = Annotated[PortalUser, Depends(_signed_in)]
ProducerDep = Annotated[PortalUser, Depends(_producer)]
OwnerDep = Annotated[PortalUser, Depends(_owner)]
AdminDep = Annotated[PortalUser, Depends(_admin)]
InspectorDep = Annotated[PortalUser, Depends(_inspector)]


def portal_actor(request: Request, user: PortalUser) -> Actor:
    """Who makes a change from the portal, for the audit log."""
    return Actor(
        Channel.PORTAL,
        user.email,
        user_id=user.id,
        client_ip=request.client.host if request.client else None,
    )
