"""Signing in and out, and setting a new password through a one-time link."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import BackgroundTasks, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.core.database import utcnow
from tracetag.core.i18n import N_, gettext
from tracetag.errors import Invalid
from tracetag.identity.mail import Mailer
from tracetag.identity.models import Role
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import (
    InvalidCredentials,
    InvalidResetLink,
    SessionPolicy,
    authenticate,
    end_session,
    request_reset,
    reset_password,
    start_session,
)
from tracetag.web.deps import SessionDep, SettingsDep
from tracetag.web.portal.csrf import FormTokens
from tracetag.web.portal.forms import password_problem
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import (
    PORTAL,
    SESSION_COOKIE,
    SignedInDep,
    clear_session_cookie,
    home_of,
    safe_next,
    set_session_cookie,
)
from tracetag.web.portal.throttle import LoginThrottle
from tracetag.web.ratelimit import RateLimiter, Rule, client_key

router = portal_router()

Text = Annotated[str, Form(max_length=300)]
RESETS_PER_CLIENT = Rule.parse("reset-client", "10/hour;30/day")
RESETS_PER_ADDRESS = Rule.parse("reset-address", "3/hour;10/day")
Secret = Annotated[str, Form(max_length=1000)]


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


def _tokens(request: Request) -> FormTokens:
    tokens: FormTokens = request.app.state.form_tokens
    return tokens


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


@router.get("")
def portal_home(user: SignedInDep) -> Response:
    """The signed-in user's own start page (a stranger is sent to sign in first)."""
    return _see_other(user.home)


@router.get("/login")
def login_form(request: Request, next: str | None = None, done: str | None = None) -> Response:
    return _pages(request).page(
        request, "login.html", email="", error=None, next=safe_next(next) or "", done=done
    )


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Text = "",
    password: Secret = "",
    next: Text = "",
) -> Response:
    pages = _pages(request)
    lang = portal_lang(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    ip = request.client.host if request.client else None
    wait = await throttle.wait(email=email, ip=ip)
    if wait is not None:
        message = gettext(
            lang, N_("Too many failed sign-ins. Please wait %(minutes)s minute(s) and try again.")
        ) % {"minutes": _minutes(wait)}
        return pages.page(
            request,
            "login.html",
            status_code=429,
            headers={"Retry-After": str(wait)},
            email=email,
            error=message,
            next=safe_next(next) or "",
            done=None,
        )
    passwords: Passwords = request.app.state.passwords
    now = utcnow()
    try:
        user = await run_in_threadpool(
            authenticate, session, passwords, email=email, password=password, now=now
        )
    except InvalidCredentials:
        await throttle.failed(email=email, ip=ip)
        return pages.page(
            request,
            "login.html",
            status_code=400,
            email=email,
            error=gettext(lang, N_("Wrong e-mail address or password.")),
            next=safe_next(next) or "",
            done=None,
        )
    policy: SessionPolicy = request.app.state.session_policy
    earlier = request.cookies.get(SESSION_COOKIE)
    if earlier:  # a session this browser held before (another user's, or its own) ends now
        end_session(session, token=earlier, now=now)
    _row, token = start_session(session, user=user, now=now, policy=policy)
    session.commit()
    target = safe_next(next) or home_of(Role(user.role))
    response = _see_other(target)
    set_session_cookie(response, token, settings, int(policy.absolute.total_seconds()))
    _tokens(request).forget(response)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        end_session(session, token=token, now=utcnow())
        session.commit()
    response = _see_other(f"{PORTAL}/login?done=logout")
    clear_session_cookie(response, settings)
    _tokens(request).forget(response)
    return response


@router.get("/password/forgot")
def forgot_form(request: Request) -> Response:
    return _pages(request).page(request, "forgot.html", email="", sent=False)


@router.post("/password/forgot")
async def forgot(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    email: Text = "",
) -> Response:
    """Mail a one-time link. The answer is the same, and as quick, whether or not the address
    has an account: the mail goes out after the answer, and a flood of requests for one address
    or from one client sends no more than a few."""
    lang = portal_lang(request)
    limiter: RateLimiter = request.app.state.limiter
    ip = request.client.host if request.client else None
    held = [
        await limiter.hit(RESETS_PER_CLIENT, client_key(ip)),
        await limiter.hit(RESETS_PER_ADDRESS, email.strip().casefold()[:254]),
    ]
    found = None
    if not any(held):
        found = request_reset(session, email=email, now=utcnow())
    if found is not None:
        user, token = found
        session.commit()
        link = f"{settings.public_base_url}{PORTAL}/password/reset?token={token}"
        mailer: Mailer = request.app.state.mailer
        background.add_task(
            mailer.send,
            to=user.email,
            subject=gettext(lang, N_("Set a new tracetag password")),
            body=gettext(
                lang,
                N_(
                    "Someone asked to set a new password for this account. If it was you, open "
                    "this link within an hour:\n\n%(link)s\n\nIf it was not you, ignore this "
                    "e-mail; your password stays as it is."
                ),
            )
            % {"link": link},
        )
    return _pages(request).page(request, "forgot.html", email=email, sent=True)


@router.get("/password/reset")
def reset_form(request: Request, token: str = "") -> Response:
    return _pages(request).page(request, "reset.html", token=token[:100], error=None)


@router.post("/password/reset")
async def reset(
    request: Request,
    session: SessionDep,
    token: Secret = "",
    password: Secret = "",
    password_again: Secret = "",
) -> Response:
    lang = portal_lang(request)
    pages = _pages(request)
    error = None
    if password != password_again:
        error = gettext(lang, N_("The two passwords are not the same."))
    else:
        passwords: Passwords = request.app.state.passwords
        try:
            await run_in_threadpool(
                partial(
                    reset_password,
                    session,
                    passwords,
                    token=token,
                    password=password,
                    now=utcnow(),
                    actor=Actor(
                        Channel.PORTAL,
                        "password reset link",
                        client_ip=request.client.host if request.client else None,
                    ),
                )
            )
        except InvalidResetLink:
            error = gettext(lang, N_("This link is no longer valid. Please ask for a new one."))
        except Invalid as exc:
            error = password_problem(lang, exc)
        else:
            session.commit()
            return _see_other(f"{PORTAL}/login?done=password")
    return pages.page(request, "reset.html", status_code=400, token=token[:100], error=error)
