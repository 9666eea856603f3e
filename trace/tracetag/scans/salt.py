"""The scan-fingerprint salt: a secret of its own, kept 0600 beside the keys, across rotations.

Decision (issue 9): the salt was derived from the signing key, so a rotation would have changed
every fingerprint and copy detection would have forgotten every client seen. It is now made
once and kept in keys/scan-salt.secret. A service that has stored scans already takes, as its
first salt, the one derived from the key that signs today, so the fingerprints it stored keep
matching; a new service gets 32 random bytes. TRACETAG_SCAN_SALT overrides the file.
Never logged.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracetag.errors import KeyStoreError
from tracetag.scans.models import Scan
from tracetag.signing.keys import write_private

SALT_BYTES = 32


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyStoreError(
            f"{path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
        )
    try:
        salt = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError as exc:
        raise KeyStoreError(f"{path} does not hold a salt in hex") from exc
    if len(salt) < 16:
        raise KeyStoreError(f"{path} holds a salt shorter than 16 bytes")
    return salt


def scan_salt(
    factory: sessionmaker[Session],
    *,
    configured: str | None,
    path: Path,
    legacy: Callable[[], bytes],
) -> bytes:
    """The salt: configured, else the file's; a missing file is made (see the module's note),
    `legacy` giving the salt derived from the key that signs today."""
    if configured is not None:
        return configured.encode("utf-8")
    if path.exists():
        return _read(path)
    with factory() as session:
        scanned = session.scalar(select(Scan.id).limit(1)) is not None
    salt = legacy() if scanned else secrets.token_bytes(SALT_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a name of its own, then linked in: a worker starting at the same
    # moment finds either no file or the whole salt, never half of it.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    write_private(partial, salt.hex().encode("ascii") + b"\n")
    try:
        os.link(partial, path)
    except FileExistsError:  # another worker made it first: take theirs
        return _read(path)
    finally:
        partial.unlink()
    return salt
