"""The portal's pages: Jinja2 environments per language over public_pages/portal/.

Vietnamese first, English second, from the same catalogs as the public pages. Everything a
producer typed is autoescaped; nothing here is marked safe but the project's own markup.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from tracetag.core.i18n import LANGUAGES, VIETNAM_TIME, Formatter, negotiate
from tracetag.core.resources import PUBLIC_PAGES, package_path
from tracetag.web.portal.csrf import FormTokens
from tracetag.web.templating import page_environment
from tracetag.web.words import category_label, producer_kind_label, tag_reason

TEMPLATES_DIR = package_path(PUBLIC_PAGES) / "portal"
LANG_COOKIE = "tt_lang"


def portal_lang(request: Request) -> str:
    """?lang= wins (and is remembered in a cookie), then that cookie, then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return negotiate(None, request.headers.get("accept-language"))


def local_time(moment: datetime) -> str:
    """A stored UTC time as people in Vietnam read it: dd/mm/yyyy HH:MM (UTC+7)."""
    return (moment.astimezone(UTC) + VIETNAM_TIME).strftime("%d/%m/%Y %H:%M")


def local_day(timestamp: float) -> date:
    """A file's modification time as a calendar day in Vietnam."""
    return (datetime.fromtimestamp(timestamp, UTC) + VIETNAM_TIME).date()


class PortalPages:
    """Renders portal pages with the request's language, user and form token."""

    def __init__(self) -> None:
        self.envs: dict[str, Environment] = {}
        for lang in LANGUAGES:
            self.envs[lang] = page_environment(TEMPLATES_DIR, lang)
        self.formatters = {lang: Formatter(lang) for lang in LANGUAGES}

    def template_names(self) -> list[str]:
        return self.envs["vi"].list_templates(extensions=["html"])

    def render(self, request: Request, name: str, **context: Any) -> str:
        lang = portal_lang(request)
        if not hasattr(request.state, "form_token"):
            tokens: FormTokens = request.app.state.form_tokens
            request.state.form_token, request.state.form_cookie = tokens.token_for(request)
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        return (
            self.envs[lang]
            .get_template(name)
            .render(
                lang=lang,
                fmt=self.formatters[lang],
                path=request.url.path,
                user=getattr(request.state, "portal_user", None),
                csrf_token=request.state.form_token,
                category=lambda code: category_label(lang, code),
                producer_kind=lambda code: producer_kind_label(lang, code),
                tag_reason=lambda code: tag_reason(lang, code),
                local_time=local_time,
                local_day=local_day,
                lang_url=lambda other: "?" + urlencode({**query, "lang": other}),
                **context,
            )
        )

    def page(
        self,
        request: Request,
        name: str,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        response = HTMLResponse(
            self.render(request, name, **context),
            status_code=status_code,
            headers={
                "Content-Language": portal_lang(request),
                # Pages show one person's data: never from a shared cache.
                "Cache-Control": "no-store",
                **(headers or {}),
            },
        )
        signed = getattr(request.state, "form_cookie", None)
        if signed is not None:
            tokens: FormTokens = request.app.state.form_tokens
            tokens.set_cookie(response, signed)
        asked = request.query_params.get("lang")
        if asked in LANGUAGES and request.cookies.get(LANG_COOKIE) != asked:
            response.set_cookie(
                LANG_COOKIE, asked, max_age=365 * 86400, path="/portal", samesite="lax"
            )
        return response
