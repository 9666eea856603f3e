"""Batches: create, correct, recall; every change appends a newly signed record version.

Each version is written to the audit log as it is signed, with the hashes of the payloads
signed before and after it (issue 8): a record's audit trail follows its chain of versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracetag.audit.service import Actor, record_change
from tracetag.batches.models import Batch, BatchStatus, SignedRecord
from tracetag.batches.record import differences, normalize_quantity, record_content, signed_payload
from tracetag.batches.schemas import BatchCorrection, BatchCreate, Origin
from tracetag.core.database import utcnow
from tracetag.errors import Conflict, Invalid, NotFound, UnknownKey, VerificationError
from tracetag.formats.jcs import canonical_json
from tracetag.formats.jws import load_json, parse_compact, sign_compact, verify_compact
from tracetag.formats.logentry import record_entry
from tracetag.formats.record import CONTENT_SECTIONS, RECORD_TYPE
from tracetag.gs1.ai import normalize_gtin
from tracetag.producers.service import require_approved
from tracetag.products.models import Product
from tracetag.signing.issuer import Issuer
from tracetag.translog.service import sequence


def record_hash(jws: str) -> str:
    """SHA-256 (hex) of the exact compact JWS bytes: the id later versions point back to."""
    return hashlib.sha256(jws.encode("ascii")).hexdigest()


def _apply_origin(batch: Batch, origin: Origin) -> None:
    batch.origin_area = origin.area
    batch.origin_commune = origin.commune
    batch.origin_district = origin.district
    batch.origin_province = origin.province
    batch.origin_lat = origin.lat
    batch.origin_lng = origin.lng


def signed_content(record: SignedRecord) -> dict[str, Any]:
    """The JSON a stored record version signed: its JWS payload, as the audit log hashes it."""
    _header, payload, _signing_input, _signature = parse_compact(record.jws)
    content: dict[str, Any] = load_json(payload, "a stored record")
    return content


def sign_version(
    session: Session,
    *,
    batch: Batch,
    issuer: Issuer,
    note: str | None,
    actor: Actor,
    action: str,
    details: dict[str, Any] | None = None,
) -> SignedRecord:
    """Sign the batch's current rows as its next record version, chained to the last one, and
    log it as `action` with the payloads signed before and now."""
    last = latest_record(session, batch.id)
    version = 1 if last is None else last.version + 1
    prev = None if last is None else last.record_hash
    issued_at = utcnow().replace(microsecond=0)
    payload = signed_payload(
        batch,
        version=version,
        prev_hash=prev,
        issued_at=issued_at,
        issuer_name=issuer.name,
        base_url=issuer.base_url,
        note=note,
    )
    signer = issuer.signer(session)  # the registry's active key, read now (issue 9)
    jws = sign_compact(payload, signer)
    row = SignedRecord(
        batch_id=batch.id,
        version=version,
        jws=jws,
        record_hash=record_hash(jws),
        prev_hash=prev,
        kid=signer.kid,
        note=note,
        issued_at=issued_at,
    )
    session.add(row)
    session.flush()
    sequence(session, record_entry(jws))  # logged with it, or neither is stored
    record_change(
        session,
        actor=actor,
        action=action,
        target_type="batch",
        target_id=batch.id,
        producer_id=batch.product.producer_id,
        at=utcnow(),
        before=None if last is None else signed_content(last),
        after=signed_content(row),
        details={"version": version, "record_hash": row.record_hash, **(details or {})},
    )
    return row


def create_batch(
    session: Session, *, producer_id: int, data: BatchCreate, issuer: Issuer, actor: Actor
) -> Batch:
    """Register a batch and sign it as version 1; only an approved producer's."""
    require_approved(session, producer_id=producer_id)
    product = session.get(Product, data.product_id)
    if product is None or product.producer_id != producer_id:
        raise Invalid("product_id", "no such product for this producer")
    duplicate = session.scalar(
        select(Batch.id).where(Batch.product_id == product.id, Batch.lot == data.lot)
    )
    if duplicate is not None:
        raise Conflict(f"lot {data.lot} already exists for this product")
    batch = Batch(
        product=product,
        lot=data.lot,
        quantity=normalize_quantity(data.quantity),
        quantity_unit=data.quantity_unit,
        production_date=data.production_date,
        expiry_date=data.expiry_date,
        price_vnd=data.price_vnd,
        stages=[stage.model_dump(mode="json") for stage in data.stages],
        status=BatchStatus.ACTIVE,
    )
    _apply_origin(batch, data.origin)
    session.add(batch)
    session.flush()
    sign_version(session, batch=batch, issuer=issuer, note=None, actor=actor, action="batch.create")
    return batch


