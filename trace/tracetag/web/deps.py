"""Typed FastAPI dependencies every room of the web layer uses: settings, sessions and keys.

The API's callers and ids are api/deps.py's; a page room's own objects are its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tracetag.core.database import begin_write
from tracetag.settings import Settings
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyRing


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


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
IssuerDep = Annotated[Issuer, Depends(get_issuer)]
