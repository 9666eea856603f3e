"""What a page shows of a batch record: the data, the verdicts, and the version history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tracetag.batches.models import Batch, BatchStatus, SignedRecord
from tracetag.batches.record import record_content
from tracetag.batches.service import (
    RecordReason,
    RecordStatus,
    Verdict,
    check_record,
    find_by_code,
    records_of,
)
from tracetag.core.i18n import N_, gettext
from tracetag.errors import NotFound, VerificationError
from tracetag.formats.jws import verify_compact
from tracetag.formats.logentry import record_entry
from tracetag.formats.record import CONTENT_SECTIONS
from tracetag.products.service import get_image
from tracetag.signing.keys import KeyRing
from tracetag.signing.registry import compromise_time
from tracetag.translog.standing import LogStanding, log_standing
from tracetag.web.public.pages import section_labels
from tracetag.web.public.verdict import Headline, field_labels, headline
from tracetag.web.public.where_to_buy import (
    NOTHING_SHOWN,
    PlaceToBuy,
    load_places_to_buy,
    shown_on_page,
)

RECORD_REASONS = {
    RecordReason.SIGNATURE_INVALID: N_("The digital signature of the record does not verify."),
    RecordReason.UNKNOWN_KEY: N_("The record is signed with a key this service does not publish."),
    RecordReason.NOT_A_RECORD: N_("The signed content is not a batch record."),
    RecordReason.CHAIN_BROKEN: N_("The record's version chain has been altered."),
    RecordReason.HASH_WRONG: N_("The record's stored hash does not match its content."),
    RecordReason.ROWS_DIFFER: N_("The data shown here differs from the signed record."),
}


# Why the log disagrees with what the database holds (issue 9: nothing erased goes unnoticed).
LOG_ERASED = N_(
    "The public log holds a newer version of this record than the one stored here: "
    "a version has been removed."
)
LOG_MISSING = N_("This version of the record is not in the public log.")
KEY_REVOKED = N_(
    "The record is signed with a key that was revoked, and nothing shows it was signed and "
    "logged before the key was compromised: it is not to be trusted."
)


@dataclass(frozen=True)
class Since:
    """What became of the batch after an old version: later versions, and a recall if any."""

    latest_version: int
    latest_issued_at: date | None
    recalled_on: date | None


@dataclass(frozen=True)
class RecordView:
    batch_id: int
    gtin: str
    lot: str
    # What the page may present as the record: signed content, or the rows when they equal it;
    # None when no signature vouches for anything (the page then shows no record data).
    data: dict[str, Any] | None
    verdict: Verdict
    latest_verdict: Verdict
    version: int
    latest_version: int
    record_hash: str
    jws: str
    issued_at: date | None  # as signed; None when no valid signature says
    image: tuple[str, int, int] | None
    versions: list[dict[str, Any]]
    concerns: tuple[Headline, ...]  # of the record; a tag page adds its own
    since: Since | None
    recall_reason: str | None
    expiry_date: date | None
    log: LogStanding | None = None  # where the shown version is in the public log
    log_problem: str | None = None  # LOG_ERASED or LOG_MISSING
    # Where to buy: the producer's list as it was when the view was built; not signed.
    retailers: tuple[PlaceToBuy, ...] = ()
    # Rendered tag-page shells by language; they live exactly as long as this view.
    shells: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_current(self) -> bool:
        return self.version == self.latest_version

    def headline(self) -> Headline:
        return headline(self.concerns, tag=False)

    def json(self) -> dict[str, Any]:
        return {
            "verdict": self.headline().value,
            "concerns": [c.value for c in self.concerns],
            "verification": {
                "status": self.verdict.status,
                "kid": self.verdict.kid,
                "reason": self.verdict.reason.value if self.verdict.reason else None,
                "mismatched": self.verdict.mismatched,
            },
            "version": self.version,
            "current_version": self.latest_version,
            "record_hash": self.record_hash,
            "record": self.verdict.payload,
            "jws": self.jws,
            "jws_url": f"/records/{self.record_hash}.jws",
            "jwks_url": "/.well-known/jwks.json",
            "log": None if self.log is None else self.log.json(),
            "log_problem": self.log_problem,
        }

    def context(self, lang: str, page_path: str) -> dict[str, Any]:
        """Template variables for the record part of a page."""
        data = self.data
        lang_q = "" if lang == "vi" else f"&lang={lang}"
        bad = self.verdict if self.verdict.status != RecordStatus.VALID else self.latest_verdict
        context: dict[str, Any] = {
            "data": data,
            "lot": self.lot,
            "verdict": self.verdict,
            "concerns": self.concerns,
            "tampered": Headline.TAMPERED in self.concerns,
            "record_reason": RECORD_REASONS[bad.reason] if bad.reason else self.log_problem,
            "mismatched_labels": [gettext(lang, m) for m in field_labels(bad.mismatched)],
            "since": self.since,
            "recall_reason": self.recall_reason,
            "expiry_date": self.expiry_date,
            "version": self.version,
            "is_current": self.is_current,
            "issued_at": self.issued_at,
            "record_hash": self.record_hash,
            "log": self.log,
            "page_url": page_path + ("" if lang == "vi" else f"?lang={lang}"),
            "jws_url": f"/records/{self.record_hash}.jws",
            "proof_url": f"/records/{self.record_hash}.json",
            "json_url": page_path + "?format=json",
            "image_url": f"/media/{self.image[0]}" if self.image else None,
            "image_w": self.image[1] if self.image else 0,
            "image_h": self.image[2] if self.image else 0,
            "versions": [
                {**v, "url": f"{page_path}?version={v['version']}{lang_q}"} for v in self.versions
            ],
            # A page that warns of tampering sends no one shopping; nor does one with no record.
            "where_to_buy": NOTHING_SHOWN
            if data is None or Headline.TAMPERED in self.concerns
            else shown_on_page(self.retailers),
        }
        if data is not None:
            context.update(section_labels(lang, data["product"], data["producer"]))
        return context


def _signed_batch(payload: dict[str, Any] | None) -> dict[str, Any]:
    batch = payload.get("batch") if payload else None
    return batch if isinstance(batch, dict) else {}


def _signed_payload(record: SignedRecord, keyring: KeyRing) -> dict[str, Any] | None:
    """The record's payload if its signature verifies, else None."""
    try:
        payload = verify_compact(record.jws, keyring.public).payload
    except VerificationError:
        return None
    return payload if isinstance(payload, dict) else None


