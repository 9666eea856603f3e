"""The one way to make a portal router: under /portal, out of the API schema, form-checked."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tracetag.web.portal.csrf import form_token_check
from tracetag.web.portal.session import PORTAL


def portal_router(prefix: str = "") -> APIRouter:
    """Every state-changing route of it checks its form's token (csrf.py) before it runs."""
    return APIRouter(
        prefix=PORTAL + prefix, include_in_schema=False, dependencies=[Depends(form_token_check)]
    )
