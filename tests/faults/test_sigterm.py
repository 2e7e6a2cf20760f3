"""SIGTERM to one of two instances in the middle of a batch: it finishes the message it is
sending, hands back the rest and exits within Hypercorn's graceful timeout; the other instance
sends what was handed back. Every reminder arrives exactly once: a graceful stop has no crash
window. Several rounds with fresh data, since a race shows only in some runs."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter

import asyncpg
import pytest

from tests.faults.helpers import claims_by_pid, delivered, eventually, seed_due_reminders
from tests.faults.services import Launcher, Sink

ROUNDS = 3
TOTAL = 300
STOP_AFTER = 50
GRACEFUL_TIMEOUT = 10  # taskly.cli: config.graceful_timeout
LEASE = 12  # short, so claims left behind would cost little time; at least 2 * 3 + 3
ENGINE = {
    "SMTP_TIMEOUT": "3",
    "NOTIFY_TIMEOUT": "1",
    "DB_COMMAND_TIMEOUT": "3",
    "REMINDER_LEASE": str(LEASE),
    "REMINDER_BATCH": "20",
}


async def one_round(launcher: Launcher, sink: Sink, db: asyncpg.Connection, n: int) -> None:
    sink.received.clear()
    procs = [launcher.serve(**ENGINE) for _ in range(2)]
    await launcher.ready(*procs)
    ids = await seed_due_reminders(db, TOTAL, f"term{n}")

    async def under_way() -> bool | None:
        return True if len(sink.received) >= STOP_AFTER else None

    await eventually(under_way, 30, f"round {n}: {STOP_AFTER} reminders reached the sink")
    claims = await claims_by_pid(db)
    victim, survivor = sorted(procs, key=lambda proc: -claims[proc.pid])
    assert claims[victim.pid] > 0, f"no instance holds claims (worker id host:pid:…?): {claims}"
    victim.popen.terminate()
    try:
        await asyncio.to_thread(victim.popen.wait, GRACEFUL_TIMEOUT + 5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"round {n}: SIGTERM did not end the instance within its graceful timeout")
    assert len(sink.received) < TOTAL, f"round {n}: the batch ended before SIGTERM"

    async def all_recorded() -> bool | None:
        return True if len(await delivered(db, ids)) == TOTAL else None

    # Handed-back claims are taken at the survivor's next tick; a lease left behind would
    # show as a wait of up to LEASE seconds, which the bound allows (the count is what fails).
    await eventually(all_recorded, LEASE + 20, f"round {n}: every reminder has a delivery row")
    received = Counter(sink.received)
    repeated = {mid: count for mid, count in received.items() if count > 1}
    assert repeated == {}, (
        f"round {n}: {len(repeated)} reminders sent twice after SIGTERM"
        f" (the stopped instance held {claims[victim.pid]} claims)"
    )
    assert set(received) == set(await delivered(db, ids))
    assert len(received) == TOTAL, f"round {n}: {TOTAL - len(received)} reminders lost"
    assert survivor.popen.poll() is None
    survivor.stop()


async def test_sigterm_mid_batch_delivers_every_reminder_exactly_once(
    launcher: Launcher, sink: Sink, db: asyncpg.Connection
) -> None:
    sink.delay = 0.015
    for n in range(1, ROUNDS + 1):
        await one_round(launcher, sink, db, n)
