"""Server CPU per fragment, this checkout against a baseline commit in the same run (issue #14,
item 1: keep a per-request saving only if it pays). On a shared machine requests/s move with
other people's load; the CPU a request costs the server process moves much less, so this is
the figure to compare two versions by.

Each version is a `taskly serve --workers 1` (the one worker is the serve process: its CPU is
the request path's) from its own copy of the code (the baseline from `git archive`), on its
own database in one embedded PostgreSQL, with RATE_LIMITS_ENABLED=0 and a user with 200 tasks
(bench/board.py's sign-up and seed). wrk drives the fragment at c=32 for --duration seconds,
alternating versions round by round. Printed per round and version: requests/s, p99, and CPU
per request of the serve process and of PostgreSQL (/proc utime+stime; wrk's requests counted
from its summary); then the means and current/baseline ratios.

    python bench/fragment_cost.py --baseline REF [--kinds toggle create] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from board import ROOT, free_port, lua_script, seed_tasks, settle, sign_up
from click_cost import cpu_seconds
from page_weight import fresh_database, serve, start_cluster


def export(ref: str, workdir: Path) -> Path:
    """The tree of `ref` in a folder of its own (no git worktree left behind)."""
    path = workdir / f"src-{ref}"
    path.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(path)], input=archive, check=True)
    return path


def wrk(base: str, script: Path, headers: list[str], seconds: int) -> tuple[int, float, float]:
    """(requests, requests/s, p99 ms) of one wrk run at c=32."""
    cmd = ["wrk", "-t", "2", "-c", "32", "-d", f"{seconds}s", "--latency", "-s", str(script)]
    for header in headers:
        cmd += ["-H", header]
    out = subprocess.run([*cmd, base], capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise SystemExit(f"non-2xx answers from {base}:\n{out}")
    return total, rps, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, help="a commit, tag or branch")
    parser.add_argument("--kinds", nargs="+", default=["toggle", "create"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="taskly-fragment-cost-"))
    cluster = start_cluster(workdir)
    postmaster = cluster.get_pid()  # type: ignore[attr-defined]
    versions = {"baseline": export(args.baseline, workdir), "current": ROOT}
    servers = []
    setup: dict[str, tuple[str, str, list[str], list[int]]] = {}
    try:
        for name, checkout in versions.items():
            dsn = fresh_database(cluster, f"taskly_{name}")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            servers.append(serve(checkout, dsn, port, workdir / f"{name}.log"))
            cookie, token = sign_up(base)
            ids = asyncio.run(seed_tasks(dsn, 200))
            headers = [f"Cookie: {cookie}", f"X-CSRF-Token: {token}", "HX-Request: true"]
            headers.append("Content-Type: application/x-www-form-urlencoded")
            setup[name] = (base, dsn, headers, ids)
        pids = {name: server.pid for name, server in zip(versions, servers, strict=True)}
        print(
            f"taskly serve --workers 1 per version: baseline {args.baseline}, current"
            f" {ROOT}; wrk c=32, {args.duration} s per run, {args.rounds} rounds\n"
        )
        print(
            f"{'round':>5} {'fragment':<8} {'version':<9} {'req/s':>7} {'p99 ms':>7}"
            f" {'serve us/req':>12} {'pg us/req':>9}"
        )
        sums: dict[tuple[str, str], list[float]] = {}
        for kind in args.kinds:
            for name, (base, _, headers, ids) in setup.items():  # warm: templates, statements
                script = workdir / f"{kind}-{name}.lua"
                lua_script(script, kind, ids)
                wrk(base, script, headers, 2)
            for number in range(1, args.rounds + 1):
                for name, (base, dsn, headers, _) in setup.items():
                    asyncio.run(settle(dsn))
                    time.sleep(0.5)
                    serve0, pg0 = cpu_seconds(pids[name]), cpu_seconds(postmaster)
                    total, rps, p99 = wrk(
                        base, workdir / f"{kind}-{name}.lua", headers, args.duration
                    )
                    time.sleep(0.5)  # the requests wrk left in flight, finished
                    serve1, pg1 = cpu_seconds(pids[name]), cpu_seconds(postmaster)
                    serve_us = (serve1 - serve0) * 1e6 / total
                    pg_us = (pg1 - pg0) * 1e6 / total
                    sums.setdefault((kind, name), []).extend([rps, p99, serve_us, pg_us])
                    print(
                        f"{number:>5} {kind:<8} {name:<9} {rps:>7.0f} {p99:>7.1f}"
                        f" {serve_us:>12.0f} {pg_us:>9.0f}",
                        flush=True,
                    )
        print("\nmeans, and current / baseline")
        for kind in args.kinds:
            means = {}
            for name in versions:
                values = sums[(kind, name)]
                means[name] = [sum(values[i::4]) / args.rounds for i in range(4)]
                rps, p99, serve_us, pg_us = means[name]
                print(
                    f"{'':>5} {kind:<8} {name:<9} {rps:>7.0f} {p99:>7.1f} {serve_us:>12.0f}"
                    f" {pg_us:>9.0f}"
                )
            ratio = [
                c / b if b else 0 for c, b in zip(means["current"], means["baseline"], strict=True)
            ]
            print(
                f"{'':>5} {kind:<8} {'ratio':<9} {ratio[0]:>6.2f}× {ratio[1]:>6.2f}×"
                f" {ratio[2]:>11.2f}× {ratio[3]:>8.2f}×"
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
