"""Jinja2 environments, one per language, with gettext and Babel formatting installed."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from markupsafe import Markup, escape

from tracetag.core.i18n import LANGUAGES, Formatter, gettext
from tracetag.core.resources import PUBLIC_PAGES, package_path
from tracetag.scans.assess import TagCheck
from tracetag.web.public.gzip_template import Deflated, Piece
from tracetag.web.public.verdict import Headline
from tracetag.web.templating import page_environment
from tracetag.web.words import (
    CATEGORY_LABELS,
    PRODUCER_KIND_LABELS,
    RETAILER_KIND_LABELS,
    TAG_REASONS,
)

TEMPLATES_DIR = package_path(PUBLIC_PAGES) / "templates"
STATIC_DIR = package_path(PUBLIC_PAGES) / "static"


def switch_language_url(query: dict[str, str], lang: str) -> str:
    """This page in another language: a query-only relative link, so it never leaves the site
    (a path taken from the request, such as //evil.example/x, would be read as another host)."""
    return "?" + urlencode({**query, "lang": lang})


def section_labels(lang: str, product: dict[str, Any], producer: dict[str, Any]) -> dict[str, Any]:
    """A page's words for a product and its producer, as a record or the product page has them."""
    ocop = producer.get("ocop")
    return {
        "category_label": product["category_name"]
        if lang == "vi"
        else gettext(lang, CATEGORY_LABELS[product["category"]]),
        "kind_label": gettext(lang, PRODUCER_KIND_LABELS[producer["kind"]]),
        "ocop_valid": bool(ocop and date.fromisoformat(ocop["expires_on"]) >= date.today()),
    }


def _place(parts: dict[str, Any]) -> str:
    return ", ".join(str(parts[k]) for k in ("commune", "district", "province") if parts.get(k))


class Pages:
    """Renders the public pages; autoescaping is on for everything a producer typed."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.envs: dict[str, Environment] = {}
        for lang in LANGUAGES:
            env = page_environment(templates_dir, lang)
            env.globals["place"] = _place
            env.globals["tag_reasons"] = TAG_REASONS
            env.globals["retailer_kinds"] = RETAILER_KIND_LABELS
            self.envs[lang] = env
        self.formatters = {lang: Formatter(lang) for lang in LANGUAGES}
        self._tag_templates: dict[tuple[Any, ...], tuple[Piece | str, ...]] = {}
        css = (STATIC_DIR / "style.css").read_bytes()
        # Inlined into every page's <head>: on a slow phone link a linked stylesheet costs a
        # second round trip before the first paint (issue 7). The file stays the one source and
        # /static/style.css still serves it; the Content-Security-Policy names this text's hash.
        self.stylesheet = css.decode("utf-8")
        digest = base64.b64encode(hashlib.sha256(css).digest()).decode("ascii")
        self.stylesheet_csp_source = f"'sha256-{digest}'"
        for env in self.envs.values():
            env.globals["stylesheet"] = Markup(self.stylesheet)  # noqa: S704  our file, not input

    def template_names(self) -> list[str]:
        return self.envs["vi"].list_templates(extensions=["html"])

    def render(self, name: str, *, lang: str, query: dict[str, str], **context: Any) -> str:
        context.setdefault("lang_url", lambda other: switch_language_url(query, other))
        env = self.envs[lang]
        return env.get_template(name).render(
            lang=lang,
            fmt=self.formatters[lang],
            **context,
        )

    def shell(self, name: str, *, lang: str, **context: Any) -> PageShell:
        """A page rendered once with holes for what changes on every request."""
        html = self.render(
            name,
            lang=lang,
            query={},
            lang_url=lambda _other: _LANG_MARK,
            tag_section=_BODY_MARK,
            **context,
        )
        head, rest = html.split(_LANG_HOLE, 1)
        middle, tail = rest.split(_BODY_HOLE, 1)
        return PageShell(lang=lang, parts=(head, middle, tail))

    def tag_status(
        self, *, lang: str, headline: Headline, tag: TagCheck, serial: str, issuer_name: str
    ) -> list[Piece]:
        """The per-scan part of a tag page, from a template rendered once per kind of verdict.

        The verdict's numbers, date and serial are rendered as sentinels, and the template is
        kept cut at them, its text compressed once: a scan only fills in the values, which
        costs a fraction of a template render or of compressing the page. The key holds only
        closed sets of values, so no request can add entries.
        """
        key = (
            lang,
            headline,
            tag.status,
            tag.reason,
            tag.copy_warning,
            tag.scans_before == 0,
            issuer_name,
        )
        template = self._tag_templates.get(key)
        if template is None:
            sample = replace(
                tag,
                scans_before=_SCANS if tag.scans_before else 0,
                recent_clients=_CLIENTS,
                first_scanned_at=datetime(1901, 2, 3, tzinfo=UTC),
            )
            html = self.fragment(
                "_tag_status.html",
                lang=lang,
                headline=headline,
                tag=sample,
                serial=_SERIAL,
                issuer_name=issuer_name,
            )
            # re.split with a group: text at even places, sentinels at odd ones.
            template = self._tag_templates[key] = tuple(
                (Deflated(part.encode("utf-8")) if part else b"") if i % 2 == 0 else part
                for i, part in enumerate(_SENTINELS.split(html))
            )

        def value(sentinel: str) -> str:
            if sentinel == _DATE:
                first = tag.first_scanned_at
                return self.formatters[lang].date(first.date()) if first else ""
            if sentinel == _SERIAL:
                return str(escape(serial))
            return str(
                {
                    str(_SCANS + 1): tag.scans_before + 1,
                    str(_SCANS): tag.scans_before,
                    str(_CLIENTS): tag.recent_clients,
                }[sentinel]
            )

        return [value(part).encode("utf-8") if isinstance(part, str) else part for part in template]

    def fragment(self, name: str, *, lang: str, **context: Any) -> str:
        return (
            self.envs[lang]
            .get_template(name)
            .render(lang=lang, fmt=self.formatters[lang], **context)
        )


_SCANS = 987_650_001
_CLIENTS = 987_650_005
_DATE = "03/02/1901"
_SERIAL = "SERIALSENTINEL"
_SENTINELS = re.compile(
    "("
    + "|".join(re.escape(s) for s in (str(_SCANS + 1), str(_SCANS), str(_CLIENTS), _DATE, _SERIAL))
    + ")"
)
_LANG_HOLE = "\x00lang-url\x00"
_BODY_HOLE = "\x00tag-section\x00"
# Constant markers, not user data: they are cut out before anything is sent.
_LANG_MARK = Markup(_LANG_HOLE)  # noqa: S704
_BODY_MARK = Markup(_BODY_HOLE)  # noqa: S704


class PageShell:
    """A cached page in three parts, compressed once; the language link and the per-scan
    section go between them."""

    def __init__(self, lang: str, parts: tuple[str, str, str]) -> None:
        self.lang = lang
        self.head, self.middle, self.tail = (Deflated(part.encode("utf-8")) for part in parts)

    def pieces(self, lang_url: str, section: list[Piece]) -> list[Piece]:
        """The whole page; gzip_template.joined() or gzip_member() makes its bytes."""
        link = str(escape(lang_url)).encode("utf-8")
        return [self.head, link, self.middle, *section, self.tail]
