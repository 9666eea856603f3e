"""Jinja2 environments, one per language, with gettext and Babel formatting installed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tracetag.config import PROJECT_ROOT
from tracetag.i18n import LANGUAGES, Formatter, translations

TEMPLATES_DIR = PROJECT_ROOT / "public_pages" / "templates"
STATIC_DIR = PROJECT_ROOT / "public_pages" / "static"


def _place(parts: dict[str, Any]) -> str:
    return ", ".join(str(parts[k]) for k in ("commune", "district", "province") if parts.get(k))


class Pages:
    """Renders the public pages; autoescaping is on for everything a producer typed."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.envs: dict[str, Environment] = {}
        for lang in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(templates_dir),
                autoescape=select_autoescape(default=True, default_for_string=True),
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
            env.globals["place"] = _place
            self.envs[lang] = env
        css = (STATIC_DIR / "style.css").read_bytes()
        self.static_version = hashlib.sha256(css).hexdigest()[:10]

    def template_names(self) -> list[str]:
        return self.envs["vi"].list_templates(extensions=["html"])

    def render(
        self, name: str, *, lang: str, path: str, query: dict[str, str], **context: Any
    ) -> str:
        def lang_url(other: str) -> str:
            return path + "?" + urlencode({**query, "lang": other})

        env = self.envs[lang]
        return env.get_template(name).render(
            lang=lang,
            fmt=Formatter(lang),
            lang_url=lang_url,
            static_version=self.static_version,
            **context,
        )
