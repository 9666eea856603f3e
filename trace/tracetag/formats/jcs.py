"""RFC 8785 JSON Canonicalization Scheme: the one byte form of a JSON value that gets signed."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value."""
    return rfc8785.dumps(value)