def correct_batch(
    session: Session, *, batch: Batch, data: BatchCorrection, issuer: Issuer, actor: Actor
) -> SignedRecord:
    """Apply a correction and sign it as a new version naming the previous one; only an
    approved producer's."""
    require_approved(session, producer_id=batch.product.producer_id)
    production = data.production_date or batch.production_date
    expiry = data.expiry_date or batch.expiry_date
    if expiry < production:
        field_name = "expiry_date" if data.expiry_date else "production_date"
        raise Invalid(field_name, "expiry_date is before production_date")
    if data.quantity is not None:
        batch.quantity = normalize_quantity(data.quantity)
    if data.quantity_unit is not None:
        batch.quantity_unit = data.quantity_unit
    batch.production_date, batch.expiry_date = production, expiry
    if data.price_vnd is not None:
        batch.price_vnd = data.price_vnd
    if data.origin is not None:
        _apply_origin(batch, data.origin)
    if data.stages is not None:
        batch.stages = [stage.model_dump(mode="json") for stage in data.stages]
    session.flush()
    return sign_version(
        session, batch=batch, issuer=issuer, note=data.note, actor=actor, action="batch.correct"
    )


def recall_batch(
    session: Session, *, batch: Batch, reason: str, issuer: Issuer, actor: Actor
) -> SignedRecord:
    """Recall a batch. Any producer may, suspended or not: a recall protects consumers, and
    refusing it would keep a page saying "genuine" about a batch its maker has withdrawn."""
    if batch.status == BatchStatus.RECALLED:
        raise Conflict("this batch is already recalled")
    batch.status = BatchStatus.RECALLED
    batch.recall_reason = reason
    session.flush()
    return sign_version(
        session,
        batch=batch,
        issuer=issuer,
        note=reason,
        actor=actor,
        action="batch.recall",
        details={"reason": reason},
    )


def resign_product_batches(
    session: Session, *, product: Product, issuer: Issuer, note: str, actor: Actor
) -> int:
    """Product data changed: sign a new version of every batch of it, so pages stay true;
    only for an approved producer, when it has batches to sign.

    One audit event per batch signed: each carries its own version's hashes before and after,
    so a batch's trail in the log has no gaps whichever change signed it.
    """
    stmt = select(Batch).where(Batch.product_id == product.id).order_by(Batch.id)
    batches = session.scalars(stmt).all()
    if batches:
        require_approved(session, producer_id=product.producer_id)
    for batch in batches:
        sign_version(
            session,
            batch=batch,
            issuer=issuer,
            note=note,
            actor=actor,
            action="batch.resign",
            details={"product_id": product.id},
        )
    return len(batches)


def get_batch(session: Session, *, producer_id: int, batch_id: int) -> Batch:
    """A batch of this producer; another producer's batch is simply not found."""
    batch = session.get(Batch, batch_id)
    if batch is None or batch.product.producer_id != producer_id:
        raise NotFound("batch not found")
    return batch


def list_batches(
    session: Session, *, producer_id: int, product_id: int | None = None
) -> list[Batch]:
    """The producer's batches, oldest first; of one of its products when product_id is given."""
    stmt = select(Batch).join(Product).where(Product.producer_id == producer_id).order_by(Batch.id)
    if product_id is not None:
        stmt = stmt.where(Batch.product_id == product_id)
    return list(session.scalars(stmt))


