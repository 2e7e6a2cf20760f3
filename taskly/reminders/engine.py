"""The reminder engine: claims due reminders and pending outbox mail, sends them, and records
what was sent. Runs every few seconds inside each app instance (APScheduler).

Exactly once in practice:
1. A batch is claimed in one statement (FOR UPDATE SKIP LOCKED) and leased to this instance
   for REMINDER_LEASE seconds. Other instances skip claimed rows until the lease runs out.
2. Each message is sent, then its delivery is recorded and the rule advanced in one statement
   that only succeeds while this instance still holds the claim.
3. The instance stops taking messages from a batch while the lease still covers a whole send
   (SMTP_TIMEOUT, a hard deadline) and its record (DB_COMMAND_TIMEOUT), so two instances never
   hold the same occurrence.
4. Stopping (SIGTERM, a deploy) lets the message being sent finish and be recorded, then hands
   back only the claims it never started. A claim whose send was cut off is never handed back:
   its lease decides.
The one window for a repeat is a crash (kill -9, power loss) between the SMTP server's "250 OK"
and that statement's COMMIT (milliseconds): after the lease expires another instance resends
that one occurrence, with the same Message-ID, which mail clients use to drop the copy.

After downtime an occurrence that was missed is sent once, marked late, and the rule moves on
from now: a daily reminder missed for three days sends one mail, not three.

Mail is held, not sent and not counted as an attempt, while the address is unverified (all
but account mail) and once the account's daily ceiling (MAIL_DAILY_LIMIT, per local day) is
reached; it goes out when the hold ends (verification, or local midnight).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from taskly.db import queries
from taskly.mail import Mail, Mailer, PermanentMailError, SmtpConfig, TemporaryMailError
from taskly.outbox import ESSENTIAL, UNSOLICITED, UNSOLICITED_DAILY
from taskly.reminders.messages import outbox_message, reminder_message
from taskly.reminders.model import LATE_AFTER, Rule, message_id, next_occurrence
from taskly.settings import Settings

log = logging.getLogger("taskly.reminders")
BACKOFF_START = 30.0
BACKOFF_MAX = 3600.0
LANES = 2
UNVERIFIED_RECHECK = timedelta(hours=1)  # verification releases held mail at once anyway
DATABASE_GONE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... up to an hour between tries of a temporarily failing message."""
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_START * 2 ** min(attempts, 12)))


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
        the SMTP server's acceptance and its record (stop() waits for it instead)."""
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
        """Send everything that is due now; return how many messages went out.

        LANES batches go out side by side, each with its own SMTP connection (reused for the
        whole batch) and its own claim: while one waits on the mail server or the database,
        another builds its next message."""
        results = await asyncio.gather(
            *(self._lane() for _ in range(LANES)), return_exceptions=True
        )
        for result in results:  # every lane has finished (no claim left mid-send); now report
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _lane(self) -> int:
        sent = 0
        mailer = Mailer(self.smtp, self.settings.smtp_timeout)
        try:
            while not self.stopping:
                outbox = await self._outbox_batch(mailer)
                reminders = await self._reminder_batch(mailer)
                sent += outbox[0] + reminders[0]
                if outbox[1] + reminders[1] == 0:  # nothing claimed: all caught up
                    break
        finally:
            await mailer.close()
        return sent

    async def stop(self) -> None:
        """Graceful shutdown: the lanes finish the message each is sending and record it, then
        hand back the rest of their batch. Bounded: a send is cut off at SMTP_TIMEOUT."""
        self.stopping = True
        running = self._running
        if running is not None and not running.done():
            bound = self.settings.smtp_timeout + self.settings.db_command_timeout + 5
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
            await queries.release_outbox_claims(conn, worker=self.worker)

    def _sending_deadline(self) -> float:
        """Stop taking messages from a batch while the lease still covers a whole send and
        its record (settings.validate guarantees the window is at least one SMTP_TIMEOUT)."""
        s = self.settings
        return time.monotonic() + s.reminder_lease - s.smtp_timeout - s.db_command_timeout

    def _over(self, deadline: float) -> bool:
        return self.stopping or time.monotonic() > deadline

    async def _send(self, mailer: Mailer, message: Mail) -> None:
        try:
            async with asyncio.timeout(self.settings.smtp_timeout):
                await mailer.send(message)
        except TimeoutError as exc:  # the overall deadline, whatever the server was doing
            mailer.abort()  # no polite QUIT to a server that stopped answering
            raise TemporaryMailError(
                f"timed out: no answer in {self.settings.smtp_timeout:g} s"
            ) from exc

    async def _claim(self, conn: asyncpg.Connection, claim: Any, now: datetime) -> list[Any]:
        """Run a claim statement (reminders or outbox): up to a batch of due rows, leased."""
        return [
            row
            async for row in claim(
                conn,
                worker=self.worker,
                now=now,
                lease_seconds=float(self.settings.reminder_lease),
                batch=self.settings.reminder_batch,
            )
        ]

    def _failed_at(self, batch_now: datetime) -> datetime:
        """When a send failed: backoff counts from then, not from the batch's start (a
        message that failed late in a long batch would otherwise be due again at once)."""
        return max(batch_now, self.clock())

    async def _hold_until(
        self, conn: asyncpg.Connection, target: Any, essential: bool, now: datetime
    ) -> Any:
        """None if mail may go to this account now (a slot is taken); else (until, why).
        The account's day is on its own clock: the ceiling starts again at local midnight.
        Account mail never touches the reminders' ceiling (nobody can use it up for someone
        else); reminders and confirmations wait for a verified address."""
        if essential:
            return None
        if not target["verified"]:
            return now + UNVERIFIED_RECHECK, "held: address not verified"
        used = await queries.reserve_mail(
            conn, user_id=target["user_id"], daily_limit=self.settings.mail_daily_limit, now=now
        )
        if used is None:
            until = await queries.next_local_midnight(conn, user_id=target["user_id"], now=now)
            return until, "held: daily mail limit reached"
        return None

    # ---- reminders ---------------------------------------------------------------------------

    async def _reminder_batch(self, mailer: Mailer) -> tuple[int, int]:
        now = self.clock()
        async with self.pool.acquire(timeout=self.settings.db_acquire_timeout) as conn:
            claimed = await self._claim(conn, queries.claim_due_reminders, now)
            if not claimed:
                return 0, 0
            deadline = self._sending_deadline()
            targets = {
                row["reminder_id"]: row
                async for row in queries.select_reminder_targets(
                    conn, ids=[r["id"] for r in claimed]
                )
            }
            sent = 0
            for index, reminder in enumerate(claimed):
                if self._over(deadline):
                    remaining = [r["id"] for r in claimed[index:]]
                    await queries.release_reminders(conn, ids=remaining, worker=self.worker)
                    break
                try:
                    sent += await self._deliver(
                        conn, mailer, reminder, targets[reminder["id"]], now
                    )
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
        return sent, len(claimed)

    async def _deliver(
        self, conn: asyncpg.Connection, mailer: Mailer, reminder: Any, target: Any, now: datetime
    ) -> int:
        occurrence: datetime = reminder["next_fire_at"]
        rule = Rule.from_row(reminder)
        following = next_occurrence(
            rule, max(now, occurrence), target["time_zone"], target["due_at"]
        )
        if (
            target["status"] == "done"
            or target["deleted_at"] is not None
            or not target["reminders_enabled"]
        ):
            # Done, deleted, or mail switched off: send nothing for this occurrence but keep the
            # rule, so Undo (or reopening the task, or switching mail on) brings it back.
            await queries.skip_occurrence(
                conn,
                id=reminder["id"],
                worker=self.worker,
                next_fire_at=following,
                state="active" if following else "finished",
            )
            return 0
        hold = await self._hold_until(conn, target, essential=False, now=now)
        if hold is not None:
            until, why = hold
            await queries.hold_reminder(
                conn, id=reminder["id"], worker=self.worker, retry_at=until, error=why
            )
            return 0
        mid = message_id("reminder", reminder["id"], occurrence, self.domain)
        late = now - occurrence > LATE_AFTER
        message = reminder_message(self.settings, reminder, target, occurrence, late, mid)
        try:
            await self._send(mailer, message)
        except TemporaryMailError as exc:
            await queries.refund_mail(conn, user_id=target["user_id"], now=now)
            retry_at = self._failed_at(now) + backoff(reminder["attempts"])
            await queries.retry_reminder(
                conn, id=reminder["id"], worker=self.worker, retry_at=retry_at, error=str(exc)
            )
            log.warning(
                "reminder %s: temporary failure, retry at %s: %s",
                reminder["id"],
                retry_at.isoformat(),
                exc,
            )
            return 0
        except PermanentMailError as exc:
            await queries.fail_reminder(conn, id=reminder["id"], worker=self.worker, error=str(exc))
            log.error("reminder %s: permanent failure: %s", reminder["id"], exc)
            return 0
        await queries.finish_occurrence(
            conn,
            id=reminder["id"],
            worker=self.worker,
            next_fire_at=following,
            message_id=mid,
            occurrence_at=occurrence,
            late=late,
            user_id=target["user_id"],
            task_id=target["task_id"],
        )
        return 1

    # ---- confirmations and account mail (outbox) ---------------------------------------------

    async def _outbox_batch(self, mailer: Mailer) -> tuple[int, int]:
        now = self.clock()
        async with self.pool.acquire(timeout=self.settings.db_acquire_timeout) as conn:
            claimed = await self._claim(conn, queries.claim_outbox, now)
            deadline = self._sending_deadline()
            sent = 0
            for index, row in enumerate(claimed):
                if self._over(deadline):
                    remaining = [r["id"] for r in claimed[index:]]
                    await queries.release_outbox(conn, ids=remaining, worker=self.worker)
                    break
                sent += await self._send_outbox(conn, mailer, row, now)
        return sent, len(claimed)

    async def _send_outbox(
        self, conn: asyncpg.Connection, mailer: Mailer, row: Any, now: datetime
    ) -> int:
        try:
            message = outbox_message(self.settings, row)
        except Exception as exc:  # one bad row must not hold up the rest
            log.exception("outbox %s cannot be sent", row["id"])
            await queries.fail_outbox(
                conn,
                id=row["id"],
                worker=self.worker,
                error=f"cannot be sent: {type(exc).__name__}",
            )
            return 0
        if row["template"] in UNSOLICITED and row["user_id"] is not None:
            taken = await queries.reserve_account_mail(
                conn, user_id=row["user_id"], daily_limit=UNSOLICITED_DAILY, now=now
            )
            if taken is None:
                error = "dropped: too much account mail today"
                await queries.fail_outbox(conn, id=row["id"], worker=self.worker, error=error)
                return 0
        hold = await self._hold_until(conn, row, row["template"] in ESSENTIAL, now)
        if hold is not None:
            until, why = hold
            await queries.hold_outbox(
                conn, id=row["id"], worker=self.worker, retry_at=until, error=why
            )
            return 0
        try:
            await self._send(mailer, message)
        except TemporaryMailError as exc:
            if row["template"] not in ESSENTIAL:
                await queries.refund_mail(conn, user_id=row["user_id"], now=now)
            await queries.retry_outbox(
                conn,
                id=row["id"],
                worker=self.worker,
                retry_at=self._failed_at(now) + backoff(row["attempts"]),
                error=str(exc),
            )
            return 0
        except PermanentMailError as exc:
            await queries.fail_outbox(conn, id=row["id"], worker=self.worker, error=str(exc))
            return 0
        await queries.finish_outbox(conn, id=row["id"], worker=self.worker)
        return 1
