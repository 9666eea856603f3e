"""A producer who typed an attack into every field, served by `tracetag serve` (issue 8).

Every free-text field of a producer, a product, its places to buy, a batch, its stages, its
correction, its recall and the users is filled with script, markup, `javascript:` and template
payloads amid Vietnamese text, through the real services and the input models in front of them,
so the input rules apply. Where a rule refuses a payload (a web address is http(s), a lot is
GS1 characters, a phone is digits), tests/web/test_escaping.py asserts the refusal, and the field
holds the strongest payload the rule lets through.

Each payload that runs sets a global the browser test looks for: window.__pwned, or window.__p
where a lot of 20 GS1 characters leaves no room for more.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.databases import fresh_database
from tests.servers import free_port, tracetag_serve
from tracetag.batches.models import Batch
from tracetag.batches.schemas import BatchCorrection, Recall
from tracetag.batches.service import correct_batch, recall_batch
from tracetag.core.database import make_engine, make_session_factory
from tracetag.gs1.digital_link import digital_link, tag_digital_link
from tracetag.identity.models import MemberRole, Role
from tracetag.identity.passwords import Passwords
from tracetag.identity.service import create_user
from tracetag.products.models import Product
from tracetag.products.retailer_schemas import RetailerIn
from tracetag.products.retailers import set_retailers
from tracetag.products.service import store_image
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.tags.jobs.service import JOB_THRESHOLD, queue_tag_job

PWNED = "window.__pwned=1"
SCRIPT = f"<script>{PWNED}</script>"
IMG = f'"><img src=x onerror="{PWNED}">'
JS_URL = f"javascript:{PWNED}"
SVG = f"'><svg onload={PWNED}>"
TEMPLATE = "{{7*7}}"
# Lots: at most 20 characters of GS1's set, which has < > " ' / = but no space.
LOT_SVG = '"><svg/onload=__p=1>'
LOT_MARKUP = "<b>ST25</b>'\"&amp;"
# A web address must be http(s) with a host name (retailer_schemas.normalize_url): quotes,
# angle brackets and braces are percent-encoded, the apostrophe is left as it is.
URL_QUOTES = f"https://cho-que.vn/a'onmouseover='{PWNED}'\"><svg/onload={PWNED}>"
URL_TEMPLATE = "https://shopee.vn/htx?q={{7*7}}&r=javascript:x#'><script>"
# The strongest e-mail address the producer's rule accepts (no space, < > " or ').
EMAIL = f"javascript:{PWNED}//{TEMPLATE}@htx.vn"

PASSWORD = "mật khẩu đủ dài 2026"
# Cheap hashes: the server checks them with their own parameters (and rehashes on sign-in).
CHEAP_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
TAG_COUNT = 3
ORIGIN_PARTS = ("area", "commune", "district", "province")


def _values() -> dict[str, str]:
    """What the producer typed, by field; the test looks for each on the pages that show it."""
    return {
        "producer.name": f"HTX Mỹ Xuyên </title>{SCRIPT} {IMG} {TEMPLATE}",
        "producer.address_line": f"Ấp Hòa Lời {SVG} {JS_URL}",
        "producer.commune": f"Xã Hòa Tú {IMG}",
        "producer.district": f"Huyện {SCRIPT}",
        "producer.province": f"Tỉnh {SVG} {TEMPLATE}",
        "producer.email": EMAIL,
        "ocop.certificate_no": f"88/QĐ-UBND {IMG}",
        "ocop.issuer": f"UBND tỉnh Sóc Trăng {SCRIPT} {JS_URL}",
        "product.name": f"Gạo ST25 </title>{SCRIPT} {TEMPLATE}",
        "product.brand": f"Hòa Tú {SVG}",
        "product.characteristics": (
            f"Gạo thơm </textarea>{SCRIPT}\n{IMG}\n{JS_URL}\n{TEMPLATE} ${{7*7}} {{% print 7*7 %}}"
        ),
        "product.unit": f"túi {SCRIPT}",
        "product.standards.0": IMG,
        "product.standards.1": SVG,
        "product.standards.2": JS_URL,
        "product.standards.3": f"TCVN {TEMPLATE}:2024",
        "place.0.name": f"Cửa hàng {SCRIPT}",
        "place.0.url": URL_QUOTES,
        "place.1.name": f"Siêu thị {IMG}",
        "place.1.address": f"Số 12 {SVG} {TEMPLATE}",
        "place.2.name": JS_URL,
        "place.2.url": URL_TEMPLATE,
        "place.2.address": f"Chợ nổi {IMG}",
        "batch.lot": LOT_SVG,
        "batch.quantity_unit": f"kg {SCRIPT}",
        "origin.area": f"Cánh đồng {IMG} {JS_URL}",
        "origin.commune": f"Xã Hòa Tú {SVG}",
        "origin.district": f"Huyện {TEMPLATE} {SCRIPT}",
        "origin.province": f"Tỉnh {IMG}",
        "stage.0.stage": f"Gieo sạ {SCRIPT}",
        "stage.0.place": f"Ruộng {IMG}",
        "stage.0.note": f"Ghi chú\n{SVG}\n{JS_URL} {TEMPLATE}",
        "stage.1.stage": JS_URL,
        "correction.note": f"Điều chỉnh giá {IMG} {TEMPLATE}",
        "recalled.lot": LOT_MARKUP,
        "recall.reason": f"Nấm mốc {SCRIPT} {SVG}",
        "user.producer": f"Nguyễn Thị Lan {SCRIPT} {IMG}",
        "user.inspector": f"Thanh tra {SVG} {TEMPLATE}",
        "user.admin": f"Quản trị {IMG} {TEMPLATE}",
    }


@dataclass(frozen=True)
class HostileSite:
    base: str
    typed: dict[str, str]  # field → the value as stored (a web address normalized)
    owner: str  # e-mail addresses to sign in with PASSWORD
    inspector: str
    admin: str
    producer_id: int
    gtin: str
    product_id: int
    batch_id: int  # corrected, tagged, with a tag job queued
    recalled_id: int
    issuance_id: int
    job_id: int
    tag_path: str  # a signed tag's link, with its 8030
    forged_path: str  # the same tag with a forged 8030: a suspicious scan

    @property
    def batch_path(self) -> str:
        return digital_link("", self.gtin, self.typed["batch.lot"])

    @property
    def recalled_path(self) -> str:
        return digital_link("", self.gtin, self.typed["recalled.lot"])


def _product(session: Session, typed: dict[str, str]) -> Product:
    """The producer, its product with a photo, and its places to buy."""
    producer = factories.make_producer(
        session,
        name=typed["producer.name"],
        address_line=typed["producer.address_line"],
        commune=typed["producer.commune"],
        district=typed["producer.district"],
        province=typed["producer.province"],
        email=typed["producer.email"],
        ocop={
            "stars": 4,
            "certificate_no": typed["ocop.certificate_no"],
            "issuer": typed["ocop.issuer"],
            "issued_on": (date.today() - timedelta(days=100)).isoformat(),
        },
    )
    product = factories.make_product(
        session,
        producer,
        name=typed["product.name"],
        brand=typed["product.brand"],
        characteristics=typed["product.characteristics"],
        unit=typed["product.unit"],
        standards=[typed[f"product.standards.{i}"] for i in range(4)],
    )
    # Before any batch is signed: records name the image; its alt text is the product's name.
    store_image(session, product=product, image=factories.picture(), actor=factories.ACTOR)
    places = [
        RetailerIn.model_validate(
            {
                "name": typed[f"place.{i}.name"],
                "kind": kind,
                "url": typed.get(f"place.{i}.url"),
                "address": typed.get(f"place.{i}.address"),
            }
        )
        for i, kind in enumerate(("shop", "supermarket", "marketplace"))
    ]
    set_retailers(session, product=product, retailers=places, actor=factories.ACTOR)
    for i, place in enumerate(places):
        if place.url is not None:  # as stored: normalized
            typed[f"place.{i}.url"] = place.url
    return product


def _batches(
    session: Session, issuer: Issuer, product: Product, typed: dict[str, str]
) -> tuple[Batch, Batch]:
    """Two batches with the same facts: one corrected, one recalled."""
    today = date.today()
    facts: dict[str, Any] = {
        "production_date": (today - timedelta(days=20)).isoformat(),
        "expiry_date": (today + timedelta(days=300)).isoformat(),
        "quantity_unit": typed["batch.quantity_unit"],
        "origin": {part: typed[f"origin.{part}"] for part in ORIGIN_PARTS},
        "stages": [
            {
                "stage": typed["stage.0.stage"],
                "date": (today - timedelta(days=90)).isoformat(),
                "place": typed["stage.0.place"],
                "note": typed["stage.0.note"],
            },
            {"stage": typed["stage.1.stage"], "date": (today - timedelta(days=25)).isoformat()},
        ],
    }
    batch = factories.make_batch(session, issuer, product, lot=typed["batch.lot"], **facts)
    recalled = factories.make_batch(session, issuer, product, lot=typed["recalled.lot"], **facts)
    correction = BatchCorrection(note=typed["correction.note"], price_vnd=119000)
    correct_batch(session, batch=batch, data=correction, issuer=issuer, actor=factories.ACTOR)
    recall = Recall(reason=typed["recall.reason"])
    recall_batch(
        session, batch=recalled, reason=recall.reason, issuer=issuer, actor=factories.ACTOR
    )
    return batch, recalled


def _user(session: Session, typed: dict[str, str], role: Role, producer_id: int | None) -> str:
    """A user named with payloads; their e-mail address, to sign in with PASSWORD."""
    member = MemberRole.OWNER if role is Role.PRODUCER else None
    user = create_user(
        session,
        CHEAP_PASSWORDS,
        email=f"{role.value}@htx.example",
        name=typed[f"user.{role.value}"],
        password=PASSWORD,
        role=role,
        producer_id=producer_id if member else None,
        member_role=member,
        actor=factories.ACTOR,
    )
    return user.email


def _build(factory: sessionmaker[Session], issuer: Issuer) -> HostileSite:
    typed = _values()
    with factory() as session:
        product = _product(session, typed)
        batch, recalled = _batches(session, issuer, product, typed)
        owner = _user(session, typed, Role.PRODUCER, product.producer_id)
        inspector = _user(session, typed, Role.INSPECTOR, None)
        admin = _user(session, typed, Role.ADMIN, None)
        session.commit()
    issuance, tags = factories.make_tags(factory, issuer, batch, TAG_COUNT)  # commits itself
    with factory() as session:
        # A run this large is a job; no worker runs in the server, so its page stays "queued".
        job, _ = queue_tag_job(
            session,
            producer_id=product.producer_id,
            batch_id=batch.id,
            count=JOB_THRESHOLD,
            signed=True,
            idempotency_key="hostile-job",
            requested_by=factories.ACTOR,
        )
        session.commit()
    tag = tags[0]
    assert tag.digsig is not None
    forged = tag.digsig[:10] + ("A" if tag.digsig[10] != "A" else "B") + tag.digsig[11:]
    lot = typed["batch.lot"]
    return HostileSite(
        base="",
        typed=typed,
        owner=owner,
        inspector=inspector,
        admin=admin,
        producer_id=product.producer_id,
        gtin=product.gtin,
        product_id=product.id,
        batch_id=batch.id,
        recalled_id=recalled.id,
        issuance_id=issuance.id,
        job_id=job.id,
        tag_path=tag_digital_link("", product.gtin, lot, tag.serial, tag.digsig),
        forged_path=tag_digital_link("", product.gtin, lot, tag.serial, forged),
    )


@contextmanager
def serve_hostile_site(backend: str, keys_dir: Path, workdir: Path) -> Iterator[HostileSite]:
    """`tracetag serve` on a free port over a fresh database of `backend` holding the payloads."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_database(backend, keys_dir=keys_dir) as url:
        engine = make_engine(url)
        issuer = Issuer(keys=KeyStore(keys_dir, None), name="tracetag", base_url=base)
        built = _build(make_session_factory(engine), issuer)
        engine.dispose()
        env = {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(keys_dir),
            "TRACETAG_DATA_DIR": str(workdir),
            "TRACETAG_PUBLIC_BASE_URL": base,
            "TRACETAG_SECRET_KEY": "escaping-test-secret-not-for-production",
            "TRACETAG_JOB_WORKER": "false",
        }
        with tracetag_serve(env, port, workdir / "server.log"):
            site = replace(built, base=base)
            # One forged label scanned: the producer's overview lists the batch under warnings.
            forged = httpx.get(base + site.forged_path, timeout=10)
            assert forged.status_code == 200, forged.text
            yield site
