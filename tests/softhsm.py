"""A throwaway SoftHSM2 token (Debian's softhsm2) for the PKCS#11 signing tests.

Under CI=true a missing softhsm2 or python-pkcs11 fails these tests; elsewhere they skip and
say why. The token lives in a temporary directory named by SOFTHSM2_CONF, which SoftHSM2 reads
once, when the module is first initialised in the process: so one token serves the whole test
session, each test making keys of its own in it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
# Where Debian's libsofthsm2 puts the module (the first is a link to the second).
MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)


@dataclass(frozen=True)
class SoftToken:
    module: Path
    label: str
    pin: str  # made up at test time, like the token


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true, and {reason}: .ci/run installs it", pytrace=False)
    pytest.skip(reason)


def find_module() -> Path:
    """The SoftHSM2 PKCS#11 module, or a skip (a failure under CI=true)."""
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        _missing("python-pkcs11 is not installed (the test extra)")
    util = shutil.which("softhsm2-util")
    module = next((path for path in MODULES if path.exists()), None)
    if util is None or module is None:
        _missing("SoftHSM2 is missing (apt-get install softhsm2)")
    assert module is not None
    return module


def init_token(base: Path) -> SoftToken:
    """A new token in base/tokens, with SOFTHSM2_CONF pointing there (for this process)."""
    module = find_module()
    tokens = base / "tokens"
    tokens.mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    label, pin = "tracetag-test", secrets.token_hex(8)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            secrets.token_hex(8),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return SoftToken(module=module, label=label, pin=pin)
