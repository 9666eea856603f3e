"""The witness (c2sp.org/tlog-witness add-checkpoint): cosigns extensions, refuses the rest."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import stat
from pathlib import Path

import httpx
import pytest
from nacl.signing import VerifyKey

from tests.witness.logs import MemoryLog
from tracetag.errors import MalformedInput
from tracetag.formats.checkpoint import parse_checkpoint
from tracetag.formats.cosignature import (
    parse_cosignature_verifier_key,
    require_cosignatures,
    verify_cosignature,
)
from tracetag.formats.note import open_note, parse_verifier_key
from tracetag.witness.core import (
    Witness,
    add_log,
    format_request,
    init_witness,
    load_witness,
    origin_hash,
    parse_request,
)
from tracetag.witness.http import witness_app

NOW = 1_764_000_000


@pytest.fixture
def memlog() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def witness(tmp_path: Path, memlog: MemoryLog) -> Witness:
    state = tmp_path / "state"
    init_witness(state, name="dost.example/w1", key_file=tmp_path / "witness.key")
    add_log(state, vkey=memlog.vkey)
    return load_witness(state, clock=lambda: NOW)


def _add(witness: Witness, memlog: MemoryLog, old: int, size: int | None = None) -> tuple[int, str]:
    answer = witness.add_checkpoint(format_request(old, memlog.proof(old, size), memlog.note(size)))
    return answer.status, answer.body.decode()


def test_init_makes_a_private_key_file_and_a_type_4_vkey(tmp_path: Path) -> None:
    vkey = init_witness(tmp_path / "s", name="dost.example/w1", key_file=tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    verifier = parse_cosignature_verifier_key(vkey)
    assert verifier.name == "dost.example/w1"
    assert (tmp_path / "k").read_text().startswith("PRIVATE+KEY+dost.example/w1+")
    assert "PRIVATE" not in vkey
    with pytest.raises(MalformedInput, match="already holds a witness"):
        init_witness(tmp_path / "s", name="dost.example/w1", key_file=tmp_path / "k2")
    with pytest.raises(FileExistsError):
        init_witness(tmp_path / "t", name="dost.example/w1", key_file=tmp_path / "k")


def test_cosigns_a_sequence_of_extensions(witness: Witness, memlog: MemoryLog) -> None:
    verifier = witness.cosigner.verifier()
    old = 0
    for count in (1, 2, 5, 256, 3):
        memlog.grow(count)
        status, body = _add(witness, memlog, old)
        assert status == 200, body
        assert verify_cosignature(memlog.checkpoint_text(), body, verifier) == NOW
        old = len(memlog.leaves)
    stored = witness.cosigned_note(memlog.origin)
    assert stored is not None
    # The state holds the log's signature and the witness's: a monitor can check both.
    opened = require_cosignatures(
        stored, parse_verifier_key(memlog.vkey), [verifier], 1, origin=memlog.origin
    )
    assert opened.checkpoint.size == old == 267


def test_the_same_checkpoint_again_is_cosigned_again(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(4)
    assert _add(witness, memlog, 0)[0] == 200
    assert _add(witness, memlog, 4)[0] == 200


def test_cosignature_line_is_the_specs_wire_format(witness: Witness, memlog: MemoryLog) -> None:
    """Checked with PyNaCl, from the bytes tlog-cosignature describes, not with our verifier."""
    memlog.grow(3)
    status, body = _add(witness, memlog, 0)
    assert status == 200 and body.endswith("\n") and body.count("\n") == 1
    assert body.startswith("\u2014 dost.example/w1 ")
    raw = base64.b64decode(body.rstrip("\n").split(" ")[2], validate=True)
    assert len(raw) == 4 + 8 + 64
    public = witness.cosigner.private_key.public_key().public_bytes_raw()
    key_id = hashlib.sha256(b"dost.example/w1\n\x04" + public).digest()[:4]
    assert raw[:4] == key_id
    assert int.from_bytes(raw[4:12], "big") == NOW
    message = f"cosignature/v1\ntime {NOW}\n".encode() + memlog.checkpoint_text().encode()
    VerifyKey(public).verify(message, raw[12:])


def test_a_fork_is_refused_and_logged_loudly(
    witness: Witness, memlog: MemoryLog, caplog: pytest.LogCaptureFixture
) -> None:
    memlog.grow(10)
    assert _add(witness, memlog, 0)[0] == 200
    fork = MemoryLog(signer=memlog.signer, leaves=list(memlog.leaves))
    fork.leaves[4] = fork.leaves[5]  # the same log key signs another history
    fork.grow(3)
    with caplog.at_level(logging.ERROR, logger="tracetag.witness"):
        status, body = _add(witness, fork, 10)
    assert status == 422 and "not consistent" in body
    assert "LOG MISBEHAVIOUR" in caplog.text and "fork or a rewritten history" in caplog.text
    # Same size, another root: refused the same way.
    status, _ = _add(witness, fork, 10, 10)
    assert status == 422
    state = witness.cosigned(witness.logs[memlog.origin])
    assert (
        state is not None
        and state.root_hash == parse_checkpoint(memlog.checkpoint_text()).root_hash
    )


def test_a_proof_from_another_size_is_refused(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(10)
    assert _add(witness, memlog, 0)[0] == 200
    memlog.grow(7)
    wrong = memlog.proof(9)
    answer = witness.add_checkpoint(format_request(10, wrong, memlog.note()))
    assert answer.status == 422


def test_a_rollback_is_refused_with_the_witness_size(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(10)
    assert _add(witness, memlog, 0)[0] == 200
    answer = witness.add_checkpoint(format_request(0, [], memlog.note(6)))
    assert (answer.status, answer.body, answer.content_type) == (409, b"10\n", "text/x.tlog.size")
    assert _add(witness, memlog, 5, 6)[0] == 409
    # old above the checkpoint's size, and at the witness's size: 400 before anything else
    answer = witness.add_checkpoint(format_request(10, [], memlog.note(6)))
    assert answer.status == 400


def test_old_size_other_than_the_witness_size_is_409(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(8)
    answer = witness.add_checkpoint(format_request(4, memlog.proof(4), memlog.note()))
    assert (answer.status, answer.body) == (409, b"0\n")


def test_unknown_origin_is_404_and_a_bad_signature_403(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(2)
    other = MemoryLog(origin="other.example/log")
    other.grow(2)
    assert _add(witness, other, 0)[0] == 404
    impostor = MemoryLog()  # the right origin, another key
    impostor.grow(2)
    assert _add(witness, impostor, 0)[0] == 403
    note = bytearray(memlog.note())
    note[-10] ^= 1  # a signature by the log's key that fails
    answer = witness.add_checkpoint(format_request(0, [], bytes(note)))
    assert answer.status in (400, 403)
    flipped = memlog.note().replace(b"\n2\n", b"\n3\n", 1)
    assert witness.add_checkpoint(format_request(0, [], flipped)).status == 403
    assert witness.cosigned_note(memlog.origin) is None


def test_proof_rules_for_old_size_zero(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(4)
    answer = witness.add_checkpoint(format_request(0, [b"\0" * 32], memlog.note()))
    assert answer.status == 422
    empty = MemoryLog(signer=memlog.signer)
    note = empty.note(0)
    assert witness.add_checkpoint(format_request(0, [], note)).status == 200
    bad_empty = note.replace(empty.checkpoint_text(0).split("\n")[2].encode(), b"A" * 43 + b"=")
    assert witness.add_checkpoint(format_request(0, [], bad_empty)).status in (403, 422)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 01\n\nx\n",
        b"old -1\n\nx\n",
        b"new 0\n\nx\n",
        b"old 0\nnot base64!\n\nx\n",
        b"old 0\n" + b"AAAA\n" + b"\nx\n",
        b"old 0\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\nx\n",
    ],
)
def test_malformed_requests_are_400(witness: Witness, body: bytes) -> None:
    assert witness.add_checkpoint(body).status == 400


def test_request_round_trip(memlog: MemoryLog) -> None:
    memlog.grow(9)
    request = parse_request(format_request(5, memlog.proof(5), memlog.note()))
    assert request.old_size == 5 and list(request.proof) == memlog.proof(5)
    assert request.note == memlog.note()


def test_state_survives_a_restart(tmp_path: Path, witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(5)
    assert _add(witness, memlog, 0)[0] == 200
    again = load_witness(witness.state_dir, clock=lambda: NOW + 1)
    memlog.grow(1)
    assert _add(again, memlog, 0)[0] == 409
    assert _add(again, memlog, 5)[0] == 200
    leftovers = [p.name for p in (witness.state_dir / "logs").iterdir()]
    assert leftovers == [f"{origin_hash(memlog.origin)}.checkpoint"]  # no temporary files


def test_http_layer_speaks_the_protocol(witness: Witness, memlog: MemoryLog) -> None:
    memlog.grow(3)
    with httpx.Client(
        transport=httpx.WSGITransport(app=witness_app(witness)), base_url="http://w"
    ) as http:
        body = format_request(0, [], memlog.note())
        ok = http.post("/add-checkpoint", content=body)
        assert ok.status_code == 200 and ok.text.startswith("\u2014 dost.example/w1 ")
        conflict = http.post("/add-checkpoint", content=body)
        assert conflict.status_code == 409 and conflict.text == "3\n"
        assert conflict.headers["content-type"] == "text/x.tlog.size"
        assert http.get("/add-checkpoint").status_code == 405
        monitored = http.get(f"/{origin_hash(memlog.origin)}/checkpoint")
        assert monitored.status_code == 200
        opened = open_note(monitored.content, [witness.cosigner.verifier()])
        assert opened.text == memlog.checkpoint_text()
        assert http.get(f"/{'0' * 64}/checkpoint").status_code == 404


def test_a_negative_content_length_reads_nothing(witness: Witness) -> None:
    """read(-1) would read to the end of the stream: such a request is refused unread."""
    answered: list[str] = []
    stream = io.BytesIO(b"x" * 100)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/add-checkpoint",
        "CONTENT_LENGTH": "-1",
        "wsgi.input": stream,
    }
    body = b"".join(witness_app(witness)(environ, lambda status, headers: answered.append(status)))
    assert answered[0].startswith("400") and b"Content-Length" in body
    assert stream.tell() == 0


def test_a_witness_key_others_can_read_is_refused(witness: Witness) -> None:
    config = json.loads((witness.state_dir / "witness.json").read_text())
    key_file = Path(config["key_file"])
    key_file.chmod(0o644)
    with pytest.raises(MalformedInput, match="readable by group or others"):
        load_witness(witness.state_dir)
    key_file.chmod(0o600)
    assert load_witness(witness.state_dir).cosigner.name == witness.cosigner.name
