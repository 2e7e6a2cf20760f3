"""The reminder engine: claims due reminders and pending confirmation mail, sends them, and
records what was sent. Runs every few seconds inside each app instance (APScheduler).

Exactly once in practice:
1. A batch is claimed in one statement (FOR UPDATE SKIP LOCKED) and leased to this instance
   for REMINDER_LEASE seconds. Other instances skip claimed rows until the lease runs out.
2. Each message is sent, then its delivery is recorded and the rule advanced in one statement
   that only succeeds while this instance still holds the claim.
3. The instance stops sending from a batch well before its lease could run out (each message
   has its own SMTP_TIMEOUT deadline), so two instances never hold the same occurrence.
The one window for a repeat is a crash between the SMTP server's "250 OK" and that statement's
COMMIT (milliseconds): after the lease expires another instance resends that one occurrence,
with the same Message-ID, which mail clients use to drop the copy.

After downtime an occurrence that was missed is sent once, marked late, and the rule moves on
from now: a daily reminder missed for three days sends one mail, not three.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
from jinja2 import Environment, FileSystemLoader, select_autoescape

from taskly.db import queries
from taskly.mail import Mailer, PermanentMailError, SmtpConfig, TemporaryMailError, build_message
from taskly.reminders.model import LATE_AFTER, Rule, message_id, next_occurrence, sign_action
from taskly.resources import TEMPLATES
from taskly.settings import Settings

log = logging.getLogger("taskly.reminders")
BACKOFF_START = 30.0
BACKOFF_MAX = 3600.0
LANES = 2

mail_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... up to an hour between tries of a temporarily failing message."""
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_START * 2 ** min(attempts, 12)))


def local_text(instant: datetime | None, zone: str, all_day: bool = False) -> str:
    if instant is None:
        return ""
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%A %-d %B %Y") if all_day else local.strftime("%A %-d %B %Y, %H:%M %Z")


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
        self._lock = asyncio.Lock()

    # ---- the loop --------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One scheduler tick; never raises (a failing tick is logged, the next one retries)."""
        if self.stopping or self._lock.locked():
            return 0
        async with self._lock:
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
        """Graceful shutdown: finish the message being sent, then hand back unsent claims."""
        self.stopping = True
        async with self._lock, self.pool.acquire() as conn:
            await queries.release_claims(conn, worker=self.worker)
            await queries.release_outbox_claims(conn, worker=self.worker)

    def _sending_deadline(self) -> float:
        """Stop taking messages from a batch while the lease still covers a full send."""
        return time.monotonic() + self.settings.reminder_lease - 2 * self.settings.smtp_timeout

    async def _send(self, mailer: Mailer, message: Any) -> None:
        try:
            async with asyncio.timeout(self.settings.smtp_timeout):
                await mailer.send(message)
        except TimeoutError as exc:  # the overall deadline, whatever the server was doing
            await mailer.close()
            raise TemporaryMailError("timed out") from exc

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

    # ---- reminders ---------------------------------------------------------------------------

    async def _reminder_batch(self, mailer: Mailer) -> tuple[int, int]:
        now = self.clock()
        async with self.pool.acquire(timeout=self.settings.db_acquire_timeout) as conn:
            claimed = await self._claim(conn, queries.claim_due_reminders, now)
            if not claimed:
                return 0, 0
            targets = {
                row["reminder_id"]: row
                async for row in queries.select_reminder_targets(
                    conn, ids=[r["id"] for r in claimed]
                )
            }
            deadline = self._sending_deadline()
            sent = 0
            for index, reminder in enumerate(claimed):
                if self.stopping or time.monotonic() > deadline:
                    remaining = [r["id"] for r in claimed[index:]]
                    await queries.release_reminders(conn, ids=remaining, worker=self.worker)
                    break
                try:
                    sent += await self._deliver(
                        conn, mailer, reminder, targets[reminder["id"]], now
                    )
                except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
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
        mid = message_id("reminder", reminder["id"], occurrence, self.domain)
        late = now - occurrence > LATE_AFTER
        message = self.reminder_message(reminder, target, occurrence, late, mid)
        try:
            await self._send(mailer, message)
        except TemporaryMailError as exc:
            retry_at = now + backoff(reminder["attempts"])
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

    def _link(self, action: str, target: Any, reminder_id: int) -> str:
        token = sign_action(
            self.settings.secret_key, action, target["user_id"], target["task_id"], reminder_id
        )
        return f"{self.settings.base_url}/m/{token}"

    def reminder_message(
        self, reminder: Any, target: Any, occurrence: datetime, late: bool, mid: str
    ) -> Any:
        zone = target["time_zone"]
        links = {
            "open": f"{self.settings.base_url}/tasks/{target['task_id']}",
            "done": self._link("done", target, reminder["id"]),
            "snooze_hour": self._link("snooze_hour", target, reminder["id"]),
            "snooze_tomorrow": self._link("snooze_tomorrow", target, reminder["id"]),
            "unsubscribe": self._link("unsubscribe", target, reminder["id"]),
        }
        context = {
            "first_name": target["first_name"],
            "title": target["title"],
            "notes": target["notes"],
            "due": local_text(target["due_at"], zone, target["due_all_day"]),
            "occurrence": local_text(occurrence, zone),
            "late": late,
            "links": links,
        }
        subject = f"Reminder: {target['title'][:120]}"
        return build_message(
            sender=self.settings.mail_from,
            to=target["email"],
            to_name=target["first_name"],
            subject=subject,
            text=mail_templates.get_template("email/reminder.txt").render(context),
            html=mail_templates.get_template("email/reminder.html").render(context),
            message_id=mid,
            headers={
                "List-Unsubscribe": f"<{links['unsubscribe']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )

    # ---- confirmations (outbox) --------------------------------------------------------------

    async def _outbox_batch(self, mailer: Mailer) -> tuple[int, int]:
        now = self.clock()
        async with self.pool.acquire(timeout=self.settings.db_acquire_timeout) as conn:
            claimed = await self._claim(conn, queries.claim_outbox, now)
            sent = 0
            deadline = self._sending_deadline()
            for row in claimed:
                if self.stopping or time.monotonic() > deadline:
                    break  # the rest is released by its lease or by stop()
                try:
                    message = self._outbox_message(row)
                except Exception as exc:  # one bad row must not hold up the rest
                    log.exception("outbox %s cannot be sent", row["id"])
                    await queries.fail_outbox(
                        conn,
                        id=row["id"],
                        worker=self.worker,
                        error=f"cannot be sent: {type(exc).__name__}",
                    )
                    continue
                try:
                    await self._send(mailer, message)
                except TemporaryMailError as exc:
                    await queries.retry_outbox(
                        conn,
                        id=row["id"],
                        worker=self.worker,
                        retry_at=now + backoff(row["attempts"]),
                        error=str(exc),
                    )
                    continue
                except PermanentMailError as exc:
                    await queries.fail_outbox(
                        conn, id=row["id"], worker=self.worker, error=str(exc)
                    )
                    continue
                await queries.finish_outbox(conn, id=row["id"], worker=self.worker)
                sent += 1
        return sent, len(claimed)

    def _outbox_message(self, row: Any) -> Any:
        context = {**json.loads(row["context"]), "first_name": row["first_name"]}
        template = row["template"]
        return build_message(
            sender=self.settings.mail_from,
            to=row["email"],
            to_name=row["first_name"],
            subject=context["subject"],
            text=mail_templates.get_template(f"email/{template}.txt").render(context),
            html=mail_templates.get_template(f"email/{template}.html").render(context),
            message_id=row["message_id"],
        )
