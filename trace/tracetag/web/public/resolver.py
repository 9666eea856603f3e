"""The GS1-Conformant resolver: description file, linksets, link types, walk-up, HEAD and OPTIONS.

GS1-Conformant Resolver Standard 1.1 (https://ref.gs1.org/standards/resolver/), the linkset format
of RFC 9264 and the Link header of RFC 8288; what they say is built in gs1/linkset.py, and this
module answers requests with it. The scan route (`routes.digital_link_page`) parses
and checks the link, then hands this module whatever is not a plain page of a registered lot or
tag: link-type requests, linksets, and the levels above a lot (walk-up, Resolver §2.5.9).

Decision: the default link of every Digital Link URI is the URI itself. A plain request is
answered with the page, never redirected, because a redirect would cost a consumer on a slow
mobile network a full round trip before the page starts to load. Each linkset says so by listing
the URI as its own `gs1:defaultLink` (and `gs1:pip`); the description file says it in
`defaultLinkPolicy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tracetag.batches.models import Batch
from tracetag.batches.record import producer_section, product_section
from tracetag.core.i18n import N_, gettext
from tracetag.errors import TooManyRequests
from tracetag.gs1.ai import element_string
from tracetag.gs1.digital_link import (
    LinkPath,
    LinkPathError,
    digital_link,
    encode_ai_value,
    parse_link_path,
    tag_digital_link,
)
from tracetag.gs1.linkset import (
    LINKSET_CONTEXT,
    LINKSET_TYPE,
    LINKSET_VALUES,
    Level,
    Link,
    choose,
    description_file,
    linkset_header,
    passed_query,
    requested_link_type,
    with_query,
)
from tracetag.products.models import Product, ProductImage
from tracetag.settings import Settings
from tracetag.tags.service import find_tag
from tracetag.web.public.pages import Pages, section_labels
from tracetag.web.public.record_view import RecordView
from tracetag.web.public.routes import (
    DIGITAL_LINK_PARAMETERS,
    DIGITAL_LINK_RESPONSES,
    digital_link_page,
    not_found_page,
    page_lang,
    raw_link_path,
    render_page,
    shown,
    wants_json,
)
from tracetag.web.public.where_to_buy import (
    PlaceToBuy,
    load_places_to_buy,
    shown_on_page,
)
from tracetag.web.ratelimit import client_key

METHODS = "GET, HEAD, OPTIONS"
LOTS_SHOWN = 100

_SYNTAX_MESSAGES = {
    "path": N_(
        "This address does not have the form of a GS1 Digital Link "
        "(/01/GTIN/10/lot/21/serial). It may have been cut off or mistyped."
    ),
    "gtin": N_("The product code (GTIN) in this address must have 8, 12, 13 or 14 digits."),
    "check-digit": N_(
        "The product code (GTIN) in this address has a wrong check digit: it was probably mistyped."
    ),
    "lot": N_(
        "The lot number in this address is not valid: GS1 allows 1 to 20 letters without "
        "diacritics, digits and a few symbols."
    ),
    "serial": N_(
        "The serial number in this address is not valid: GS1 allows 1 to 20 letters without "
        "diacritics, digits and a few symbols."
    ),
}
_OTHER_SYNTAX_MESSAGE = N_("A part of this address is not valid.")


@dataclass(frozen=True)
class ProductView:
    """What the product page shows: the product, its producer and its registered lots."""

    gtin: str
    product: dict[str, Any]
    producer: dict[str, Any]
    lots: list[dict[str, Any]]
    lot_count: int
    image: tuple[str, int, int] | None
    has_lot: bool = False  # the lot the request named is registered
    retailers: tuple[PlaceToBuy, ...] = ()  # where to buy: the producer's list, not signed


def load_product_view(
    factory: sessionmaker[Session], gtin: str, lot: str | None = None, *, lots: bool = True
) -> ProductView | None:
    """The product with this GTIN-14, or None when no product has it; `lots=False` skips them."""
    with factory() as session:
        product = session.scalar(select(Product).where(Product.gtin == gtin))
        if product is None:
            return None
        rows = session.execute(
            select(Batch.lot, Batch.status, Batch.production_date, Batch.expiry_date)
            .where(Batch.product_id == product.id)
            .order_by(Batch.production_date.desc(), Batch.id.desc())
            .limit(LOTS_SHOWN if lots else 0)
        ).all()
        count = (
            session.scalar(
                select(func.count()).select_from(Batch).where(Batch.product_id == product.id)
            )
            if lots
            else 0
        )
        has_lot = lot is not None and (
            session.scalar(select(Batch.id).where(Batch.product_id == product.id, Batch.lot == lot))
            is not None
        )
        image = None
        if product.image_sha256:  # the size only: the image's bytes stay in the database
            size = session.execute(
                select(ProductImage.width, ProductImage.height).where(
                    ProductImage.sha256 == product.image_sha256
                )
            ).first()
            image = (product.image_sha256, size.width, size.height) if size else None
        return ProductView(
            gtin=gtin,
            product=product_section(product),
            producer=producer_section(product.producer),
            lots=[
                {
                    "lot": r.lot,
                    "status": r.status,
                    "production_date": r.production_date.isoformat(),
                    "expiry_date": r.expiry_date.isoformat(),
                }
                for r in rows
            ],
            lot_count=count or 0,
            image=image,
            has_lot=has_lot,
            retailers=load_places_to_buy(session, product.id),
        )


def _lot_of_tag(factory: sessionmaker[Session], gtin: str, serial: str) -> str | None:
    """The lot of a published tag, or None when no such tag was issued."""
    with factory() as session:
        tag = find_tag(session, gtin=gtin, serial=serial)
        if tag is None:
            return None
        return session.scalar(select(Batch.lot).where(Batch.id == tag.batch_id))


class HeadResponse(Response):
    """The answer to HEAD: the GET answer's status and headers, without its body (RFC 9110 §9.3.2).

    Content-Length stays the GET body's, as RFC 9110 §8.6 allows for HEAD.
    """

    def __init__(self, response: Response) -> None:
        self.status_code = response.status_code
        self.background = response.background
        self.body = b""
        self.raw_headers = response.raw_headers


class Resolver:
    """The resolver's answers; built once per app and kept in `app.state.resolver`."""

    def __init__(self, settings: Settings) -> None:
        self.base = settings.public_base_url.rstrip("/")
        self.description = description_file(self.base, settings.issuer_name)

    @staticmethod
    def asks_for_links(request: Request) -> bool:
        """A linkType, or an Accept for the linkset: the one check a plain scan pays for."""
        return "linkType" in request.query_params or LINKSET_TYPE in request.headers.get(
            "accept", ""
        )

    @staticmethod
    def link_header(link: LinkPath) -> str:
        return linkset_header(link.path())

    # -- levels: the links of a product, a lot and a tag ---------------------------------------

    def product_level(
        self,
        gtin: str,
        name: str,
        ocop: dict[str, Any] | None,
        lang: str,
        retailers: Sequence[PlaceToBuy] = (),
    ) -> Level:
        anchor = f"{self.base}/01/{gtin}"
        links = [
            Link(
                "pip",
                anchor,
                gettext(lang, N_("%(product)s: product and producer")) % {"product": name},
                "text/html",
                ("vi", "en"),
            )
        ]
        if ocop:
            title = gettext(lang, N_("OCOP certificate %(number)s (%(stars)s stars)"))
            links.append(
                Link(
                    "certificationInfo",
                    f"{anchor}#ocop",
                    title % {"number": ocop["certificate_no"], "stars": ocop["stars"]},
                    "text/html",
                    ("vi", "en"),
                )
            )
        # Each place with a web address, in the producer's order, titled with its name; the
        # first is where linkType=gs1:hasRetailers goes.
        links.extend(
            Link("hasRetailers", place.href, place.name, passes_query=False)
            for place in retailers
            if place.href is not None
        )
        return Level(anchor, tuple(links))

    def lot_level(self, view: RecordView, lang: str) -> Level:
        anchor = digital_link(self.base, view.gtin, view.lot)
        name = _product_name(view)
        title = gettext(lang, N_("%(product)s, lot %(lot)s: traceability page"))
        links = (
            Link(
                "pip", anchor, title % {"product": name, "lot": view.lot}, "text/html", ("vi", "en")
            ),
            Link(
                "traceability",
                f"{self.base}/records/{view.record_hash}.jws",
                gettext(lang, N_("Signed record (JWS)")),
                "application/jose",
            ),
            Link(
                "traceability",
                f"{anchor}?format=json",
                gettext(lang, N_("Batch record and its verification (JSON)")),
                "application/json",
            ),
        )
        return Level(anchor, links)

    def tag_level(self, view: RecordView, serial: str, lang: str) -> Level:
        anchor = tag_digital_link(self.base, view.gtin, view.lot, serial)
        name = _product_name(view)
        title = gettext(lang, N_("%(product)s, serial %(serial)s: check this item"))
        link = Link(
            "pip", anchor, title % {"product": name, "serial": serial}, "text/html", ("vi", "en")
        )
        return Level(anchor, (link,))

    async def levels(self, request: Request, link: LinkPath) -> list[Level]:
        """The registered levels a link names, most specific first; [] for an unknown GTIN.

        A lot that is not registered leaves the product's level (walk-up, Resolver §2.5.9). A
        tag's level is listed whether or not the serial was issued: its page is there either
        way, with its verdict, and a linkset must not tell serials apart.
        """
        state = request.app.state
        lang = page_lang(request)
        view: RecordView | None = None
        if link.lot is not None:
            view = await state.record_views.get(link.gtin14, link.lot)
        if view is None:
            product = await run_in_threadpool(
                partial(load_product_view, state.session_factory, link.gtin14, lots=False)
            )
            if product is None:
                return []
            name, ocop = product.product["name"], product.producer["ocop"]
            return [self.product_level(link.gtin14, name, ocop, lang, product.retailers)]
        found = [self.lot_level(view, lang)]
        if link.serial is not None:
            found.insert(0, self.tag_level(view, link.serial, lang))
        data = view.data
        if data is not None:  # no signature vouches for a tampered record's product: no level
            found.append(
                self.product_level(
                    view.gtin,
                    data["product"]["name"],
                    data["producer"]["ocop"],
                    lang,
                    view.retailers,
                )
            )
        return found

    # -- answers ---------------------------------------------------------------------------------

    async def answer(self, request: Request, link: LinkPath) -> Response:
        """Anything but the plain page of a lot or tag: link types, linksets, the product level."""
        query = request.query_params
        wanted = query.get("linkType")
        if wanted is None and LINKSET_TYPE in request.headers.get("accept", ""):
            wanted = "linkset"
        if link.lot is None and link.serial is not None:
            # /01/{gtin}/21/{serial}: whatever was asked, the answer comes with the full link.
            return await self.serial_without_lot(request, link)
        if wanted is None:
            return await self.product_page(request, link.gtin14)
        levels = await self.levels(request, link)
        if not levels:
            return not_found_page(request, request.app.state.pages, f"(01){link.gtin14}")
        if wanted in LINKSET_VALUES:
            return self.linkset(request, levels)
        return self.redirect(request, link, levels, wanted)

    def linkset(self, request: Request, levels: Iterable[Level]) -> Response:
        """The RFC 9264 JSON linkset; the JSON-LD context is named in a Link header (§2.10)."""
        context = f'<{LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"'
        return JSONResponse(
            {"linkset": [level.context_object() for level in levels]},
            media_type=LINKSET_TYPE,
            headers={
                "Link": f'{context}; type="application/ld+json"',
                "Content-Language": page_lang(request),
                "Vary": "Accept, Accept-Language",
            },
        )

    def redirect(
        self, request: Request, link: LinkPath, levels: Sequence[Level], wanted: str
    ) -> Response:
        """307 to the link of the type asked for, from the most specific level that has one."""
        rel = requested_link_type(wanted)
        if rel == "defaultLink":
            candidates: Sequence[Link] = levels[0].links[:1]
        else:
            candidates = next(
                (found for level in levels if (found := [x for x in level.links if x.rel == rel])),
                [],
            )
        headers = {"Link": linkset_header(link.path()), "Vary": "Accept, Accept-Language"}
        if not candidates:  # Resolver §2.6.2: no link of that type, 404
            return self.no_such_link(request, wanted, headers)
        chosen = choose(
            candidates, accept=request.headers.get("accept", ""), lang=page_lang(request)
        )
        query = passed_query(request.url.query) if chosen.passes_query else ""
        target = with_query(chosen.href, query)
        return RedirectResponse(target, status_code=307, headers=headers)

    def no_such_link(self, request: Request, wanted: str, headers: dict[str, str]) -> Response:
        if wants_json(request):
            body = {"detail": "no link of this type", "linkType": wanted}
            return JSONResponse(body, status_code=404, headers=headers)
        lang = page_lang(request)
        message = gettext(lang, N_("This product has no link of the type asked for (%(type)s)."))
        response = render_page(
            request,
            request.app.state.pages,
            "error.html",
            status_code=404,
            title=gettext(lang, N_("No link of this type")),
            message=message % {"type": shown(wanted, 60)},
        )
        response.headers.update(headers)
        return response

    def syntax_error(self, request: Request, error: LinkPathError) -> Response:
        """400 for a link that breaks the GS1 Digital Link syntax (Resolver §2.4.1)."""
        if wants_json(request):
            detail = f"not a valid GS1 Digital Link: {error}"
            return JSONResponse({"detail": detail, "part": error.part}, status_code=400)
        lang = page_lang(request)
        message = _SYNTAX_MESSAGES.get(error.part, _OTHER_SYNTAX_MESSAGE)
        return render_page(
            request,
            request.app.state.pages,
            "error.html",
            status_code=400,
            title=gettext(lang, N_("Invalid address")),
            message=gettext(lang, message),
        )

    async def serial_without_lot(self, request: Request, link: LinkPath) -> Response:
        """/01/{gtin}/21/{serial} (GS1 DL allows the lot out): 301 to the tag's full link, or 404.

        A miss counts against the client's budget of unknown serials, as on a tag page, so this
        cannot serve to test serials one by one.
        """
        state = request.app.state
        rule = state.rate_rules["unknown_serial"]
        key = client_key(request.client.host if request.client else None)
        retry = await state.limiter.exhausted(rule, key)
        if retry is not None:
            raise TooManyRequests("too many unknown serials from this network", retry_after=retry)
        serial = link.serial or ""
        lot = await run_in_threadpool(_lot_of_tag, state.session_factory, link.gtin14, serial)
        if lot is not None:
            full = LinkPath(link.gtin, link.gtin14, link.cpv, lot, serial, link.tpx).path()
            query = request.url.query
            return RedirectResponse(full + ("?" + query if query else ""), status_code=301)
        await state.limiter.hit(rule, key)
        lang = page_lang(request)
        notice = {
            "title": gettext(lang, N_("This serial number is not registered")),
            "message": gettext(
                lang,
                N_(
                    "The product below is registered with tracetag, but no tag with this "
                    "serial number was issued for it. Check the code printed on the label."
                ),
            ),
            "code": shown(f"(01){link.gtin14}(21){serial}"),
        }
        extra = {"serial_registered": False, "requested_serial": serial}
        return await self.product_page(
            request, link.gtin14, status_code=404, notice=notice, extra=extra
        )

    async def lot_not_registered(
        self, request: Request, link: LinkPath, version: int | None
    ) -> Response:
        """A lot path whose lot (or version) is not registered: walk up to the product.

        An unknown lot of a known product shows the product with a notice that the lot is not
        registered; it does not call the product counterfeit. The status stays 404: the lot is
        not found, and a client such as `tracetag verify` must not take the page for a record.
        An unknown GTIN, or a version a registered lot does not have, is "not found" as before.
        """
        state = request.app.state
        lot = link.lot or ""
        product = await run_in_threadpool(
            load_product_view, state.session_factory, link.gtin14, lot
        )
        code = element_string(link.gtin14, lot)
        if product is None or product.has_lot:
            shown_code = code if version is None else f"{code} v{version}"
            return not_found_page(request, state.pages, shown_code)
        lang = page_lang(request)
        notice = {
            "title": gettext(lang, N_("This lot is not registered")),
            "message": gettext(
                lang,
                N_(
                    "The product below is registered with tracetag, but this lot number is "
                    "not. Check the lot number printed on the package, or ask the seller."
                ),
            ),
            "code": shown(code),
        }
        extra = {"lot_registered": False, "requested_lot": lot}
        return self._product_answer(request, product, status_code=404, notice=notice, extra=extra)

    async def product_page(
        self,
        request: Request,
        gtin: str,
        *,
        status_code: int = 200,
        notice: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Response:
        """/01/{gtin}: the product, its producer and its registered lots (HTML or JSON)."""
        state = request.app.state
        product = await run_in_threadpool(load_product_view, state.session_factory, gtin)
        if product is None:
            return not_found_page(request, state.pages, f"(01){gtin}")
        return self._product_answer(
            request, product, status_code=status_code, notice=notice, extra=extra
        )

    def _product_answer(
        self,
        request: Request,
        product: ProductView,
        *,
        status_code: int = 200,
        notice: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Response:
        path = f"/01/{product.gtin}"
        lots = [{**lot, "url": f"{path}/10/{encode_ai_value(lot['lot'])}"} for lot in product.lots]
        headers = {"Link": linkset_header(path)}
        if wants_json(request):
            body = {
                "product": product.product,
                "producer": product.producer,
                "lots": lots,
                "lot_count": product.lot_count,
                # Where to buy: the producer's list, not part of any signed record.
                "retailers": [
                    {"name": r.name, "kind": r.kind, "url": r.href, "address": r.address}
                    for r in product.retailers
                ],
                "linkset_url": f"{path}?linkType=linkset",
                **(extra or {}),
            }
            headers["Vary"] = "Accept"
            return JSONResponse(body, status_code=status_code, headers=headers)
        lang = page_lang(request)
        pages: Pages = request.app.state.pages
        response: HTMLResponse = render_page(
            request,
            pages,
            "product.html",
            status_code=status_code,
            product=product.product,
            lots=lots,
            lot_count=product.lot_count,
            notice=notice,
            producer=product.producer,
            **section_labels(lang, product.product, product.producer),
            image_url=f"/media/{product.image[0]}" if product.image else None,
            image_w=product.image[1] if product.image else 0,
            image_h=product.image[2] if product.image else 0,
            where_to_buy=shown_on_page(product.retailers),
        )
        response.headers.update(headers)
        return response

    # -- methods ---------------------------------------------------------------------------------

    def options(self, request: Request) -> Response:
        """OPTIONS: the methods, and a CORS preflight answer for any origin (Resolver §2.2)."""
        headers = {
            "Allow": METHODS,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": "Accept, Accept-Language",
            "Access-Control-Max-Age": "86400",
        }
        raw = raw_link_path(request.scope)
        if raw.startswith("/01/"):
            with suppress(LinkPathError):  # a bad path has no linkset; the methods are the same
                headers["Link"] = linkset_header(parse_link_path(raw).path())
        return Response(status_code=204, headers=headers)


# -- routes ----------------------------------------------------------------------------------------

router = APIRouter()

_GTIN = next(p for p in DIGITAL_LINK_PARAMETERS if p["name"] == "gtin")
_QUERY = [p for p in DIGITAL_LINK_PARAMETERS if p["in"] == "query"]
_REST = {
    "name": "rest",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The key qualifiers after the GTIN, in GS1 order: `22/{cpv}`, `10/{lot}`, "
    "`21/{serial}`, `235/{tpx}`, each optional. A serial without a lot is redirected (301) to "
    "the tag's full link; a malformed path answers 400.",
}
_PRODUCT_PARAMETERS = [_GTIN, *_QUERY]
_REST_PARAMETERS = [_GTIN, _REST, *_QUERY]
_LOT_PARAMETERS = [
    next(p for p in DIGITAL_LINK_PARAMETERS if p["name"] == "rest") | {"required": True},
]
_HEAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": f"As GET answers, without a body. {answer['description']}"}
    for status, answer in DIGITAL_LINK_RESPONSES.items()
}
_OPTIONS_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "`Allow` and CORS preflight headers; any origin may read."},
    404: {
        "description": "No route has this path (one with a line break in it).",
        "content": DIGITAL_LINK_RESPONSES[404]["content"],
    },
}
_PATHS = {  # kind of path: (route, parameters)
    "product": ("/01/{gtin}", _PRODUCT_PARAMETERS),
    "lot": ("/01/{gtin}/10/{rest:path}", [_GTIN, *_LOT_PARAMETERS, *_QUERY]),
    "qualified": ("/01/{gtin}/{rest:path}", _REST_PARAMETERS),
}


