"""How the portal answers what went wrong: to sign in, not allowed, not found, form expired."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from tracetag.core.i18n import N_, gettext
from tracetag.web.portal.csrf import FormExpired
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.session import LoginRequired, NotAllowed, login_redirect

MESSAGES = {
    403: (N_("Not allowed"), N_("Your account cannot open this page.")),
    404: (
        N_("Not found"),
        N_("There is nothing here, or it belongs to another producer."),
    ),
    500: (N_("Server error"), N_("Something went wrong. Please try again later.")),
}


def _message_page(request: Request, status_code: int, title: str, message: str) -> Response:
    """The error page with a title and a message (msgids), in the request's language."""
    lang = portal_lang(request)
    pages: PortalPages = request.app.state.portal_pages
    return pages.page(
        request,
        "error.html",
        status_code=status_code,
        title=gettext(lang, title),
        message=gettext(lang, message),
    )


def error_page(request: Request, status_code: int) -> Response:
    title, message = MESSAGES.get(status_code, MESSAGES[500])
    return _message_page(request, status_code, title, message)


def not_approved_page(request: Request) -> Response:
    """A producer waiting for approval, or suspended, asked for something to be signed."""
    return _message_page(
        request,
        403,
        N_("Not signed yet"),
        N_(
            "The service signs batches and tags once an administrator has approved your "
            "producer (after checking its OCOP certificate), and not while it is suspended. "
            "Your products are kept; the overview page shows where things stand."
        ),
    )


def form_expired_page(request: Request) -> Response:
    """The answer when a form's token is missing, wrong or too old."""
    return _message_page(
        request,
        403,
        N_("The form has expired"),
        N_(
            "This form was open too long, or your browser does not keep cookies for this "
            "site. Go back, reload the page and send the form again."
        ),
    )


def install_portal_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_redirect(exc.next_path), status_code=303)

    @app.exception_handler(FormExpired)
    async def _expired(request: Request, exc: FormExpired) -> Response:
        return form_expired_page(request)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
        return error_page(request, 403)
