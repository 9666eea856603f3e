"""Public pages: the Digital Link verification page, raw records, keys and images."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import select

from tracetag.batches.models import SignedRecord
from tracetag.core.i18n import N_, gettext, negotiate
from tracetag.errors import NotFound, ServiceUnavailable, TooManyRequests, VerificationError
from tracetag.formats.logentry import record_entry
from tracetag.gs1.ai import GS1Error, normalize_gtin
from tracetag.gs1.digital_link import LinkPathError, digital_link, parse_link_path
from tracetag.gs1.serials import canonical_serial
from tracetag.products.service import get_image
from tracetag.scans.assess import TagStatus, assess_tag
from tracetag.scans.fingerprint import client_hash, network_hash, ua_family
from tracetag.scans.recorder import ScanRequest, ScanResult
from tracetag.settings import Settings
from tracetag.signing import registry
from tracetag.translog.standing import log_standing
from tracetag.web.deps import SessionDep
from tracetag.web.public.gzip_template import gzip_member, joined
from tracetag.web.public.pages import Pages, switch_language_url
from tracetag.web.public.record_view import load_record_view
from tracetag.web.public.verdict import headline, tag_concerns
from tracetag.web.ratelimit import client_key
from tracetag.web.responses import ErrorOut

if TYPE_CHECKING:
    from tracetag.web.public.resolver import Resolver

router = APIRouter()


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]

Sha256Hex = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]

JSON_TYPES = ("application/json", "application/ld+json")

_ERROR_JSON = {
    "application/json": {
        "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
    }
}
_HTML = {"text/html": {"schema": {"type": "string"}}}
DIGITAL_LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The verification page (HTML), or the record as JSON; for a GTIN alone, "
        "or a lot that is not registered, the product page. With `linkType=linkset`, or "
        "`Accept: application/linkset+json`, the RFC 9264 linkset.",
        "content": {
            **_HTML,
            "application/json": {"schema": {"type": "object"}},
            "application/linkset+json": {
                "schema": {
                    "type": "object",
                    "required": ["linkset"],
                    "properties": {"linkset": {"type": "array", "items": {"type": "object"}}},
                }
            },
        },
    },
    301: {
        "description": "To the canonical link (GTIN-14, serial as issued, the lot of a serial "
        "given without it)."
    },
    307: {"description": "To the link of the type `linkType` asks for."},
    400: {
        "description": "Not a GS1 Digital Link (bad check digit, non-numeric GTIN, malformed "
        "path), or a parameter is not valid.",
        "content": {**_HTML, **_ERROR_JSON},
    },
    404: {
        "description": "Not a registered code, a serial never issued, or no link of the type "
        "`linkType` asks for.",
        "content": {**_HTML, "application/json": {"schema": {"type": "object"}}},
    },
    429: {
        "description": "Too many requests from this network.",
        "content": {**_HTML, **_ERROR_JSON},
    },
    503: {
        "description": "Busy or the database is down; retry.",
        "content": {**_HTML, **_ERROR_JSON},
    },
}


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
        query={k: v for k, v in request.query_params.items() if k != "lang"},
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"},
    )


def bad_link_page(request: Request, pages: Any) -> Response:
    """400 for a link with a parameter that is not valid, in the visitor's language."""
    if wants_json(request):
        return JSONResponse({"detail": "a parameter of the link is not valid"}, status_code=400)
    lang = page_lang(request)
    return render_page(
        request,
        pages,
        "error.html",
        status_code=400,
        title=gettext(lang, N_("Invalid address")),
        message=gettext(lang, N_("The link has a parameter that is not valid.")),
    )


def not_found_page(request: Request, pages: Any, code: str | None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "not a registered code", "code": code}, status_code=404)
    return render_page(request, pages, "not_found.html", status_code=404, code=code)


_BAD_LINK: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is not valid.", "content": _HTML}
}


_JWKS_SCHEMA = {
    "type": "object",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
}


