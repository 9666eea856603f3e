"""A producer's batches: create one with its production stages, correct it as a new signed
version, recall it with a reason, and follow its record history and its scans."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from tracetag.batches import service
from tracetag.batches.models import Batch, BatchStatus
from tracetag.batches.schemas import BatchCorrection, BatchCreate, BatchOut, Recall
from tracetag.core.database import utcnow
from tracetag.core.i18n import N_, gettext
from tracetag.errors import Conflict, Invalid
from tracetag.products.service import list_products
from tracetag.scans.service import suspicious_scans
from tracetag.scans.stats import copy_suspects, scans_per_day
from tracetag.settings import Settings
from tracetag.signing.keys import KeyRing
from tracetag.tags.jobs.models import JobStatus
from tracetag.tags.jobs.service import list_jobs
from tracetag.tags.models import IssuanceState, TagIssuance
from tracetag.web.deps import IssuerDep, KeyRingDep, SessionDep, SettingsDep
from tracetag.web.portal.charts import CHART_CSP, scans_per_day_svg
from tracetag.web.portal.forms import FormErrors, blank_to_none, invalid, validate
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, ProducerDep, portal_actor
from tracetag.web.portal.tags import new_issue_key

router = portal_router("/batches")

STAGE_ROWS = 6  # rows of the stages table; a form without JavaScript cannot add rows itself
CHART_DAYS = 30
MAX_FIELD = 5000


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


async def _form(request: Request) -> dict[str, str]:
    """The posted fields as text, each cut at a length no real field reaches."""
    form: FormData = await request.form(max_files=0, max_fields=200)
    return {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}


def _stages(values: dict[str, str]) -> list[dict[str, Any]]:
    """The filled rows of the stages table, in order; empty rows are skipped."""
    rows = []
    for i in range(STAGE_ROWS):
        row = {
            k: values.get(f"stages.{i}.{k}", "").strip() for k in ("stage", "date", "place", "note")
        }
        if any(row.values()):
            rows.append({k: (v or None) if k in ("place", "note") else v for k, v in row.items()})
    return rows


def _whole_dong(text: str) -> int | str:
    """125.000 or 125 000 as people write prices, as a number; anything else as typed."""
    digits = text.strip().replace(".", "").replace(" ", "").replace("\u00a0", "")
    return int(digits) if digits.isdigit() else text


def _origin(values: dict[str, str]) -> dict[str, Any]:
    return {
        "area": values.get("origin.area", ""),
        "commune": values.get("origin.commune", ""),
        "district": blank_to_none(values.get("origin.district")),
        "province": values.get("origin.province", ""),
    }


def _stage_errors(errors: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """Errors of stages.N as the form names them: the Nth filled row is not always row N."""
    filled = [
        i
        for i in range(STAGE_ROWS)
        if any(
            values.get(f"stages.{i}.{k}", "").strip() for k in ("stage", "date", "place", "note")
        )
    ]
    placed = {}
    for key, text in errors.items():
        parts = key.split(".")
        if (
            parts[0] == "stages"
            and len(parts) > 2
            and parts[1].isdigit()
            and int(parts[1]) < len(filled)
        ):
            parts[1] = str(filled[int(parts[1])])
            key = ".".join(parts)
        placed[key] = text
    return placed


@router.get("")
def batch_list(request: Request, session: SessionDep, user: ProducerDep) -> Response:
    assert user.producer_id is not None
    batches = list(reversed(service.list_batches(session, producer_id=user.producer_id)))
    return _pages(request).page(request, "batches.html", batches=batches)


def _new_form(
    request: Request,
    session: SessionDep,
    producer_id: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    products = list_products(session, producer_id=producer_id)
    return _pages(request).page(
        request,
        "batch_new.html",
        status_code=status,
        products=products,
        values=values,
        errors=errors,
        stage_rows=STAGE_ROWS,
    )


@router.get("/new")
def new_batch_form(
    request: Request, session: SessionDep, user: ProducerDep, product: int | None = None
) -> Response:
    assert user.producer_id is not None
    today = date.today().isoformat()
    values = {"product_id": str(product or ""), "production_date": today, "stages.0.date": today}
    return _new_form(request, session, user.producer_id, values, {})


@router.post("/new")
async def create_batch(
    request: Request, session: SessionDep, issuer: IssuerDep, user: ProducerDep
) -> Response:
    assert user.producer_id is not None
    lang = portal_lang(request)
    values = await _form(request)
    product_id = values.get("product_id", "")
    data: dict[str, Any] = {
        "product_id": int(product_id) if product_id.isdigit() else product_id,
        "lot": values.get("lot", ""),
        "quantity": values.get("quantity", ""),
        "quantity_unit": values.get("quantity_unit", ""),
        "production_date": values.get("production_date", ""),
        "expiry_date": values.get("expiry_date", ""),
        "price_vnd": _whole_dong(values.get("price_vnd", "")),
        "origin": _origin(values),
        "stages": _stages(values),
    }
    try:
        checked = validate(BatchCreate, data, lang)
        try:
            batch = service.create_batch(
                session,
                producer_id=user.producer_id,
                data=checked,
                issuer=issuer,
                actor=portal_actor(request, user),
            )
        except Invalid as exc:
            raise invalid(lang, exc) from None
        except Conflict:
            raise FormErrors(
                {"lot": gettext(lang, N_("This product has a batch with this lot code already."))}
            ) from None
    except FormErrors as exc:
        session.rollback()
        errors = _stage_errors(exc.errors, values)
        return _new_form(request, session, user.producer_id, values, errors, 400)
    session.commit()
    return RedirectResponse(f"{PORTAL}/batches/{batch.id}?done=created", status_code=303)


def _own_batch(session: SessionDep, user: ProducerDep, batch_id: int) -> Batch:
    assert user.producer_id is not None
    return service.get_batch(session, producer_id=user.producer_id, batch_id=batch_id)


def _batch_context(
    session: SessionDep, batch: Batch, keyring: KeyRing, settings: Settings
) -> dict[str, Any]:
    versions = service.checked_versions(session, batch=batch, keyring=keyring)
    records = [record for record, _verdict in reversed(versions)]  # oldest first
    issuances = session.scalars(
        select(TagIssuance)
        .where(TagIssuance.batch_id == batch.id, TagIssuance.state == IssuanceState.PUBLISHED)
        .order_by(TagIssuance.id.desc())
    ).all()
    days = scans_per_day(session, batch_id=batch.id, days=CHART_DAYS, now=utcnow())
    return {
        "batch": batch,
        "out": BatchOut.of(batch, records, settings.public_base_url),
        "copied": copy_suspects(
            session,
            batch_id=batch.id,
            max_scans=settings.copy_max_scans,
            max_clients=settings.copy_max_clients,
            clients_per_network=settings.copy_clients_per_network,
            window=timedelta(hours=settings.copy_window_hours),
            now=utcnow(),
        ),
        "versions": versions,
        "issuances": issuances,
        "days": days,
        "peak": max([d.genuine + d.suspicious for d in days] + [1]),
        "suspicious": suspicious_scans(session, batch_id=batch.id, limit=20),
        "errors": {},
        "done": None,
        "issue_key": new_issue_key(),
        "jobs": [
            j
            for j in list_jobs(session, producer_id=batch.product.producer_id, batch_id=batch.id)
            if j.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        ],
    }


@router.get("/{batch_id}")
def batch_page(
    request: Request,
    batch_id: int,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    user: ProducerDep,
    done: str | None = None,
) -> Response:
    batch = _own_batch(session, user, batch_id)
    context = _batch_context(session, batch, keyring, settings)
    return _pages(request).page(request, "batch.html", **{**context, "done": done})


@router.get("/{batch_id}/scans.svg")
def scans_chart(
    request: Request, batch_id: int, session: SessionDep, user: ProducerDep
) -> Response:
    """The batch's scans per day over the last 30 days, as an SVG image."""
    batch = _own_batch(session, user, batch_id)
    days = scans_per_day(session, batch_id=batch.id, days=CHART_DAYS, now=utcnow())
    return Response(
        scans_per_day_svg(days, lang=portal_lang(request)),
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": CHART_CSP, "Cache-Control": "no-store"},
    )


