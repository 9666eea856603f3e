"""A producer signs itself up: its business and OCOP details and its owner's account.

It can prepare products at once; the service signs nothing for it until an administrator has
checked its OCOP certificate and approved it (producers/service.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from tracetag.audit.models import Channel
from tracetag.audit.service import Actor
from tracetag.core.database import utcnow
from tracetag.core.i18n import N_, gettext
from tracetag.errors import Conflict, Invalid
from tracetag.identity.models import MemberRole, Role
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import SessionPolicy, create_user, start_session
from tracetag.producers.models import ProducerKind, ProducerStatus
from tracetag.producers.schemas import ProducerCreate
from tracetag.producers.service import create_producer
from tracetag.web.deps import SessionDep, SettingsDep
from tracetag.web.portal.forms import FormErrors, account_errors, blank_to_none, validate
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, set_session_cookie
from tracetag.web.ratelimit import RateLimiter, Rule, client_key
from tracetag.web.words import producer_kind_label

router = portal_router("/signup")

PRODUCER_FIELDS = (
    "kind",
    "name",
    "registration_code",
    "address_line",
    "commune",
    "district",
    "province",
    "phone",
    "email",
)
OCOP_FIELDS = ("stars", "certificate_no", "issuer", "issued_on")
SIGNUPS = Rule.parse("signup", "5/hour;20/day")  # per client: a form, not an API


def _page(
    request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    pages: PortalPages = request.app.state.portal_pages
    lang = portal_lang(request)
    return pages.page(
        request,
        "signup.html",
        status_code=status,
        values=values,
        errors=errors,
        kinds=[(k.value, producer_kind_label(lang, k.value)) for k in ProducerKind],
    )


@router.get("")
def signup_form(request: Request) -> Response:
    return _page(request, {"kind": ProducerKind.COOPERATIVE.value}, {})


def _producer_data(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {k: values.get(k, "") for k in PRODUCER_FIELDS}
    for optional in ("district", "phone", "email"):
        data[optional] = blank_to_none(data[optional])
    if any(values.get(f"ocop.{k}", "").strip() for k in OCOP_FIELDS):
        stars = values.get("ocop.stars", "").strip()
        data["ocop"] = {
            "stars": int(stars) if stars.isdigit() else stars,
            "certificate_no": values.get("ocop.certificate_no", ""),
            "issuer": values.get("ocop.issuer", ""),
            "issued_on": values.get("ocop.issued_on", ""),
        }
    return data


@router.post("")
async def signup(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    lang = portal_lang(request)
    form = await request.form(max_files=0, max_fields=50)
    values = {k: v[:1000] for k, v in form.items() if isinstance(v, str) and k != "csrftoken"}
    ip = request.client.host if request.client else None
    limiter: RateLimiter = request.app.state.limiter
    wait = await limiter.hit(SIGNUPS, client_key(ip))
    if wait is not None:
        message = gettext(
            lang, N_("Too many sign-ups from your network. Please try again in an hour.")
        )
        return _page(request, values, {"form": message}, 429)
    email = values.get("account_email", "")
    password = form.get("password", "")
    actor = Actor(Channel.PORTAL, email[:254], client_ip=ip)
    try:
        if password != form.get("password_again", ""):
            raise FormErrors({"password": gettext(lang, N_("The two passwords are not the same."))})
        data = validate(ProducerCreate, _producer_data(values), lang)
        try:
            producer = create_producer(
                session, data=data, status=ProducerStatus.PENDING, actor=actor
            )
        except Conflict:
            raise FormErrors(
                {
                    "registration_code": gettext(
                        lang, N_("A producer with this registration code has signed up already.")
                    )
                }
            ) from None
        passwords: Passwords = request.app.state.passwords
        try:
            user = await run_in_threadpool(
                lambda: create_user(
                    session,
                    passwords,
                    email=email,
                    name=values.get("account_name", "").strip() or email,
                    password=str(password),
                    role=Role.PRODUCER,
                    producer_id=producer.id,
                    member_role=MemberRole.OWNER,
                    actor=actor,
                )
            )
        except (Conflict, Invalid) as exc:
            raise account_errors(lang, exc, email="account_email", name="account_name") from None
    except FormErrors as exc:
        session.rollback()
        return _page(request, values, exc.errors, 400)
    policy: SessionPolicy = request.app.state.session_policy
    _row, token = start_session(session, user=user, now=utcnow(), policy=policy)
    session.commit()
    response = RedirectResponse(f"{PORTAL}/dashboard?done=signed-up", status_code=303)
    set_session_cookie(response, token, settings, int(policy.absolute.total_seconds()))
    return response
