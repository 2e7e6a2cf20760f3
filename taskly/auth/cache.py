"""A per-process cache of sessions: most requests skip the session query (issue #14).

Sessions stay revocable at once on every instance: whatever ends a session or changes what the
session query returns announces it through PostgreSQL (sql/migrations/0012_live.sql):
`taskly_sessions` with the token hash (a logout, "log out everywhere else", a password change,
expiry, an account deleted), `taskly_users` with the user id (a profile or address change, mail
sent today). The live board's listener (taskly/live/hub.py) hears both on its one connection per
process and drops the entries here. While that connection is down nothing is cached, and when it
is back the cache starts empty, so a notification it missed cannot leave a revoked session in.

An entry lives at most TTL seconds and never past the session's own idle or absolute timeout.
What it may show stale for up to TTL: the live board's change number a page starts its stream
from (the stream then sends a few cards the page already has, which change nothing).

A read that raced an invalidation is not kept: `version()` before the query, `put()` with it,
and any drop in between makes the put a no-op (a session revoked while its row was being read
must not be cached as valid).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from taskly.auth.model import SessionUser

SESSION_CACHE_KEY = "taskly.session_cache"
TTL = 30.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    found: SessionUser
    fresh_until: float  # time.monotonic()
    ends: datetime  # the session's own idle or absolute end, whichever comes first


class SessionCache:
    def __init__(self, listening: Callable[[], bool]) -> None:
        self.listening = listening
        self.entries: dict[bytes, _Entry] = {}
        self.by_user: dict[int, set[bytes]] = {}
        self._version = 0

    def version(self) -> int:
        return self._version

    def get(self, key: bytes, now: datetime) -> SessionUser | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if not self.listening() or time.monotonic() > entry.fresh_until or now >= entry.ends:
            self._forget(key)
            return None
        return entry.found

    def put(
        self, key: bytes, found: SessionUser, version: int, idle: float, absolute: float
    ) -> None:
        if version != self._version or not self.listening():
            return
        if len(self.entries) >= MAX_ENTRIES:
            for old in list(self.entries)[: MAX_ENTRIES // 2]:  # the oldest half
                self._forget(old)
        ends = min(
            found.last_seen_at + timedelta(seconds=idle),
            found.created_at + timedelta(seconds=absolute),
        )
        self.entries[key] = _Entry(found, time.monotonic() + TTL, ends)
        self.by_user.setdefault(found.user.id, set()).add(key)

    def drop_session(self, key: bytes) -> None:
        self._version += 1
        self._forget(key)

    def drop_user(self, user_id: int) -> None:
        self._version += 1
        for key in list(self.by_user.get(user_id, ())):
            self._forget(key)

    def clear(self) -> None:
        self._version += 1
        self.entries.clear()
        self.by_user.clear()

    def _forget(self, key: bytes) -> None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        keys = self.by_user.get(entry.found.user.id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.by_user[entry.found.user.id]

    def touched(self, key: bytes, found: SessionUser, idle: float, absolute: float) -> None:
        """The session's last_seen_at was just moved on: keep the entry, with its new end."""
        entry = self.entries.get(key)
        if entry is not None:
            ends = min(
                found.last_seen_at + timedelta(seconds=idle),
                found.created_at + timedelta(seconds=absolute),
            )
            self.entries[key] = _Entry(found, entry.fresh_until, ends)
