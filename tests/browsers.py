"""Debian's Chromium driven by Playwright, for the browser tests; where they keep what they saw.

No browser is downloaded. Under CI=true a missing browser or Playwright fails these tests;
elsewhere they skip and say why. Screenshots and axe reports go to $TRACETAG_ARTIFACTS
(default var/artifacts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
ARTIFACTS = Path(os.environ.get("TRACETAG_ARTIFACTS") or REPO_ROOT / "var" / "artifacts")


def need_playwright() -> None:
    """Skip the calling test module without Playwright and axe, except in CI, where the import
    error that follows fails the run, as it should."""
    if not IN_CI:
        pytest.importorskip("playwright", reason="Playwright is not installed (the test extra)")
        pytest.importorskip(
            "axe_playwright_python", reason="axe-playwright-python is not installed"
        )


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, or a skip (a failure under CI=true) when it is not installed."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true, and {reason}: .ci/run installs it", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()
