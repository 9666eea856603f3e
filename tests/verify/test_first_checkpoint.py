"""A revoked key's older record, checked offline by the first checkpoint that covered it.

The real service signs and logs a record, a witness (run in-process) cosigns that checkpoint, the
key is revoked with compromised_at = now (a log leaf itself), more entries are logged and the
witness cosigns the new checkpoint, after the compromise. The latest checkpoint cannot vouch for
the record; the page's `log.first` and the bundle's `first` can, and a forged one cannot.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests import factories
from tests.conftest import BASE_URL
from tests.verify.conftest import checkpoint_text
from tests.witness.conftest import WitnessNetwork, log_entries
from tracetag.batches.models import SignedRecord
from tracetag.bundles.export import export_bundle
from tracetag.cli import app as cli_app
from tracetag.cli import verify as verify_cli
from tracetag.core.database import utcnow
from tracetag.errors import KeyNotTrusted
from tracetag.formats.cosignature import cosign
from tracetag.formats.jws import parse_compact
from tracetag.gs1.digital_link import digital_link
from tracetag.signing import registry
from tracetag.signing.issuer import Issuer
from tracetag.signing.keys import KeyStore
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish
from tracetag.translog.witnesses import WitnessPusher, parse_witnesses
from tracetag.verify.bundle import BUNDLE_TYP, verify_bundle
from tracetag.verify.keys import format_time, key_set
from tracetag.verify.log import open_checkpoint, parse_first, parse_inclusion
from tracetag.verify.records import verify_record
from tracetag.witness.core import Witness, add_log, init_witness, load_witness

# Why a first checkpoint whose consistency proof has a flipped byte does not vouch for a record.
FLIPPED = (
    ", and the first checkpoint said to include it does not hold: the log's two checkpoints "
    "are not consistent: the proof does not lead to the new root"
)


class WitnessClock:
    """The witness's clock, in whole seconds, set by the test."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now


class Story:
    """What the service holds after the revocation, and what the inspector trusts."""

    def __init__(
        self,
        link: str,
        jws: str,
        kid: str,
        compromised_at: datetime,
        first_size: int,
        latest_size: int,
        witness: Witness,
    ) -> None:
        self.link = link
        self.jws = jws
        self.kid = kid
        self.compromised_at = compromised_at
        self.first_size = first_size
        self.latest_size = latest_size
        self.witness = witness

    @property
    def witness_key(self) -> str:
        return self.witness.cosigner.verifier_key()

    def refusal(self, why: str) -> str:
        """The exact refusal when neither checkpoint vouches for the record."""
        return (
            f"key {self.kid} was revoked (compromised at {format_time(self.compromised_at)}); "
            "the checkpoint that includes the record was not cosigned by 1 witness(es) before "
            f"then{why}, so the record may have been made with the stolen key"
        )


@pytest.fixture
def story(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
    own_keys: KeyStore,
) -> Story:
    clock = WitnessClock()
    state = tmp_path / "witness"
    init_witness(state, name="dost.example/w1", key_file=tmp_path / "witness.key")
    add_log(state, vkey=log_signer.vkey)
    witness = load_witness(state, clock=clock)
    endpoints = parse_witnesses(f"http://w1.test {witness.cosigner.verifier_key()}")
    pusher = WitnessPusher(
        endpoints, client=httpx.Client(transport=WitnessNetwork({"w1.test": witness}))
    )
    with session_factory() as session:
        producer = factories.make_producer(session)
        batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
        record = session.query(SignedRecord).filter_by(batch_id=batch.id).one()
        link = digital_link(BASE_URL, batch.product.gtin, batch.lot)
        jws, kid = record.jws, record.kid
        session.commit()
    integrate_and_publish(session_factory, log_signer)
    first_size = log_entries(session_factory, log_signer, 0)
    clock.now = int(time.time())  # cosigned before the compromise below
    assert pusher.push(session_factory) == [first_size]
    # Times are published in whole seconds: the compromise comes in a later second than the
    # record's issued_at and the first cosignature.
    time.sleep(1.05 - time.time() % 1)
    with session_factory() as session:
        compromised_at = utcnow()
        registry.revoke(
            session, kid=kid, actor=factories.ACTOR, compromised_at=compromised_at, keys=own_keys
        )
        session.commit()
    latest_size = log_entries(session_factory, log_signer, 3)  # the revocation's leaf, and more
    clock.now = int(compromised_at.timestamp()) + 2  # the new checkpoint: after the compromise
    assert pusher.push(session_factory) == [latest_size]
    pusher.close()
    assert first_size < latest_size
    return Story(link, jws, kid, compromised_at, first_size, latest_size, witness)


def _page_log(app: FastAPI, story: Story) -> dict[str, Any]:
    with TestClient(app, base_url=BASE_URL) as client:
        body = client.get(story.link + "?format=json").json()
    assert body["jws"] == story.jws
    log = body["log"]
    assert isinstance(log, dict)
    return log


def _verify(story: Story, log: dict[str, Any], jwks: dict[str, Any], log_key: str) -> Any:
    """What `tracetag verify` does with a page's log object, in-process."""
    latest = open_checkpoint(log["checkpoint"], log_key=log_key, witnesses=[story.witness_key])
    proof = parse_inclusion(log)
    first = parse_first(log.get("first"), leaf_index=proof.leaf_index)
    return verify_record(story.jws, key_set(jwks), logged_in=latest, first=first)


def _flip_consistency(first: dict[str, Any]) -> dict[str, Any]:
    forged = copy.deepcopy(first)
    raw = bytearray(base64.b64decode(forged["consistency_proof"][0]))
    raw[0] ^= 0x01
    forged["consistency_proof"][0] = base64.b64encode(bytes(raw)).decode("ascii")
    return forged


