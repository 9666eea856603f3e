"""Languages of the pages: Vietnamese first, English second.

Translations come from gettext catalogs (locale/<lang>/LC_MESSAGES/messages.po), compiled in
memory at start-up; numbers, money and dates are formatted by Babel.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

LOCALE_DIR = Path(__file__).parents[1] / "locale"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
_BABEL_LOCALE = {"vi": "vi_VN", "en": "en"}
VIETNAM_TIME = timedelta(hours=7)  # UTC+7, no daylight saving: the calendar pages count days in


@cache
def translations(lang: str) -> Translations:
    """The compiled catalog for lang (vi or en)."""
    po_path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """?lang= wins, then Accept-Language; otherwise Vietnamese."""
    if query_lang in LANGUAGES:
        return query_lang
    return _from_accept_language(accept_language[:200] if accept_language else None)


@lru_cache(maxsize=1024)  # browsers send a handful of distinct headers; parse each once
def _from_accept_language(accept_language: str | None) -> str:
    if accept_language:
        preferred = []
        for part in accept_language.split(","):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            preferred.append((q, tag.strip().lower()))
        for _q, tag in sorted(preferred, key=lambda item: -item[0]):
            primary = tag.split("-")[0]
            if primary in LANGUAGES:
                return primary
    return DEFAULT_LANGUAGE


class Formatter:
    """Locale-aware formatting for one page render."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(_BABEL_LOCALE[lang])

    def money(self, amount_vnd: int) -> str:
        """Whole đồng: 125.000 ₫ in Vietnamese."""
        return format_currency(amount_vnd, "VND", locale=self.locale)

    def number(self, value: str | int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def date(self, value: date | str | None) -> str:
        """dd/mm/yyyy on every page, whatever the language."""
        if value is None:
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value)
        return _dd_mm_yyyy(value, self.locale)


@lru_cache(maxsize=4096)  # every scan page shows a date; Babel takes longer than the cache
def _dd_mm_yyyy(value: date, locale: Locale) -> str:
    return format_date(value, "dd/MM/yyyy", locale=locale)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)