@router.get(
    "/.well-known/jwks.json",
    tags=["public"],
    response_class=JSONResponse,
    responses={200: {"content": {"application/jwk-set+json": {"schema": _JWKS_SCHEMA}}}},
)
def jwks(session: SessionDep) -> JSONResponse:
    """The public keys that sign records (OKP/Ed25519, with kid), every one the registry holds,
    each with its status and dates: status (pending, active, retired, revoked), created_at,
    valid_from, valid_until, and for a revoked key revoked_at and compromised_at."""
    return JSONResponse(
        registry.jwks(session),
        headers={"Cache-Control": "public, max-age=300"},
        media_type="application/jwk-set+json",
    )


@router.get(
    "/records/{record_hash}.jws",
    tags=["public"],
    response_class=Response,
    responses={
        200: {"content": {"application/jose": {"schema": {"type": "string"}}}},
        404: {"model": ErrorOut, "description": "No record has this hash."},
        **_BAD_LINK,
    },
)
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


@router.get(
    "/records/{record_hash}.json",
    tags=["public"],
    responses={
        404: {"model": ErrorOut, "description": "No record has this hash."},
        **_BAD_LINK,
    },
)
def record_with_proof(record_hash: Sha256Hex, session: SessionDep) -> JSONResponse:
    """The signed record with its place in the public log: the latest checkpoint (with its
    witnesses' cosignatures) and the inclusion proof in it, and the first checkpoint that
    covered it with the consistency proof to the latest (docs/FORMATS.md §8.4)."""
    row = session.scalar(select(SignedRecord).where(SignedRecord.record_hash == record_hash))
    if row is None:
        return JSONResponse({"detail": "record not found"}, status_code=404)
    try:
        log = log_standing(session, record_entry(row.jws)).json()
    except VerificationError:  # a stored JWS that does not parse names no entry: not logged
        log = {"status": "absent"}
    body = {"jws": row.jws, "record_hash": row.record_hash, "log": log}
    # The proof grows with the log: cached briefly, unlike the JWS itself.
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=60"})


@router.get(
    "/media/{sha256}",
    tags=["public"],
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        404: {"model": ErrorOut, "description": "No image has this hash."},
        **_BAD_LINK,
    },
)
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


def _version_param(text: str | None) -> int | None:
    """?version=N as an int; -1 when it is there but not a number from 1 to 1,000,000."""
    if text is None:
        return None
    # The length check comes first: int() refuses texts of over 4,300 digits with an error.
    if len(text) > 7 or not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        return -1
    return int(text)


def raw_link_path(scope: Any) -> str:
    """The request path as sent, still percent-encoded, so an encoded / in a lot stays in it."""
    raw_bytes = scope.get("raw_path")
    raw = raw_bytes.decode("latin-1") if raw_bytes else quote(scope["path"], safe="/")
    return str(raw).split("?")[0]


def shown(text: str, limit: int = 120) -> str:
    """Text from a URL as a page may show it: printable characters only, and not too much."""
    clean = "".join(ch if ch.isprintable() else "\ufffd" for ch in text[:limit])
    return clean + ("…" if len(text) > limit else "")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _rate_limit(request: Request, rule_name: str) -> None:
    """Count this request against a per-client rule; raises TooManyRequests past it."""
    state = request.app.state
    retry = await state.limiter.hit(state.rate_rules[rule_name], client_key(_client_ip(request)))
    if retry is not None:
        raise TooManyRequests("too many requests from this network", retry_after=retry)


