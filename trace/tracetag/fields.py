"""Annotated pydantic field types shared by the domain schemas."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field


def _nfc(value: str) -> str:
    # Store NFC so "Sóc Trăng" typed on any keyboard compares and sorts the same.
    return unicodedata.normalize("NFC", value).strip()


def _no_control_chars(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise ValueError("contains control characters")
    return value


def _strip_if_str(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


Name = Annotated[
    str,
    BeforeValidator(_strip_if_str),
    Field(min_length=1, max_length=200),
    AfterValidator(_nfc),
    AfterValidator(_no_control_chars),
]
ShortText = Annotated[
    str,
    BeforeValidator(_strip_if_str),
    Field(min_length=1, max_length=100),
    AfterValidator(_nfc),
    AfterValidator(_no_control_chars),
]
LongText = Annotated[
    str, Field(max_length=4000), AfterValidator(_nfc), AfterValidator(_no_control_chars)
]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 .()-]{6,30}$", max_length=30)]
Email = Annotated[str, Field(pattern=r"^[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}$", max_length=200)]
