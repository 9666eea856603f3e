"""Issuing a batch's tags and printing their labels, with a layout chosen from a preview."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from tracetag.batches.models import Batch, BatchStatus
from tracetag.batches.service import get_batch
from tracetag.core.i18n import N_, gettext
from tracetag.labels.pdf import SheetLayout
from tracetag.tags import service
from tracetag.tags.jobs.models import JobStatus
from tracetag.tags.jobs.runner import TagJobRunner
from tracetag.tags.jobs.service import JOB_THRESHOLD, get_job, queue_tag_job
from tracetag.tags.printing import MEDIA_TYPES, ExportFormat, check_export, export, label_modules
from tracetag.tags.schemas import IssueTags
from tracetag.web.deps import IssuerDep, SessionDep, SettingsDep
from tracetag.web.portal.forms import FormErrors, validate
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, ProducerDep, portal_actor

router = portal_router()


@dataclass(frozen=True)
class Preset:
    code: str
    name: str  # msgid
    layout: SheetLayout


PRESETS = {
    p.code: p
    for p in (
        Preset("a4-21", N_("A4 sheet, 21 labels of 63.5 × 38.1 mm (3 × 7)"), SheetLayout()),
        Preset(
            "a4-8",
            N_("A4 sheet, 8 large labels of 99.1 × 67.7 mm (2 × 4)"),
            SheetLayout(
                columns=2,
                rows=4,
                margin_top=13.1,
                margin_left=4.65,
                label_width=99.1,
                label_height=67.7,
                gap_x=2.5,
                qr_size=40.0,
            ),
        ),
        Preset(
            "roll-50x40",
            N_("Label printer roll, one 50 × 40 mm label per page"),
            SheetLayout(
                page_width=50.0,
                page_height=40.0,
                columns=1,
                rows=1,
                margin_top=0.0,
                margin_left=0.0,
                label_width=50.0,
                label_height=40.0,
                gap_x=0.0,
                qr_size=24.0,
            ),
        ),
    )
}
DEFAULT_PRESET = "a4-21"
REFRESH_SECONDS = 3


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


def new_issue_key() -> str:
    """Carried by the tag form, so that sending it twice issues the tags once."""
    return "portal-" + secrets.token_urlsafe(18)


@router.post("/batches/{batch_id}/tags")
async def issue(
    request: Request,
    batch_id: int,
    session: SessionDep,
    issuer: IssuerDep,
    user: ProducerDep,
) -> Response:
    assert user.producer_id is not None
    lang = portal_lang(request)
    batch = get_batch(session, producer_id=user.producer_id, batch_id=batch_id)
    form = await request.form(max_files=0, max_fields=20)
    count = str(form.get("count", "")).strip().replace(".", "").replace(",", "")
    try:
        if batch.status == BatchStatus.RECALLED:
            raise FormErrors({"count": gettext(lang, N_("A recalled batch gets no new tags."))})
        data = validate(
            IssueTags,
            {
                "count": int(count) if count.isdigit() else count,
                "signed": form.get("signed") == "yes",
                "idempotency_key": str(form.get("idempotency_key", ""))[:100] or new_issue_key(),
            },
            lang,
        )
    except FormErrors as exc:
        return _pages(request).page(
            request,
            "error.html",
            status_code=400,
            title=gettext(lang, N_("The tags were not issued")),
            message=next(iter(exc.errors.values())),
        )
    if data.count >= JOB_THRESHOLD:
        # Too long for one request: the job is stored, a worker issues it, a page follows it.
        job, _created = queue_tag_job(
            session,
            producer_id=user.producer_id,
            batch_id=batch.id,
            count=data.count,
            signed=data.signed,
            idempotency_key=data.idempotency_key,
            requested_by=portal_actor(request, user),
        )
        session.commit()
        runner: TagJobRunner | None = request.app.state.tag_job_runner
        if runner is not None:
            runner.wake()
        return RedirectResponse(f"{PORTAL}/tag-jobs/{job.id}", status_code=303)
    # The run commits in short transactions of its own; this request's lock goes first.
    session.commit()
    issuance, _created = service.issue_tags(
        request.app.state.session_factory,
        batch_id=batch.id,
        producer_id=user.producer_id,
        count=data.count,
        signed=data.signed,
        idempotency_key=data.idempotency_key,
        issuer=issuer,
        actor=portal_actor(request, user),
    )
    return RedirectResponse(f"{PORTAL}/issuances/{issuance.id}?done=issued", status_code=303)


@router.get("/tag-jobs/{job_id}")
def job_page(
    request: Request,
    job_id: int,
    session: SessionDep,
    user: ProducerDep,
    refresh: str | None = None,
) -> Response:
    """A job's progress. Until the job ends the page asks the browser to load it again every
    few seconds (the HTTP Refresh header, no JavaScript), and offers to stop that: a reader who
    needs the page to hold still can turn it off (WCAG 2.2.1, Timing Adjustable)."""
    assert user.producer_id is not None
    job = get_job(session, producer_id=user.producer_id, job_id=job_id)
    batch = session.get(Batch, job.batch_id)
    assert batch is not None
    finished = job.status in (JobStatus.DONE, JobStatus.FAILED)
    updating = not finished and refresh != "off"
    return _pages(request).page(
        request,
        "tag_job.html",
        headers={"Refresh": str(REFRESH_SECONDS)} if updating else None,
        job=job,
        batch=batch,
        percent=int(100 * job.done_count / job.count) if job.count else 0,
        finished=finished,
        updating=updating,
    )


def _fits(layout: SheetLayout, modules: int) -> str | None:
    """None when the layout prints this run's QR codes large enough; else the reason."""
    try:
        layout.check(modules)
    except ValueError as exc:
        return str(exc)
    return None


