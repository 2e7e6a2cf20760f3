"""Fragments against the stack's floor in one run (issue #14, item 1): `floor.py`'s `mini` (the
least a "create task" can do on Quart, Hypercorn and asyncpg) and Taskly's create, toggle,
move and edit-save fragments, each at c=32 on 2 workers, rounds alternating floor and Taskly
so that the machine's neighbours weigh on both alike. Printed per round: requests/s and p99 of
each; then the means, each fragment's ratio to `mini` (target >= 0.6x) and its p99 against
2x mini's p99, with the server, PostgreSQL and wrk CPU per request (/proc) of each. Last,
since the machine is saturated and requests/s follow CPU per request: the ratio that CPU
predicts (the model: mini's CPU per request over the fragment's), and the ceiling, the same
with the fragment's server CPU replaced by mini's (what its PostgreSQL work alone allows).
`move` names the neighbour as board.js does (two cards back); `move-list` does not (the
bucket comes back).

The ceiling is also measured: `floor create` and `floor toggle` are the floor app answering
the same wrk scripts with mini's code but Taskly's own statements on Taskly's schema (see
bench/floor.py): their ratio to `mini` is the most a fragment can reach while it keeps what
Taskly's SQL does for the board (indexes, bucket counts, the live board's triggers, the stats
strip), however cheap Taskly's Python became. `--ablate` measures them again with the live
board's triggers off, then the bucket counts' too (switched off only in this throwaway
database), to show what each part of that SQL costs in the ratio.

Both servers use one embedded PostgreSQL (the floor its own table); RATE_LIMITS_ENABLED=0;
Taskly's user is signed up through the forms with 200 seeded tasks (bench/instances.py's
setup and wrk scripts).

    python bench/fragments.py [--rounds 3] [--duration 8] [--kinds create toggle move edit]
                              [--profile DIR] [--ablate]

--profile records each fragment's first round with py-spy on both workers (raw collapsed
stacks, DIR/<kind>-<pid>.txt; read them with `python bench/fragments.py --top DIR/<kind>-*`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
from board import ROOT, free_port, newest_user, run_wrk, seed_tasks, sign_up
from click_cost import cpu_seconds, descendants
from floor import start_floor
from instances import KINDS, SECRET, Slot, measure
from page_weight import fresh_database, serve, start_cluster
from pg_cost import COUNTS, LIVE, set_triggers

CONNECTIONS = 32


async def switch_triggers(dsn: str, enable: bool, groups: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for names in groups:
            await set_triggers(conn, enable, names)
    finally:
        await conn.close()


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the wrk runs)."""
    times = os.times()
    return times.children_user + times.children_system


