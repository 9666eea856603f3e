"""The batch record: what gets signed, built the same way from the database every time.

The record is a plain JSON value. `record_content` builds its data sections from the rows;
`signed_payload` adds the issuance fields. A page compares the rows' content with the signed
content, so an edit made behind the service's back shows up. docs/FORMATS.md specifies it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tracetag.batches.models import Batch
from tracetag.formats.jcs import canonical_json
from tracetag.formats.record import RECORD_TYPE
from tracetag.gs1.ai import element_string
from tracetag.gs1.digital_link import digital_link
from tracetag.producers.models import Producer
from tracetag.products.categories import CATEGORY_NAMES_VI
from tracetag.products.models import Product


def normalize_quantity(value: Decimal | str) -> str:
    """Exact decimal text without exponent or trailing zeros: 1500, 2.5."""
    number = Decimal(value)
    text = format(number.normalize(), "f")
    return text


def product_section(product: Product) -> dict[str, Any]:
    """The record's `product` section; the resolver's product page shows the same fields."""
    return {
        "gtin": product.gtin,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "category_name": CATEGORY_NAMES_VI[product.category],
        "characteristics": product.characteristics,
        "unit": product.unit,
        "standards": list(product.standards),
        "image_sha256": product.image_sha256,
    }


def producer_section(producer: Producer) -> dict[str, Any]:
    """The record's `producer` section, OCOP certificate included."""
    ocop = None
    if producer.ocop_stars is not None:
        ocop = {
            "stars": producer.ocop_stars,
            "certificate_no": producer.ocop_certificate_no,
            "issuer": producer.ocop_issuer,
            "issued_on": _iso(producer.ocop_issued_on),
            "expires_on": _iso(producer.ocop_expires_on),
        }
    return {
        "name": producer.name,
        "kind": producer.kind,
        "registration_code": producer.registration_code,
        "address": {
            "line": producer.address_line,
            "commune": producer.commune,
            "district": producer.district,
            "province": producer.province,
        },
        "phone": producer.phone,
        "email": producer.email,
        "ocop": ocop,
    }


def record_content(batch: Batch) -> dict[str, Any]:
    """The data sections of a batch record, from the current rows."""
    product = batch.product
    return {
        "trace_code": element_string(product.gtin, batch.lot),
        "product": product_section(product),
        "producer": producer_section(product.producer),
        "batch": {
            "lot": batch.lot,
            "quantity": batch.quantity,
            "quantity_unit": batch.quantity_unit,
            "production_date": batch.production_date.isoformat(),
            "expiry_date": batch.expiry_date.isoformat(),
            "price_vnd": batch.price_vnd,
            "currency": "VND",
            "origin": {
                "area": batch.origin_area,
                "commune": batch.origin_commune,
                "district": batch.origin_district,
                "province": batch.origin_province,
                "lat": batch.origin_lat,
                "lng": batch.origin_lng,
            },
            "stages": [dict(stage) for stage in batch.stages],
            "status": batch.status,
            "recall_reason": batch.recall_reason,
        },
    }


def signed_payload(
    batch: Batch,
    *,
    version: int,
    prev_hash: str | None,
    issued_at: datetime,
    issuer_name: str,
    base_url: str,
    note: str | None,
) -> dict[str, Any]:
    """The full record to sign: issuance fields plus the content sections."""
    return {
        "type": RECORD_TYPE,
        "version": version,
        "prev_hash": prev_hash,
        "issued_at": issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "issuer": {"name": issuer_name, "url": base_url},
        "digital_link": digital_link(base_url, batch.product.gtin, batch.lot),
        "note": note,
        **record_content(batch),
    }


def differences(signed: Any, current: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ (for the page's mismatch list)."""
    if isinstance(signed, dict) and isinstance(current, dict):
        out: list[str] = []
        for key in sorted(set(signed) | set(current)):
            out += differences(signed.get(key), current.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(signed, list) and isinstance(current, list) and len(signed) == len(current):
        out = []
        for i, (a, b) in enumerate(zip(signed, current, strict=True)):
            out += differences(a, b, f"{path}[{i}]")
        return out
    # Compare as canonical JSON, so 9.0 read from the database equals the signed 9.
    return [] if canonical_json(signed) == canonical_json(current) else [path]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