async def head(request: Request) -> Response:
    """The GET answer's status and headers, without the body."""
    return HeadResponse(await digital_link_page(request))


async def options(request: Request) -> Response:
    """Allowed methods and CORS preflight headers."""
    resolver: Resolver = request.app.state.resolver
    return resolver.options(request)


# GET /01/{gtin}/10/{rest} is routes.digital_link_page's own route (and the scan fast path's).
router.add_api_route(
    "/01/{gtin}",
    digital_link_page,
    methods=["GET"],
    tags=["public"],
    response_model=None,
    name="product_page",
    summary="A product, its producer and its registered lots (walk-up level of the GTIN)",
    openapi_extra={"parameters": _PRODUCT_PARAMETERS},
    responses=DIGITAL_LINK_RESPONSES,
)
router.add_api_route(
    "/01/{gtin}/{rest:path}",
    digital_link_page,
    methods=["GET"],
    tags=["public"],
    response_model=None,
    name="qualified_link",
    summary="Any other GTIN Digital Link path: a serial without its lot, a CPV, or a bad path",
    openapi_extra={"parameters": _REST_PARAMETERS},
    responses=DIGITAL_LINK_RESPONSES,
)
for _kind, (_path, _parameters) in _PATHS.items():
    router.add_api_route(
        _path,
        head,
        methods=["HEAD"],
        tags=["public"],
        response_model=None,
        response_class=Response,
        name=f"{_kind}_head",
        openapi_extra={"parameters": _parameters},
        responses=_HEAD_RESPONSES,
    )
    router.add_api_route(
        _path,
        options,
        methods=["OPTIONS"],
        tags=["public"],
        response_model=None,
        response_class=Response,
        name=f"{_kind}_options",
        status_code=204,
        openapi_extra={"parameters": [p for p in _parameters if p["in"] == "path"]},
        responses=_OPTIONS_RESPONSES,
    )


_DESCRIPTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The resolver description file (GS1-Conformant Resolver §3).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


async def resolver_description(request: Request) -> Response:
    """The resolver description file: what this resolver supports, and its default-link policy."""
    resolver: Resolver = request.app.state.resolver
    response = Response(
        resolver.description,
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )
    return HeadResponse(response) if request.method == "HEAD" else response


async def description_options(request: Request) -> Response:
    return Response(
        status_code=204,
        headers={"Allow": METHODS, "Access-Control-Allow-Methods": METHODS},
    )


router.add_api_route(
    "/.well-known/gs1resolver",
    resolver_description,
    methods=["GET"],
    tags=["public"],
    response_class=Response,
    responses=_DESCRIPTION_RESPONSES,
)
router.add_api_route(
    "/.well-known/gs1resolver",
    resolver_description,
    methods=["HEAD"],
    tags=["public"],
    name="head_resolver_description",
    response_class=Response,
    responses={200: {"description": "As GET, without a body."}},
)
router.add_api_route(
    "/.well-known/gs1resolver",
    description_options,
    methods=["OPTIONS"],
    tags=["public"],
    response_class=Response,
    status_code=204,
    responses=_OPTIONS_RESPONSES,
)


def _product_name(view: RecordView) -> str:
    """The signed product name; a record no signature vouches for is named by its GTIN."""
    return str(view.data["product"]["name"]) if view.data is not None else view.gtin