def _issued_at(payload: dict[str, Any] | None) -> datetime | None:
    """The signing time a verified payload states (its issued_at), never the stored column."""
    value = payload.get("issued_at") if payload else None
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _signed_on(payload: dict[str, Any] | None) -> date | None:
    issued = _issued_at(payload)
    return None if issued is None else issued.date()


def _recalled_on(payloads: list[tuple[int, dict[str, Any] | None]], after: int) -> date | None:
    """The date of the first version after `after` whose signed record recalls the batch."""
    for version, payload in payloads:
        if version > after and _signed_batch(payload).get("status") == BatchStatus.RECALLED:
            return _signed_on(payload)
    return None


def build_record_view(
    session: Session, *, batch: Batch, keyring: KeyRing, version: int | None = None
) -> RecordView:
    """Verify the stored JWS of the asked version (the latest by default) and gather the rest.

    The verdicts rest on signed content only: the recall, the expiry date, the changes since
    an old version, and every date and note shown beside them come from verified records,
    never from unsigned columns. The public log says whether a newer version was removed.
    """
    records = records_of(session, batch.id)
    payloads = [(r.version, _signed_payload(r, keyring)) for r in records]
    latest = records[-1]
    record = latest if version is None else next((r for r in records if r.version == version), None)
    if record is None:
        raise NotFound(f"version {version} does not exist")
    current = record.version == latest.version
    verdict = check_record(session, batch=batch, record=record, keyring=keyring, current=current)
    latest_verdict = (
        verdict
        if current
        else check_record(session, batch=batch, record=latest, keyring=keyring, current=True)
    )
    data: dict[str, Any] | None = None
    if verdict.status == RecordStatus.VALID:
        data = record_content(batch) if current else verdict.payload
    elif verdict.payload is not None:  # rows differ: show what was signed, never the rows
        data = {key: verdict.payload.get(key) for key in CONTENT_SECTIONS}

    standing, log_problem = _log_check(session, batch=batch, record=record, latest=latest)
    if log_problem is None:
        log_problem = _revoked(session, record, verdict, standing) or (
            None if current else _revoked(session, latest, latest_verdict, None)
        )
    concerns: list[Headline] = []
    if (
        verdict.status != RecordStatus.VALID
        or latest_verdict.status != RecordStatus.VALID
        or log_problem is not None
    ):
        concerns.append(Headline.TAMPERED)
    signed_latest = _signed_batch(latest_verdict.payload)
    if signed_latest.get("status") == BatchStatus.RECALLED:
        concerns.append(Headline.RECALLED)
    expiry = _date(signed_latest.get("expiry_date"))
    if expiry is not None and expiry < date.today():
        concerns.append(Headline.EXPIRED)

    since = None
    if not current:
        since = Since(
            latest_version=latest.version,
            latest_issued_at=_signed_on(latest_verdict.payload),
            # A recall is final, so only a recalled latest record has a recall to date.
            recalled_on=_recalled_on(payloads, record.version)
            if Headline.RECALLED in concerns
            else None,
        )
    image = None
    sha = data["product"].get("image_sha256") if data else None
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
        latest_verdict=latest_verdict,
        version=record.version,
        latest_version=latest.version,
        record_hash=record.record_hash,
        jws=record.jws,
        issued_at=_signed_on(verdict.payload),
        image=image,
        versions=[
            {"version": v, "issued_at": _signed_on(p), "note": p.get("note") if p else None}
            for v, p in payloads
        ],
        concerns=tuple(concerns),
        since=since,
        recall_reason=signed_latest.get("recall_reason") if Headline.RECALLED in concerns else None,
        expiry_date=expiry,
        retailers=load_places_to_buy(session, batch.product_id),
        log=standing,
        log_problem=log_problem,
    )


