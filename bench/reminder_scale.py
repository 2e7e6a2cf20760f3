"""Reminder throughput across instances (issue #14, item 6): N due email reminders (default
50,000) delivered by one engine instance, then the same on a fresh copy by three instances at
once, all to one aiosmtpd sink; each (reminder, occurrence) must arrive exactly once AT THE
SINK, and the aggregate rate is compared with one instance's in the same run.

An engine instance is a process running `taskly send-reminders --once` (the engine of
taskly/reminders/engine.py without the web app: it sends until nothing is due, then exits);
the instances share one PostgreSQL and claim batches with FOR UPDATE SKIP LOCKED. Each
configuration gets its own database in one embedded cluster, seeded the same way as
bench/reminders.py (one verified user, N tasks, one daily reminder each, due a minute ago).

The sink is its own process (aiosmtpd) and writes every Message-ID it accepted to a file; a
reminder's Message-ID is <reminder-{id}-{occurrence}@host>, so "exactly once" means: as many
messages as reminders, as many distinct Message-IDs, and every seeded reminder id among them.

Rates: messages / (last - first message at the sink), and messages / wall time from starting
the processes to the last one's exit (this includes starting Python). Where the time goes: CPU
seconds per 1,000 messages of the engine processes (Python: building, rendering, SMTP client,
asyncpg), of PostgreSQL (every process of the cluster: claims and records) and of the sink
(the SMTP server side), and the cores each used, next to how busy the whole machine was.

    python bench/reminder_scale.py [--due 50000] [--instances 1 3] [--batch 200]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
from board import ROOT, free_port
from click_cost import cpu_seconds
from instances import machine_busy
from page_weight import fresh_database, start_cluster
from reminders import seed

from taskly.migrations import migrate

SINK = r"""
import signal, sys, threading, time
from aiosmtpd.controller import Controller
ids, times = [], []
class Sink:
    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                ids.append(line.split(b":", 1)[1].strip().decode())
                break
        else:
            ids.append("")
        times.append(time.time())
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
done.wait()
controller.stop()
with open(sys.argv[2], "w") as out:
    out.write(f"{times[0] if times else 0} {times[-1] if times else 0}\n")
    out.write("\n".join(ids))
