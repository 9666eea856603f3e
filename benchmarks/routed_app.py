"""tracetag without the scan fast path, for `make bench` to measure what the fast path buys."""

from __future__ import annotations

from fastapi import FastAPI

from tracetag.app import create_app as create_tracetag


def create_app() -> FastAPI:
    return create_tracetag(fast_path=False)
