"""What the engine does with one claimed row (taskly/reminders/engine.py runs the batches and
the leases): fan a due reminder out into its deliveries, judge and record one delivery, send one
outbox message. Every write is conditional on ``worker`` still holding the row's claim."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from taskly.db import queries
from taskly.mail import PermanentMailError, TemporaryMailError
from taskly.outbox import ESSENTIAL, UNSOLICITED, UNSOLICITED_DAILY
from taskly.reminders.channels import (
    Db,
    EmailSender,
    Sender,
    Verdict,
    backoff,
    mail_hold,
    send_mail,
)
from taskly.reminders.messages import outbox_message
from taskly.reminders.model import Rule, message_id, next_occurrence
from taskly.settings import Settings

log = logging.getLogger("taskly.reminders")


async def fan_out(
    conn: asyncpg.Connection, worker: str, domain: str, reminder: Any, target: Any, now: datetime
) -> None:
    """One due occurrence: a delivery per channel target, and the rule advanced (one statement,
    see fan-out-occurrence). Done or deleted tasks get nothing for this occurrence but keep the
    rule, so Undo (or reopening the task) brings it back."""
    occurrence: datetime = reminder["next_fire_at"]
    following = next_occurrence(
        Rule.from_row(reminder), max(now, occurrence), target["time_zone"], target["due_at"]
    )
    if target["status"] == "done" or target["deleted_at"] is not None:
        await queries.skip_occurrence(
            conn,
            id=reminder["id"],
            worker=worker,
            next_fire_at=following,
            state="active" if following else "finished",
        )
        return
    await queries.fan_out_occurrence(
        conn,
        id=reminder["id"],
        worker=worker,
        occurrence_at=occurrence,
        next_fire_at=following,
        email=target["reminders_enabled"],  # "Email me reminders" off: no mail
        message_id=message_id("reminder", reminder["id"], occurrence, domain),
        now=now,
    )


async def judge(db: Db, sender: Sender, job: Any, now: datetime) -> Verdict:
    """Send one delivery unless there is no longer anything to remind of."""
    if job["task_id"] is None or job["deleted_at"] is not None or job["status"] == "done":
        return Verdict("skip", "the task is done or deleted")
    if job["reminder_id"] is None:
        return Verdict("skip", "the reminder was removed")
    return await sender.send(db, job, now)


async def record(conn: asyncpg.Connection, worker: str, job: Any, verdict: Verdict) -> None:
    key = {"id": job["id"], "worker": worker}
    what = f"{job['channel']} delivery {job['id']} (reminder {job['reminder_id']})"
    if verdict.kind == "sent":
        await queries.finish_delivery(conn, **key, late=verdict.late)
    elif verdict.kind == "retry":
        assert verdict.retry_at is not None
        await queries.retry_delivery(conn, **key, retry_at=verdict.retry_at, error=verdict.error)
        log.warning(
            "%s: temporary failure, retry at %s: %s",
            what,
            verdict.retry_at.isoformat(),
            verdict.error,
        )
    elif verdict.kind == "hold":
        await queries.hold_delivery(conn, **key, retry_at=verdict.retry_at, error=verdict.error)
    elif verdict.kind == "fail":
        await queries.fail_delivery(conn, **key, error=verdict.error)
        log.error("%s: permanent failure: %s", what, verdict.error)
    elif verdict.kind == "gone":  # the subscription is deleted, and this row with it
        log.info("%s: the push service forgot the subscription: removed", what)
    else:
        await queries.skip_delivery(conn, **key, error=verdict.error)


async def send_outbox(
    conn: asyncpg.Connection,
    settings: Settings,
    worker: str,
    sender: EmailSender,
    row: Any,
    now: datetime,
    failed_at: Callable[[datetime], datetime],
) -> int:
    """One confirmation or account message; 1 if it went out."""
    try:
        message = outbox_message(settings, row)
    except Exception as exc:  # one bad row must not hold up the rest
        log.exception("outbox %s cannot be sent", row["id"])
        error = f"cannot be sent: {type(exc).__name__}"
        await queries.fail_outbox(conn, id=row["id"], worker=worker, error=error)
        return 0
    if row["template"] in UNSOLICITED and row["user_id"] is not None:
        taken = await queries.reserve_account_mail(
            conn, user_id=row["user_id"], daily_limit=UNSOLICITED_DAILY, now=now
        )
        if taken is None:
            error = "dropped: too much account mail today"
            await queries.fail_outbox(conn, id=row["id"], worker=worker, error=error)
            return 0
    essential = row["template"] in ESSENTIAL
    hold = await mail_hold(conn, settings, row, essential, now)
    if hold is not None:
        until, why = hold
        await queries.hold_outbox(conn, id=row["id"], worker=worker, retry_at=until, error=why)
        return 0
    try:
        await send_mail(sender.mailer, message, settings.smtp_timeout)
    except TemporaryMailError as exc:
        if not essential:
            await queries.refund_mail(conn, user_id=row["user_id"], now=now)
        await queries.retry_outbox(
            conn,
            id=row["id"],
            worker=worker,
            retry_at=failed_at(now) + backoff(row["attempts"]),
            error=str(exc),
        )
        return 0
    except PermanentMailError as exc:
        await queries.fail_outbox(conn, id=row["id"], worker=worker, error=str(exc))
        return 0
    await queries.finish_outbox(conn, id=row["id"], worker=worker)
    return 1
