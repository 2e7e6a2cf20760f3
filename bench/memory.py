"""Memory under mixed load (issue #14, item 4): the RSS of each Hypercorn worker of
`taskly serve --workers 2` after a warm-up of mixed load (default 600 s), then after each of
three successive runs of the same load (default 60 s each). Target: the larger worker at most
120 MB after the warm-up, and no growth across the three runs.

The load: several confirmed users (signed up through the forms, 200 seeded tasks each), one
thread per user on a keep-alive connection with a browser's Accept-Encoding (so responses go
through the compression layer), each looping over a weighted mix of what a person does on the
board: dashboard GETs, searches (a new term each time), a bucket's next page, quick-add
previews, creates, toggles (To do <-> Done), moves up and down, edits (the edit form, then its
save), deletes of the tasks it created, and every ~150 actions a logout and a login through
the forms (a new session row, a new CSRF token). Every answer must be the expected status;
the count of unexpected answers is printed.

RSS is VmRSS from /proc/<pid>/status of each worker process (the children of `taskly serve`
started by multiprocessing; the parent only supervises). At the end of each phase the users
finish the action in hand and wait while RSS is read (what the worker keeps), then go on; the
peak during the phase is sampled every 0.2 s as well. The two differ by design: a login's
argon2id hash (RFC 9106 low-memory profile) takes 64 MiB while it runs, returned to the
system when it ends, so a worker hashing one password is ~64 MB above its resting size for
those ~0.1-0.3 s. "No growth" means the last run's resting figure is within --tolerance MB of
the first run's (allocator noise: a worker's RSS moves by a few hundred KB between samples).

    python bench/memory.py [--warmup 600] [--runs 3] [--run 60] [--users 8] [--tasks 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from board import PASSWORD, ROOT, free_port, seed_tasks
from click_cost import FORM, PAGE_ACCEPT, Client, decoded
from page_weight import fresh_database, serve, sign_up, start_cluster

TOKEN = re.compile(r'"X-CSRF-Token": "([0-9a-f]+)"')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')
NEW_CARD = re.compile(r'<li id="task-(\d+)" class="task-card')
MORE = re.compile(r'hx-get="(/tasks/bucket/[^"]+)"')
WORDS = ("invoice", "dentist", "number 1", "trip", "milk", "Task", "notes", "zzz", "12", "review")
MIX = {
    "dashboard": 14,
    "search": 8,
    "bucket": 8,
    "preview": 5,
    "create": 12,
    "toggle": 20,
    "move": 10,
    "edit": 10,
    "delete": 10,
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_pids(parent: int) -> list[int]:
    """Hypercorn's worker processes: children of `taskly serve` run by multiprocessing's
    spawn (its resource tracker is a child too, and serves nothing)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            command = (entry / "cmdline").read_bytes()
            if ppid == parent and b"spawn_main" in command and b"resource_tracker" not in command:
                found.append(int(entry.name))
    return sorted(found)


@dataclass
class Counts:
    requests: int = 0
    unexpected: int = 0
    logins: int = 0
    examples: list[str] = field(default_factory=list)


