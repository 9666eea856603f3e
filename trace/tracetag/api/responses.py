"""The error answers of the JSON API, described once for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from tracetag.web.responses import ErrorOut

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
_ERRORS: dict[int, dict[str, Any]] = {
    400: {"description": "The body cannot be read at all (not UTF-8 text, a broken form)."},
    401: {
        "description": "No API key, or one that is unknown or revoked.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    403: {
        "description": "This key's role may not do this, or its producer is not approved to "
        "sign (waiting for approval, or suspended)."
    },
    404: {"description": "Nothing by that id that this key may see."},
    409: {"description": "Clashes with what is stored (a GTIN, lot or key already used)."},
    413: {"description": "The request body is larger than the limit."},
    429: {"description": "Too many requests.", "headers": _RETRY_AFTER},
    503: {"description": "The database is unavailable; retry.", "headers": _RETRY_AFTER},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these status codes, each with the ErrorOut body."""
    return {code: {"model": ErrorOut, **_ERRORS[code]} for code in codes}


# What any API request can meet before its route runs: the key check, the rate limit, an
# unavailable database.
API_ERRORS = errors(401, 403, 429, 503)
