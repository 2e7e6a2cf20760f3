"""Reading a text/event-stream as a browser's EventSource does: events with their type, id and
data; comment lines (heartbeats) and `retry:` are skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

WAIT = 15.0  # generous: a stuck stream fails the test, a slow machine does not


@dataclass
class Event:
    type: str
    id: str | None
    data: str


class EventReader:
    def __init__(self, receive: Callable[[], Awaitable[bytes]]) -> None:
        self.receive = receive
        self.buffer = ""
        self.ended = False

    async def next(self, wait: float = WAIT) -> Event:
        """The next event; raises EOFError when the stream ends first."""
        async with asyncio.timeout(wait):
            while True:
                event = self._parse(await self._block())
                if event is not None:
                    return event

    async def comment(self, wait: float = WAIT) -> str:
        """The next comment line (a heartbeat), skipping events."""
        async with asyncio.timeout(wait):
            while not (block := await self._block()).startswith(":"):
                pass
            return block

    async def _block(self) -> str:
        while True:
            block, sep, rest = self.buffer.partition("\n\n")
            if sep:
                self.buffer = rest
                return block
            chunk = await self.receive()
            if not chunk:
                self.ended = True
                raise EOFError("the stream ended")
            self.buffer += chunk.decode()

    @staticmethod
    def _parse(block: str) -> Event | None:
        kind, ident, data = "message", None, []
        fields = 0
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind, fields = value, fields + 1
            elif name == "id":
                ident, fields = value, fields + 1
            elif name == "data":
                data.append(value)
                fields += 1
        if not fields:
            return None  # retry: or comments only
        return Event(kind, ident, "\n".join(data))