def _cosigned_late(first: dict[str, Any], story: Story) -> dict[str, Any]:
    """The same first checkpoint, with the witness's cosignature dated after the compromise."""
    forged = copy.deepcopy(first)
    note = forged["checkpoint"]
    own = note[: note.index("\n— ", note.index("\n\n") + 2) + 1]  # the log's signature only
    late = int(story.compromised_at.timestamp()) + 60
    forged["checkpoint"] = own + cosign(checkpoint_text(note), story.witness.cosigner, late)
    return forged


def test_the_page_gives_the_first_checkpoint_and_the_record_verifies_offline(
    app: FastAPI,
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    story: Story,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = _page_log(app, story)
    first = log["first"]
    assert log["tree_size"] == story.latest_size
    assert first["tree_size"] == story.first_size
    assert first["checkpoint"].split("\n")[1] == str(story.first_size)
    assert first["consistency_proof"]  # two different trees
    with session_factory() as session:
        jwks = registry.jwks(session)

    assert _verify(story, log, jwks, log_signer.vkey).vouched_by_log
    without = {k: v for k, v in log.items() if k != "first"}
    with pytest.raises(KeyNotTrusted) as refused:
        _verify(story, without, jwks, log_signer.vkey)
    assert str(refused.value) == story.refusal("")

    with pytest.raises(KeyNotTrusted) as refused:
        _verify(story, {**log, "first": _flip_consistency(first)}, jwks, log_signer.vkey)
    assert str(refused.value) == story.refusal(FLIPPED)

    with pytest.raises(KeyNotTrusted) as refused:
        _verify(story, {**log, "first": _cosigned_late(first, story)}, jwks, log_signer.vkey)
    why = f", nor was the first checkpoint that includes it (tree size {story.first_size})"
    assert str(refused.value) == story.refusal(why)

    # The CLI: the Digital Link, its page's JSON fetched from the real service.
    monkeypatch.setattr(verify_cli, "_http_client", lambda: TestClient(app, base_url=BASE_URL))
    args = ["verify", story.link, "--log-key", log_signer.vkey, "--witness", story.witness_key]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("VALID: signature verified")
    assert "the log held this record, witnessed, before the compromise" in result.stdout

    # The CLI offline with the page's log object saved to a file, and a forged one.
    (tmp_path / "record.jws").write_text(story.jws)
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    offline = [str(tmp_path / "record.jws"), "--jwks", str(tmp_path / "jwks.json")]
    offline += ["--log-key", log_signer.vkey, "--witness", story.witness_key]
    offline += ["--log-proof", str(tmp_path / "log.json")]
    (tmp_path / "log.json").write_text(json.dumps(log))
    assert CliRunner().invoke(cli_app, ["verify", *offline]).exit_code == 0
    (tmp_path / "log.json").write_text(json.dumps({**log, "first": _cosigned_late(first, story)}))
    result = CliRunner().invoke(cli_app, ["verify", *offline])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"INVALID: KeyNotTrusted: {story.refusal(why)}")


def _resign(token: str, issuer: Issuer, session_factory: sessionmaker[Session], change: Any) -> str:
    from tracetag.formats.jws import sign_compact

    payload = json.loads(parse_compact(token)[1])
    change(payload)
    with session_factory() as session:
        return sign_compact(payload, issuer.signer(session), typ=BUNDLE_TYP)


def test_an_exported_bundle_carries_the_first_checkpoint_and_verifies_offline(
    session_factory: sessionmaker[Session],
    log_signer: LogSigner,
    own_keys: KeyStore,
    story: Story,
) -> None:
    issuer = Issuer(keys=own_keys, name="tracetag", base_url=BASE_URL)  # the new active key
    gtin, lot = (json.loads(parse_compact(story.jws)[1])[k] for k in ("product", "batch"))
    now = datetime.now(UTC)
    with session_factory() as session:
        token = export_bundle(
            session,
            issuer=issuer,
            log_vkey=log_signer.vkey,
            exported_at=now,
            codes=[(gtin["gtin"], lot["lot"])],
        )
        jwks = registry.jwks(session)
    record = json.loads(parse_compact(token)[1])["records"][0]
    assert record["tree_size"] == story.latest_size
    assert record["first"]["tree_size"] == story.first_size

    def check(bundle: str) -> Any:
        return verify_bundle(
            bundle,
            now=now + timedelta(minutes=1),
            max_age=timedelta(days=7),
            witnesses=[story.witness_key],
            log_key=log_signer.vkey,
            keys=key_set(jwks),
        )

    result = check(token)
    assert result.records[0].vouched_by_log

    def drop(payload: dict[str, Any]) -> None:  # a bundle as written before `first` existed
        del payload["records"][0]["first"]

    with pytest.raises(KeyNotTrusted) as refused:
        check(_resign(token, issuer, session_factory, drop))
    assert str(refused.value) == "record 1 of the bundle: " + story.refusal("")

    def late(payload: dict[str, Any]) -> None:
        payload["records"][0]["first"] = _cosigned_late(payload["records"][0]["first"], story)

    why = f", nor was the first checkpoint that includes it (tree size {story.first_size})"
    with pytest.raises(KeyNotTrusted) as refused:
        check(_resign(token, issuer, session_factory, late))
    assert str(refused.value) == "record 1 of the bundle: " + story.refusal(why)

    def flip(payload: dict[str, Any]) -> None:
        payload["records"][0]["first"] = _flip_consistency(payload["records"][0]["first"])

    with pytest.raises(KeyNotTrusted) as refused:
        check(_resign(token, issuer, session_factory, flip))
    assert str(refused.value) == "record 1 of the bundle: " + story.refusal(FLIPPED)
