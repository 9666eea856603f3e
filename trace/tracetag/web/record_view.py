"""What a page shows of a batch record: the data, the verdict, and the version history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tracetag.batches.models import Batch
from tracetag.batches.record import record_content
from tracetag.batches.service import Verdict, check_record, find_by_code, records_of
from tracetag.errors import NotFound
from tracetag.i18n import CATEGORY_LABELS, PRODUCER_KIND_LABELS, gettext
from tracetag.products.service import get_image
from tracetag.signing.keys import KeyRing


@dataclass(frozen=True)
class RecordView:
    batch_id: int
    gtin: str
    lot: str
    data: dict[str, Any]
    verdict: Verdict
    version: int
    latest_version: int
    record_hash: str
    jws: str
    issued_at: date
    image: tuple[str, int, int] | None
    versions: list[dict[str, Any]]
    # Rendered tag-page shells by language; they live exactly as long as this view.
    shells: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_current(self) -> bool:
        return self.version == self.latest_version

    def json(self) -> dict[str, Any]:
        return {
            "verification": {
                "status": self.verdict.status,
                "kid": self.verdict.kid,
                "reason": self.verdict.reason,
                "mismatched": self.verdict.mismatched,
            },
            "version": self.version,
            "current_version": self.latest_version,
            "record_hash": self.record_hash,
            "record": self.verdict.payload,
            "jws": self.jws,
            "jws_url": f"/records/{self.record_hash}.jws",
            "jwks_url": "/.well-known/jwks.json",
        }

    def context(self, lang: str, page_path: str) -> dict[str, Any]:
        """Template variables for the record part of a page."""
        data = self.data
        producer = data["producer"]
        ocop = producer.get("ocop")
        today = date.today()
        lang_q = "" if lang == "vi" else f"&lang={lang}"
        category = data["product"]["category"]
        return {
            "data": data,
            "verdict": self.verdict,
            "version": self.version,
            "is_current": self.is_current,
            "issued_at": self.issued_at,
            "record_hash": self.record_hash,
            "page_url": page_path + ("" if lang == "vi" else f"?lang={lang}"),
            "jws_url": f"/records/{self.record_hash}.jws",
            "json_url": page_path + "?format=json",
            "image_url": f"/media/{self.image[0]}" if self.image else None,
            "image_w": self.image[1] if self.image else 0,
            "image_h": self.image[2] if self.image else 0,
            "category_label": data["product"]["category_name"]
            if lang == "vi"
            else gettext(lang, CATEGORY_LABELS[category]),
            "kind_label": gettext(lang, PRODUCER_KIND_LABELS[producer["kind"]]),
            "ocop_valid": bool(ocop and date.fromisoformat(ocop["expires_on"]) >= today),
            "expired": date.fromisoformat(data["batch"]["expiry_date"]) < today,
            "versions": [
                {**v, "url": f"{page_path}?version={v['version']}{lang_q}"} for v in self.versions
            ],
        }


def build_record_view(
    session: Session, *, batch: Batch, keyring: KeyRing, version: int | None = None
) -> RecordView:
    """Verify the stored JWS of the asked version (the latest by default) and gather the rest."""
    records = records_of(session, batch.id)
    latest = records[-1]
    record = latest if version is None else next((r for r in records if r.version == version), None)
    if record is None:
        raise NotFound(f"version {version} does not exist")
    current = record.version == latest.version
    verdict = check_record(session, batch=batch, record=record, keyring=keyring, current=current)
    data = record_content(batch) if current or verdict.payload is None else verdict.payload
    image = None
    sha = data["product"].get("image_sha256")
    if sha:
        try:
            row = get_image(session, sha)
            image = (sha, row.width, row.height)
        except NotFound:
            image = None
    return RecordView(
        batch_id=batch.id,
        gtin=batch.product.gtin,
        lot=batch.lot,
        data=data,
        verdict=verdict,
        version=record.version,
        latest_version=latest.version,
        record_hash=record.record_hash,
        jws=record.jws,
        issued_at=record.issued_at.date(),
        image=image,
        versions=[
            {"version": r.version, "issued_at": r.issued_at.date(), "note": r.note} for r in records
        ],
    )


def load_record_view(
    factory: sessionmaker[Session],
    keyring: KeyRing,
    gtin: str,
    lot: str,
    version: int | None = None,
) -> RecordView | None:
    """The checked record view of a code, or None when the code (or version) is not registered."""
    with factory() as session:
        try:
            batch = find_by_code(session, gtin=gtin, lot=lot)
            return build_record_view(session, batch=batch, keyring=keyring, version=version)
        except NotFound:
            return None