def spy(root: int, folder: Path | None, kind: str, seconds: int) -> list[subprocess.Popen[bytes]]:
    """py-spy on each worker of `root` for the next `seconds` (nothing without --profile)."""
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    command = ["py-spy", "record", "-d", str(seconds), "--format", "raw", "--nonblocking", "-p"]
    return [
        subprocess.Popen(
            [*command, str(pid), "-o", str(folder / f"{kind}-{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in descendants([root]) - {root}
    ]


def summarise(files: list[Path], top: int = 40) -> None:
    """Share of samples per function, inclusive (on the stack) and self (at its top)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [
                frame.rsplit(" (", 1)[0] + " " + frame.rsplit("/", 1)[-1].split(":")[0]
                for frame in stack.split(";")
            ]
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n
            own[frames[-1]] = own.get(frames[-1], 0) + n
    for title, table in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title} (of {total} samples)")
        for frame, n in sorted(table.items(), key=lambda item: -item[1])[:top]:
            print(f"  {100 * n / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=(*KINDS, "move-list"))
    parser.add_argument("--profile", type=Path, help="py-spy the workers in round 1")
    parser.add_argument(
        "--ablate", action="store_true", help="the floor again without live, count triggers"
    )
    parser.add_argument("--top", nargs="+", type=Path, help="summarise py-spy raw files")
    args = parser.parse_args()
    if args.top:
        summarise(args.top)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="taskly-fragments-"))
    cluster = start_cluster(workdir)
    dsn = fresh_database(cluster, "taskly_fragments")
    postmaster = cluster.get_pid()  # type: ignore[attr-defined]
    port = free_port()
    env = {"SECRET_KEY": SECRET, "DB_POOL_MAX": "10"}
    server = serve(ROOT, dsn, port, workdir / "taskly.log", 2, env)
    floor: subprocess.Popen[bytes] | None = None
    try:
        cookie, token = sign_up(f"http://127.0.0.1:{port}")
        asyncio.run(seed_tasks(dsn, 200))
        user_id = asyncio.run(newest_user(dsn))
        floor, floor_port, floor_headers = start_floor(workdir, dsn, user_id, 2)
        floor_slot = Slot(floor_port, floor, user_id, floor_headers)
        floor_kinds = [kind for kind in ("create", "toggle") if kind in args.kinds]
        ablations: list[tuple[str, list[str]]] = [("", [])]
        if args.ablate:
            ablations += [(" -live", [LIVE]), (" -live -counts", [LIVE, COUNTS])]
        headers = [
            f"Cookie: {cookie}",
            f"X-CSRF-Token: {token}",
            "HX-Request: true",
            "Content-Type: application/x-www-form-urlencoded",
        ]
        slot = Slot(port, server, user_id, headers)
        mini = workdir / "mini.lua"
        mini.write_text('wrk.method = "POST"\nwrk.path = "/mini"\nwrk.body = "title=Buy+milk"\n')
        print(
            f"{os.cpu_count()} CPUs; floor app and `taskly serve`, 2 workers each; wrk"
            f" c={CONNECTIONS}, {args.duration} s per run, {args.rounds} rounds\n"
        )
        print(
            f"{'round':>5} {'what':<27} {'req/s':>7} {'p99 ms':>7}"
            f"  CPU ms/req: {'serve':>5} {'pg':>5} {'wrk':>5}"
        )
        runs: dict[str, list[tuple[float, ...]]] = {}

        def row(number: int, kind: str, figures: tuple[float, ...], note: str = "") -> None:
            runs.setdefault(kind, []).append(figures)
            rps, p99, serve_ms, pg_ms, wrk_ms = figures
            print(
                f"{number:>5} {kind:<27} {rps:>7.0f} {p99:>7.1f}"
                f"  {'':>11} {serve_ms:>5.2f} {pg_ms:>5.2f} {wrk_ms:>5.2f} {note}",
                flush=True,
            )

        for number in range(1, args.rounds + 1):
            before = (cpu_seconds(floor.pid), cpu_seconds(postmaster), children_cpu())
            r = run_wrk(
                f"http://127.0.0.1:{floor_port}", mini, floor_headers, CONNECTIONS, args.duration
            )
            after = (cpu_seconds(floor.pid), cpu_seconds(postmaster), children_cpu())
            done = max(1, r["requests"])
            cpu = [(b - a) * 1000 / done for a, b in zip(before, after, strict=True)]
            row(number, "mini", (r["rps"], r["p99"], *cpu))
            for kind in floor_kinds:
                for label, off in ablations:
                    asyncio.run(switch_triggers(dsn, False, off))
                    m = measure([floor_slot], kind, args.duration, workdir, dsn, postmaster)
                    asyncio.run(switch_triggers(dsn, True, off))
                    figures = (m.rps, m.p99, m.serve_ms, m.pg_ms, m.wrk_ms)
                    row(number, f"floor {kind}{label}", figures, m.errors)
            for kind in args.kinds:
                spies = spy(server.pid, args.profile, kind, args.duration) if number == 1 else []
                m = measure([slot], kind, args.duration, workdir, dsn, postmaster)
                for process in spies:
                    process.wait(timeout=60)
                row(number, kind, (m.rps, m.p99, m.serve_ms, m.pg_ms, m.wrk_ms), m.errors)
        means = {k: [sum(col) / len(col) for col in zip(*v, strict=True)] for k, v in runs.items()}
        floor_rps, floor_p99, floor_serve, floor_pg, floor_wrk = means["mini"]
        floor_cpu = floor_serve + floor_pg + floor_wrk
        print(
            f"\nmeans; ratio to mini's {floor_rps:.0f} req/s (target >= 0.60x),"
            f" p99 against 2x mini's {floor_p99:.0f} ms; CPU ms per request"
            f" (serve + pg + wrk; mini {floor_serve:.2f} + {floor_pg:.2f} + {floor_wrk:.2f})"
        )
        for kind in args.kinds:
            rps, p99, serve_ms, pg_ms, wrk_ms = means[kind]
            ratio = rps / floor_rps
            print(
                f"  {kind:<9} {rps:>6.0f} req/s {ratio:5.2f}x"
                f" {'met' if ratio >= 0.6 else 'NOT met'};"
                f" p99 {p99:.0f} ms = {p99 / floor_p99:.1f}x mini's"
                f" ({'met' if p99 <= 2 * floor_p99 else 'NOT met'});"
                f" CPU {serve_ms:.2f} + {pg_ms:.2f} + {wrk_ms:.2f}"
            )
        # The machine is saturated (2 cores: both servers' workers, PostgreSQL and wrk), so
        # requests/s follow the CPU a request costs. Check that against the measured ratio,
        # then ask: with Taskly's server code as cheap as mini's, what would the ratio be?
        print(
            "\nwhat the CPU says: mini's CPU per request / the fragment's (the model), and the"
            "\nceiling: the same with the fragment's serve CPU replaced by mini's (its PostgreSQL"
            "\nwork alone: the schema's indexes and triggers, stats strip, commit)"
        )
        for kind in args.kinds:
            _, _, serve_ms, pg_ms, wrk_ms = means[kind]
            model = floor_cpu / (serve_ms + pg_ms + wrk_ms)
            ceiling = floor_cpu / (floor_serve + pg_ms + wrk_ms)
            measured = means[kind][0] / floor_rps
            print(
                f"  {kind:<9} measured {measured:4.2f}x, model {model:4.2f}x,"
                f" ceiling {ceiling:4.2f}x"
            )
        if floor_kinds:
            print(
                "\nthe ceiling measured: mini's code running Taskly's statements on Taskly's"
                "\nschema (the change, then select-stats), against mini and the fragment"
            )
        for kind in floor_kinds:
            for label, _ in ablations:
                rps, p99, serve_ms, pg_ms, wrk_ms = means[f"floor {kind}{label}"]
                reaches = (
                    f"the fragment reaches {means[kind][0] / rps:4.2f}x of it; "
                    if not label
                    else ""
                )
                print(
                    f"  {'floor ' + kind + label:<27} {rps:>6.0f} req/s"
                    f" {rps / floor_rps:5.2f}x mini's"
                    f" ({reaches}p99 {p99:.0f} ms = {p99 / floor_p99:.1f}x mini's;"
                    f" CPU {serve_ms:.2f} + {pg_ms:.2f} + {wrk_ms:.2f})"
                )
    finally:
        for process in [server] if floor is None else [server, floor]:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
