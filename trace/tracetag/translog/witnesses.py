"""Sending the log's checkpoints to witnesses (c2sp.org/tlog-witness), and keeping what they sign.

After a checkpoint is published, each configured witness gets it with a consistency proof from
the size it last cosigned (the newest of its cosignatures stored here; 0 when there is none).
A 409 answer names the witness's own size; the push is tried once more from that size. Every
cosignature line is checked against the witness's vkey before it is stored, and lines by other
keys are ignored, as the spec says. A witness that is down or refuses is logged and tried again
later, with a growing pause: a witness never stops the integrator.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tracetag.core.database import utcnow
from tracetag.errors import MalformedInput, TraceError, UnknownKey, VerificationError
from tracetag.formats.cosignature import (
    CosignatureVerifier,
    verify_cosignature,
    witness_verifier,
)
from tracetag.translog import checkpoints, service
from tracetag.translog.models import LogCosignature
from tracetag.witness.core import format_request, merkle_size

log = logging.getLogger("tracetag.translog.witnesses")

TIMEOUT = 10.0  # seconds for one add-checkpoint call
MIN_PAUSE, MAX_PAUSE = 5.0, 300.0  # seconds between tries of a witness that failed
_ENTRY_SEPARATOR = re.compile(r"[;\n]")


class WitnessFailed(TraceError):
    """A witness did not cosign: down, refusing, or answering what does not verify."""


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness: its submission prefix (…/add-checkpoint is appended) and its key."""

    url: str
    verifier: CosignatureVerifier

    @property
    def label(self) -> str:
        return f"{self.verifier.name} at {self.url}"


def parse_witnesses(value: str) -> list[WitnessEndpoint]:
    """TRACETAG_LOG_WITNESSES: `<URL> <vkey>` entries separated by `;` or newlines.

    The vkey is the witness's cosignature/v1 key (type 0x04); an Ed25519 note key (0x01), as
    some witnesses publish theirs, is taken as the same key. Raises MalformedInput.
    """
    witnesses = []
    for entry in _ENTRY_SEPARATOR.split(value):
        if not entry.strip():
            continue
        parts = entry.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise MalformedInput(f"a witness is `<http(s) URL> <vkey>`, not {entry.strip()!r}")
        url, vkey = parts
        witnesses.append(WitnessEndpoint(url.rstrip("/"), witness_verifier(vkey)))
    return witnesses


def last_cosigned_size(session: Session, witness: CosignatureVerifier) -> int | None:
    """The largest checkpoint this witness's cosignature is stored for."""
    return session.scalar(
        select(func.max(LogCosignature.checkpoint_size)).where(
            LogCosignature.witness == witness.name, LogCosignature.key_hash == witness.key_hash
        )
    )


def _note_text(note: str) -> str:
    return note[: note.rindex("\n\n") + 1]


def push_checkpoint(
    factory: sessionmaker[Session], witness: WitnessEndpoint, client: httpx.Client
) -> int | None:
    """Bring the witness up to the latest checkpoint; the size now cosigned, or None when it
    was already. Raises WitnessFailed."""
    with factory() as session:
        latest = checkpoints.latest(session)
        if latest is None:
            return None
        known = last_cosigned_size(session, witness.verifier) or 0
        if known >= latest.size:
            return None
        size, note = latest.size, latest.note
        proof = service.consistency_proof(session, first=known, second=size) if known else []
    response = _submit(client, witness, known, proof, note)
    if response.status_code == 409:
        theirs = _their_size(response, witness)
        if theirs > size:
            log.error(
                "witness %s has cosigned size %d of this log, beyond its latest checkpoint "
                "(%d): another server signs with this log's key, or the log lost its history",
                witness.label,
                theirs,
                size,
            )
            raise WitnessFailed(f"{witness.label} has cosigned size {theirs} > {size}")
        with factory() as session:
            proof = service.consistency_proof(session, first=theirs, second=size) if theirs else []
        response = _submit(client, witness, theirs, proof, note)
    if response.status_code != 200:
        if response.status_code == 422:
            log.error(
                "witness %s says checkpoint %d is not consistent with what it cosigned before: %s",
                witness.label,
                size,
                response.text[:500],
            )
        raise WitnessFailed(f"{witness.label} answered {response.status_code}")
    line, signed_at = _cosignature(witness, _note_text(note), response.text)
    _store(factory, witness, size, line, signed_at)
    return size


def _submit(
    client: httpx.Client, witness: WitnessEndpoint, old: int, proof: list[bytes], note: str
) -> httpx.Response:
    try:
        return client.post(
            f"{witness.url}/add-checkpoint",
            content=format_request(old, proof, note.encode("utf-8")),
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise WitnessFailed(f"{witness.label} is unreachable: {exc}") from exc


def _their_size(response: httpx.Response, witness: WitnessEndpoint) -> int:
    text = response.text
    if not text.endswith("\n") or not merkle_size(text[:-1]):
        raise WitnessFailed(f"{witness.label} answered 409 without a tree size")
    return int(text[:-1])


def _cosignature(witness: WitnessEndpoint, text: str, body: str) -> tuple[str, datetime]:
    """The witness's own line among those answered, verified; lines by other keys are ignored."""
    for line in body.splitlines(keepends=True):
        try:
            timestamp = verify_cosignature(text, line, witness.verifier)
        except UnknownKey:
            continue
        except VerificationError as exc:
            raise WitnessFailed(f"{witness.label} answered a bad cosignature: {exc}") from exc
        return line.removesuffix("\n"), datetime.fromtimestamp(timestamp, UTC)
    raise WitnessFailed(f"{witness.label} answered no cosignature by its key")


def _store(
    factory: sessionmaker[Session],
    witness: WitnessEndpoint,
    size: int,
    line: str,
    signed_at: datetime,
) -> None:
    with factory() as session:
        session.add(
            LogCosignature(
                checkpoint_size=size,
                witness=witness.verifier.name,
                key_hash=witness.verifier.key_hash,
                line=line,
                signed_at=signed_at,
                received_at=utcnow(),
            )
        )
        try:
            session.commit()
        except IntegrityError:  # another process of the service stored it first
            session.rollback()


class WitnessPusher:
    """Pushes the latest checkpoint to every witness, pausing the ones that fail."""

    def __init__(
        self,
        witnesses: list[WitnessEndpoint],
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._witnesses = witnesses
        self._client = client
        self._clock = clock
        self._pause: dict[str, float] = {}
        self._next_try: dict[str, float] = {}

    def push(self, factory: sessionmaker[Session]) -> list[int]:
        """One round: the sizes newly cosigned. Never raises: a witness must not stop the log."""
        if self._client is None:
            self._client = httpx.Client(follow_redirects=False)
        cosigned = []
        now = self._clock()
        for witness in self._witnesses:
            if self._next_try.get(witness.url, 0.0) > now:
                continue
            try:
                size = push_checkpoint(factory, witness, self._client)
            except Exception as exc:  # any failure: log it, try this witness again later
                pause = min(max(self._pause.get(witness.url, 0.0) * 2, MIN_PAUSE), MAX_PAUSE)
                self._pause[witness.url] = pause
                self._next_try[witness.url] = now + pause
                log.warning(
                    "witness %s: %s; trying again in %.0f s",
                    witness.label,
                    exc,
                    pause,
                    exc_info=not isinstance(exc, WitnessFailed),
                )
                continue
            self._pause.pop(witness.url, None)
            self._next_try.pop(witness.url, None)
            if size is not None:
                log.info("witness %s cosigned checkpoint %d", witness.label, size)
                cosigned.append(size)
        return cosigned

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
