"""What the public pages say of the log: in it at position N, and an erased version (issue 9)."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.pages import has_green, headline, visible_text
from tracetag.batches.models import Batch, BatchStatus, SignedRecord
from tracetag.batches.service import recall_batch
from tracetag.formats import merkle
from tracetag.formats.checkpoint import parse_checkpoint
from tracetag.formats.logentry import record_entry
from tracetag.gs1.digital_link import digital_link
from tracetag.signing.issuer import Issuer
from tracetag.translog.checkpoints import LogSigner, integrate_and_publish


def _page(batch: Batch) -> str:
    return digital_link("", batch.product.gtin, batch.lot)


def _batch(session_factory: sessionmaker[Session], issuer: Issuer) -> Batch:
    with session_factory() as session:
        producer = factories.make_producer(session)
        batch = factories.make_batch(session, issuer, factories.make_product(session, producer))
        session.commit()
        return batch


def test_a_page_says_where_the_record_is_in_the_log_once_a_checkpoint_covers_it(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
) -> None:
    batch = _batch(session_factory, issuer)
    waiting = client.get(_page(batch) + "?lang=en")
    assert "Being added to the public log" in visible_text(waiting.text)
    assert client.get(_page(batch) + "?format=json").json()["log"] == {"status": "waiting"}
    integrate_and_publish(session_factory, log_signer)
    body = client.get(_page(batch) + "?format=json").json()
    log = body["log"]
    assert log["status"] == "included"
    # The proof in the page's JSON checks out against the checkpoint it carries.
    checkpoint = parse_checkpoint(log["checkpoint"].split("\n\n")[0] + "\n")
    assert checkpoint.size == log["tree_size"]
    merkle.verify_inclusion(
        index=log["leaf_index"],
        tree_size=log["tree_size"],
        leaf=record_entry(body["jws"]).leaf_hash,
        proof=[base64.b64decode(h) for h in log["inclusion_proof"]],
        root=checkpoint.root_hash,
    )
    page = visible_text(client.get(_page(batch)).text)
    position = f"{log['leaf_index']:,}".replace(",", ".")
    assert f"Bản ghi này có trong nhật ký công khai, ở vị trí số {position}" in page
    assert headline(client.get(_page(batch)).text) == "verified"


def test_an_erased_recall_shows_as_tampered(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
) -> None:
    batch = _batch(session_factory, issuer)
    with session_factory() as session:
        recall_batch(
            session,
            batch=session.get_one(Batch, batch.id),
            reason="Nhiễm khuẩn",
            issuer=issuer,
            actor=factories.ACTOR,
        )
        session.commit()
    integrate_and_publish(session_factory, log_signer)
    # As an attacker with the database would: drop the newest version, reset the status.
    with session_factory() as session:
        session.execute(
            delete(SignedRecord).where(SignedRecord.batch_id == batch.id, SignedRecord.version == 2)
        )
        session.execute(
            update(Batch)
            .where(Batch.id == batch.id)
            .values(status=BatchStatus.ACTIVE, recall_reason=None)
        )
        session.commit()
        assert session.scalars(
            select(SignedRecord.version).where(SignedRecord.batch_id == batch.id)
        ).all() == [1]
    html = client.get(_page(batch) + "?lang=en").text
    assert headline(html) == "tampered"
    assert not has_green(html)
    assert "a version has been removed" in visible_text(html)
    body = client.get(_page(batch) + "?format=json").json()
    assert body["verdict"] == "tampered"
    assert body["log_problem"] is not None


def test_a_record_downloads_with_its_proof_in_the_log(
    client: TestClient,
    session_factory: sessionmaker[Session],
    issuer: Issuer,
    log_signer: LogSigner,
) -> None:
    batch = _batch(session_factory, issuer)
    integrate_and_publish(session_factory, log_signer)
    page = client.get(_page(batch) + "?format=json").json()
    html = client.get(_page(batch)).text
    assert f'href="/records/{page["record_hash"]}.json"' in html
    body = client.get(f"/records/{page['record_hash']}.json").json()
    assert body["jws"] == page["jws"]
    log = body["log"]
    checkpoint = parse_checkpoint(log["checkpoint"].split("\n\n")[0] + "\n")
    merkle.verify_inclusion(
        index=log["leaf_index"],
        tree_size=log["tree_size"],
        leaf=record_entry(body["jws"]).leaf_hash,
        proof=[base64.b64decode(h) for h in log["inclusion_proof"]],
        root=checkpoint.root_hash,
    )
    assert log["first"]["tree_size"] <= log["tree_size"]
    assert client.get(f"/records/{'0' * 64}.json").status_code == 404
