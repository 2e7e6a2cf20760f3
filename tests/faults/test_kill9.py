"""kill -9 of one of three instances in the middle of a batch: nothing is lost.

The killed instance's claims come back when its lease runs out and another instance sends
them. The one documented window for a repeat is a crash between the mail server's 250 and the
commit of that message's delivery row: at most one message per lane of the killed instance,
and the copy carries the same Message-ID (the sink counts by Message-ID, so a copy with a new
one would show up as an extra message)."""

from __future__ import annotations

from collections import Counter

import asyncpg

from taskly.reminders.engine import LANES
from tests.faults.helpers import claims_by_pid, delivered, eventually, seed_due_reminders
from tests.faults.services import Launcher, Sink

TOTAL = 300
KILL_AFTER = 50
LEASE = 15
# A short lease so the dead instance's claims expire soon (kept valid: at least
# 2 * SMTP_TIMEOUT + DB_COMMAND_TIMEOUT); small batches so every instance and lane has work.
ENGINE = {
    "SMTP_TIMEOUT": "3",
    "NOTIFY_TIMEOUT": "1",
    "DB_COMMAND_TIMEOUT": "3",
    "REMINDER_LEASE": str(LEASE),
    "REMINDER_BATCH": "20",
}


async def test_kill_9_mid_batch_loses_nothing(
    launcher: Launcher, sink: Sink, db: asyncpg.Connection
) -> None:
    sink.delay = 0.015  # the batch takes seconds, so the kill lands in the middle of it
    procs = [launcher.serve(**ENGINE) for _ in range(3)]
    await launcher.ready(*procs)
    ids = await seed_due_reminders(db, TOTAL, "kill")

    async def under_way() -> bool | None:
        return True if len(sink.received) >= KILL_AFTER else None

    await eventually(under_way, 30, f"{KILL_AFTER} reminders reached the sink")
    claims = await claims_by_pid(db)
    victim = max(procs, key=lambda proc: claims[proc.pid])
    assert claims[victim.pid] > 0, f"no instance holds claims (worker id host:pid:…?): {claims}"
    victim.popen.kill()
    victim.popen.wait(10)
    assert len(sink.received) < TOTAL, "the batch was over before the kill: nothing was tested"

    async def all_recorded() -> bool | None:
        return True if len(await delivered(db, ids)) == TOTAL else None

    await eventually(all_recorded, LEASE + 25, "every reminder has a delivery row")
    recorded = await delivered(db, ids)
    received = Counter(sink.received)
    assert set(received) == set(recorded), "a message arrived that no delivery row records"
    assert len(received) == TOTAL, f"{TOTAL - len(received)} reminders lost"
    repeats = sum(n - 1 for n in received.values())
    assert repeats <= LANES, (
        f"{repeats} repeated messages; at most one per lane of the killed instance"
        f" (it held {claims[victim.pid]} claims)"
    )
    assert all(proc.popen.poll() is None for proc in procs if proc is not victim)
