"""Public pages: the Digital Link verification page, raw records, keys and images."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import select

from tracetag.batches.models import SignedRecord
from tracetag.batches.record import record_content
from tracetag.batches.service import check_record, find_by_code, records_of
from tracetag.deps import KeyRingDep, PagesDep, SessionDep, SettingsDep
from tracetag.errors import NotFound
from tracetag.gs1 import GS1Error, digital_link, normalize_gtin
from tracetag.i18n import CATEGORY_LABELS, PRODUCER_KIND_LABELS, gettext, negotiate
from tracetag.products.service import get_image
from tracetag.signing.jwk import jwks_document

router = APIRouter()

Sha256Hex = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]

JSON_TYPES = ("application/json", "application/ld+json")


def wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return any(t in accept for t in JSON_TYPES) and "text/html" not in accept


def page_lang(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def render_page(
    request: Request, pages: Any, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = page_lang(request)
    html = pages.render(
        name,
        lang=lang,
        path=request.url.path,
        query={k: v for k, v in request.query_params.items() if k != "lang"},
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"},
    )


def not_found_page(request: Request, pages: Any, code: str | None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "not a registered code", "code": code}, status_code=404)
    return render_page(request, pages, "not_found.html", status_code=404, code=code)


def _split_link(raw_path: str) -> tuple[str, str] | None:
    """GTIN and lot from a raw /01/{gtin}/10/{lot} path, the lot still percent-encoded."""
    segments = raw_path.split("/")
    if len(segments) != 5 or segments[1] != "01" or segments[3] != "10":
        return None
    return segments[2], unquote(segments[4])


@router.get("/.well-known/jwks.json", tags=["public"])
def jwks(keyring: KeyRingDep) -> JSONResponse:
    """The public keys that sign records (OKP/Ed25519, with kid)."""
    return JSONResponse(
        jwks_document(keyring.public_keys()),
        headers={"Cache-Control": "public, max-age=300"},
        media_type="application/jwk-set+json",
    )


@router.get("/records/{record_hash}.jws", tags=["public"], response_class=Response)
def raw_record(record_hash: Sha256Hex, session: SessionDep) -> Response:
    """The exact signed record (compact JWS), by the SHA-256 of its bytes."""
    row = session.scalar(select(SignedRecord).where(SignedRecord.record_hash == record_hash))
    if row is None:
        return JSONResponse({"detail": "record not found"}, status_code=404)
    return Response(
        row.jws,
        media_type="application/jose",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.get("/media/{sha256}", tags=["public"], response_class=Response)
def image(sha256: Sha256Hex, session: SessionDep) -> Response:
    try:
        row = get_image(session, sha256)
    except NotFound:
        return JSONResponse({"detail": "image not found"}, status_code=404)
    return Response(
        row.data,
        media_type=row.content_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{sha256}"'},
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, pages: PagesDep) -> HTMLResponse:
    return render_page(request, pages, "home.html")


@router.get("/lookup", include_in_schema=False)
def lookup(
    request: Request,
    pages: PagesDep,
    gtin: Annotated[str, Query(max_length=20)] = "",
    lot: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The home page form: send the visitor to the code's Digital Link page."""
    try:
        gtin14 = normalize_gtin(gtin)
    except GS1Error:
        return not_found_page(request, pages, f"{gtin} / {lot}")
    target = digital_link("", gtin14, lot.strip()) + "?lang=" + page_lang(request)
    return RedirectResponse(target, status_code=303)


@router.get("/01/{gtin}/10/{lot:path}", tags=["public"], response_model=None)
def batch_page(
    request: Request,
    session: SessionDep,
    keyring: KeyRingDep,
    pages: PagesDep,
    settings: SettingsDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """The public verification page of a batch (HTML, or JSON for Accept: application/json)."""
    raw_bytes = request.scope.get("raw_path")
    raw = raw_bytes.decode("latin-1") if raw_bytes else quote(request.url.path, safe="/")
    raw = raw.split("?")[0]
    parts = _split_link(raw)
    if parts is None:
        return not_found_page(request, pages, unquote(raw))
    gtin, lot = parts
    code = f"(01){gtin}(10){lot}"
    try:
        batch = find_by_code(session, gtin=gtin, lot=lot)
    except NotFound:
        return not_found_page(request, pages, code)
    if gtin != batch.product.gtin:  # a GTIN-13 link: send to the canonical GTIN-14 form
        target = digital_link("", batch.product.gtin, batch.lot)
        query = request.url.query
        return RedirectResponse(target + ("?" + query if query else ""), status_code=301)

    versions = records_of(session, batch.id)
    latest = versions[-1]
    record = (
        latest if version is None else next((r for r in versions if r.version == version), None)
    )
    if record is None:
        return not_found_page(request, pages, f"{code} v{version}")
    is_current = record.version == latest.version
    verdict = check_record(session, batch=batch, record=record, keyring=keyring, current=is_current)
    data: dict[str, Any]
    if is_current:
        data = record_content(batch)
    elif verdict.payload is not None:
        data = verdict.payload
    else:
        data = record_content(batch)

    page_path = request.url.path
    jws_url = f"/records/{record.record_hash}.jws"
    if wants_json(request):
        return JSONResponse(
            {
                "verification": {
                    "status": verdict.status,
                    "kid": verdict.kid,
                    "reason": verdict.reason,
                    "mismatched": verdict.mismatched,
                },
                "version": record.version,
                "current_version": latest.version,
                "record_hash": record.record_hash,
                "record": verdict.payload,
                "jws": record.jws,
                "jws_url": jws_url,
                "jwks_url": "/.well-known/jwks.json",
            },
            headers={"Vary": "Accept"},
        )

    lang = page_lang(request)
    image_row = None
    image_sha = data["product"].get("image_sha256")
    if image_sha:
        try:
            image_row = get_image(session, image_sha)
        except NotFound:
            image_row = None
    producer = data["producer"]
    ocop = producer.get("ocop")
    today = date.today()
    lang_q = "" if lang == "vi" else f"&lang={lang}"
    return render_page(
        request,
        pages,
        "batch.html",
        data=data,
        verdict=verdict,
        issuer_name=settings.issuer_name,
        version=record.version,
        is_current=is_current,
        issued_at=record.issued_at.date(),
        record_hash=record.record_hash,
        page_url=page_path + ("?lang=" + lang if lang != "vi" else ""),
        jws_url=jws_url,
        json_url=page_path + "?format=json",
        image_url=f"/media/{image_sha}" if image_row is not None else None,
        image_w=image_row.width if image_row else 0,
        image_h=image_row.height if image_row else 0,
        category_label=gettext(lang, CATEGORY_LABELS[data["product"]["category"]])
        if lang != "vi"
        else data["product"]["category_name"],
        kind_label=gettext(lang, PRODUCER_KIND_LABELS[producer["kind"]]),
        ocop_valid=bool(ocop and date.fromisoformat(ocop["expires_on"]) >= today),
        expired=date.fromisoformat(data["batch"]["expiry_date"]) < today,
        versions=[
            {
                "version": r.version,
                "issued_at": r.issued_at.date(),
                "note": r.note,
                "url": f"{page_path}?version={r.version}{lang_q}",
            }
            for r in versions
        ],
    )
