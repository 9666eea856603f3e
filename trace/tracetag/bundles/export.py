"""Export an inspection bundle: the records asked for, with the evidence to check them offline.

Reads the database and signs; writes nothing. Everything goes against one checkpoint, the latest,
so every proof in the bundle leads to the root the bundle carries; each record also carries the
first checkpoint that covered it, with a consistency proof to the latest, so a record signed by a
key revoked since can be dated by that checkpoint's cosignatures (docs/FORMATS.md §8.6, §9).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from tracetag.batches.models import Batch
from tracetag.batches.service import find_by_code, list_batches, records_of
from tracetag.errors import Conflict, Invalid
from tracetag.formats.jws import sign_compact
from tracetag.formats.logentry import record_entry
from tracetag.producers.service import get_producer
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.translog import checkpoints, service
from tracetag.translog.standing import evidence
from tracetag.verify.bundle import BUNDLE_TYP, BundleRecord, bundle_payload
from tracetag.verify.log import FirstCheckpoint, open_checkpoint


def export_bundle(
    session: Session,
    *,
    issuer: Issuer,
    log_vkey: str,
    exported_at: datetime,
    codes: Sequence[tuple[str, str]] = (),
    producer_id: int | None = None,
) -> str:
    """The signed bundle (compact JWS) of the batches named by (GTIN, lot) codes, or of all a
    producer's batches; every version of each record. NotFound for an unknown batch or producer,
    Conflict when the log cannot yet prove every record."""
    batches = _batches(session, codes, producer_id)
    latest = checkpoints.latest(session)
    if latest is None:
        raise Conflict("the log has no checkpoint yet; start the service so it publishes one")
    note = checkpoints.with_cosignatures(session, latest)
    # The exporter's own check: a bundle whose checkpoint fails the log's key helps no one.
    open_checkpoint(note, log_key=log_vkey)
    records: list[BundleRecord] = []
    waiting = 0
    for batch in batches:
        for signed in records_of(session, batch.id):
            row = service.find_leaf(session, record_entry(signed.jws).leaf_hash)
            if row is None or row.position is None or row.position >= latest.size:
                waiting += 1
                continue
            proof, first = evidence(session, position=row.position, latest=latest, latest_note=note)
            records.append(
                BundleRecord(
                    signed.jws,
                    row.position,
                    proof,
                    FirstCheckpoint(
                        row.position,
                        first.tree_size,
                        first.checkpoint,
                        first.inclusion_proof,
                        first.consistency_proof,
                    ),
                )
            )
    if waiting:
        raise Conflict(
            f"{waiting} record version(s) are not in a published checkpoint yet; the log "
            "publishes them within a minute of signing: export again then"
        )
    payload = bundle_payload(
        exported_at=exported_at,
        issuer={"name": issuer.name, "url": issuer.base_url},
        jwks=registry.jwks(session),  # as /.well-known/jwks.json serves it, key states included
        log_vkey=log_vkey,
        checkpoint=note,
        tree_size=latest.size,
        records=records,
    )
    # Signed with the service's active record key, through its Signer (a file or an HSM).
    return sign_compact(payload, issuer.signer(session), typ=BUNDLE_TYP)


def _batches(
    session: Session, codes: Sequence[tuple[str, str]], producer_id: int | None
) -> list[Batch]:
    if bool(codes) == (producer_id is not None):
        raise Invalid("batches", "name batches by GTIN and lot, or a producer, not both")
    if producer_id is not None:
        get_producer(session, producer_id)  # NotFound for an unknown producer
        return list_batches(session, producer_id=producer_id)
    return [find_by_code(session, gtin=gtin, lot=lot) for gtin, lot in codes]
