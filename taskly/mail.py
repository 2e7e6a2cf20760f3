"""Building and sending mail: one place. SMTP_URL decides the transport:

- ``smtps://user:pass@host:465``  implicit TLS;
- ``smtp://user:pass@host:587``   STARTTLS, required: a server that cannot do it is refused,
  so credentials and mail never travel in clear;
- ``smtp+insecure://localhost:1025``  no TLS at all, accepted only for a loopback host (the
  development mail sink, tests).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

LOOPBACK = ("localhost", "127.0.0.1", "::1")


class MailConfigError(ValueError):
    """SMTP_URL is malformed or unsafe."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if not parts.hostname:
            raise MailConfigError("SMTP_URL needs a host, e.g. smtp://user:pass@mail.example:587")
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if parts.scheme == "smtps":
            return cls(parts.hostname, parts.port or 465, user, password, True, False)
        if parts.scheme == "smtp":
            return cls(parts.hostname, parts.port or 587, user, password, False, True)
        if parts.scheme == "smtp+insecure":
            if parts.hostname not in LOOPBACK:
                raise MailConfigError(
                    "SMTP_URL: smtp+insecure:// (no TLS) is allowed only for localhost"
                )
            return cls(parts.hostname, parts.port or 25, user, password, False, False)
        raise MailConfigError("SMTP_URL must start with smtps://, smtp:// or smtp+insecure://")


class TemporaryMailError(Exception):
    """Try again later: connection refused, timeout, 4xx."""


class PermanentMailError(Exception):
    """Do not retry: the server refused the message or recipient (5xx)."""


@dataclass(frozen=True, slots=True)
class Mail:
    """A message ready for SMTP: envelope sender, recipient, and the RFC 5322 bytes."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_UTF8.body_encoding = QP
_WIRE = policy.compat32.clone(linesep="\r\n", max_line_length=998)  # no folded URLs


def header_text(value: str) -> str:
    """Text for a header: control characters, line breaks and other invisibles become spaces
    (a task title with \\x1b or a line separator must not reach the Subject: raw)."""
    return "".join(ch if ch.isprintable() else " " for ch in value)


def _header(value: str) -> str:
    value = header_text(value)
    return value if value.isascii() else Header(value, _UTF8).encode()


def build_message(
    *,
    sender: str,
    to: str,
    to_name: str,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    headers: dict[str, str] | None = None,
) -> Mail:
    """A multipart/alternative message (text, and HTML when given), quoted-printable UTF-8.

    Built with the compat32 email classes and serialised once, here: the modern EmailMessage
    API costs several times more per message, which decides how fast reminders go out."""
    # typeshed says str, but MIMEText takes a Charset too (quoted-printable, not base64)
    body = MIMEText(text, "plain", _UTF8)  # type: ignore[arg-type]
    if html is not None:
        message: MIMEMultipart | MIMEText = MIMEMultipart("alternative")
        message.attach(body)
        message.attach(MIMEText(html, "html", _UTF8))  # type: ignore[arg-type]
    else:
        message = body
    message["From"] = _header(sender)
    message["To"] = formataddr((header_text(to_name), to), charset="utf-8")
    message["Subject"] = _header(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        message[name] = value
    return Mail(parseaddr(sender)[1], to, message_id, message.as_bytes(policy=_WIRE))


class Mailer:
    """One SMTP connection, opened on first use and reused for a batch of messages.

    A server that stops answering is dropped without a QUIT (which would wait on it again);
    one that answered with an error gets a QUIT bounded by QUIT_TIMEOUT."""

    QUIT_TIMEOUT = 2.0

    def __init__(self, config: SmtpConfig, timeout: float) -> None:
        self.config = config
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context()
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            use_tls=cfg.implicit_tls,
            start_tls=False,
            timeout=self.timeout,
            tls_context=context,
        )
        await client.connect()
        if cfg.starttls:
            if not client.supports_extension("starttls"):
                await client.quit()
                raise PermanentMailError(f"{cfg.host} does not offer STARTTLS; refusing to send")
            await client.starttls(tls_context=context)
        if cfg.username:
            await client.login(cfg.username, cfg.password or "")
        return client

    async def send(self, mail: Mail) -> None:
        """Send one message; raise TemporaryMailError or PermanentMailError on failure."""
        try:
            if self._client is None or not self._client.is_connected:
                self._client = await self._connect()
            await self._client.sendmail(
                mail.sender, [mail.recipient], mail.data, timeout=self.timeout
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            await self.close()
            reasons = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(500 <= r.code < 600 for r in exc.recipients):
                raise PermanentMailError(reasons) from exc
            raise TemporaryMailError(reasons) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self.close()
            if 500 <= exc.code < 600:
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise TemporaryMailError(f"{exc.code} {exc.message}") from exc
        except PermanentMailError:
            await self.close()
            raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self.abort()
            raise TemporaryMailError(str(exc) or type(exc).__name__) from exc

    def abort(self) -> None:
        """Drop the connection at once."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit(timeout=min(self.QUIT_TIMEOUT, self.timeout))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
