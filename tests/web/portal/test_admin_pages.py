"""Sign-up, approval by an administrator, suspension; API keys; the audit log's pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.web.portal.conftest import PASSWORD, Account, form_token, make_account, sign_in
from tracetag.audit.models import AuditEvent
from tracetag.identity.models import ApiKey, MemberRole, Role, User
from tracetag.identity.passwords import Passwords
from tracetag.producers.models import Producer

SIGNUP = {
    "kind": "household",
    "name": "Hộ kinh doanh Mật ong Bà Tư",
    "registration_code": "HKD-5501",
    "address_line": "Ấp Tân Lập",
    "commune": "Xã Ea Tul",
    "province": "Tỉnh Đắk Lắk",
    "phone": "0262 3855 111",
    "ocop.stars": "3",
    "ocop.certificate_no": "77/QĐ-UBND",
    "ocop.issuer": "UBND tỉnh Đắk Lắk",
    "ocop.issued_on": "2025-09-01",
    "account_name": "Trần Thị Tư",
    "account_email": "batu@mat-ong.example",
    "password": PASSWORD,
    "password_again": PASSWORD,
}


def _sign_up(client: TestClient, **changes: str) -> TestClient:
    token = form_token(client, "/portal/signup")
    answer = client.post(
        "/portal/signup", data={"csrftoken": token, **SIGNUP, **changes}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/portal/dashboard?done=signed-up"
    return client


def _admin(client: TestClient, session: Session, passwords: Passwords) -> Account:
    account = make_account(session, passwords, role=Role.ADMIN, member_role=None)
    sign_in(client, account.email)
    return account


def test_a_producer_signs_up_prepares_products_and_waits_then_is_approved(
    app,
    session: Session,
    passwords: Passwords,  # type: ignore[no-untyped-def]
) -> None:
    with TestClient(app, base_url="https://tracetag.test") as producer:
        _sign_up(producer)
        page = producer.get("/portal/dashboard?done=signed-up")
        assert "Đang chờ duyệt." in page.text and "Hộ kinh doanh Mật ong Bà Tư" in page.text
        token = form_token(producer, "/portal/products/new")
        gtin = factories.random_gtin13()
        made = producer.post(
            "/portal/products/new",
            data={
                "csrftoken": token,
                "name": "Mật ong hoa cà phê",
                "gtin": gtin,
                "category": "food",
                "unit": "chai 500 ml",
            },
            follow_redirects=False,
        )
        assert made.status_code == 303  # products may be prepared before approval
        product_id = made.headers["location"].split("?")[0].rsplit("/", 1)[1]
        batch_form = {
            "csrftoken": token,
            "product_id": product_id,
            "lot": "MO-01",
            "quantity": "100",
            "quantity_unit": "chai",
            "production_date": "2026-11-01",
            "expiry_date": "2028-11-01",
            "price_vnd": "185000",
            "origin.area": "Trại ong",
            "origin.commune": "Xã Ea Tul",
            "origin.province": "Tỉnh Đắk Lắk",
        }
        refused = producer.post("/portal/batches/new", data=batch_form)
        assert refused.status_code == 403 and "Chưa được ký" in refused.text

        stored = session.scalars(select(Producer).where(Producer.registration_code == "HKD-5501"))
        waiting = stored.one()
        assert waiting.status == "pending" and waiting.ocop_stars == 3
        with TestClient(app, base_url="https://tracetag.test") as admin:
            _admin(admin, session, passwords)
            overview = admin.get("/portal/admin")
            assert "Không có chủ thể nào đang chờ duyệt." not in overview.text
            assert f"/portal/admin/producers/{waiting.id}" in overview.text
            token_admin = form_token(admin, f"/portal/admin/producers/{waiting.id}")
            done = admin.post(
                f"/portal/admin/producers/{waiting.id}/approve",
                data={"csrftoken": token_admin},
                follow_redirects=False,
            )
            assert done.status_code == 303
        signed = producer.post("/portal/batches/new", data=batch_form, follow_redirects=False)
        assert signed.status_code == 303, signed.text

    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.producer_id == waiting.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "producer.create",
        "user.create",
        "product.create",
        "producer.approve",
        "batch.create",
    ]


def test_sign_up_mistakes_are_said_beside_their_fields_and_nothing_is_stored(
    client: TestClient, session: Session
) -> None:
    token = form_token(client, "/portal/signup")
    answer = client.post(
        "/portal/signup",
        data={
            "csrftoken": token,
            **SIGNUP,
            "registration_code": "có dấu cách",
            "password_again": "khác hẳn đi rồi",
        },
    )
    assert answer.status_code == 400
    assert 'id="e-password"' in answer.text and "Hai mật khẩu không giống nhau." in answer.text
    assert session.scalar(select(User).where(User.email == SIGNUP["account_email"])) is None
    second = client.post(
        "/portal/signup",
        data={"csrftoken": token, **SIGNUP, "registration_code": "có dấu cách"},
    )
    assert second.status_code == 400 and 'id="e-registration_code"' in second.text
    assert session.scalar(select(Producer).where(Producer.name == SIGNUP["name"])) is None


def test_an_admin_suspends_with_a_reason_the_producer_sees_it_and_signs_nothing(
    app,
    session: Session,
    passwords: Passwords,
    owner: Account,  # type: ignore[no-untyped-def]
) -> None:
    with TestClient(app, base_url="https://tracetag.test") as admin:
        _admin(admin, session, passwords)
        token = form_token(admin, f"/portal/admin/producers/{owner.producer_id}")
        empty = admin.post(
            f"/portal/admin/producers/{owner.producer_id}/suspend", data={"csrftoken": token}
        )
        assert empty.status_code == 400 and "Vui lòng điền mục này." in empty.text
        done = admin.post(
            f"/portal/admin/producers/{owner.producer_id}/suspend",
            data={"csrftoken": token, "reason": "Giấy chứng nhận OCOP hết hạn <b>gia hạn</b>"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        log = admin.get(f"/portal/admin/audit?producer={owner.producer_id}").text
        assert "producer.suspend" in log
    with TestClient(app, base_url="https://tracetag.test") as producer:
        sign_in(producer, owner.email)
        page = producer.get("/portal/dashboard").text
        assert "Đang bị tạm ngừng." in page
        assert "Giấy chứng nhận OCOP hết hạn &lt;b&gt;gia hạn&lt;/b&gt;" in page
        assert "producer.suspend" in producer.get("/portal/history").text


def test_an_owner_makes_an_api_key_seen_once_and_revokes_it(
    signed_in: TestClient, owner: Account, session: Session
) -> None:
    token = form_token(signed_in, "/portal/keys")
    made = signed_in.post("/portal/keys", data={"csrftoken": token, "label": "phần mềm bán hàng"})
    key = re.search(r"(tt_[A-Za-z0-9_-]{20,})", made.text)
    assert key
    assert (
        signed_in.get("/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"}).json()[
            "id"
        ]
        == owner.producer_id
    )
    assert key.group(1) not in signed_in.get("/portal/keys").text  # shown once
    row = session.scalars(select(ApiKey).where(ApiKey.label == "phần mềm bán hàng")).one()
    signed_in.post(f"/portal/keys/{row.id}/revoke", data={"csrftoken": token})
    me = signed_in.get("/api/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert me.status_code == 401


def test_staff_members_cannot_manage_keys_and_producers_cannot_open_admin_pages(
    client: TestClient, session: Session, passwords: Passwords, owner: Account
) -> None:
    staff = make_account(
        session,
        passwords,
        producer_id=owner.producer_id,
        member_role=MemberRole.STAFF,
    )
    sign_in(client, staff.email)
    assert client.get("/portal/keys").status_code == 403
    for path in ("/portal/admin", "/portal/admin/users", "/portal/admin/audit"):
        assert client.get(path).status_code == 403


def test_an_admin_makes_an_inspector_account(
    client: TestClient, session: Session, passwords: Passwords
) -> None:
    _admin(client, session, passwords)
    token = form_token(client, "/portal/admin/users")
    made = client.post(
        "/portal/admin/users",
        data={
            "csrftoken": token,
            "name": "Lê Văn Kiểm",
            "email": "kiem@qltt.example",
            "role": "inspector",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    user = session.scalars(select(User).where(User.email == "kiem@qltt.example")).one()
    assert user.role == "inspector"
    refused = client.post(
        "/portal/admin/users",
        data={
            "csrftoken": token,
            "name": "X",
            "email": "x@y.example",
            "role": "producer",
            "password": PASSWORD,
        },
    )
    assert refused.status_code == 400


def test_an_owner_adds_a_member_who_sets_a_password_from_the_mailed_link(
    app,
    signed_in: TestClient,
    owner: Account,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    sent: list[str] = []

    class Inbox:
        def send(self, *, to: str, subject: str, body: str) -> None:
            sent.append(body)

    app.state.mailer = Inbox()
    token = form_token(signed_in, "/portal/profile")
    added = signed_in.post(
        "/portal/members",
        data={
            "csrftoken": token,
            "name": "Phạm Văn Năm",
            "email": "nam@htx.example",
            "member_role": "staff",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    link = re.search(r"https://tracetag\.test(/portal/password/reset\?token=\S+)", sent[0])
    assert link and "Nguyễn Thị Lan" in sent[0]
    member = session.scalars(select(User).where(User.email == "nam@htx.example")).one()
    assert (member.producer_id, member.member_role) == (owner.producer_id, "staff")
    with TestClient(app, base_url="https://tracetag.test") as newcomer:
        form = form_token(newcomer, link.group(1))
        new = "mật khẩu của Năm 2026"
        set_ = newcomer.post(
            "/portal/password/reset",
            data={
                "csrftoken": form,
                "token": link.group(1).split("token=")[1],
                "password": new,
                "password_again": new,
            },
            follow_redirects=False,
        )
        assert set_.status_code == 303
        sign_in(newcomer, "nam@htx.example", new)
        assert newcomer.get("/portal/keys").status_code == 403  # staff