@router.get("/issuances/{issuance_id}")
def issuance_page(
    request: Request,
    issuance_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: ProducerDep,
    layout: str = DEFAULT_PRESET,
    done: str | None = None,
) -> Response:
    assert user.producer_id is not None
    issuance = service.get_issuance(session, producer_id=user.producer_id, issuance_id=issuance_id)
    batch = session.get(Batch, issuance.batch_id)
    assert batch is not None
    modules = label_modules(issuance, batch, settings.public_base_url)
    chosen = PRESETS.get(layout, PRESETS[DEFAULT_PRESET])
    per_sheet = chosen.layout.columns * chosen.layout.rows
    return _pages(request).page(
        request,
        "issuance.html",
        issuance=issuance,
        batch=batch,
        presets=[(p, _fits(p.layout, modules)) for p in PRESETS.values()],
        chosen=chosen,
        sheets=math.ceil(issuance.count / per_sheet),
        per_sheet=per_sheet,
        done=done,
    )


@router.get("/issuances/{issuance_id}/labels.{export_format}")
def labels(
    request: Request,
    issuance_id: int,
    export_format: ExportFormat,
    session: SessionDep,
    settings: SettingsDep,
    user: ProducerDep,
    layout: str = DEFAULT_PRESET,
) -> Response:
    assert user.producer_id is not None
    issuance = service.get_issuance(session, producer_id=user.producer_id, issuance_id=issuance_id)
    batch = session.get(Batch, issuance.batch_id)
    assert batch is not None
    preset = PRESETS.get(layout, PRESETS[DEFAULT_PRESET])
    sheet = preset.layout
    try:
        check_export(export_format, sheet, issuance, batch, settings.public_base_url)
    except ValueError:  # back to the chooser, which says why this layout cannot print them
        return RedirectResponse(
            f"{PORTAL}/issuances/{issuance.id}?layout={preset.code}", status_code=303
        )
    return StreamingResponse(
        export(
            request.app.state.session_factory,
            issuance_id=issuance.id,
            export_format=export_format,
            base_url=settings.public_base_url,
            layout=sheet,
            workers=settings.label_workers,
        ),
        media_type=MEDIA_TYPES[export_format],
        headers={
            "Content-Disposition": f'attachment; filename="tags-{issuance.id}.{export_format}"'
        },
    )
