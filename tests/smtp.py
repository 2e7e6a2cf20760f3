"""A real SMTP server (aiosmtpd) on a free port that keeps what it receives: the `sink`
fixture, shared by every test package (see tests/conftest.py)."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """Collects messages. `reject` maps recipient → SMTP reply, to simulate refusals."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.reject: dict[str, str] = {}
        self.delay = 0.0  # seconds before each "250", like a slow mail server
        self.hang = False  # never answer DATA (until released), like a server gone silent
        self.on_accept: Any = None  # called with the count after each accepted message
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"smtp+insecure://127.0.0.1:{self.port}"
        self.controller: Controller | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        while self.hang:  # noqa: ASYNC110 - set from the test thread, not this loop
            await asyncio.sleep(0.05)
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        if self.on_accept is not None:
            self.on_accept(len(self.messages))
        return "250 Message accepted"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.hang = False
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]

    def to(self, subject_start: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Subject"].startswith(subject_start)]


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    yield server
    server.stop()
