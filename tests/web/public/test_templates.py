"""Every template compiles in every language, and the catalogs cover every message."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from tests import REPO_ROOT
from tracetag.core.i18n import LANGUAGES, translations
from tracetag.web.public.pages import Pages


def test_every_template_loads_in_every_language() -> None:
    pages = Pages()
    names = pages.template_names()
    assert {"base.html", "batch.html", "not_found.html", "error.html", "home.html"} <= set(names)
    for lang in LANGUAGES:
        for name in names:
            assert pages.envs[lang].get_template(name) is not None


def _extracted() -> set[str]:
    method_map = [
        ("trace/**.py", "python"),
        ("public_pages/templates/**.html", "jinja2"),
    ]
    options = {"public_pages/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(REPO_ROOT), method_map, options, keywords={"_": None, "N_": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_vietnamese_catalog_translates_every_message() -> None:
    catalog = translations("vi")
    messages = _extracted()
    assert len(messages) > 50
    untranslated = sorted(m for m in messages if catalog.gettext(m) == m)
    assert untranslated == []


def test_catalog_files_exist_for_each_language() -> None:
    for lang in LANGUAGES:
        path = Path(REPO_ROOT / "trace/tracetag/locale" / lang / "LC_MESSAGES/messages.po")
        assert path.is_file()
