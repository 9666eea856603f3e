"""GS1 application identifier rules: GTIN check digits, and the lot and serial of AI 10 and 21.

GS1 General Specifications §7.9.1 (check digit), §7.11 (CSET 82 / Figure 7.11-1).
"""

from __future__ import annotations

# GS1 AI encodable character set 82 (Gen Specs Figure 7.11-1).
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
LOT_MAX = 20
_GTIN_LENGTHS = (8, 12, 13, 14)


class GS1Error(ValueError):
    """A GS1 value breaks its rule; the message says which and how to fix it."""


def gtin_check_digit(body: str) -> int:
    """Mod-10 check digit for the digits before it (weights 3,1,3,… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def normalize_gtin(value: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as GTIN-14 (left-padded with zeros)."""
    value = value.strip()
    if not value:
        raise GS1Error("GTIN is empty")
    if not value.isascii() or not value.isdigit():
        raise GS1Error("GTIN must contain digits only")
    if len(value) not in _GTIN_LENGTHS:
        raise GS1Error(f"GTIN must have 8, 12, 13 or 14 digits, not {len(value)}")
    expected = gtin_check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise GS1Error(f"wrong GTIN check digit: the last digit should be {expected}")
    return value.zfill(14)


def validate_lot(value: str) -> str:
    """Check a batch/lot number against GS1 AI 10: 1–20 characters of CSET 82."""
    if not value:
        raise GS1Error("lot must not be empty")
    if len(value) > LOT_MAX:
        raise GS1Error(f"lot has {len(value)} characters; GS1 allows at most {LOT_MAX}")
    bad = sorted({ch for ch in value if ch not in CSET82})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise GS1Error(
            f"lot contains characters outside the GS1 set: {shown}; "
            "use letters A–Z/a–z without diacritics, digits and - . / _"
        )
    return value


def validate_serial(value: str) -> str:
    """Check a serial number against GS1 AI 21: 1–20 characters of CSET 82."""
    try:
        return validate_lot(value)
    except GS1Error as exc:
        raise GS1Error(str(exc).replace("lot", "serial", 1)) from exc


def element_string(gtin14: str, lot: str, serial: str | None = None) -> str:
    """Human-readable GS1 element string, e.g. (01)08930000000017(10)ST25-01."""
    text = f"(01){gtin14}(10){lot}"
    return f"{text}(21){serial}" if serial else text


def check_value(value: str, limit: int, name: str) -> None:
    """Check a key qualifier's value: 1 to `limit` characters of CSET 82; `name` names it."""
    if not value:
        raise GS1Error(f"{name} must not be empty")
    if len(value) > limit:
        raise GS1Error(f"{name} has {len(value)} characters; GS1 allows at most {limit}")
    if any(ch not in CSET82 for ch in value):
        raise GS1Error(f"{name} contains characters outside the GS1 set")


def shown_ai(ai: str) -> str:
    """An AI from a path, as an error message may quote it: short, printable ASCII only."""
    clean = "".join(ch if ch.isascii() and ch.isprintable() else "?" for ch in ai[:8])
    return clean + ("…" if len(ai) > 8 else "")
