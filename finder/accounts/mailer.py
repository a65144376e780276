"""Sending mail through one small interface, with implementations registered by name.

`MAIL_BACKEND` picks one: `file` (the default: each message becomes an .eml file in
`MAIL_FILE_DIR`, which is what development and the tests read), `console` (logged), or
`smtp` (configured by MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS,
MAIL_USE_SSL). A dotted `package.module:Class` names an implementation outside this module.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


MAILERS: dict[str, Callable[[Mapping[str, Any]], Mailer]] = {}


def register(name: str):
    """Class decorator: make a mailer available as `MAIL_BACKEND=name`."""

    def wrap(cls):
        MAILERS[name] = cls.from_config
        return cls

    return wrap


class MailerConfigError(ValueError):
    pass


def from_config(config: Mapping[str, Any]) -> Mailer:
    name = config.get("MAIL_BACKEND") or "file"
    if ":" in name:
        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr).from_config(config)
    try:
        return MAILERS[name](config)
    except KeyError:
        raise MailerConfigError(
            f"MAIL_BACKEND={name!r} is not one of {', '.join(sorted(MAILERS))}"
        ) from None


def compose(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    message.set_content(body)
    return message


@register("console")
class ConsoleMailer:
    """Logs each message (development without a mail folder)."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConsoleMailer:
        return cls()

    def send(self, message: EmailMessage) -> None:
        log.warning("mail to %s: %s\n%s", message["To"], message["Subject"],
                    message.get_content())


@register("file")
class FileMailer:
    """Writes each message as an .eml file; names sort in the order they were sent."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FileMailer:
        return cls(Path(config["MAIL_FILE_DIR"]))

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(message.as_bytes())
        log.info("mail to %s written to %s", message["To"], path)


@register("smtp")
class SmtpMailer:
    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 use_tls: bool, use_ssl: bool, timeout: float = 10.0) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.use_tls, self.use_ssl, self.timeout = use_tls, use_ssl, timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpMailer:
        if not config.get("MAIL_SERVER"):
            raise MailerConfigError("MAIL_BACKEND=smtp needs MAIL_SERVER")
        return cls(config["MAIL_SERVER"], int(config.get("MAIL_PORT") or 587),
                   config.get("MAIL_USERNAME"), config.get("MAIL_PASSWORD"),
                   bool(config.get("MAIL_USE_TLS", True)), bool(config.get("MAIL_USE_SSL")))

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.use_tls and not self.use_ssl:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