DIGITAL_LINK_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "gtin",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 14},
        "description": "GTIN-14 (a GTIN-8, -12 or -13 is redirected to its GTIN-14 form).",
    },
    {
        "name": "rest",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The lot (AI 10), percent-encoded; for a unit tag `{lot}/21/{serial}`.",
    },
    {
        "name": "version",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "description": "An earlier version of the batch record.",
    },
    {
        "name": "8030",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 90},
        "description": "The tag's GS1 AI 8030 signature; given at most once.",
    },
    {
        "name": "lang",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["vi", "en"]},
    },
    {
        "name": "linkType",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 200},
        "description": "`linkset` (or `all`) for the RFC 9264 linkset; a GS1 link type "
        "(`gs1:pip`, `gs1:traceability`, `gs1:certificationInfo`, `gs1:hasRetailers`, "
        "`gs1:defaultLink`) for a 307 to that link (to the first place to buy, for "
        "`gs1:hasRetailers`); 404 when there is none of that type.",
    },
    {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["json"]},
        "description": "`json` for the JSON form (or send `Accept: application/json`).",
    },
]


@router.get(
    "/01/{gtin}/10/{rest:path}",
    tags=["public"],
    response_model=None,
    openapi_extra={"parameters": DIGITAL_LINK_PARAMETERS},
    responses=DIGITAL_LINK_RESPONSES,
)
async def digital_link_page(request: Request) -> Response:
    """The page a QR code opens: a batch (…/10/{lot}) or a unit tag (…/10/{lot}/21/{serial}).

    HTML for browsers; JSON for `Accept: application/json` or `?format=json`. The handler takes
    no FastAPI dependencies: it is the hot path of every scan. Every part of the link is checked
    here, before anything reaches the database or the scan queue. It also answers every other
    /01/ path (the resolver's routes point here); what is not the plain page of a lot or a tag
    goes to `web.resolver`: link types, linksets, the product, a lot that is not registered.
    """
    pages: Pages = request.app.state.pages
    query = request.query_params
    version = _version_param(query.get("version"))
    if version == -1 or len(query.getlist("8030")) > 1:
        return bad_link_page(request, pages)  # one rule for a repeated 8030: refuse it
    resolver: Resolver = request.app.state.resolver
    try:
        link = parse_link_path(raw_link_path(request.scope))
    except LinkPathError as exc:
        return resolver.syntax_error(request, exc)  # 400, GS1-Conformant Resolver §2.4.1
    gtin14, lot, serial = link.gtin14, link.lot, link.serial
    typed = canonical_serial(serial) if serial is not None else None
    if gtin14 != link.gtin or typed != serial:
        # A GTIN-13 or a typed serial (lower case, o for 0): send to the canonical link.
        target = link.path(gtin=gtin14, serial=typed)
        return RedirectResponse(
            target + ("?" + request.url.query if request.url.query else ""), status_code=301
        )
    await _rate_limit(request, "scan")
    if lot is None or resolver.asks_for_links(request):
        return await resolver.answer(request, link)  # link types, linksets, the product level
    if serial is not None:
        response = await tag_page(request, pages, link=link, gtin=gtin14, lot=lot, serial=serial)
        response.headers["link"] = resolver.link_header(link)
        return response

    state = request.app.state
    # The batch page checks the stored JWS against the rows on every view: no cache here.
    view = await run_in_threadpool(
        load_record_view, state.session_factory, state.keyring, gtin14, lot, version
    )
    if view is None:  # walk up: the product, unless the GTIN is unknown too
        return await resolver.lot_not_registered(request, link, version)
    headers = {"Link": resolver.link_header(link)}
    if wants_json(request):
        return JSONResponse(view.json(), headers={"Vary": "Accept", **headers})
    lang = page_lang(request)
    response = render_page(
        request,
        pages,
        "batch.html",
        issuer_name=request.app.state.settings.issuer_name,
        headline=view.headline(),
        tag=None,
        **view.context(lang, request.url.path),
    )
    response.headers.update(headers)
    return response


