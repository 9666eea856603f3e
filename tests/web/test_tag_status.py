"""The cached per-scan fragment renders exactly what the template renders directly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracetag.scans.assess import TagCheck
from tracetag.web.pages import Pages

FIRST = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize(
    "check",
    [
        TagCheck("genuine", None, 0, FIRST, 1, False),
        TagCheck("genuine", None, 7, FIRST, 2, False),
        TagCheck("genuine", None, 41, FIRST, 9, True),
        TagCheck("online", None, 1, FIRST, 1, False),
        TagCheck("forged", "the 8030 signature does not match this tag", 3, FIRST, 1, False),
        TagCheck("moved", "this serial belongs to another batch", 0, FIRST, 1, False),
        TagCheck("unknown_serial", "serial not issued", 0, None, 0, False),
    ],
)
def test_cached_fragment_equals_direct_render(lang: str, check: TagCheck) -> None:
    pages = Pages()
    for serial in ("7KQ2M9XA4BC3D", "<b>x</b>"):
        direct = pages.fragment(
            "_tag_status.html", lang=lang, tag=check, serial=serial, issuer_name="tracetag"
        )
        for _ in range(2):  # the second call comes from the cache
            cached = pages.tag_status(lang=lang, tag=check, serial=serial, issuer_name="tracetag")
            assert cached == direct
