"""Serial numbers for unit tags (GS1 AI 21).

13 characters of Crockford base32 (digits and A–Z without I, L, O, U): 65 random bits from the
operating system's CSPRNG. With no I, L or O there is no 1/I/l or 0/O to mistype, and typed codes
are read back leniently (o → 0, i/l → 1, lower case accepted).
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SERIAL_LENGTH = 13
_RANDOM_BITS = 5 * SERIAL_LENGTH
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_serial() -> str:
    n = secrets.randbits(_RANDOM_BITS)
    out = []
    for _ in range(SERIAL_LENGTH):
        n, digit = divmod(n, 32)
        out.append(ALPHABET[digit])
    return "".join(out)


def normalize_typed_serial(text: str) -> str:
    """What a person typed, read as a serial: case, spaces, dashes and look-alikes forgiven."""
    return text.strip().upper().replace(" ", "").replace("-", "").translate(_TYPED)


def is_serial(text: str) -> bool:
    """Whether text is a serial exactly as tracetag issues them."""
    return len(text) == SERIAL_LENGTH and all(ch in ALPHABET for ch in text)


def canonical_serial(text: str) -> str:
    """The issued form of a serial someone typed (`7kq2-m9xa…`, `o` for 0), as FORMATS.md §5 allows.

    Text that does not read as a tracetag serial comes back unchanged: it is some other AI 21
    value, and it will simply not be found.
    """
    typed = normalize_typed_serial(text)
    return typed if is_serial(typed) else text
