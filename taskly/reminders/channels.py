"""The channels a reminder goes out on: email, Web Push, Apprise. Each is a Sender: given one
claimed delivery job (a row of sql/queries/deliveries.sql's select-delivery-jobs) it sends and
says what became of it in a Verdict; the engine writes the verdict to the row. A sender never
raises for a failure of its own channel, and each has a hard deadline (``timeout``) that the
engine's lease leaves room for.

Push: the payload carries the task's title, its due time on the owner's clock, a link to the
task on the board, and Done / Snooze 1 hour as signed single-use links (the ones the reminder
mail uses) that the service worker posts to. It is sent with urgency high, and a TTL that ends
when the reminder stops being useful (PUSH_USEFUL after its occurrence): a phone that comes
back online a day later gets nothing stale. 404/410 removes the subscription (its deliveries go
with it); 429 and 5xx retry after Retry-After, or the backoff when there is none.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import asyncpg

from taskly.db import queries
from taskly.mail import Mailer, PermanentMailError, SmtpConfig, TemporaryMailError
from taskly.notify.apprise import send_apprise
from taskly.notify.sealed import Unreadable, unseal
from taskly.push import VapidKeys, send_push, vapid_keys
from taskly.reminders.messages import apprise_message, push_payload, reminder_message
from taskly.reminders.model import LATE_AFTER
from taskly.settings import Settings

BACKOFF_START = 30.0
BACKOFF_MAX = 3600.0
UNVERIFIED_RECHECK = timedelta(hours=1)  # verification releases held mail at once anyway
PUSH_USEFUL = timedelta(hours=24)  # a reminder pushed later than this is not worth showing
RETRY_AFTER_MAX = timedelta(hours=6)  # a push service's Retry-After is honoured up to this

Kind = Literal["sent", "retry", "hold", "fail", "skip", "gone"]


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... up to an hour between tries of a temporarily failing message."""
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_START * 2 ** min(attempts, 12)))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one delivery. ``retry_at`` for retry and hold; ``late`` for sent."""

    kind: Kind
    error: str = ""
    retry_at: datetime | None = None
    late: bool = False


Db = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


def held(conn: asyncpg.Connection) -> Db:
    """A Db that hands out a connection the caller already holds."""

    @asynccontextmanager
    async def use() -> AsyncIterator[asyncpg.Connection]:
        yield conn

    return use


class Sender(Protocol):
    channel: str
    holds_connection: bool  # keeps the lane's connection across a send (mail), or takes one per use

    @property
    def timeout(self) -> float: ...  # the hard deadline of one send, in seconds

    async def send(self, db: Db, job: Any, now: datetime) -> Verdict: ...

    async def close(self) -> None: ...


async def mail_hold(
    conn: asyncpg.Connection, settings: Settings, target: Any, essential: bool, now: datetime
) -> tuple[datetime, str] | None:
    """None if mail may go to this account now (a slot is taken); else (until, why).
    The account's day is on its own clock: the ceiling starts again at local midnight.
    Account mail never touches the reminders' ceiling (nobody can use it up for someone
    else); reminders and confirmations wait for a verified address."""
    if essential:
        return None
    if not target["verified"]:
        return now + UNVERIFIED_RECHECK, "held: address not verified"
    used = await queries.reserve_mail(
        conn, user_id=target["user_id"], daily_limit=settings.mail_daily_limit, now=now
    )
    if used is None:
        until = await queries.next_local_midnight(conn, user_id=target["user_id"], now=now)
        return until, "held: daily mail limit reached"
    return None


def late_at(job: Any, now: datetime) -> bool:
    return bool(now - job["occurrence_at"] > LATE_AFTER)


@dataclass
class EmailSender:
    """Reminder mail, one SMTP connection per lane (reused for its batches). Held, not sent
    and not counted as an attempt, while the address is unverified or the day's ceiling
    (MAIL_DAILY_LIMIT) is reached."""

    settings: Settings
    smtp: SmtpConfig
    clock: Callable[[], datetime]
    channel: str = "email"
    holds_connection: bool = True
    mailer: Mailer = field(init=False)

    def __post_init__(self) -> None:
        self.mailer = Mailer(self.smtp, self.settings.smtp_timeout)

    @property
    def timeout(self) -> float:
        return self.settings.smtp_timeout

    async def close(self) -> None:
        await self.mailer.close()

    async def send(self, db: Db, job: Any, now: datetime) -> Verdict:
        async with db() as conn:
            return await self._send(conn, job, now)

    async def _send(self, conn: asyncpg.Connection, job: Any, now: datetime) -> Verdict:
        late = late_at(job, now)
        try:
            message = reminder_message(
                self.settings,
                {"id": job["reminder_id"]},
                job,
                job["occurrence_at"],
                late,
                job["message_id"],
            )
        except Exception as exc:  # a row that cannot become mail fails alone
            return Verdict("fail", f"cannot be sent: {type(exc).__name__}")
        hold = await mail_hold(conn, self.settings, job, essential=False, now=now)
        if hold is not None:
            return Verdict("hold", hold[1], retry_at=hold[0])
        try:
            await send_mail(self.mailer, message, self.settings.smtp_timeout)
        except TemporaryMailError as exc:
            await queries.refund_mail(conn, user_id=job["user_id"], now=now)
            retry_at = max(now, self.clock()) + backoff(job["attempts"])
            return Verdict("retry", str(exc), retry_at=retry_at)
        except PermanentMailError as exc:
            return Verdict("fail", str(exc))
        return Verdict("sent", late=late)


async def send_mail(mailer: Mailer, message: Any, deadline: float) -> None:
    """One message under an overall deadline, whatever the server is doing."""
    try:
        async with asyncio.timeout(deadline):
            await mailer.send(message)
    except TimeoutError as exc:
        mailer.abort()  # no polite QUIT to a server that stopped answering
        raise TemporaryMailError(f"timed out: no answer in {deadline:g} s") from exc


@dataclass
class PushSender:
    """Web Push to one subscription per delivery (taskly/push.py does the protocol)."""

    settings: Settings
    clock: Callable[[], datetime]
    channel: str = "push"
    holds_connection: bool = False
    keys: VapidKeys | None = None

    @property
    def timeout(self) -> float:
        return self.settings.notify_timeout

    async def close(self) -> None:
        return None

    async def send(self, db: Db, job: Any, now: datetime) -> Verdict:
        if job["endpoint"] is None:
            return Verdict("skip", "the device was removed")
        useful_until = job["occurrence_at"] + PUSH_USEFUL
        if now >= useful_until:
            return Verdict("skip", "expired: no longer worth showing")
        if self.keys is None:
            async with db() as conn:
                self.keys = await vapid_keys(conn, self.settings)
        late = late_at(job, now)
        subscription = {
            "endpoint": job["endpoint"],
            "keys": {"p256dh": job["p256dh"], "auth": job["auth"]},
        }
        result = await send_push(
            subscription,
            push_payload(self.settings, job, late),
            keys=self.keys,
            settings=self.settings,
            ttl=max(60, int((useful_until - now).total_seconds())),
            urgency="high",
            topic=f"reminder-{job['task_id']}",
            ca_file=self.settings.notify_ca_file,
        )
        owner = {"id": job["push_subscription_id"], "user_id": job["user_id"]}
        error = None if result.outcome == "delivered" else (result.detail or str(result.status))
        async with db() as conn:
            if result.outcome == "gone":
                await queries.delete_push_subscription(conn, **owner)
                return Verdict("gone", result.detail)
            await queries.record_push_result(conn, **owner, error=error)
        if result.outcome == "delivered":
            return Verdict("sent", late=late)
        if result.outcome == "retry":
            wait = backoff(job["attempts"])
            if result.retry_after is not None:
                wait = min(timedelta(seconds=result.retry_after), RETRY_AFTER_MAX)
            return Verdict("retry", error or "", retry_at=max(now, self.clock()) + wait)
        return Verdict("fail", error or result.outcome)


@dataclass
class AppriseSender:
    """Apprise (ntfy, Telegram, Gotify ...) through taskly/notify: ``sealed.unseal`` gives the
    stored URL back (the owner is part of the seal), ``apprise.send_apprise`` checks it again and
    sends under NOTIFY_TIMEOUT, answering delivered, retry, failed or refused with a detail that
    is safe to store (never the URL)."""

    settings: Settings
    clock: Callable[[], datetime]
    channel: str = "apprise"
    holds_connection: bool = False

    @property
    def timeout(self) -> float:
        return self.settings.notify_timeout

    async def close(self) -> None:
        return None

    async def send(self, db: Db, job: Any, now: datetime) -> Verdict:
        if job["url_sealed"] is None:
            return Verdict("skip", "the service was removed")
        if now >= job["occurrence_at"] + PUSH_USEFUL:
            return Verdict("skip", "expired: no longer worth sending")
        try:
            url = unseal(job["url_sealed"], user_id=job["user_id"], settings=self.settings)
        except Unreadable:  # another key, or a damaged row: it will not open later either
            unreadable = "the stored URL cannot be read (was the key changed?)"
            async with db() as conn:
                await queries.record_notify_service_result(
                    conn, id=job["notify_service_id"], user_id=job["user_id"], error=unreadable
                )
            return Verdict("fail", unreadable)
        late = late_at(job, now)
        title, body = apprise_message(self.settings, job, late)
        result = await send_apprise(url, title=title, body=body, settings=self.settings)
        outcome, detail = result.outcome, str(result.detail or result.outcome)
        error = None if outcome == "delivered" else detail
        async with db() as conn:
            await queries.record_notify_service_result(
                conn, id=job["notify_service_id"], user_id=job["user_id"], error=error
            )
        if outcome == "delivered":
            return Verdict("sent", late=late)
        if outcome == "retry":
            retry_at = max(now, self.clock()) + backoff(job["attempts"])
            return Verdict("retry", detail, retry_at=retry_at)
        return Verdict("fail", detail)
