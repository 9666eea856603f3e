"""The server as the README starts it (`tracetag serve`), over a database with one page per verdict.

The browser tests and the page budget test load the same scenarios: a genuine signed tag on its
first scan, an unsigned tag checked online, a verified batch, a batch edited after signing, a
serial never issued, a forged 8030, a recalled batch, an expired batch, a copied tag, an earlier
version of a corrected and recalled batch, the product's own page, an unknown product, and the
home page. The product has twenty places to buy, each field of each as long as it may be. Every
call to `Scenario.url` hands out a fresh tag where the page counts scans, so a first scan stays
first.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.databases import fresh_database
from tests.servers import free_port, tracetag_serve
from tracetag.batches.models import Batch
from tracetag.batches.schemas import BatchCorrection
from tracetag.batches.service import correct_batch, recall_batch
from tracetag.core.database import make_engine, make_session_factory
from tracetag.gs1.digital_link import digital_link, tag_digital_link
from tracetag.products.images import clean_image
from tracetag.products.retailer_models import MAX_RETAILERS
from tracetag.products.retailer_schemas import URL_MAX, RetailerIn
from tracetag.products.retailers import set_retailers
from tracetag.products.service import store_image
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.tags.models import Tag

# The copy warning's thresholds, set on the server so the copied tag's scans can cross them.
COPY_MAX_SCANS = 20
COPY_MAX_CLIENTS = 5
UNKNOWN_GTIN = "08930000000019"  # a valid GTIN-14 that no product here has
# A phone for the browser tests and the first-paint benchmark: 360×740 CSS pixels,
# honouring the page's viewport meta.
PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
}

SCENARIOS = (
    "home",
    "batch-verified",
    "tag-genuine",
    "tag-online",
    "batch-tampered",
    "tag-unknown-serial",
    "tag-forged-8030",
    "batch-recalled",
    "batch-expired",
    "tag-copied",
    "batch-old-version",
    "product",
    "product-not-found",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    status: int
    # A red alert is expected (True), must be absent (False), or is not this test's business
    # (None: the verdict rework of issue 7 decides what an expired or old version shows).
    alert: bool | None
    next_path: Callable[[], str]

    def url(self, base: str, lang: str) -> str:
        path = self.next_path()
        return f"{base}{path}{'&' if '?' in path else '?'}lang={lang}"


@dataclass(frozen=True)
class Site:
    base: str
    scenarios: dict[str, Scenario]
    log: Path


def _photo() -> bytes:
    """A product photo: a field under a sky, enough to show how a page lays an image out."""
    img = Image.new("RGB", (800, 600), (120, 170, 220))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 330, 800, 600), fill=(70, 140, 60))
    draw.ellipse((560, 60, 680, 180), fill=(250, 220, 90))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _full_length(text: str, length: int) -> str:
    return (text * (length // len(text) + 1))[: length - 1] + "."


def _full_lists_of_places() -> list[RetailerIn]:
    """As many places to buy as a product may have, every field as long as it may be."""
    places = []
    for n in range(MAX_RETAILERS):
        url = f"https://gian-hang-{n}.san-thuong-mai.vn/san-pham/gao-st25?"
        url += _full_length("ma_gian_hang=htx&nguon=qr&", URL_MAX - len(url))
        places.append(
            RetailerIn(
                name=_full_length(f"Cửa hàng đặc sản Sóc Trăng số {n}, ", 100),
                kind="marketplace" if n % 2 else "supermarket",
                url=url,
                address=_full_length("Số 12 đường Trần Hưng Đạo, Phường 2, TP Sóc Trăng, ", 200),
            )
        )
    return places


def _flip(digsig: str) -> str:
    """The same 8030 with one character changed: a forged label."""
    return digsig[:10] + ("A" if digsig[10] != "A" else "B") + digsig[11:]


class _Pool:
    """Tags handed out once each, so every page load is that tag's first scan."""

    def __init__(self, name: str, tags: list[Tag]) -> None:
        self.name = name
        self.tags = iter(tags)

    def take(self) -> Tag:
        tag = next(self.tags, None)
        if tag is None:
            raise RuntimeError(
                f"the {self.name} tags are used up; issue more in tests/web/public/site.py"
            )
        return tag


