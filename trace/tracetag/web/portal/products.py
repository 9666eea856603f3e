"""A producer's products: the list, a new product with its image, and one product's page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tracetag.batches.models import Batch
from tracetag.batches.service import list_batches, resign_product_batches
from tracetag.core.i18n import N_, gettext
from tracetag.errors import Conflict, Invalid
from tracetag.products import service
from tracetag.products.categories import Category
from tracetag.products.images import CleanImage, clean_image
from tracetag.products.models import Product
from tracetag.products.retailer_models import MAX_RETAILERS, RetailerKind
from tracetag.products.retailer_schemas import RetailersIn
from tracetag.products.retailers import list_retailers, set_retailers
from tracetag.products.schemas import ProductCreate
from tracetag.settings import Settings
from tracetag.web.deps import IssuerDep, SessionDep, SettingsDep
from tracetag.web.portal.forms import FormErrors, blank_to_none, invalid, validate
from tracetag.web.portal.render import PortalPages, portal_lang
from tracetag.web.portal.routing import portal_router
from tracetag.web.portal.session import PORTAL, ProducerDep, portal_actor
from tracetag.web.words import category_label, retailer_kind_label

router = portal_router("/products")

Field = Annotated[str, Form(max_length=5000)]
MAX_STANDARDS = 20
EMPTY_PLACES = 3  # blank rows under the filled ones: a form without JavaScript adds no rows
PLACE_FIELDS = ("name", "kind", "url", "address")


def _pages(request: Request) -> PortalPages:
    pages: PortalPages = request.app.state.portal_pages
    return pages


def _categories(lang: str) -> list[tuple[str, str]]:
    return [(c.value, category_label(lang, c.value)) for c in Category]


def _read_image(upload: UploadFile | None, settings: Settings) -> CleanImage | None:
    """The uploaded image, re-encoded; None when the form has no file."""
    if upload is None or not upload.filename:
        return None
    raw = upload.file.read(settings.max_image_bytes + 1)
    return clean_image(raw, max_bytes=settings.max_image_bytes, max_side=settings.image_max_side)


def _batches_of(session: Session, product: Product) -> list[Batch]:
    return list_batches(session, producer_id=product.producer_id, product_id=product.id)


@router.get("")
def product_list(request: Request, session: SessionDep, user: ProducerDep) -> Response:
    assert user.producer_id is not None
    products = service.list_products(session, producer_id=user.producer_id)
    return _pages(request).page(request, "products.html", products=products)


def _form(
    request: Request, values: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    return _pages(request).page(
        request,
        "product_new.html",
        status_code=status,
        values=values,
        errors=errors,
        categories=_categories(portal_lang(request)),
    )


@router.get("/new")
def new_product_form(request: Request, user: ProducerDep) -> Response:
    return _form(request, {"category": Category.FOOD.value}, {}, 200)


@router.post("/new")
def create_product(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: ProducerDep,
    name: Field = "",
    brand: Field = "",
    gtin: Field = "",
    category: Field = "",
    characteristics: Field = "",
    unit: Field = "",
    standards: Field = "",
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    assert user.producer_id is not None
    lang = portal_lang(request)
    values = {
        "name": name,
        "brand": brand,
        "gtin": gtin,
        "category": category,
        "characteristics": characteristics,
        "unit": unit,
        "standards": standards,
    }
    try:
        data = validate(
            ProductCreate,
            {
                **values,
                "brand": blank_to_none(brand),
                "standards": [s.strip() for s in standards.splitlines() if s.strip()][
                    : MAX_STANDARDS + 1
                ],
            },
            lang,
        )
        try:
            picture = _read_image(image, settings)
        except Invalid as exc:
            raise invalid(lang, exc) from None
        try:
            product = service.create_product(
                session,
                producer_id=user.producer_id,
                data=data,
                actor=portal_actor(request, user),
            )
        except Conflict:
            raise FormErrors({"gtin": _gtin_taken(lang)}) from None
        if picture is not None:
            service.store_image(
                session, product=product, image=picture, actor=portal_actor(request, user)
            )
    except FormErrors as exc:
        session.rollback()
        return _form(request, values, exc.errors, 400)
    session.commit()
    return RedirectResponse(f"{PORTAL}/products/{product.id}?done=created", status_code=303)


def _gtin_taken(lang: str) -> str:
    return gettext(lang, N_("This GTIN is registered already, by you or another producer."))


def _product_page(
    request: Request,
    session: Session,
    product: Product,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    places: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    if places is None:
        places = [
            {"name": r.name, "kind": r.kind, "url": r.url or "", "address": r.address or ""}
            for r in list_retailers(session, product_id=product.id)
        ]
    rows: list[dict[str, str]] = places + [{} for _ in range(EMPTY_PLACES)]
    lang = portal_lang(request)
    return _pages(request).page(
        request,
        "product.html",
        status_code=status,
        product=product,
        batches=_batches_of(session, product),
        done=done,
        errors=errors or {},
        places=rows[:MAX_RETAILERS],
        retailer_kinds=[(k.value, retailer_kind_label(lang, k.value)) for k in RetailerKind],
    )


@router.get("/{product_id}")
def product_page(
    request: Request,
    product_id: int,
    session: SessionDep,
    user: ProducerDep,
    done: str | None = None,
) -> Response:
    assert user.producer_id is not None
    product = service.get_product(session, producer_id=user.producer_id, product_id=product_id)
    return _product_page(request, session, product, done=done)


@router.post("/{product_id}/image")
def replace_image(
    request: Request,
    product_id: int,
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    user: ProducerDep,
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A new image; batches of the product get a new signed version with its hash."""
    assert user.producer_id is not None
    lang = portal_lang(request)
    product = service.get_product(session, producer_id=user.producer_id, product_id=product_id)
    try:
        picture = _read_image(image, settings)
        if picture is None:
            raise Invalid("file", "no file")
    except Invalid as exc:
        session.rollback()
        errors = invalid(lang, exc).errors
        return _product_page(request, session, product, errors=errors, status=400)
    actor = portal_actor(request, user)
    if service.store_image(session, product=product, image=picture, actor=actor):
        resign_product_batches(
            session, product=product, issuer=issuer, note="product image updated", actor=actor
        )
    session.commit()
    return RedirectResponse(f"{PORTAL}/products/{product.id}?done=image", status_code=303)


