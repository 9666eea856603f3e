"""Sending the few e-mails tracetag sends (password-reset links): SMTP, or the log."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

log = logging.getLogger("tracetag.mail")


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, body: str) -> None: ...


class LogMailer:
    """Development: the message goes to the server's log instead of anyone's inbox."""

    def send(self, *, to: str, subject: str, body: str) -> None:
        log.warning("e-mail not sent (no SMTP server configured) to %s: %s\n%s", to, subject, body)


@dataclass(frozen=True)
class SmtpMailer:
    """Production: a configured SMTP server, with STARTTLS unless told otherwise."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 15.0

    def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
