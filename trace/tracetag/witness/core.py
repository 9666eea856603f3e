"""The witness: c2sp.org/tlog-witness add-checkpoint, answered with cosignature/v1 lines.

For each log it knows (origin and verifier key), the witness keeps the last checkpoint it
cosigned, and cosigns a new one only when a consistency proof shows that the new tree extends
that one. A log that shows it a different tree of a size it has vouched for (a fork, a rewritten
history) is refused and logged loudly: the signed checkpoints are the evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tracetag.errors import (
    AmbiguousKey,
    BadSignature,
    MalformedInput,
    UnknownKey,
    VerificationError,
)
from tracetag.formats import merkle
from tracetag.formats.checkpoint import Checkpoint, parse_checkpoint
from tracetag.formats.cosignature import Cosigner, cosign
from tracetag.formats.note import (
    SIGNATURE_PREFIX,
    Ed25519Verifier,
    generate_signer_key,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    valid_name,
)
from tracetag.witness.state import create_secret, write_atomically

log = logging.getLogger("tracetag.witness")

CONFIG = "witness.json"
MAX_PROOF_LINES = 63  # tlog-witness §add-checkpoint
SIZE_TYPE = "text/x.tlog.size"
Clock = Callable[[], int]


class LogMisbehaviour(VerificationError):
    """A log showed two views of its history: a fork, a rewrite or a rollback."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to a witness request: status, body, content type."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class WitnessedLog:
    origin: str
    verifier: Ed25519Verifier
    vkey: str


def origin_hash(origin: str) -> str:
    """The monitoring path's name of a log: lowercase hex SHA-256 of its origin."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def _b64(line: str) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput("a proof line is not base64") from exc
    if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw).decode() != line:
        raise MalformedInput("a proof line is not one hash in canonical base64")
    return raw


@dataclass(frozen=True)
class Request:
    """A parsed add-checkpoint body: the old size, the proof, and the checkpoint's note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes


def parse_request(body: bytes) -> Request:
    """Read an add-checkpoint body (tlog-witness §add-checkpoint); raises MalformedInput."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput("the request is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise MalformedInput("no empty line before the checkpoint")
    lines = head.split("\n")
    old = lines[0]
    if not old.startswith("old ") or not merkle_size(old[4:]):
        raise MalformedInput("the first line is not `old <size>`")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedInput(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(_b64(line) for line in lines[1:])
    return Request(int(old[4:]), proof, note.encode("utf-8"))


def merkle_size(text: str) -> bool:
    """A decimal tree size without leading zeros, at most 2^64 - 1."""
    return (
        text.isascii()
        and text.isdigit()
        and (text == "0" or not text.startswith("0"))
        and int(text) < 2**64
    )


def format_request(old_size: int, proof: list[bytes], note: bytes) -> bytes:
    """An add-checkpoint body: `old <size>`, one base64 hash a line, an empty line, the note."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n").encode() + note


@dataclass
class Witness:
    """One witness: its cosigner, the logs it knows, and a directory of what it last cosigned."""

    cosigner: Cosigner
    logs: dict[str, WitnessedLog]
    state_dir: Path
    clock: Clock = field(default=lambda: int(time.time()))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _state_file(self, origin: str) -> Path:
        return self.state_dir / "logs" / f"{origin_hash(origin)}.checkpoint"

    def cosigned_note(self, origin: str) -> bytes | None:
        """The last checkpoint cosigned for `origin`, with the log's and the witness's lines."""
        try:
            return self._state_file(origin).read_bytes()
        except FileNotFoundError:
            return None

    def cosigned(self, wlog: WitnessedLog) -> Checkpoint | None:
        """The last checkpoint cosigned for a log, checked again against the log's key."""
        data = self.cosigned_note(wlog.origin)
        if data is None:
            return None
        opened = open_note(data, [wlog.verifier])
        return parse_checkpoint(opened.text)

    def add_checkpoint(self, body: bytes) -> Answer:
        """Answer POST add-checkpoint as tlog-witness says, status for status."""
        try:
            request = parse_request(body)
            text = _note_text(request.note)
            checkpoint = parse_checkpoint(text)
        except MalformedInput as exc:
            return Answer(400, f"bad request: {exc}\n".encode())
        wlog = self.logs.get(checkpoint.origin)
        if wlog is None:
            return Answer(404, b"unknown log origin\n")
        try:
            opened = open_note(request.note, [wlog.verifier])
        except (UnknownKey, BadSignature, AmbiguousKey) as exc:
            return Answer(403, f"the log's signature does not verify: {exc}\n".encode())
        except MalformedInput as exc:
            return Answer(400, f"bad request: {exc}\n".encode())
        if request.old_size > checkpoint.size:
            return Answer(400, b"the old size is larger than the checkpoint's\n")
        log_lines = "".join(f"{SIGNATURE_PREFIX}{s.name} {s.base64}\n" for s in opened.signatures)
        with self._lock:  # check and persist as one step (the race in tlog-witness)
            previous = self.cosigned(wlog)
            known = previous.size if previous is not None else 0
            if request.old_size != known:
                if previous is not None and checkpoint.size < previous.size:
                    log.warning(
                        "log %s offered a checkpoint of size %d, older than the %d cosigned",
                        checkpoint.origin,
                        checkpoint.size,
                        known,
                    )
                return Answer(409, f"{known}\n".encode(), SIZE_TYPE)
            problem = _inconsistency(previous, checkpoint, request.proof)
            if problem is not None:
                if previous is not None:
                    _alarm(wlog.origin, previous, checkpoint, problem, request.note)
                return Answer(422, f"{problem}\n".encode())
            line = cosign(text, self.cosigner, self.clock())
            state = text.encode() + b"\n" + log_lines.encode() + line.encode()
            write_atomically(self._state_file(wlog.origin), state)
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
        return Answer(200, line.encode())

    def monitoring_checkpoint(self, name: str) -> Answer:
        """GET <origin hash>/checkpoint: the last cosigned checkpoint, or 404."""
        for origin in self.logs:
            if origin_hash(origin) == name:
                data = self.cosigned_note(origin)
                if data is not None:
                    return Answer(200, data)
        return Answer(404, b"no checkpoint cosigned for that log\n")


