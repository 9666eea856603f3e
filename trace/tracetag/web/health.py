"""Liveness (/healthz, from the process alone) and readiness (/readyz, a database write)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tracetag.core.health import database_takes_writes

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the process answers. It touches nothing else, on purpose."""
    return {"status": "ok", "kid": request.app.state.issuer.last_kid}  # the last that signed


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database takes a write now and the scan writer runs."""
    state = request.app.state
    problems: list[str] = []
    try:
        await run_in_threadpool(database_takes_writes, state.session_factory)
    except Exception as exc:  # any failure to write is the answer, not an error
        problems.append(f"database: {type(exc).__name__}")
    if not state.scan_recorder.healthy:
        problems.append("scan writer: not running")
    body = {
        "status": "ready" if not problems else "unavailable",
        "problems": problems,
        "scan_backlog": state.scan_recorder.backlog,
    }
    return JSONResponse(body, status_code=200 if not problems else 503)
