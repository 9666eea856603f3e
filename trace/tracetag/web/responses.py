"""The body of a JSON error answer, one model for the API and the public pages' JSON alike."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Every error answer of the API but 422, whose detail lists the fields at fault."""

    detail: str = Field(description="What went wrong, and what to do about it.")
