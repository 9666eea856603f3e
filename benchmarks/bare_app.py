"""The honest anchor of the page benchmarks: a minimal FastAPI app with one bare endpoint.

Served by uvicorn exactly as tracetag is (`uvicorn bare_app:create_app --factory`), it shows
what the framework and server alone cost per request on this machine, in the same run.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse


def create_app() -> FastAPI:
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/bare", response_class=PlainTextResponse)
    async def bare() -> str:
        return "ok"

    return app