class Person:
    """One user at the board, in a thread of its own: a keep-alive connection, cookies, the
    CSRF token of the current session, and what it knows of its tasks."""

    def __init__(self, base: str, address: str, cookies: dict[str, str], tasks: dict[int, str]):
        self.base, self.address = base, address
        self.client = Client(base, cookies)
        self.tasks = tasks  # id -> status, seeded To do / Done ones this person flips
        self.created: list[int] = []
        self.rng = random.Random(address)
        self.counts = Counts()
        self.token = ""
        self.more: list[str] = []
        self.idle = threading.Event()

    # -- plumbing --------------------------------------------------------------------------
    def call(
        self, method: str, path: str, expect: int = 200, form: dict[str, str] | None = None
    ) -> str:
        headers = {"Accept": "*/*", "HX-Request": "true", "HX-Current-URL": self.base + "/"}
        body = None
        if form is not None:
            headers |= {"Content-Type": FORM, "Origin": self.base, "X-CSRF-Token": self.token}
            body = urllib.parse.urlencode({"csrf_token": self.token, **form})
        return self.send(method, path, headers, body, expect)

    def send(
        self, method: str, path: str, headers: dict[str, str], body: str | None, expect: int
    ) -> str:
        response, data = self.client.send(method, path, headers, body)
        self.counts.requests += 1
        text = decoded(response, data, set())
        if response.status != expect:
            self.counts.unexpected += 1
            if len(self.counts.examples) < 5:
                self.counts.examples.append(f"{method} {path}: {response.status} {text[:120]!r}")
        return text

    def page(self, path: str, expect: int = 200, form: dict[str, str] | None = None) -> str:
        """As a browser without htmx: a full page, or a form post answered by a redirect."""
        headers = {"Accept": PAGE_ACCEPT, "Referer": self.base + "/"}
        body = None
        if form is not None:
            headers |= {"Content-Type": FORM, "Origin": self.base}
            body = urllib.parse.urlencode(form)
        return self.send("POST" if form is not None else "GET", path, headers, body, expect)

    # -- what a person does ----------------------------------------------------------------
    def dashboard(self) -> None:
        html = self.page("/")
        if match := TOKEN.search(html):
            self.token = match[1]
        self.more = [link.replace("&amp;", "&") for link in MORE.findall(html)]

    def search(self) -> None:
        word = f"{self.rng.choice(WORDS)} {self.rng.randrange(1000)}"
        self.page("/?" + urllib.parse.urlencode({"q": word}))

    def bucket(self) -> None:
        if self.more:
            self.call("GET", self.rng.choice(self.more))

    def preview(self) -> None:
        title = f"Call Sam {self.rng.randrange(10_000)} tomorrow 9am !high"
        self.call("GET", "/tasks/preview?" + urllib.parse.urlencode({"title": title}))

    def create(self) -> None:
        n = self.rng.randrange(1_000_000)
        html = self.call("POST", "/tasks", form={"title": f"Load task {n} !high due:tomorrow"})
        if match := NEW_CARD.search(html):
            self.created.append(int(match[1]))

    def toggle(self) -> None:
        task_id = self.rng.choice(list(self.tasks))
        was = self.tasks[task_id]
        now = "done" if was == "todo" else "todo"
        self.call("POST", f"/tasks/{task_id}/status", form={"status": now, "shown_in": was})
        self.tasks[task_id] = now

    def move(self) -> None:
        task_id = self.rng.choice(list(self.tasks))
        direction = self.rng.choice(("up", "down"))
        self.call("POST", f"/tasks/{task_id}/move", form={"direction": direction})

    def edit(self) -> None:
        task_id = self.rng.choice(list(self.tasks))
        html = self.call("GET", f"/tasks/{task_id}/edit")
        version = VERSION.search(html)
        if version is None:
            return
        n = self.rng.randrange(1_000_000)
        form = {
            "version": version[1],
            "title": f"Edited task {n}",
            "notes": f"Notes {n}\nsee https://example.com/{n}",
            "due_date": f"2027-0{1 + n % 9}-1{n % 10}",
            "due_time": f"0{n % 10}:30",
            "priority": str(1 + n % 3),
        }
        self.call("POST", f"/tasks/{task_id}", form=form)

    def delete(self) -> None:
        if self.created:
            task_id = self.created.pop(self.rng.randrange(len(self.created)))
            self.call("POST", f"/tasks/{task_id}/delete", form={})

    def relog(self) -> None:
        """Log out and in again through the forms: a new session row and token."""
        self.page("/logout", 302, {"csrf_token": self.token})
        token = FORM_TOKEN.search(self.page("/login"))
        if token is None:
            raise SystemExit(f"{self.address}: no login form after logout")
        form = {"csrf_token": token[1], "email": self.address, "password": PASSWORD}
        self.page("/login", 302, form)
        self.counts.logins += 1
        self.dashboard()

    def run(self, stop: threading.Event, go: threading.Event) -> None:
        """The mix until `stop`; while `go` is clear, wait between actions (`idle` set)."""
        actions = list(MIX)
        weights = list(MIX.values())
        try:
            self.dashboard()
            n = 0
            while not stop.is_set():
                if not go.is_set():
                    self.idle.set()
                    go.wait()
                    self.idle.clear()
                    continue
                n += 1
                if n % 150 == 0:
                    self.relog()
                else:
                    getattr(self, self.rng.choices(actions, weights)[0])()
        except Exception as exc:
            self.counts.examples.append(f"stopped: {exc!r}")
            self.counts.unexpected += 1
        finally:
            self.idle.set()
            self.client.close()


