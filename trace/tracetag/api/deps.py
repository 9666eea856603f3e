"""Typed FastAPI dependencies of the JSON API: who calls (an API key, its role, the actor the
audit log names), and ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tracetag.api.guard import UNAUTHORIZED, Caller
from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.identity.api_keys import authenticate
from tracetag.web.deps import SessionDep

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
    return Caller(key.id, key.role, key.producer_id, key.label)


def _producer_id(caller: Annotated[Caller, Depends(_caller)]) -> int:
    if caller.role != "producer" or caller.producer_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs a producer API key")
    return caller.producer_id


def _admin(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    if caller.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs an admin API key")
    return caller


def _actor(request: Request, caller: Annotated[Caller, Depends(_caller)]) -> Actor:
    """Who makes a change through the API, for the audit log: the key, by its label and id, and
    the client's address (the proxy's X-Forwarded-For when `serve` runs behind one)."""
    key = f"API key {caller.key_id}"
    return Actor(
        Channel.API,
        f"{caller.label} ({key})" if caller.label else key,
        key_id=caller.key_id,
        client_ip=request.client.host if request.client else None,
    )


CallerDep = Annotated[Caller, Depends(_caller)]
ProducerIdDep = Annotated[int, Depends(_producer_id)]
AdminDep = Annotated[Caller, Depends(_admin)]
ActorDep = Annotated[Actor, Depends(_actor)]

# Database ids are 32-bit on both backends; larger numbers cannot name anything.
ResourceId = Annotated[int, Path(ge=1, le=2_147_483_647)]