def _log_check(
    session: Session, *, batch: Batch, record: SignedRecord, latest: SignedRecord
) -> tuple[LogStanding | None, str | None]:
    """Where the shown version stands in the log, and what the log says is wrong, if anything:
    a newer version logged than the newest stored (an erased recall), or a version the log
    never saw (a record slipped into the database)."""
    try:
        entry = record_entry(record.jws)
    except VerificationError:  # a JWS that does not parse names no entry; the verdict says so
        return None, None
    standing = log_standing(session, entry)
    if standing.newest_version is not None and standing.newest_version > latest.version:
        return standing, LOG_ERASED
    if not standing.sequenced:
        return None, LOG_MISSING
    return standing, None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


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


def _revoked(
    session: Session,
    record: SignedRecord,
    verdict: Verdict,
    standing: LogStanding | None,
) -> str | None:
    """KEY_REVOKED when the record's key is revoked and the record cannot be shown to predate
    the compromise: signed (by its own signed time) before compromised_at, and covered by a
    checkpoint the log published before then (issue 9, revocation)."""
    if verdict.kid is None:  # no signature verified: the verdict says so already
        return None
    compromised_at = compromise_time(session, verdict.kid)  # the signed header's kid
    if compromised_at is None:
        return None
    issued = _issued_at(verdict.payload)
    if issued is None or issued.tzinfo is None or issued >= compromised_at:
        return KEY_REVOKED
    if standing is None:
        try:
            standing = log_standing(session, record_entry(record.jws))
        except VerificationError:
            return KEY_REVOKED
    # The first checkpoint that covered it (sizes and times rise together) came before.
    if standing.first is None or standing.first.published_at >= compromised_at:
        return KEY_REVOKED
    return None