"""


@dataclass
class Outcome:
    instances: int
    received: int
    unique: int
    missing: int
    duplicates: int
    sink_seconds: float
    wall_seconds: float
    engine_cpu: float
    pg_cpu: float
    sink_cpu: float
    busy: float
    sent_reported: int

    @property
    def rate(self) -> float:
        return self.received / self.sink_seconds if self.sink_seconds else 0.0


async def prepare(dsn: str, due: int) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await seed(conn, due)
        await conn.execute("VACUUM (ANALYZE) reminders, tasks")
        rows = await conn.fetch("SELECT id FROM reminders ORDER BY id")
        return [row["id"] for row in rows]
    finally:
        await conn.close()


def run(
    dsn: str, instances: int, batch: int, reminders: list[int], workdir: Path, pg: int
) -> Outcome:
    port = free_port()
    ids_file = workdir / f"sink-{instances}.txt"
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port), str(ids_file)], stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout is not None
    if sink.stdout.readline().strip() != "ready":
        raise SystemExit("the sink did not start")
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "PYTHONPATH": str(ROOT),
        "TASKLY_ENV": "development",
        "DATABASE_URL": dsn,
        "SMTP_URL": f"smtp+insecure://127.0.0.1:{port}",
        "BASE_URL": "https://tasks.example",
        "MAIL_DAILY_LIMIT": "0",  # one account receives them all: measure the engine
        "REMINDER_BATCH": str(batch),
    }
    command = [sys.executable, "-m", "taskly", "send-reminders", "--once"]
    logs = [(workdir / f"engine-{instances}-{n}.log").open("w") for n in range(instances)]
    before, pg0, busy0 = os.times(), cpu_seconds(pg), machine_busy()
    started = time.monotonic()
    engines = [
        subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs
    ]
    codes = [engine.wait() for engine in engines]
    wall = time.monotonic() - started
    after, pg1, busy1 = os.times(), cpu_seconds(pg), machine_busy()
    sink_cpu = cpu_seconds(sink.pid)
    sink.terminate()
    sink.wait(timeout=60)
    if any(codes):
        raise SystemExit(f"an engine failed ({codes}); see {workdir}/engine-*.log")
    sent = 0
    for n in range(instances):
        for line in (workdir / f"engine-{instances}-{n}.log").read_text().splitlines():
            if line.startswith("taskly: sent "):
                sent += int(line.split()[2])
    first_line, *ids = ids_file.read_text().splitlines()
    first, last = (float(v) for v in first_line.split())
    counts = Counter(ids)
    delivered = {int(i.split("-")[1]) for i in counts if i.startswith("<reminder-")}
    return Outcome(
        instances=instances,
        received=len(ids),
        unique=len(counts),
        missing=len(set(reminders) - delivered),
        duplicates=sum(c - 1 for c in counts.values() if c > 1),
        sink_seconds=last - first,
        wall_seconds=wall,
        engine_cpu=(after.children_user + after.children_system)
        - (before.children_user + before.children_system),
        pg_cpu=pg1 - pg0,
        sink_cpu=sink_cpu,
        busy=(busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        sent_reported=sent,
    )


class Timed:
    """Wall time spent inside wrapped awaitables, by label (lanes overlap: sums can exceed the
    wall time; divided by messages they say what one message waits on)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def wrap(self, label: str, function: Any) -> Any:
        timed = self

        class Rows:  # an async iterator (a SELECT's rows): time each step
            def __init__(self, inner: Any) -> None:
                self.inner = inner.__aiter__()

            def __aiter__(self) -> Rows:
                return self

            async def __anext__(self) -> Any:
                started = time.perf_counter()
                try:
                    return await self.inner.__anext__()
                finally:
                    timed.seconds[label] += time.perf_counter() - started

        def call(*args: Any, **kwargs: Any) -> Any:
            timed.calls[label] += 1
            result = function(*args, **kwargs)
            if hasattr(result, "__aiter__"):
                return Rows(result)

            async def waited() -> Any:
                started = time.perf_counter()
                try:
                    return await result
                finally:
                    timed.seconds[label] += time.perf_counter() - started

            return waited() if inspect.isawaitable(result) else result

        return call


