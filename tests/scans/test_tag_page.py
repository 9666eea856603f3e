"""The unit-tag page: genuine, online-only, forged, unknown, moved; scan counts and copies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tracetag.gs1.digital_link import tag_digital_link
from tracetag.scans.models import Scan
from tracetag.signing.issuer import Issuer
from tracetag.tags.models import Tag


@pytest.fixture
def tags(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    producer = factories.make_producer(session)
    product = factories.make_product(session, producer)
    batch = factories.make_batch(session, issuer, product, lot="L-01")
    other = factories.make_batch(session, issuer, product, lot="L-02")
    session.commit()
    _, signed = factories.make_tags(session_factory, issuer, batch, 3)
    _, unsigned = factories.make_tags(session_factory, issuer, batch, 1, signed=False)
    _, elsewhere = factories.make_tags(session_factory, issuer, other, 1)
    return {
        "gtin": product.gtin,
        "signed": signed,
        "unsigned": unsigned[0],
        "elsewhere": elsewhere[0],
    }


def _path(gtin: str, lot: str, tag_serial: str, digsig: str | None) -> str:
    return tag_digital_link("", gtin, lot, tag_serial, digsig)


def _json(client: TestClient, path: str, **headers: str) -> dict[str, Any]:
    r = client.get(path, headers={"Accept": "application/json", **headers})
    return dict(r.json())


def test_genuine_signed_tag(client: TestClient, tags: dict[str, Any]) -> None:
    tag = tags["signed"][0]
    path = _path(tags["gtin"], "L-01", tag.serial, tag.digsig)
    html = client.get(path, headers={"Accept-Language": "vi"}).text
    assert "Tem chính hãng (chữ ký hợp lệ)" in html
    assert "Đây là lần đầu tiên mã này được quét" in html
    assert "Gạo ST25 Mỹ Xuyên" in html  # everything the batch page shows
    data = _json(client, path)
    assert data["tag"]["status"] == "genuine"
    assert data["tag"]["scans_before"] == 1
    assert data["verification"]["status"] == "valid"


def test_unsigned_tag_is_verified_online(client: TestClient, tags: dict[str, Any]) -> None:
    tag = tags["unsigned"]
    data = _json(client, _path(tags["gtin"], "L-01", tag.serial, None))
    assert data["tag"]["status"] == "online"
    html = client.get(_path(tags["gtin"], "L-01", tag.serial, None)).text
    assert "đã xác minh trực tuyến" in html


def test_tampered_8030_is_flagged(client: TestClient, tags: dict[str, Any]) -> None:
    tag = tags["signed"][1]
    digsig = tag.digsig
    flipped = digsig[:10] + ("A" if digsig[10] != "A" else "B") + digsig[11:]
    path = _path(tags["gtin"], "L-01", tag.serial, flipped)
    data = _json(client, path)
    assert data["tag"]["status"] == "forged"
    html = client.get(path).text
    assert "tem này không do tracetag phát hành" in html
    # a signed tag printed without its signature is not genuine either
    assert _json(client, _path(tags["gtin"], "L-01", tag.serial, None))["tag"]["status"] == "forged"


def test_unknown_serial_on_known_batch(client: TestClient, tags: dict[str, Any]) -> None:
    path = _path(tags["gtin"], "L-01", "ZZZZZZZZZZZZZ", None)
    r = client.get(path)
    assert r.status_code == 404
    assert "Không do nhà sản xuất này phát hành: nhiều khả năng là hàng giả" in r.text
    assert "Traceback" not in r.text


def test_serial_moved_to_another_batch(client: TestClient, tags: dict[str, Any]) -> None:
    tag = tags["elsewhere"]  # issued for L-02, printed on an L-01 label
    data = _json(client, _path(tags["gtin"], "L-01", tag.serial, tag.digsig))
    assert data["tag"]["status"] == "moved"
    html = client.get(_path(tags["gtin"], "L-01", tag.serial, tag.digsig)).text
    assert "số sê-ri này thuộc về lô hàng khác" in html


def _from(app: Any, address: str) -> TestClient:
    """A client on another network: copy detection tells clients apart by their network."""
    return TestClient(app, base_url=BASE_URL, client=(address, 50000))


def test_scans_are_counted_and_copies_warned(
    client: TestClient, session: Session, tags: dict[str, Any], app: Any
) -> None:
    tag = tags["signed"][2]
    path = _path(tags["gtin"], "L-01", tag.serial, tag.digsig)
    limit = app.state.settings.copy_max_clients
    for i in range(limit):
        data = _json(_from(app, f"203.0.{i}.7"), path)
        assert data["tag"]["scans_before"] == i
    assert data["tag"]["copy_warning"] is True
    assert data["tag"]["recent_clients"] == limit
    html = client.get(path).text
    assert "Mã này có thể đã bị sao chép" in html
    stored = session.scalars(select(Scan).where(Scan.tag_id == tag.id)).all()
    assert len(stored) == limit + 1
    assert all(len(s.client_hash) == 32 and "." not in s.client_hash for s in stored)
    assert all(len(s.network_hash) == 32 and s.suspicious is None for s in stored)
    stored_tag = session.get(Tag, tag.id)
    assert stored_tag is not None
    assert stored_tag.scan_count == limit + 1
    assert stored_tag.first_scanned_at is not None


def test_forged_scans_never_make_the_genuine_tag_look_copied(
    client: TestClient, session: Session, tags: dict[str, Any], app: Any
) -> None:
    tag = tags["signed"][1]
    forged = _path(tags["gtin"], "L-01", tag.serial, tags["signed"][0].digsig)
    bare = _path(tags["gtin"], "L-01", tag.serial, None)
    for i in range(50):  # 50 forged or stripped labels, from 50 networks
        data = _json(_from(app, f"198.51.{i}.9"), forged if i % 2 else bare)
        assert data["tag"]["status"] == "forged"
        assert data["tag"]["copy_warning"] is False
    data = _json(client, _path(tags["gtin"], "L-01", tag.serial, tag.digsig))
    assert data["tag"]["status"] == "genuine"
    assert data["tag"]["scans_before"] == 0
    assert data["tag"]["copy_warning"] is False
    assert data["tag"]["recent_clients"] == 1
    stored = session.scalars(select(Scan).where(Scan.tag_id == tag.id)).all()
    reasons = sorted({str(s.suspicious) for s in stored})
    assert reasons == ["None", "signature_mismatch", "signature_missing"]
    stored_tag = session.get(Tag, tag.id)
    assert stored_tag is not None and stored_tag.scan_count == 1


def test_one_machine_with_many_user_agents_is_not_many_clients(
    client: TestClient, tags: dict[str, Any], app: Any
) -> None:
    tag = tags["signed"][2]
    path = _path(tags["gtin"], "L-01", tag.serial, tag.digsig)
    for i in range(10):
        data = _json(client, path, **{"User-Agent": f"Mozilla/5.0 phone-{i} Chrome/{100 + i}"})
    assert data["tag"]["scans_before"] == 9
    assert data["tag"]["copy_warning"] is False
    assert data["tag"]["recent_clients"] == app.state.settings.copy_clients_per_network
    html = client.get(path).text
    assert "Mã này có thể đã bị sao chép" not in html


def test_phones_behind_one_nat_count_as_more_than_one_client(
    tags: dict[str, Any], app: Any
) -> None:
    tag = tags["signed"][0]
    path = _path(tags["gtin"], "L-01", tag.serial, tag.digsig)
    nat = _from(app, "100.64.3.20")
    for agent in ("Zalo/23", "Mozilla/5.0 Chrome/120", "Mozilla/5.0 Safari/605"):
        data = _json(nat, path, **{"User-Agent": agent})
    assert data["tag"]["recent_clients"] == 2


def test_one_phone_scanning_twice_is_no_copy(client: TestClient, tags: dict[str, Any]) -> None:
    tag = tags["signed"][0]
    path = _path(tags["gtin"], "L-01", tag.serial, tag.digsig)
    for _ in range(3):
        data = _json(client, path, **{"User-Agent": "Zalo/23 Mobile"})
    assert data["tag"]["copy_warning"] is False
    assert data["tag"]["recent_clients"] == 1
