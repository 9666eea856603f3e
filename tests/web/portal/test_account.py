"""Signing in and out of the portal: sessions, cookies, form tokens and limits."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.portal.conftest import PASSWORD, Account, form_token, sign_in
from tracetag.identity.models import UserSession


def test_a_page_of_the_portal_sends_a_stranger_to_sign_in_and_back(client: TestClient) -> None:
    answer = client.get("/portal/dashboard", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/login?next=/portal/dashboard"


def test_sign_in_sets_a_strict_session_cookie_and_opens_the_dashboard(
    client: TestClient, owner: Account, session: Session
) -> None:
    token = form_token(client, "/portal/login")
    answer = client.post(
        "/portal/login",
        data={"email": owner.email.upper(), "password": PASSWORD, "csrftoken": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/dashboard"
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("tt_session="))
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "secure", "path", "samesite"} <= attributes  # the test base is https
    assert "samesite=lax" in cookie.lower() and "path=/portal" in cookie.lower()
    value = cookie.split(";")[0].split("=", 1)[1]
    stored = session.scalars(select(UserSession.token_hash)).all()
    assert value not in stored  # only its hash is kept
    page = client.get("/portal/dashboard")
    assert page.status_code == 200
    assert page.headers["content-language"] == "vi"
    assert "Tổng quan" in page.text and "Nguyễn Thị Lan" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_wrong_password_says_so_in_vietnamese_and_opens_nothing(
    client: TestClient, owner: Account
) -> None:
    token = form_token(client, "/portal/login")
    answer = client.post(
        "/portal/login",
        data={"email": owner.email, "password": "sai mật khẩu rồi", "csrftoken": token},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "Sai địa chỉ e-mail hoặc mật khẩu." in answer.text
    assert not any(c.startswith("tt_session=") for c in answer.headers.get_list("set-cookie"))
    assert client.get("/portal/dashboard", follow_redirects=False).status_code == 303


def test_a_form_without_its_token_is_refused(client: TestClient, owner: Account) -> None:
    form_token(client, "/portal/login")  # the browser has the cookie, but the form lacks it
    answer = client.post(
        "/portal/login", data={"email": owner.email, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert "Biểu mẫu đã hết hạn" in answer.text


def test_a_sign_in_from_a_browser_without_any_cookie_is_refused(
    client: TestClient, owner: Account
) -> None:
    # Login CSRF: another site posting our form in a fresh browser must not sign it in.
    answer = client.post(
        "/portal/login",
        data={"email": owner.email, "password": PASSWORD, "csrftoken": "forged"},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_sign_out_ends_the_session_for_good(signed_in: TestClient) -> None:
    stolen = signed_in.cookies.get("tt_session")
    token = form_token(signed_in, "/portal/dashboard")
    answer = signed_in.post("/portal/logout", data={"csrftoken": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert "Bạn đã đăng xuất" in signed_in.get(answer.headers["location"]).text
    signed_in.cookies.set("tt_session", stolen, path="/portal")
    assert signed_in.get("/portal/dashboard", follow_redirects=False).status_code == 303


def test_after_sign_in_the_browser_returns_only_inside_the_portal(
    client: TestClient, owner: Account
) -> None:
    for asked, expected in [
        ("/portal/products", "/portal/products"),
        ("//evil.example/portal/", "/portal/dashboard"),
        ("https://evil.example", "/portal/dashboard"),
        ("/portal/\\evil.example", "/portal/dashboard"),
    ]:
        client.cookies.clear()
        token = form_token(client, "/portal/login")
        answer = client.post(
            "/portal/login",
            data={"email": owner.email, "password": PASSWORD, "csrftoken": token, "next": asked},
            follow_redirects=False,
        )
        assert answer.headers["location"] == expected


def test_failed_sign_ins_are_held_with_a_wait_a_person_can_read(
    client: TestClient, owner: Account
) -> None:
    token = form_token(client, "/portal/login")
    codes = []
    for _ in range(6):
        answer = client.post(
            "/portal/login",
            data={"email": owner.email, "password": "không đúng đâu", "csrftoken": token},
        )
        codes.append(answer.status_code)
    assert codes == [400] * 5 + [429]
    assert int(answer.headers["retry-after"]) >= 1
    assert re.search(r"Vui lòng chờ \d+ phút", answer.text)
    # The right password waits too, until the window has passed.
    held = client.post(
        "/portal/login", data={"email": owner.email, "password": PASSWORD, "csrftoken": token}
    )
    assert held.status_code == 429


def test_pages_come_in_english_when_asked_and_remember_it(signed_in: TestClient) -> None:
    page = signed_in.get("/portal/dashboard?lang=en")
    assert "Overview" in page.text and page.headers["content-language"] == "en"
    again = signed_in.get("/portal/dashboard")
    assert again.headers["content-language"] == "en"


def test_a_password_reset_link_sets_a_new_password_once(
    client: TestClient,
    owner: Account,
    app,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    sent: list[str] = []

    class Inbox:
        def send(self, *, to: str, subject: str, body: str) -> None:
            sent.append(body)

    app.state.mailer = Inbox()
    token = form_token(client, "/portal/password/forgot")
    answer = client.post("/portal/password/forgot", data={"email": owner.email, "csrftoken": token})
    unknown = client.post(
        "/portal/password/forgot", data={"email": "ai-do@htx.example", "csrftoken": token}
    )
    assert answer.text.count("Nếu địa chỉ này có tài khoản") == 1
    assert unknown.status_code == answer.status_code == 200
    assert len(sent) == 1
    link = re.search(r"https://tracetag\.test(/portal/password/reset\?token=\S+)", sent[0])
    assert link
    form = form_token(client, link.group(1))
    reset_token = link.group(1).split("token=")[1]
    new = "một mật khẩu mới hẳn"
    done = client.post(
        "/portal/password/reset",
        data={
            "token": reset_token,
            "password": new,
            "password_again": new,
            "csrftoken": form,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    again = client.post(
        "/portal/password/reset",
        data={"token": reset_token, "password": new, "password_again": new, "csrftoken": form},
    )
    assert again.status_code == 400 and "không còn hiệu lực" in again.text
    sign_in(client, owner.email, new)


def test_signing_in_again_ends_the_session_the_browser_held_and_renews_the_form_token(
    client: TestClient, owner: Account, session: Session
) -> None:
    sign_in(client, owner.email)
    first = client.cookies.get("tt_session")
    old_token = form_token(client, "/portal/dashboard")
    sign_in(client, owner.email)
    assert client.cookies.get("tt_session") != first
    live = session.scalars(select(UserSession).where(UserSession.ended_at.is_(None))).all()
    assert len(live) == 1  # the earlier session of this browser has ended
    assert form_token(client, "/portal/dashboard") != old_token


def test_a_flood_of_reset_requests_for_one_address_sends_a_few_mails(
    client: TestClient,
    owner: Account,
    app,  # type: ignore[no-untyped-def]
) -> None:
    sent: list[str] = []

    class Inbox:
        def send(self, *, to: str, subject: str, body: str) -> None:
            sent.append(to)

    app.state.mailer = Inbox()
    token = form_token(client, "/portal/password/forgot")
    for _ in range(8):
        answer = client.post(
            "/portal/password/forgot", data={"email": owner.email, "csrftoken": token}
        )
        assert answer.status_code == 200 and "Nếu địa chỉ này có tài khoản" in answer.text
    assert len(sent) == 3


def test_a_form_with_more_files_than_it_takes_is_refused(signed_in: TestClient) -> None:
    token = form_token(signed_in, "/portal/batches/new")
    answer = signed_in.post(
        "/portal/batches/new",
        data={"csrftoken": token, "lot": "X"},
        files=[("junk", (f"f{i}.txt", b"x", "text/plain")) for i in range(3)],
    )
    assert answer.status_code == 400