async def where_the_time_goes(dsn: str, due: int, batch: int, workdir: Path) -> None:
    """One engine in this process over `due` reminders, its awaits timed by kind: the SMTP
    send (taskly.mail.Mailer.send), each named database statement, and building a message
    (rendering its templates); what is left is the engine's own Python and the event loop."""
    from taskly import mail
    from taskly.db import create_pool, queries
    from taskly.mail import SmtpConfig
    from taskly.reminders import channels as channels_module
    from taskly.reminders import engine as engine_module
    from taskly.settings import Settings

    await prepare_async(dsn, due)
    port = free_port()
    sink = subprocess.Popen(  # noqa: ASYNC220 - started before anything is timed
        [sys.executable, "-c", SINK, str(port), str(workdir / "sink-profile.txt")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    sink.stdout.readline()
    timed = Timed()
    smtp_url = f"smtp+insecure://127.0.0.1:{port}"
    settings = replace(
        Settings(),
        database_url=dsn,
        smtp_url=smtp_url,
        reminder_batch=batch,
        base_url="https://tasks.example",
        mail_daily_limit=0,
    )
    originals = {name: getattr(queries, name) for name in queries.available_queries}
    send, build = mail.Mailer.send, channels_module.reminder_message  # type: ignore[attr-defined]
    for name, function in originals.items():
        setattr(queries, name, timed.wrap(f"db {name}", function))
    mail.Mailer.send = timed.wrap("smtp send", send)  # type: ignore[method-assign]
    started_build = time.perf_counter

    def build_timed(*args: Any, **kwargs: Any) -> Any:
        begun = started_build()
        try:
            return build(*args, **kwargs)
        finally:
            timed.seconds["build message (Python)"] += started_build() - begun
            timed.calls["build message (Python)"] += 1

    channels_module.reminder_message = build_timed  # type: ignore[attr-defined]
    pool = await create_pool(settings, dsn)
    try:
        engine = engine_module.ReminderEngine(settings, pool, SmtpConfig.from_url(smtp_url))
        cpu0, started = time.process_time(), time.perf_counter()
        sent = await engine.tick()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        await pool.close()
        for name, function in originals.items():
            setattr(queries, name, function)
        mail.Mailer.send = send  # type: ignore[method-assign]
        channels_module.reminder_message = build  # type: ignore[attr-defined]
        sink.terminate()
        sink.wait(timeout=60)
    lanes = engine_module.LANES
    print(
        f"\nwhere one instance's time goes ({sent:,} reminders in this process, {lanes} lanes):"
        f" {wall:.1f} s wall, {sent / wall:.0f} msg/s; per message and lane"
        f" {wall * lanes / sent * 1000:.2f} ms, of which the engine process's CPU"
        f" {cpu / sent * 1000:.2f} ms (all lanes)"
    )
    print(f"  {'awaited in':<36} {'calls':>7} {'ms per message':>15} {'share':>6}")
    per_lane = wall * lanes
    for label, seconds in sorted(timed.seconds.items(), key=lambda item: -item[1]):
        print(
            f"  {label:<36} {timed.calls[label]:>7,} {seconds / sent * 1000:>15.2f}"
            f" {seconds / per_lane:>6.0%}"
        )
    rest = per_lane - sum(timed.seconds.values())
    print(
        f"  {'the rest (engine Python, event loop)':<36} {'':>7} {rest / sent * 1000:>15.2f}"
        f" {rest / per_lane:>6.0%}"
    )


async def prepare_async(dsn: str, due: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await seed(conn, due)
        await conn.execute("VACUUM (ANALYZE) reminders, tasks")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--due", type=int, default=50_000)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--batch", type=int, default=200, help="REMINDER_BATCH")
    parser.add_argument(
        "--profile",
        type=int,
        default=5000,
        metavar="N",
        help="then time one in-process engine's awaits over N reminders (0: skip)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="taskly-reminder-scale-"))
    cluster = start_cluster(workdir)
    postmaster = cluster.get_pid()  # type: ignore[attr-defined]
    print(
        f"{os.cpu_count()} CPUs; {args.due:,} due email reminders per configuration;"
        f" `taskly send-reminders --once` per instance, REMINDER_BATCH {args.batch}; one aiosmtpd"
        " sink process\n"
    )
    print(
        f"{'inst':>4} {'at sink':>8} {'unique':>7} {'missing':>7} {'dups':>5} {'sink s':>7}"
        f" {'msg/s':>7} {'ratio':>6} {'wall s':>7} {'msg/s':>6}  CPU s per 1,000:"
        f" {'engine':>6} {'pg':>5} {'sink':>5}  cores: {'engine':>6} {'pg':>5} {'sink':>5}"
        f" {'machine':>7}"
    )
    first: float | None = None
    failed = False
    for n in args.instances:
        dsn = fresh_database(cluster, f"taskly_scale_{n}")
        reminders = asyncio.run(prepare(dsn, args.due))
        o = run(dsn, n, args.batch, reminders, workdir, postmaster)
        first = first or o.rate
        per = 1000 / max(1, o.received)
        wall = o.wall_seconds
        print(
            f"{n:>4} {o.received:>8,} {o.unique:>7,} {o.missing:>7} {o.duplicates:>5}"
            f" {o.sink_seconds:>7.1f} {o.rate:>7.0f} {o.rate / first:>5.2f}× {o.wall_seconds:>7.1f}"
            f" {o.received / o.wall_seconds:>6.0f}  {'':>15} {o.engine_cpu * per:>6.2f}"
            f" {o.pg_cpu * per:>5.2f} {o.sink_cpu * per:>5.2f}  {'':>6} "
            f"{o.engine_cpu / wall:>6.2f} {o.pg_cpu / wall:>5.2f}"
            f" {o.sink_cpu / wall:>5.2f} {o.busy:>7.0%}",
            flush=True,
        )
        exactly_once = o.received == o.unique == args.due and not o.missing
        if not exactly_once or o.sent_reported != args.due:
            failed = True
            print(f"     NOT exactly once (engines reported {o.sent_reported:,} sent)")
    if failed:
        raise SystemExit("some reminder was not delivered exactly once")
    print("\nevery (reminder, occurrence) arrived exactly once at the sink, in every configuration")
    if args.profile:
        dsn = fresh_database(cluster, "taskly_scale_profile")
        asyncio.run(where_the_time_goes(dsn, args.profile, args.batch, workdir))


if __name__ == "__main__":
    main()