def _note_text(note: bytes) -> str:
    split = note.rfind(b"\n\n")
    if split < 0:
        raise MalformedInput("the checkpoint is not a signed note")
    try:
        return note[: split + 1].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput("the checkpoint is not UTF-8") from exc


def _inconsistency(
    previous: Checkpoint | None, checkpoint: Checkpoint, proof: tuple[bytes, ...]
) -> str | None:
    """Why `checkpoint` does not extend `previous` (None: it does)."""
    if checkpoint.size == 0 and checkpoint.root_hash != merkle.EMPTY_ROOT:
        return "a tree of size 0 has the empty tree's root"
    if previous is None or previous.size == 0:
        return "the consistency proof from size 0 is empty" if proof else None
    try:
        merkle.verify_consistency(
            old_size=previous.size,
            new_size=checkpoint.size,
            proof=proof,
            old_root=previous.root_hash,
            new_root=checkpoint.root_hash,
        )
    except merkle.MerkleError as exc:
        return f"not consistent with the checkpoint of size {previous.size} cosigned: {exc}"
    return None


def _alarm(
    origin: str, previous: Checkpoint, checkpoint: Checkpoint, why: str, note: bytes
) -> None:
    # The log signed both views: keep both in the witness's log as evidence for its operator.
    log.error(
        "LOG MISBEHAVIOUR: %s signed a checkpoint that does not extend the one this witness "
        "cosigned (a fork or a rewritten history): %s\n"
        "cosigned: size %d root %s\noffered:  size %d root %s\noffered note:\n%s",
        origin,
        why,
        previous.size,
        base64.b64encode(previous.root_hash).decode(),
        checkpoint.size,
        base64.b64encode(checkpoint.root_hash).decode(),
        note.decode("utf-8", "replace"),
    )


# The configuration: state_dir/witness.json names the key file and the logs witnessed.


def init_witness(state_dir: Path, *, name: str, key_file: Path) -> str:
    """Create the witness's key (0600) and configuration; returns its cosignature vkey."""
    if not valid_name(name):
        raise MalformedInput(f"{name[:64]!r} is not a key name (no spaces, no +)")
    config = state_dir / CONFIG
    if config.exists():
        raise MalformedInput(f"{config} exists: this directory already holds a witness")
    skey = generate_signer_key(name)
    create_secret(key_file, skey.encode() + b"\n")
    data = {"name": name, "key_file": str(key_file.absolute()), "logs": []}
    write_atomically(config, json.dumps(data, indent=2).encode() + b"\n")
    return _cosigner(skey).verifier_key()


def _cosigner(skey: str) -> Cosigner:
    signer = parse_signer_key(skey)
    return Cosigner(signer.name, signer.private_key)


def _read_config(state_dir: Path) -> dict[str, object]:
    try:
        data = json.loads((state_dir / CONFIG).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise MalformedInput(f"cannot read {state_dir / CONFIG}: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedInput(f"{state_dir / CONFIG} is not a JSON object")
    return data


def add_log(state_dir: Path, *, vkey: str, origin: str | None = None) -> str:
    """Witness a log: its verifier key, and its origin (default: the key's name)."""
    verifier = parse_verifier_key(vkey)
    origin = origin or verifier.name
    data = _read_config(state_dir)
    logs = [entry for entry in _logs(data) if entry["origin"] != origin]
    logs.append({"origin": origin, "vkey": vkey})
    data["logs"] = logs
    write_atomically(state_dir / CONFIG, json.dumps(data, indent=2).encode() + b"\n")
    return origin


def _logs(data: dict[str, object]) -> list[dict[str, str]]:
    logs = data.get("logs", [])
    if not isinstance(logs, list) or not all(
        isinstance(e, dict) and isinstance(e.get("origin"), str) and isinstance(e.get("vkey"), str)
        for e in logs
    ):
        raise MalformedInput("`logs` is a list of {origin, vkey}")
    return logs


def load_witness(state_dir: Path, *, clock: Clock | None = None) -> Witness:
    """The witness configured in state_dir (its key read from the key file it names)."""
    data = _read_config(state_dir)
    key_file = data.get("key_file")
    if not isinstance(key_file, str):
        raise MalformedInput("`key_file` is missing")
    try:
        mode = stat.S_IMODE(Path(key_file).stat().st_mode)
        skey = Path(key_file).read_text("utf-8").strip()
    except OSError as exc:
        raise MalformedInput(f"cannot read the witness key: {exc.strerror}") from exc
    if mode & 0o077:  # as the service's own keys: a key others can read is refused
        raise MalformedInput(
            f"{key_file} is readable by group or others (mode {mode:o}); run: chmod 600 {key_file}"
        )
    logs = {
        e["origin"]: WitnessedLog(e["origin"], parse_verifier_key(e["vkey"]), e["vkey"])
        for e in _logs(data)
    }
    witness = Witness(_cosigner(skey), logs, state_dir)
    if clock is not None:
        witness.clock = clock
    return witness
