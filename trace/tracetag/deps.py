"""Typed FastAPI dependencies: one place for settings, sessions, keys and callers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tracetag.accounts.service import authenticate
from tracetag.core.database import begin_write
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing
from tracetag.web.guard import UNAUTHORIZED, Caller
from tracetag.web.pages import Pages


# Plain accessors are `async def` so FastAPI calls them inline instead of in a thread.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session for one request; the route commits, anything left over is rolled back."""
    session: Session = request.app.state.session_factory()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        begin_write(session)  # SQLite: take the write lock up front rather than fail later
    try:
        yield session
    finally:
        session.rollback()
        session.close()


async def get_keyring(request: Request) -> KeyRing:
    keyring: KeyRing = request.app.state.keyring
    return keyring


async def get_issuer(request: Request) -> Issuer:
    issuer: Issuer = request.app.state.issuer
    return issuer


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
IssuerDep = Annotated[Issuer, Depends(get_issuer)]
PagesDep = Annotated[Pages, Depends(get_pages)]

_bearer = HTTPBearer(auto_error=False, description="An API key: tt_…")


def _caller(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller the request gate found (it checks keys before any body is read)."""
    found: Caller | None = getattr(request.state, "caller", None)
    if found is not None:
        return found
    key = authenticate(session, credentials.credentials) if credentials else None
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(key.id, key.role, key.producer_id)


def _producer_id(caller: Annotated[Caller, Depends(_caller)]) -> int:
    if caller.role != "producer" or caller.producer_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs a producer API key")
    return caller.producer_id


def _admin(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    if caller.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs an admin API key")
    return caller


ProducerIdDep = Annotated[int, Depends(_producer_id)]
AdminDep = Annotated[Caller, Depends(_admin)]

# Database ids are 32-bit on both backends; larger numbers cannot name anything.
ResourceId = Annotated[int, Path(ge=1, le=2_147_483_647)]
