"""The live board's fan-out inside one process: one LISTEN connection, many browser streams.

Every committed change to a user's tasks NOTIFYs `taskly_live` with "<user> <seq> <task>"
(sql/migrations/0012_live.sql); every ended session NOTIFYs `taskly_sessions` with its token
hash. The `Listener` holds this process's one connection that LISTENs to both (not one per
browser) and hands each message to the `Hub`, which wakes the streams of that user, or ends
the streams of that session. A woken stream reads what changed from the database itself (see
taskly/live/stream.py), so a notification is only ever a wake-up call: one lost while the
listening connection was down costs nothing, because on reconnecting every stream is woken to
catch up, and re-checks its session.

The same connection hears `taskly_sessions` and `taskly_users` for the per-process session cache
(taskly/auth/cache.py), which drops entries through the hub's listener callbacks, and starts
empty again after the connection was down (`resync_listeners`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

log = logging.getLogger("taskly.live")

CHANGES = "taskly_live"
SESSIONS = "taskly_sessions"
USERS = "taskly_users"
MAX_STREAMS = 2000  # per process: each idle stream is a few tens of KB (bench/live.py)
MAX_PER_USER = 10  # per user and process: ten open tabs or devices
PING_EVERY = 30.0  # seconds between checks that the listening connection is alive
RECONNECT_MAX = 30.0


@dataclass(eq=False)
class Stream:
    """One browser's open event stream: who it is for, the last change number it has been
    sent, and the event the hub sets to wake it."""

    user_id: int
    token_hash: bytes
    seen: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: str | None = None  # why it must close: "logout", "shutdown"
    check_session: bool = False

    def end(self, why: str) -> None:
        self.ended = why
        self.wake.set()


class Full(Exception):
    """Too many streams: for this user (`per_user`) or for this process."""

    def __init__(self, per_user: bool) -> None:
        super().__init__("per user" if per_user else "per process")
        self.per_user = per_user


class Hub:
    def __init__(self, max_streams: int = MAX_STREAMS, max_per_user: int = MAX_PER_USER) -> None:
        self.max_streams = max_streams
        self.max_per_user = max_per_user
        self.by_user: dict[int, set[Stream]] = {}
        self.by_session: dict[bytes, set[Stream]] = {}
        self.count = 0
        self.closing = False
        # Per user: the newest change number heard, and the events being (or just) made for
        # it, shared by that user's streams (see taskly/live/stream.py).
        self.latest: dict[int, int] = {}
        self.made: dict[
            int, dict[tuple[int, str, str], asyncio.Future[tuple[int, str | None]]]
        ] = {}
        # Per user: the last counts and stats rendered for an event, and what they showed.
        self.oob: dict[int, tuple[object, str]] = {}
        self.session_listeners: list[Callable[[bytes], None]] = []
        self.user_listeners: list[Callable[[int], None]] = []
        self.resync_listeners: list[Callable[[], None]] = []

    def add(self, stream: Stream) -> None:
        mine = self.by_user.get(stream.user_id, set())
        if self.closing or self.count >= self.max_streams:
            raise Full(per_user=False)
        if len(mine) >= self.max_per_user:
            raise Full(per_user=True)
        self.by_user.setdefault(stream.user_id, set()).add(stream)
        self.by_session.setdefault(stream.token_hash, set()).add(stream)
        self.count += 1

    def remove(self, stream: Stream) -> None:
        mine = self.by_user.get(stream.user_id, set())
        if stream not in mine:
            return
        mine.discard(stream)
        if not mine:
            del self.by_user[stream.user_id]
            self.latest.pop(stream.user_id, None)
            self.made.pop(stream.user_id, None)
            self.oob.pop(stream.user_id, None)
        same = self.by_session[stream.token_hash]
        same.discard(stream)
        if not same:
            del self.by_session[stream.token_hash]
        self.count -= 1

    def changed(self, user_id: int, seq: int) -> None:
        if user_id not in self.by_user:
            return
        if seq > self.latest.get(user_id, 0):
            self.latest[user_id] = seq
            self.made.pop(user_id, None)  # made for an older number: a new one is needed
        for stream in self.by_user[user_id]:
            if seq > stream.seen:
                stream.wake.set()

    def session_ended(self, token_hash: bytes) -> None:
        for stream in list(self.by_session.get(token_hash, ())):
            stream.end("logout")
        for callback in self.session_listeners:
            callback(token_hash)

    def resync(self) -> None:
        """After the listening connection was down: every stream catches up and re-checks
        its session (a logout meanwhile was not heard)."""
        self.made.clear()
        for callback in self.resync_listeners:
            callback()
        for streams in self.by_user.values():
            for stream in streams:
                stream.check_session = True
                stream.wake.set()

    def close_all(self) -> None:
        """Shutting down: every stream ends now, so a graceful stop is not held up by them."""
        self.closing = True
        for streams in self.by_user.values():
            for stream in streams:
                stream.end("shutdown")

    # ---- NOTIFY payloads ------------------------------------------------------------------

    def on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        try:
            if channel == CHANGES:
                user, seq, _task = payload.split(" ")
                self.changed(int(user), int(seq))
            elif channel == SESSIONS:
                self.session_ended(bytes.fromhex(payload))
            elif channel == USERS:
                for callback in self.user_listeners:
                    callback(int(payload))
        except ValueError:
            log.warning("live: ignored a malformed %s notification", channel)


class Listener:
    """This process's one LISTEN connection, kept open (reconnecting with backoff) until
    `stop`. Not from the pool: a LISTEN lives as long as its connection, and behind PgBouncer
    in transaction mode it must be a direct connection (DATABASE_DIRECT_URL)."""

    def __init__(self, dsn: str, hub: Hub, connect_timeout: float) -> None:
        self.dsn = dsn
        self.hub = hub
        self.connect_timeout = connect_timeout
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="taskly-live-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 1.0
        first = True
        while True:
            try:
                await self._listen(first)
                delay = 1.0
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("live: listening connection lost (%s); retrying in %.0f s", exc, delay)
            self.listening.clear()
            first = False
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    async def _listen(self, first: bool) -> None:
        conn = await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout,
            server_settings={"application_name": "taskly-live"},
        )
        lost = asyncio.Event()

        def closed(_conn: object) -> None:
            self.listening.clear()  # at once: the session cache stops trusting its entries
            lost.set()

        conn.add_termination_listener(closed)
        try:
            await conn.add_listener(CHANGES, self.hub.on_notify)
            await conn.add_listener(SESSIONS, self.hub.on_notify)
            await conn.add_listener(USERS, self.hub.on_notify)
            if not first:
                self.hub.resync()
            self.listening.set()
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), PING_EVERY)
                except TimeoutError:
                    # A connection cut without a FIN (a network drop) only shows on use.
                    await conn.execute("SELECT 1", timeout=self.connect_timeout)
            raise OSError("connection closed")
        finally:
            if not conn.is_closed():
                conn.terminate()