def _correct_values(batch: Batch) -> dict[str, str]:
    values = {
        "quantity": batch.quantity,
        "quantity_unit": batch.quantity_unit,
        "production_date": batch.production_date.isoformat(),
        "expiry_date": batch.expiry_date.isoformat(),
        "price_vnd": str(batch.price_vnd),
        "origin.area": batch.origin_area,
        "origin.commune": batch.origin_commune,
        "origin.district": batch.origin_district or "",
        "origin.province": batch.origin_province,
    }
    for i, stage in enumerate(batch.stages[:STAGE_ROWS]):
        for key in ("stage", "date", "place", "note"):
            values[f"stages.{i}.{key}"] = str(stage.get(key) or "")
    return values


@router.get("/{batch_id}/correct")
def correct_form(
    request: Request, batch_id: int, session: SessionDep, user: ProducerDep
) -> Response:
    batch = _own_batch(session, user, batch_id)
    return _pages(request).page(
        request,
        "batch_correct.html",
        batch=batch,
        values=_correct_values(batch),
        errors={},
        stage_rows=STAGE_ROWS,
    )


@router.post("/{batch_id}/correct")
async def correct(
    request: Request,
    batch_id: int,
    session: SessionDep,
    issuer: IssuerDep,
    user: ProducerDep,
) -> Response:
    lang = portal_lang(request)
    batch = _own_batch(session, user, batch_id)
    values = await _form(request)
    before = _correct_values(batch)
    # Only what changed goes into the correction, so the new version says what it corrects.
    changed: dict[str, Any] = {"note": values.get("note", "")}
    for key in ("quantity", "quantity_unit", "production_date", "expiry_date"):
        if values.get(key, "") != before.get(key, ""):
            changed[key] = values.get(key, "")
    price = _whole_dong(values.get("price_vnd", ""))
    if str(price) != before["price_vnd"]:
        changed["price_vnd"] = price
    if any(values.get(k, "") != before.get(k, "") for k in before if k.startswith("origin.")):
        changed["origin"] = _origin(values)
    if any(
        values.get(f"stages.{i}.{k}", "") != before.get(f"stages.{i}.{k}", "")
        for i in range(STAGE_ROWS)
        for k in ("stage", "date", "place", "note")
    ):
        changed["stages"] = _stages(values)
    try:
        if len(changed) == 1:
            raise FormErrors({"form": gettext(lang, N_("Nothing was changed."))})
        data = validate(BatchCorrection, changed, lang)
        try:
            service.correct_batch(
                session, batch=batch, data=data, issuer=issuer, actor=portal_actor(request, user)
            )
        except Invalid as exc:
            raise invalid(lang, exc) from None
    except FormErrors as exc:
        session.rollback()
        return _pages(request).page(
            request,
            "batch_correct.html",
            status_code=400,
            batch=batch,
            values=values,
            errors=_stage_errors(exc.errors, values),
            stage_rows=STAGE_ROWS,
        )
    session.commit()
    return RedirectResponse(f"{PORTAL}/batches/{batch.id}?done=corrected", status_code=303)


@router.post("/{batch_id}/recall")
async def recall(
    request: Request,
    batch_id: int,
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    issuer: IssuerDep,
    user: ProducerDep,
) -> Response:
    lang = portal_lang(request)
    batch = _own_batch(session, user, batch_id)
    values = await _form(request)
    try:
        if values.get("confirm") != "yes":
            raise FormErrors({"confirm": gettext(lang, N_("Tick the box to confirm the recall."))})
        data = validate(Recall, {"reason": values.get("reason", "")}, lang)
        if batch.status == BatchStatus.RECALLED:
            raise FormErrors({"reason": gettext(lang, N_("This batch is recalled already."))})
        service.recall_batch(
            session,
            batch=batch,
            reason=data.reason,
            issuer=issuer,
            actor=portal_actor(request, user),
        )
    except FormErrors as exc:
        session.rollback()
        context = _batch_context(session, batch, keyring, settings)
        return _pages(request).page(
            request, "batch.html", status_code=400, **{**context, "errors": exc.errors}
        )
    session.commit()
    return RedirectResponse(f"{PORTAL}/batches/{batch.id}?done=recalled", status_code=303)
