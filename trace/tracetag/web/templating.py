"""The Jinja2 environment every room's pages share: autoescaped, strict, translated."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tracetag.core.i18n import translations


def page_environment(templates_dir: Path, lang: str) -> Environment:
    """Autoescaping on for everything, including what a producer typed; an undefined name in
    a template is an error, not an empty string."""
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the code; no stat() per render
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env
