"""The cached per-scan fragment renders exactly what the template renders directly."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from tracetag.core.i18n import translations
from tracetag.scans.assess import TagCheck, TagStatus
from tracetag.scans.models import TagReason
from tracetag.web.public.gzip_template import gzip_member, joined
from tracetag.web.public.pages import TAG_REASONS, Pages
from tracetag.web.public.verdict import Headline, headline, tag_concerns

FIRST = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
S, R, H = TagStatus, TagReason, Headline


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize(
    "check",
    [
        TagCheck(S.GENUINE, None, 0, FIRST, 1, False),
        TagCheck(S.GENUINE, None, 7, FIRST, 2, False),
        TagCheck(S.GENUINE, None, 41, FIRST, 9, True),
        TagCheck(S.ONLINE, None, 1, FIRST, 1, False),
        *(TagCheck(S.FORGED, reason, 3, FIRST, 1, False) for reason in R),
        TagCheck(S.MOVED, R.OTHER_LOT, 0, FIRST, 1, False),
        TagCheck(S.UNKNOWN_SERIAL, R.SERIAL_NOT_ISSUED, 0, None, 0, False),
    ],
)
@pytest.mark.parametrize(
    "record", [(), (H.RECALLED,), (H.EXPIRED,), (H.TAMPERED, H.RECALLED, H.EXPIRED)]
)
def test_cached_fragment_equals_direct_render(
    lang: str, check: TagCheck, record: tuple[Headline, ...]
) -> None:
    pages = Pages()
    verdict = headline(tag_concerns(record, check), tag=True)
    for serial in ("7KQ2M9XA4BC3D", "<b>x</b>"):
        direct = pages.fragment(
            "_tag_status.html",
            lang=lang,
            headline=verdict,
            tag=check,
            serial=serial,
            issuer_name="tracetag",
        )
        assert f"v-{verdict}" in direct
        for _ in range(2):  # the second call comes from the cache
            cached = pages.tag_status(
                lang=lang, headline=verdict, tag=check, serial=serial, issuer_name="tracetag"
            )
            assert joined(cached).decode("utf-8") == direct
            assert gzip.decompress(gzip_member(cached)).decode("utf-8") == direct


def test_every_reason_has_words_in_both_languages() -> None:
    assert set(TAG_REASONS) == set(TagReason)
    vi = translations("vi")
    for message in TAG_REASONS.values():
        assert vi.gettext(message) != message, message
    html = Pages().fragment(
        "_tag_status.html",
        lang="vi",
        headline=H.NOT_GENUINE,
        tag=TagCheck(S.FORGED, R.SIGNATURE_MISMATCH, 0, FIRST, 1, False),
        serial="X",
        issuer_name="tracetag",
    )
    assert "Chữ ký số trên tem không khớp với mã này." in html
    assert "signature" not in html