async def _record_scan(request: Request, scan: ScanRequest) -> ScanResult | None:
    """Queue the scan and wait for its commit, at most `scan_wait_seconds`."""
    state = request.app.state
    submitted: Future[ScanResult | None] = state.scan_recorder.submit(scan)  # 503 when full
    future = asyncio.wrap_future(submitted)
    # A timer that cancels the wait, rather than asyncio.wait_for, which costs a task per scan.
    timed_out = False

    def time_out() -> None:
        nonlocal timed_out
        timed_out = True
        future.cancel()  # also cancels the queued scan, which the writer then skips

    timer = asyncio.get_running_loop().call_later(state.settings.scan_wait_seconds, time_out)
    try:
        return await future
    except asyncio.CancelledError:
        if timed_out:
            raise ServiceUnavailable("the scan could not be stored in time") from None
        raise
    finally:
        timer.cancel()


async def tag_page(
    request: Request, pages: Pages, *, link: Any, gtin: str, lot: str, serial: str
) -> Response:
    """A unit tag: the batch page plus the tag's own verdict, scan history and copy warning."""
    state = request.app.state
    settings: Settings = state.settings
    view = await state.record_views.get(gtin, lot)
    if view is None:  # walk up: a known product says its lot is not registered, nothing more
        return await state.resolver.lot_not_registered(request, link, None)  # type: ignore[no-any-return]
    headers = request.headers
    ip = _client_ip(request)
    guesses = state.rate_rules["unknown_serial"]
    retry = await state.limiter.exhausted(guesses, client_key(ip))
    if retry is not None:  # this network already tried many serials that were never issued
        raise TooManyRequests("too many unknown serials from this network", retry_after=retry)
    # The link's own signature is checked before the scan is queued: the writer stores a scan
    # whose label fails as suspicious, and it counts toward nothing on the genuine tag.
    label = state.digsig_verifier.check(
        request.query_params.get("8030"), gtin14=gtin, lot=lot, serial=serial
    )
    scan = ScanRequest(
        gtin=gtin,
        serial=serial,
        client_hash=client_hash(
            state.scan_salt,
            ip=ip,
            user_agent=headers.get("user-agent"),
            language=headers.get("accept-language"),
        ),
        network_hash=network_hash(state.scan_salt, ip=ip),
        ua_family=ua_family(headers.get("user-agent")),
        batch_id=view.batch_id,
        label=label,
    )
    result = await _record_scan(request, scan)
    if result is None:
        await state.limiter.hit(guesses, client_key(ip))
    check = assess_tag(result, label=label, thresholds=state.copy_thresholds)
    status_code = 404 if check.status is TagStatus.UNKNOWN_SERIAL else 200
    concerns = tag_concerns(view.concerns, check)
    verdict = headline(concerns, tag=True)
    if wants_json(request):
        return JSONResponse(
            {
                **view.json(),
                "verdict": verdict.value,
                "concerns": [c.value for c in concerns],
                "tag": check.json(),
            },
            status_code=status_code,
            headers={"Vary": "Accept"},
        )
    lang = page_lang(request)
    shell = view.shells.get(lang)
    if shell is None:  # once per record view and language; the scan part is rendered below
        shell = view.shells[lang] = pages.shell(
            "tag.html",
            lang=lang,
            issuer_name=settings.issuer_name,
            **view.context(lang, digital_link("", gtin, lot)),
        )
    body = pages.tag_status(
        lang=lang, headline=verdict, tag=check, serial=serial, issuer_name=settings.issuer_name
    )
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    lang_url = switch_language_url(query, "en" if lang == "vi" else "vi")
    response_headers = {"Content-Language": lang, "Vary": "Accept, Accept-Language"}
    pieces = shell.pieces(lang_url, body)
    if "gzip" in request.headers.get("accept-encoding", ""):  # GZipMiddleware's own test
        # Gzipped here from text compressed once (web.gzip_template); GZipMiddleware passes a
        # response that has a Content-Encoding, and adds this Vary only to its own.
        response_headers["Content-Encoding"] = "gzip"
        response_headers["Vary"] += ", Accept-Encoding"
        content = gzip_member(pieces)
    else:
        content = joined(pieces)
    return HTMLResponse(content, status_code=status_code, headers=response_headers)
