"""The mail server goes away in the middle of a batch and comes back on the same port: every
reminder is delivered, none twice.

Timing: when the sink stops, the message in flight and the rest of the batch fail at once
(connection refused) and back off by engine.backoff(0) = 30 s; the sink is back after 3 s, so
everything left goes out about 30 s after the failure. REDELIVERY_WITHIN bounds that wait."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg

from tests.faults.helpers import delivered, eventually, seed_due_reminders
from tests.faults.services import Launcher, Sink

TOTAL = 100
STOP_AFTER = 20
DOWN_FOR = 3.0
REDELIVERY_WITHIN = 50.0  # the first backoff (30 s) plus the resend, with room to spare


async def test_mail_server_restart_loses_nothing_and_repeats_nothing(
    launcher: Launcher, sink: Sink, db: asyncpg.Connection
) -> None:
    sink.delay = 0.05  # 100 messages take 5 s: the stop lands mid-batch
    ids = await seed_due_reminders(db, TOTAL, "restart")
    engine = launcher.send_reminders(SMTP_TIMEOUT="3")

    async def some_arrived() -> bool | None:
        assert engine.popen.poll() is None, engine.output()[-3000:]
        return True if len(sink.received) >= STOP_AFTER else None

    await eventually(some_arrived, 30, f"{STOP_AFTER} reminders reached the sink")
    sink.stop()
    at_stop = len(sink.received)
    assert at_stop < TOTAL, "the sink stopped after the batch: nothing was tested"
    await asyncio.sleep(DOWN_FOR)
    sink.start()

    async def all_recorded() -> bool | None:
        return True if len(await delivered(db, ids)) == TOTAL else None

    await eventually(all_recorded, REDELIVERY_WITHIN, "every reminder has a delivery row")
    recorded = await delivered(db, ids)
    repeated = {mid: n for mid, n in Counter(sink.received).items() if n > 1}
    assert repeated == {}, f"received more than once: {repeated}"
    assert len(set(sink.received)) == TOTAL, f"{TOTAL - len(set(sink.received))} lost"
    assert set(sink.received) == set(recorded)