def find_by_code(session: Session, *, gtin: str, lot: str) -> Batch:
    """The batch a Digital Link names; NotFound for any code that is not registered."""
    try:
        gtin14 = normalize_gtin(gtin)
    except ValueError as exc:
        raise NotFound("not a registered code") from exc
    stmt = select(Batch).join(Product).where(Product.gtin == gtin14, Batch.lot == lot)
    batch = session.scalar(stmt)
    if batch is None:
        raise NotFound("not a registered code")
    return batch


def latest_record(session: Session, batch_id: int) -> SignedRecord | None:
    stmt = (
        select(SignedRecord)
        .where(SignedRecord.batch_id == batch_id)
        .order_by(SignedRecord.version.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def records_of(session: Session, batch_id: int) -> list[SignedRecord]:
    stmt = (
        select(SignedRecord).where(SignedRecord.batch_id == batch_id).order_by(SignedRecord.version)
    )
    return list(session.scalars(stmt))


class RecordReason(StrEnum):
    """Why a stored record does not check out: a closed set, so every page can word it."""

    SIGNATURE_INVALID = "signature_invalid"
    UNKNOWN_KEY = "unknown_key"
    NOT_A_RECORD = "not_a_record"
    CHAIN_BROKEN = "chain_broken"
    HASH_WRONG = "hash_wrong"
    ROWS_DIFFER = "rows_differ"


class RecordStatus(StrEnum):
    """What the check of a stored record found."""

    VALID = "valid"
    MISMATCH = "mismatch"  # the signature is fine, but the rows differ from what it signed
    INVALID = "invalid"


@dataclass
class Verdict:
    """The result of checking a stored record: signature, chain and data agreement."""

    status: RecordStatus
    kid: str | None
    reason: RecordReason | None = None
    mismatched: list[str] = field(default_factory=list)
    payload: dict[str, Any] | None = None


def check_record(
    session: Session,
    *,
    batch: Batch,
    record: SignedRecord,
    keyring: Mapping[str, Ed25519PublicKey],
    current: bool,
) -> Verdict:
    """Verify the stored JWS bytes; for the current version also compare with the rows."""
    try:
        verified = verify_compact(record.jws, keyring)
    except UnknownKey:
        return Verdict(status=RecordStatus.INVALID, kid=record.kid, reason=RecordReason.UNKNOWN_KEY)
    except VerificationError:
        return Verdict(
            status=RecordStatus.INVALID, kid=record.kid, reason=RecordReason.SIGNATURE_INVALID
        )
    payload = verified.payload
    if not isinstance(payload, dict) or payload.get("type") != RECORD_TYPE:
        return Verdict(
            status=RecordStatus.INVALID, kid=verified.kid, reason=RecordReason.NOT_A_RECORD
        )
    if payload.get("version") != record.version or payload.get("prev_hash") != record.prev_hash:
        return Verdict(
            status=RecordStatus.INVALID, kid=verified.kid, reason=RecordReason.CHAIN_BROKEN
        )
    if record_hash(record.jws) != record.record_hash:
        return Verdict(
            status=RecordStatus.INVALID, kid=verified.kid, reason=RecordReason.HASH_WRONG
        )
    if current:
        rows = record_content(batch)
        signed = {key: payload.get(key) for key in CONTENT_SECTIONS}
        if canonical_json(rows) != canonical_json(signed):
            return Verdict(
                status=RecordStatus.MISMATCH,
                kid=verified.kid,
                reason=RecordReason.ROWS_DIFFER,
                mismatched=differences(signed, rows),
                payload=payload,
            )
    return Verdict(status=RecordStatus.VALID, kid=verified.kid, payload=payload)


def checked_versions(
    session: Session, *, batch: Batch, keyring: Mapping[str, Ed25519PublicKey]
) -> list[tuple[SignedRecord, Verdict]]:
    """Every version of the batch's record with its check, newest first; only the newest is also
    compared with the rows (an older version was true of rows since corrected)."""
    records = records_of(session, batch.id)
    return [
        (record, check_record(session, batch=batch, record=record, keyring=keyring, current=i == 0))
        for i, record in enumerate(reversed(records))
    ]