def _build(factory: sessionmaker[Session], issuer: Issuer, base: str) -> dict[str, Scenario]:
    today = date.today()
    fresh = {
        "production_date": (today - timedelta(days=20)).isoformat(),
        "expiry_date": (today + timedelta(days=345)).isoformat(),
        "stages": [
            {
                "stage": "Gieo sạ",
                "date": (today - timedelta(days=120)).isoformat(),
                "place": "Ruộng ấp Hòa Lời",
            },
            {"stage": "Thu hoạch", "date": (today - timedelta(days=25)).isoformat()},
            {"stage": "Xay xát, đóng gói", "date": (today - timedelta(days=20)).isoformat()},
        ],
    }
    with factory() as session:
        producer = factories.make_producer(session)
        product = factories.make_product(session, producer)
        image = clean_image(_photo(), max_bytes=5 * 1024 * 1024, max_side=1200)
        store_image(
            session, product=product, image=image, actor=factories.ACTOR
        )  # before signing: records name it
        # Every page of the product carries its places to buy, and here as many as it may have.
        set_retailers(
            session, product=product, retailers=_full_lists_of_places(), actor=factories.ACTOR
        )
        verified = factories.make_batch(session, issuer, product, lot="ST25-2611-01", **fresh)
        tampered = factories.make_batch(session, issuer, product, lot="ST25-2611-02", **fresh)
        recalled = factories.make_batch(session, issuer, product, lot="ST25-2611-03", **fresh)
        expired = factories.make_batch(
            session,
            issuer,
            product,
            lot="ST25-2510-07",
            production_date=(today - timedelta(days=400)).isoformat(),
            expiry_date=(today - timedelta(days=35)).isoformat(),
            stages=[],
        )
        corrected = factories.make_batch(
            session, issuer, product, lot="ST25-2611-04", price_vnd=150000, **fresh
        )
        recall_batch(
            session,
            batch=recalled,
            reason="Phát hiện nấm mốc trong một số túi của lô",
            issuer=issuer,
            actor=factories.ACTOR,
        )
        correct_batch(
            session,
            batch=corrected,
            data=BatchCorrection(note="Điều chỉnh giá niêm yết", price_vnd=140000),
            issuer=issuer,
            actor=factories.ACTOR,
        )
        recall_batch(
            session,
            batch=corrected,
            reason="Bao bì bị rách khi vận chuyển",
            issuer=issuer,
            actor=factories.ACTOR,
        )
        gtin = product.gtin
        session.commit()
        # Someone with database access lowers the price behind the service's back.
        session.execute(update(Batch).where(Batch.id == tampered.id).values(price_vnd=99000))
        session.commit()
    # Enough tags for every page load the tests make, each load a first scan.
    _, signed = factories.make_tags(factory, issuer, verified, 40)
    _, unsigned = factories.make_tags(factory, issuer, verified, 10, signed=False)
    signed_tags = _Pool("signed", signed)
    unsigned_tags = _Pool("unsigned", unsigned)
    lot = verified.lot

    def batch(lot: str, query: str = "") -> Callable[[], str]:
        return lambda: digital_link("", gtin, lot) + query

    def genuine() -> str:
        tag = signed_tags.take()
        return tag_digital_link("", gtin, lot, tag.serial, tag.digsig)

    def online() -> str:
        return tag_digital_link("", gtin, lot, unsigned_tags.take().serial)

    def unknown_serial() -> str:
        return tag_digital_link("", gtin, lot, "Z" + secrets.token_hex(6).upper())

    def forged() -> str:
        tag = signed_tags.take()
        assert tag.digsig is not None
        return tag_digital_link("", gtin, lot, tag.serial, _flip(tag.digsig))

    def copied() -> str:
        """A genuine code scanned past the total-scan threshold. Every request here comes from one
        address, which counts as at most two clients, so the client threshold cannot be reached."""
        path = genuine()
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(COPY_MAX_SCANS + 1):
                agent = f"Mozilla/5.0 (Linux; Android 14; phone-{i}) Chrome/130.0 Mobile"
                r = client.get(path, headers={"User-Agent": agent, "Accept": "application/json"})
                r.raise_for_status()
        assert r.json()["tag"]["copy_warning"] is True
        return path

    def not_found() -> str:
        return digital_link("", UNKNOWN_GTIN, "KHONG-CO-LO")

    return {
        s.name: s
        for s in (
            Scenario("home", 200, False, lambda: "/"),
            Scenario("batch-verified", 200, False, batch(lot)),
            Scenario("tag-genuine", 200, False, genuine),
            Scenario("tag-online", 200, False, online),
            Scenario("batch-tampered", 200, True, batch(tampered.lot)),
            Scenario("tag-unknown-serial", 404, True, unknown_serial),
            Scenario("tag-forged-8030", 200, True, forged),
            Scenario("batch-recalled", 200, True, batch(recalled.lot)),
            Scenario("batch-expired", 200, None, batch(expired.lot)),
            Scenario("tag-copied", 200, True, copied),
            Scenario("batch-old-version", 200, None, batch(corrected.lot, "?version=1")),
            Scenario("product", 200, False, lambda: f"/01/{gtin}"),
            Scenario("product-not-found", 404, True, not_found),
        )
    }


@contextmanager
def serve_scenarios(keys_dir: Path, log: Path) -> Iterator[Site]:
    """`tracetag serve` on a free port over a fresh SQLite database holding every scenario."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_database("sqlite", keys_dir=keys_dir) as url:
        engine = make_engine(url)
        issuer = Issuer(keys=KeyStore(keys_dir, None), name="tracetag", base_url=base)
        env = {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(keys_dir),
            "TRACETAG_PUBLIC_BASE_URL": base,
            "TRACETAG_COPY_MAX_SCANS": str(COPY_MAX_SCANS),
            "TRACETAG_COPY_MAX_CLIENTS": str(COPY_MAX_CLIENTS),
        }
        # The data first: a server starting beside a tag run would remove it as left by a crash.
        scenarios = _build(make_session_factory(engine), issuer, base)
        engine.dispose()
        with tracetag_serve(env, port, log):
            yield Site(base, scenarios, log)