@router.post("/{product_id}/retailers")
async def set_places(
    request: Request, product_id: int, session: SessionDep, user: ProducerDep
) -> Response:
    """Replace the list of places to buy with the form's filled rows, in their order."""
    assert user.producer_id is not None
    lang = portal_lang(request)
    product = service.get_product(session, producer_id=user.producer_id, product_id=product_id)
    form = await request.form(max_files=0, max_fields=200)
    places = []
    for i in range(MAX_RETAILERS):
        row = {k: str(form.get(f"places.{i}.{k}", ""))[:1000].strip() for k in PLACE_FIELDS}
        if row["name"] or row["url"] or row["address"]:
            places.append(row)
    data = [
        {**row, "url": blank_to_none(row["url"]), "address": blank_to_none(row["address"])}
        for row in places
    ]
    try:
        checked = validate(RetailersIn, {"retailers": data}, lang)
        try:
            set_retailers(
                session,
                product=product,
                retailers=checked.retailers,
                actor=portal_actor(request, user),
            )
        except Invalid as exc:
            raise invalid(lang, exc) from None
    except FormErrors as exc:
        session.rollback()
        errors = {k.replace("retailers.", "places.", 1): v for k, v in exc.errors.items()}
        return _product_page(request, session, product, errors=errors, places=places, status=400)
    session.commit()
    return RedirectResponse(f"{PORTAL}/products/{product.id}?done=places", status_code=303)
