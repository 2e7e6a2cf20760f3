"""Your data, out and in: "Download my data" (JSON of everything, CSV of tasks), streamed a
page at a time; and importing a CSV of tasks with a preview of every row before anything is
written, then all valid rows in one transaction. The uploaded file waits in PostgreSQL between
the preview and "Import", never on local disk."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from quart import Blueprint, Response, abort, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.account.agents import describe_agent
from taskly.account.csvfile import (
    COLUMNS,
    MAX_BYTES,
    FileRefused,
    Parsed,
    csv_lines,
    export_row,
    parse_tasks,
)
from taskly.db import connection, current_pool, queries
from taskly.guard import body_limit
from taskly.ratelimit import Limit, by_account, rate_limited
from taskly.tasks.model import STATUS_LABELS
from taskly.web import login_required, render

blueprint = Blueprint("data", __name__, url_prefix="/account")
PAGE = 1000
ACQUIRE_TIMEOUT = 30.0  # a page waits for the pool like any request, a little longer
PREVIEW_ROWS = 20
SHOWN_ERRORS = 100


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


async def _task_pages(pool: asyncpg.Pool, user_id: int) -> AsyncIterator[list[dict[str, Any]]]:
    """The account's tasks, a page at a time, each page read on a connection that is given back
    before the page is sent (a slow reader holds no pooled connection)."""
    after = 0
    while True:
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
            tasks = [
                dict(row)
                async for row in queries.select_export_tasks(
                    conn, user_id=user_id, after_id=after, page=PAGE
                )
            ]
            reminders: dict[int, list[dict[str, Any]]] = {}
            if tasks:
                ids = [task["id"] for task in tasks]
                async for row in queries.select_export_reminders(
                    conn, user_id=user_id, task_ids=ids
                ):
                    entry = dict(row)
                    entry["devices"] = [describe_agent(agent) for agent in entry["devices"]]
                    reminders.setdefault(entry.pop("task_id"), []).append(entry)
        if not tasks:
            return
        for task in tasks:
            task["reminders"] = reminders.get(task["id"], [])
        yield tasks
        after = tasks[-1]["id"]


def _download(body: AsyncIterator[str], mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.timeout = None  # a large export to a slow reader: it holds only its socket
    return response


@blueprint.route("/export.json")
@login_required
async def export_json() -> ResponseReturnValue:
    user_id, pool = g.user.id, current_pool()
    async with connection() as conn:
        profile = dict(await queries.select_export_profile(conn, user_id=user_id))
    keys = ("reminders_enabled", "remind_by_email", "remind_all_devices")
    settings = {key: profile.pop(key) for key in keys}

    async def body() -> AsyncIterator[str]:
        head = {"format": "taskly-export-1", "exported_at": datetime.now(UTC).isoformat()}
        yield _json(head)[:-1] + f', "profile": {_json(profile)}, "settings": {_json(settings)}'
        yield ', "tasks": ['
        first = True
        async for page in _task_pages(pool, user_id):
            yield ("" if first else ",") + ",".join(_json(task) for task in page)
            first = False
        yield "]}\n"

    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return _download(body(), "application/json", f"taskly-{stamp}.json")


@blueprint.route("/export.csv")
@login_required
async def export_csv() -> ResponseReturnValue:
    user_id, zone, pool = g.user.id, ZoneInfo(g.user.time_zone), current_pool()

    async def body() -> AsyncIterator[str]:
        yield "\ufeff" + csv_lines([COLUMNS])  # the BOM: spreadsheets then read UTF-8
        async for page in _task_pages(pool, user_id):
            yield csv_lines(export_row(task, zone) for task in page)

    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return _download(body(), "text/csv", f"taskly-tasks-{stamp}.csv")


@blueprint.route("/data")
@login_required
async def index() -> ResponseReturnValue:
    return await render("pages/data.html", error=None)


async def _parse(content: bytes) -> Parsed:
    return await asyncio.to_thread(parse_tasks, content, g.user.time_zone, datetime.now(UTC))


@blueprint.route("/import", methods=["POST"])
@login_required
@body_limit(MAX_BYTES + 64 * 1024)
@rate_limited(Limit(30, timedelta(hours=1), by_account))
async def upload() -> ResponseReturnValue:
    """Check every row and show what would be imported; write nothing but the pending file."""
    if g.get("body_too_large"):
        error = "The file is larger than 5 MB. Split it and import the parts."
        return await render("pages/data.html", error=error, status=413)
    upload = (await request.files).get("file")
    if upload is None or not upload.filename:
        return await render("pages/data.html", error="Choose a CSV file to import.", status=422)
    content = upload.read(MAX_BYTES + 1)
    # Shown back and stored: printable text only (a NUL cannot go into PostgreSQL text).
    filename = "".join(ch for ch in upload.filename if ch.isprintable())[:200] or "file.csv"
    try:
        parsed = await _parse(content)
    except FileRefused as exc:
        return await render("pages/data.html", error=str(exc), status=422)
    import_id = uuid.uuid4()
    if parsed.rows:
        async with connection() as conn:
            await queries.insert_pending_import(
                conn,
                id=import_id,
                user_id=g.user.id,
                filename=filename,
                content=content,
            )
    return await render(
        "pages/import_preview.html",
        parsed=parsed,
        preview=parsed.rows[:PREVIEW_ROWS],
        errors=parsed.errors[:SHOWN_ERRORS],
        import_id=import_id,
        filename=filename,
        status_labels=STATUS_LABELS,
    )


@blueprint.route("/import/<uuid:import_id>", methods=["POST"])
@login_required
async def confirm(import_id: uuid.UUID) -> ResponseReturnValue:
    async with connection() as conn:
        pending = await queries.select_pending_import(conn, id=import_id, user_id=g.user.id)
    if pending is None:
        abort(404)
    parsed = await _parse(bytes(pending["content"]))
    rows = parsed.rows
    async with connection() as conn, conn.transaction():
        if not await queries.delete_pending_import(conn, id=import_id, user_id=g.user.id):
            abort(409)  # imported (or cancelled) meanwhile, in another tab
        added = await queries.import_tasks(
            conn,
            user_id=g.user.id,
            titles=[r.title for r in rows],
            notes=[r.notes for r in rows],
            statuses=[r.status for r in rows],
            priorities=[r.priority for r in rows],
            due_ats=[r.due_at for r in rows],
            due_all_days=[r.due_all_day for r in rows],
            completed_ats=[r.completed_at for r in rows],
        )
    left_out = len(parsed.errors)
    skipped = (
        f" {left_out:,} row{'' if left_out == 1 else 's'} with errors left out." if left_out else ""
    )
    noun = "task" if added == 1 else "tasks"
    await flash(f"Imported {added:,} {noun} from {pending['filename']}.{skipped}", "success")
    return redirect(url_for("tasks.dashboard"))


@blueprint.route("/import/<uuid:import_id>/cancel", methods=["POST"])
@login_required
async def cancel(import_id: uuid.UUID) -> ResponseReturnValue:
    async with connection() as conn:
        await queries.delete_pending_import(conn, id=import_id, user_id=g.user.id)
    await flash("Import cancelled: nothing was added.", "info")
    return redirect(url_for("data.index"))
