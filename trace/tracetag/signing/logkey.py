"""The transparency log's own key on disk: keys/log/, apart from the keys that sign records.

A record key can be rotated or revoked without the log changing its identity, and the other
way round; the log's key is made on first use, 0600, encrypted when a passphrase is set.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from tracetag.errors import KeyStoreError
from tracetag.signing.keys import generate_key, list_keys, load_private_key
from tracetag.translog.checkpoints import LogSigner

LOG_KEYS = "log"  # keys_dir/log


def load_log_signer(keys_dir: Path, passphrase: str | None, *, origin: str) -> LogSigner:
    """The log's key from keys_dir/log, made on first use (0600, encrypted with a passphrase)."""
    directory = keys_dir / LOG_KEYS
    directory.mkdir(parents=True, exist_ok=True)
    # Workers of one service start together: an exclusive lock makes the first one create the
    # key and the others read it, so the log never has two identities.
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        private = [info for info in list_keys(directory) if info.has_private]
        if len(private) > 1:
            raise KeyStoreError(f"{directory} holds {len(private)} keys; the log signs with one")
        kid = private[0].kid if private else generate_key(directory, passphrase)
    return LogSigner(origin, load_private_key(directory / f"{kid}.key.pem", passphrase))
