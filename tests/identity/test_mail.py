"""The SMTP mailer, against aiosmtpd, an SMTP server we did not write."""

from __future__ import annotations

import email
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port
from tracetag.identity.mail import LogMailer, SmtpMailer


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_smtp_mailer_delivers(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender="tracetag@example.vn", starttls=False)
    mailer.send(to="lan@htx.vn", subject="Đặt lại mật khẩu", body="Mở liên kết: https://x/r/abc")
    [(sender, recipients, raw)] = inbox.messages
    assert sender == "tracetag@example.vn" and recipients == ["lan@htx.vn"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Đặt lại mật khẩu"
    assert "https://x/r/abc" in message.get_content()


def test_starttls_refused_by_a_server_without_it_is_an_error(smtp: tuple[Inbox, int]) -> None:
    """STARTTLS is on by default; a server that cannot do it does not get the link in clear."""
    inbox, port = smtp
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender="tracetag@example.vn")
    with pytest.raises(Exception, match="STARTTLS"):
        mailer.send(to="lan@htx.vn", subject="x", body="secret link")
    assert inbox.messages == []


def test_log_mailer_writes_the_message_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    LogMailer().send(to="lan@htx.vn", subject="Đặt lại mật khẩu", body="https://x/r/abc")
    assert "https://x/r/abc" in caplog.text and "lan@htx.vn" in caplog.text