async def own_tasks(dsn: str, address: str) -> dict[int, str]:
    """The user's seeded To do and Done tasks (In progress ones stay put)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT t.id, t.status FROM tasks t JOIN users u ON u.id = t.user_id"
            " WHERE u.email_key = lower($1) AND t.status IN ('todo', 'done')",
            address,
        )
        return {row["id"]: row["status"] for row in rows}
    finally:
        await conn.close()


@dataclass
class Phase:
    requests: int
    unexpected: int
    resting: list[float]  # RSS MB per worker, the users waiting
    peak: list[float]  # RSS MB per worker, the highest sample during the phase


def phase(people: list[Person], seconds: float, workers: list[int], go: threading.Event) -> Phase:
    """`seconds` of load, sampling RSS; then pause the users, read RSS, and let them go on."""
    before = sum(p.counts.requests for p in people), sum(p.counts.unexpected for p in people)
    peak = [0.0] * len(workers)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = [max(m, rss_mb(pid)) for m, pid in zip(peak, workers, strict=True)]
        time.sleep(0.2)
    go.clear()
    for person in people:
        person.idle.wait(timeout=60)
    time.sleep(0.5)  # responses written, the last request's objects released
    resting = [rss_mb(pid) for pid in workers]
    after = sum(p.counts.requests for p in people), sum(p.counts.unexpected for p in people)
    go.set()
    return Phase(after[0] - before[0], after[1] - before[1], resting, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warmup", type=float, default=600, help="seconds of load first")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--run", type=float, default=60, help="seconds per run")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=200, help="seeded per user")
    parser.add_argument("--limit", type=float, default=120, help="MB")
    parser.add_argument("--tolerance", type=float, default=1.0, help="MB")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="taskly-memory-"))
    cluster = start_cluster(workdir)
    dsn = fresh_database(cluster, "taskly_memory")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(ROOT, dsn, port, workdir / "server.log", workers=2)
    stop, go = threading.Event(), threading.Event()
    go.set()
    threads: list[threading.Thread] = []
    try:
        workers = worker_pids(server.pid)
        if len(workers) != 2:
            raise SystemExit(f"expected 2 worker processes under {server.pid}, found {workers}")
        people = []
        for _ in range(args.users):
            browser, address = sign_up(base, dsn)
            asyncio.run(seed_tasks(dsn, args.tasks))
            cookies = {c.name: c.value or "" for c in browser.jar}
            people.append(Person(base, address, cookies, asyncio.run(own_tasks(dsn, address))))
        start = {pid: rss_mb(pid) for pid in workers}
        print(
            f"taskly serve --workers 2 on {base}; workers {workers}; {args.users} users with"
            f" {args.tasks} tasks each, one thread each; RSS at start"
            f" {', '.join(f'{v:.1f}' for v in start.values())} MB\n"
        )
        threads = [threading.Thread(target=p.run, args=(stop, go), daemon=True) for p in people]
        for thread in threads:
            thread.start()
        print(
            f"{'phase':<12} {'seconds':>7} {'requests':>9} {'req/s':>7} {'unexpected':>10}"
            f" {'logins':>6}  {'resting RSS MB':>15}  {'peak RSS MB':>13}"
        )
        figures: list[float] = []
        plan = [("warm-up", args.warmup)] + [
            (f"run {i}", args.run) for i in range(1, args.runs + 1)
        ]
        for name, seconds in plan:
            result = phase(people, seconds, workers, go)
            logins = sum(p.counts.logins for p in people)
            figures.append(max(result.resting))
            print(
                f"{name:<12} {seconds:>7.0f} {result.requests:>9}"
                f" {result.requests / seconds:>7.0f} {result.unexpected:>10} {logins:>6}"
                f"  {' '.join(f'{v:7.1f}' for v in result.resting)}"
                f"  {' '.join(f'{v:6.1f}' for v in result.peak)}",
                flush=True,
            )
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        examples = [e for p in people for e in p.counts.examples]
        for example in examples[:10]:
            print("  unexpected:", example)

        after_warmup, runs = figures[0], figures[1:]
        print(
            f"\nlarger worker, resting, after the warm-up: {after_warmup:.1f} MB"
            f" (limit {args.limit:.0f})"
        )
        print(f"larger worker, resting, after each run: {', '.join(f'{v:.1f}' for v in runs)} MB")
        growth = runs[-1] - runs[0] if runs else 0.0
        print(
            f"  RSS <= {args.limit:.0f} MB: {'met' if max(figures) <= args.limit else 'NOT met'}"
            f"\n  no growth (run {len(runs)} - run 1 = {growth:+.1f} MB, tolerance"
            f" {args.tolerance} MB): {'met' if growth <= args.tolerance else 'NOT met'}"
        )
        if any(p.counts.unexpected for p in people):
            raise SystemExit("some answers were not the expected ones (see above)")
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
