"""The reminder engine: claims due reminders and pending outbox mail, fans each occurrence out
into one delivery per channel target (email, each push subscription, each Apprise service),
sends those, and records what was sent. Runs every few seconds inside each app instance
(APScheduler).

Exactly once in practice, for reminders, their deliveries and the outbox alike:
1. A batch is claimed in one statement (FOR UPDATE SKIP LOCKED) and leased to this instance
   for REMINDER_LEASE seconds. Other instances skip claimed rows until the lease runs out.
2. A due reminder is fanned out and its rule advanced in one statement that only succeeds while
   this instance still holds the claim; the unique (reminder, occurrence, channel, target)
   index makes a second fan-out of the same occurrence add nothing.
3. Each delivery is sent, then recorded in one statement that only succeeds while this
   instance still holds its claim. Each channel has its own lanes and its own sender
   (taskly/reminders/channels.py): a push service that hangs never delays mail.
4. The instance stops taking deliveries from a batch while the lease still covers a whole send
   (SMTP_TIMEOUT, or NOTIFY_TIMEOUT for push and Apprise: hard deadlines) and its record
   (DB_COMMAND_TIMEOUT), so two instances never hold the same delivery.
5. Stopping (SIGTERM, a deploy) lets the sends in flight finish and be recorded, then hands
   back only the claims it never started. A claim whose send was cut off is never handed back:
   its lease decides.
The one window for a repeat is a crash (kill -9, power loss) between the receiver's acceptance
and that statement's COMMIT (milliseconds): after the lease expires another instance resends
that one delivery; mail carries the same Message-ID, which mail clients use to drop the copy,
and a push the same Topic and tag, which replace the copy on the device.

After downtime an occurrence that was missed is sent once, marked late, and the rule moves on
from now: a daily reminder missed for three days sends one message per channel, not three. A
newer occurrence also replaces an older one still waiting on the same reminder (held mail, a
push backing off), so a hold that ends sends one message, not one per day held.

Mail is held, not sent and not counted as an attempt, while the address is unverified (all
but account mail) and once the account's daily ceiling (MAIL_DAILY_LIMIT, per local day) is
reached; it goes out when the hold ends (verification, or local midnight). Holds and the
"Email me reminders" switch are about email only: push and Apprise go out regardless.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from taskly.db import queries
from taskly.mail import SmtpConfig
from taskly.reminders.channels import (
    AppriseSender,
    Db,
    EmailSender,
    PushSender,
    Sender,
    Verdict,
    backoff,
    held,
)
from taskly.reminders.jobs import fan_out, judge, record, send_outbox
from taskly.settings import Settings

__all__ = ["ReminderEngine", "backoff"]

log = logging.getLogger("taskly.reminders")
LANES = 2  # per channel (Apprise: one)
DATABASE_GONE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


def utcnow() -> datetime:
    return datetime.now(UTC)


class ReminderEngine:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        smtp: SmtpConfig,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.smtp = smtp
        self.clock = clock
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.domain = urlsplit(settings.base_url).hostname or "taskly.invalid"
        self.stopping = False
        self._running: asyncio.Task[int] | None = None

    # ---- the loop --------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One scheduler tick; never raises (a failing tick is logged, the next one retries).

        The tick runs in a task this engine owns and is awaited through a shield: the
        scheduler cancels its jobs when it shuts down, and a send must not be cut off between
        the receiver's acceptance and its record (stop() waits for it instead)."""
        if self.stopping or (self._running is not None and not self._running.done()):
            return 0
        self._running = asyncio.create_task(self._guarded_tick())
        try:
            return await asyncio.shield(self._running)
        except asyncio.CancelledError:
            # The scheduler shutting down cancels this wrapper only; the tick goes on and
            # stop() waits for it. Nothing to report from here.
            return 0

    async def _guarded_tick(self) -> int:
        try:
            return await self.tick()
        except Exception:
            log.exception("reminder tick failed")
            return 0

    async def tick(self) -> int:
        """Fan out every due occurrence, then send everything pending; return how many
        messages went out (every channel).

        Each channel has its lanes, side by side, each with its own claim (and, for mail, its
        own SMTP connection reused for the whole batch); the first mail lanes also send the
        outbox. While one waits on a server or the database, another builds its next message."""
        while not self.stopping and await self._fan_out_batch():
            pass
        senders: list[tuple[Sender, bool]] = [
            (EmailSender(self.settings, self.smtp, self.clock), True) for _ in range(LANES)
        ]
        senders += [(PushSender(self.settings, self.clock), False) for _ in range(LANES)]
        senders.append((AppriseSender(self.settings, self.clock), False))
        results = await asyncio.gather(
            *(self._lane(sender, outbox) for sender, outbox in senders), return_exceptions=True
        )
        for result in results:  # every lane has finished (no claim left mid-send); now report
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _lane(self, sender: Sender, outbox: bool) -> int:
        sent = 0
        try:
            while not self.stopping:
                claimed = 0
                if outbox and isinstance(sender, EmailSender):
                    done, taken = await self._outbox_batch(sender)
                    sent, claimed = sent + done, claimed + taken
                done, taken = await self._delivery_batch(sender)
                sent, claimed = sent + done, claimed + taken
                if claimed == 0:  # nothing claimed: all caught up
                    break
        finally:
            await sender.close()
        return sent

    async def stop(self) -> None:
        """Graceful shutdown: the lanes finish the message each is sending and record it, then
        hand back the rest of their batch. Bounded: a send is cut off at its deadline."""
        self.stopping = True
        running = self._running
        if running is not None and not running.done():
            s = self.settings
            bound = max(s.smtp_timeout, s.notify_timeout) + s.db_command_timeout + 5
            try:
                async with asyncio.timeout(bound):
                    await asyncio.shield(running)
            except TimeoutError:
                # Cut off mid-send: what it held stays claimed until the lease ends, so a
                # message the server may have accepted is not handed to another instance now.
                running.cancel()
                log.warning("stopped with a send in flight; its lease hands it back later")
                return
        async with self.pool.acquire() as conn:
            await queries.release_claims(conn, worker=self.worker)
            await queries.release_delivery_claims(conn, worker=self.worker)
            await queries.release_outbox_claims(conn, worker=self.worker)

    def _sending_deadline(self, send_timeout: float) -> float:
        """Stop taking messages from a batch while the lease still covers a whole send and
        its record (settings.validate guarantees the window is at least one send)."""
        s = self.settings
        return time.monotonic() + s.reminder_lease - send_timeout - s.db_command_timeout

    def _over(self, deadline: float) -> bool:
        return self.stopping or time.monotonic() > deadline

    async def _claim(
        self, conn: asyncpg.Connection, claim: Any, now: datetime, **k: Any
    ) -> list[Any]:
        """Run a claim statement (reminders, deliveries or outbox): up to a batch, leased."""
        return [
            row
            async for row in claim(
                conn,
                worker=self.worker,
                now=now,
                lease_seconds=float(self.settings.reminder_lease),
                batch=self.settings.reminder_batch,
                **k,
            )
        ]

    def _failed_at(self, batch_now: datetime) -> datetime:
        """When a send failed: backoff counts from then, not from the batch's start (a
        message that failed late in a long batch would otherwise be due again at once)."""
        return max(batch_now, self.clock())

    # ---- reminders: one occurrence becomes a delivery per channel target --------------------

    async def _fan_out_batch(self) -> int:
        """Claim a batch of due reminders and fan each out; how many were claimed."""
        now = self.clock()
        async with self.pool.acquire(timeout=self.settings.db_acquire_timeout) as conn:
            claimed = await self._claim(conn, queries.claim_due_reminders, now)
            if not claimed:
                return 0
            targets = {
                row["reminder_id"]: row
                async for row in queries.select_reminder_targets(
                    conn, ids=[r["id"] for r in claimed]
                )
            }
            for reminder in claimed:
                try:
                    target = targets[reminder["id"]]
                    await fan_out(conn, self.worker, self.domain, reminder, target, now)
                except DATABASE_GONE:
                    raise  # the database went away: the lease hands the batch back
                except Exception as exc:  # one bad row must not hold up the rest
                    log.exception("reminder %s cannot be sent", reminder["id"])
                    await queries.fail_reminder(
                        conn,
                        id=reminder["id"],
                        worker=self.worker,
                        error=f"cannot be sent: {type(exc).__name__}",
                    )
        return len(claimed)

    # ---- deliveries: each sent once, on its own channel -------------------------------------

    def _acquire(self) -> Any:
        return self.pool.acquire(timeout=self.settings.db_acquire_timeout)

    async def _delivery_batch(self, sender: Sender) -> tuple[int, int]:
        """Claim a batch of one channel's deliveries and send them. Mail keeps the lane's
        connection across each SMTP exchange, as the outbox does; push and Apprise hold none
        while a remote service is being waited on (a hanging one must not use up the pool the
        mail lanes and the web app share) and take one for each record, which the lease leaves
        room for (DB_ACQUIRE_TIMEOUT more)."""
        now = self.clock()
        async with self._acquire() as conn:
            claim = queries.claim_deliveries
            ids = [r["id"] for r in await self._claim(conn, claim, now, channel=sender.channel)]
            if not ids:
                return 0, 0
            jobs = [job async for job in queries.select_delivery_jobs(conn, ids=ids)]
            if sender.holds_connection:
                return await self._send_jobs(sender, jobs, now, held(conn)), len(ids)
        return await self._send_jobs(sender, jobs, now, self._acquire), len(ids)

    async def _send_jobs(self, sender: Sender, jobs: list[Any], now: datetime, db: Db) -> int:
        s = self.settings
        spare = 0.0 if sender.holds_connection else s.db_acquire_timeout
        deadline = self._sending_deadline(sender.timeout + spare)
        sent = 0
        for index, job in enumerate(jobs):
            if self._over(deadline):
                async with db() as conn:
                    remaining = [j["id"] for j in jobs[index:]]
                    await queries.release_deliveries(conn, ids=remaining, worker=self.worker)
                break
            try:
                verdict = await judge(db, sender, job, now)
            except DATABASE_GONE:
                raise
            except Exception as exc:  # one bad row must not hold up the rest
                log.exception("delivery %s cannot be sent", job["id"])
                verdict = Verdict("fail", f"cannot be sent: {type(exc).__name__}")
            async with db() as conn:
                await record(conn, self.worker, job, verdict)
            sent += verdict.kind == "sent"
        return sent

    # ---- confirmations and account mail (outbox) ---------------------------------------------

    async def _outbox_batch(self, sender: EmailSender) -> tuple[int, int]:
        now = self.clock()
        async with self.pool.acquire(timeout=self.settings.db_acquire_timeout) as conn:
            claimed = await self._claim(conn, queries.claim_outbox, now)
            deadline = self._sending_deadline(sender.timeout)
            sent = 0
            for index, row in enumerate(claimed):
                if self._over(deadline):
                    remaining = [r["id"] for r in claimed[index:]]
                    await queries.release_outbox(conn, ids=remaining, worker=self.worker)
                    break
                sent += await send_outbox(
                    conn, self.settings, self.worker, sender, row, now, self._failed_at
                )
        return sent, len(claimed)
