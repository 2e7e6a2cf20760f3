"""A mail server that takes the connection and then never answers after DATA.

Each message is given up after SMTP_TIMEOUT (the overall deadline for one send, so not twice
that: closing the connection must not wait on the hung server again), the web app in the same
process keeps answering meanwhile, and a failed message is retried no sooner than the first
backoff after its own failure (not after the start of its batch)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import asyncpg

from tests.faults.helpers import Browser, logged_in, seed_due_reminders
from tests.faults.services import Launcher, Sink

SMTP_TIMEOUT = 2.0
FIRST_BACKOFF = timedelta(seconds=30)  # taskly.reminders.engine.backoff(0)
# A lease long enough for the whole batch: at least 2 * SMTP_TIMEOUT + DB_COMMAND_TIMEOUT.
ENGINE = {
    "SMTP_TIMEOUT": str(SMTP_TIMEOUT),
    "NOTIFY_TIMEOUT": str(SMTP_TIMEOUT),  # the lease covers a push or Apprise send too
    "DB_COMMAND_TIMEOUT": "3",
    "REMINDER_LEASE": "20",
}
COUNT = 3
SLACK = 1.0  # seconds: scheduling and polling (a doubled timeout adds SMTP_TIMEOUT)


async def web_answers(browser: Browser) -> None:
    for path in ("/healthz", "/", "/healthz", "/"):
        reply = await asyncio.to_thread(browser.request, "GET", path, None, None, 5.0)
        assert reply.status == 200, f"{path}: {reply.status} while the mail server hung"
        assert reply.seconds < 2.0, f"{path} took {reply.seconds:.1f} s while the mail server hung"
        await asyncio.sleep(0.5)


async def test_hung_mail_server_times_out_each_message_once_and_backs_off(
    launcher: Launcher, sink: Sink, db: asyncpg.Connection
) -> None:
    sink.hang = True
    server = launcher.serve(**ENGINE)
    await launcher.ready(server)
    assert server.url is not None
    browser = await logged_in(db, server.url, "watcher@example.com")
    ids = await seed_due_reminders(db, COUNT, "hang")

    claimed_at: datetime | None = None
    failed_at: dict[int, datetime] = {}
    web: asyncio.Task[None] | None = None
    deadline = time.monotonic() + 30
    try:
        while len(failed_at) < COUNT:
            assert time.monotonic() < deadline, f"only {len(failed_at)} attempts ended in 30 s"
            rows = await db.fetch(  # each reminder's mail, by reminder id
                "SELECT reminder_id AS id, attempts, claimed_by, clock_timestamp() AS now"
                " FROM deliveries WHERE reminder_id = ANY($1::bigint[]) AND channel = 'email'",
                ids,
            )
            for row in rows:
                if claimed_at is None and row["claimed_by"] is not None:
                    claimed_at = row["now"]
                    web = asyncio.create_task(web_answers(browser))  # while the engine waits
                if row["attempts"] > 0:
                    failed_at.setdefault(row["id"], row["now"])
            await asyncio.sleep(0.1)
        assert web is not None
        await web
    finally:
        if web is not None:
            web.cancel()

    assert claimed_at is not None
    problems: list[str] = []  # both checks are reported, whichever fails
    # Lanes may split the batch, but with every send bounded by SMTP_TIMEOUT the k-th failure
    # comes at most k timeouts after the claim.
    for k, at in enumerate(sorted(failed_at.values()), 1):
        took = (at - claimed_at).total_seconds()
        if took > k * SMTP_TIMEOUT + SLACK:
            problems.append(
                f"failure {k} of {COUNT} came {took:.1f} s after the claim: a send to a hung"
                f" server took longer than SMTP_TIMEOUT ({SMTP_TIMEOUT:.0f} s)"
            )
            break
    rows = await db.fetch(
        "SELECT reminder_id AS id, retry_at, last_error FROM deliveries"
        " WHERE reminder_id = ANY($1::bigint[]) AND channel = 'email'",
        ids,
    )
    for row in rows:
        assert row["last_error"], f"reminder {row['id']} failed without a recorded error"
        after_failure = row["retry_at"] - failed_at[row["id"]]
        if after_failure < FIRST_BACKOFF - timedelta(seconds=0.5):
            problems.append(
                f"reminder {row['id']}: retry_at is {after_failure.total_seconds():.1f} s after"
                f" its failure, less than the first backoff ({FIRST_BACKOFF.seconds} s)"
            )
    assert problems == [], "\n".join(problems)
