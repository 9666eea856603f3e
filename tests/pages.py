"""Reading public pages in tests: the headline verdict and the text a person sees."""

from __future__ import annotations

import html as html_lib
import re

_VERDICT = re.compile(r'<section class="verdict v-([a-z_]+)"')
_TAG = re.compile(r"<[^>]+>")
_STYLE = re.compile(r"<(style|script)\b.*?</\1>", re.S)


def verdicts(page: str) -> list[str]:
    """The headline verdicts of a page, in order; a well-made page has exactly one."""
    return _VERDICT.findall(page)


def headline(page: str) -> str:
    found = verdicts(page)
    assert len(found) == 1, found
    return found[0]


def visible_text(page: str) -> str:
    """The page's text without tags, styles or entities, whitespace collapsed."""
    text = _TAG.sub(" ", _STYLE.sub(" ", page))
    return " ".join(html_lib.unescape(text).split())


_GREEN = re.compile(r'class="[^"]*\bv-(verified|genuine)\b')


def has_green(page: str) -> bool:
    """Whether any box on the page is in the green of a genuine or verified verdict."""
    return _GREEN.search(page) is not None
