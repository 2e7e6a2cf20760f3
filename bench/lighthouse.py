"""Lighthouse scores (issue #11): the board of a signed-in user with 200 tasks, and the public
/login and /signup pages, on Lighthouse's default phone profile (simulated slow 4G, 4× CPU).

Starts a `taskly serve` of this checkout on a fresh embedded PostgreSQL (RATE_LIMITS_ENABLED=0),
signs a user up and confirms the address through the forms, seeds the tasks of
bench/page_weight.py, and runs Lighthouse from a directory where it is installed (not in the
repository), passing the session cookie to the board's run with --extra-headers. Prints the
four category scores per page (of the median run by Performance, with --runs), and each failing
accessibility, SEO or best-practices audit with its nodes; the JSON reports stay in --out.
Performance moves with the machine's load (simulated throttling multiplies the CPU time it
sees): run it on an idle machine, several times.

    mkdir -p /tmp/lh && (cd /tmp/lh && npm i lighthouse)
    CHROME_PATH=/usr/bin/chromium python bench/lighthouse.py --lighthouse /tmp/lh \
        [--tasks 200] [--runs 3] [--ref REF] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from board import free_port
from page_weight import checkout_of, describe, fresh_database, seed, serve, sign_up, start_cluster

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
DETAILED = ("accessibility", "seo", "best-practices")
METRICS = (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
)


def lighthouse(tool: Path, url: str, report: Path, cookie: str | None) -> dict[str, Any]:
    cmd = [
        "npx",
        "--no-install",
        "lighthouse",
        url,
        "--quiet",
        "--output=json",
        f"--output-path={report}",
        "--chrome-flags=--headless=new --no-sandbox",
        f"--only-categories={','.join(CATEGORIES)}",
    ]
    if cookie:
        cmd.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    for attempt in (1, 2):  # a loaded machine sometimes loses the trace (NO_NAVSTART)
        if subprocess.run(cmd, cwd=tool, env=env, check=False).returncode == 0:
            break
        if attempt == 2:
            raise SystemExit(f"lighthouse failed twice on {url}")
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def failing(result: dict[str, Any], category: str) -> list[str]:
    """Each audit of `category` that does not pass, with what Lighthouse says about it."""
    lines = []
    for ref in result["categories"][category]["auditRefs"]:
        audit = result["audits"][ref["id"]]
        if audit["scoreDisplayMode"] not in ("binary", "numeric") or audit["score"] == 1:
            continue
        shown = f" ({audit['displayValue']})" if audit.get("displayValue") else ""
        lines.append(
            f"  {category} / {audit['id']}: score {audit['score']}, weight {ref['weight']}"
            f" - {audit['title']}{shown}"
        )
        for item in (audit.get("details") or {}).get("items", []):
            node = item.get("node") or {}
            if node:
                lines.append(f"      {node.get('selector')}  {node.get('snippet')}")
                if node.get("explanation"):
                    lines.append("        " + node["explanation"].replace("\n", "\n        "))
            else:
                lines.append(f"      {json.dumps(item)[:300]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lighthouse", type=Path, required=True, help="where lighthouse is")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--out", type=Path, help="directory for the JSON reports")
    parser.add_argument("--ref", help="git ref to serve (a temporary worktree), not this tree")
    parser.add_argument("--runs", type=int, default=1, help="per page; the median is shown")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="taskly-lighthouse-"))
    out = args.out or workdir
    out.mkdir(parents=True, exist_ok=True)
    dsn = fresh_database(start_cluster(workdir), "taskly_lighthouse")
    with checkout_of(args.ref, workdir, "checkout") as checkout:
        results = run_pages(args, checkout, dsn, out, workdir)
    print(f"{describe(args.ref)}; Lighthouse {next(iter(results.values()))['lighthouseVersion']},")
    print(f"mobile, default throttling, median of {args.runs} run(s); reports in {out}\n")
    print(f"{'page':<18} " + " ".join(f"{c:>14}" for c in CATEGORIES))
    for name, result in results.items():
        scores = [round(100 * result["categories"][c]["score"]) for c in CATEGORIES]
        print(f"{name:<18} " + " ".join(f"{s:>14}" for s in scores))
    for name, result in results.items():
        metrics = ", ".join(
            f"{m} {result['audits'][m]['displayValue']}" for m in METRICS if m in result["audits"]
        )
        print(f"\n{name}: {metrics}")
        for category in DETAILED:
            for line in failing(result, category):
                print(line)


def run_pages(
    args: argparse.Namespace, checkout: Path, dsn: str, out: Path, workdir: Path
) -> dict[str, dict[str, Any]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(checkout, dsn, port, workdir / "server.log")
    try:
        browser, address = sign_up(base, dsn)
        asyncio.run(seed(dsn, address, args.tasks))
        browser.get("/")  # the welcome toast is shown once, after confirming
        pages = (
            (f"board ({args.tasks} tasks)", "/", "board", browser.cookie()),
            ("login", "/login", "login", None),
            ("signup", "/signup", "signup", None),
        )
        results = {}
        for name, path, report, cookie in pages:
            runs = [
                lighthouse(args.lighthouse, base + path, out / f"{report}-{i}.json", cookie)
                for i in range(args.runs)
            ]
            runs.sort(key=lambda result: result["categories"]["performance"]["score"])
            results[name] = runs[
                len(runs) // 2
            ]  # the median run by Performance, as Lighthouse advises
            if args.runs > 1:
                spread = [round(100 * r["categories"]["performance"]["score"]) for r in runs]
                print(f"{name}: Performance per run {spread}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


if __name__ == "__main__":
    main()
