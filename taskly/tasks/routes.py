"""The board: the dashboard page and every task action, each answering with the full page
(after a redirect) for a plain form post, or only what changed for an htmx request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

from quart import Blueprint, abort, flash, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from taskly.db import connection, transaction
from taskly.tasks.model import (
    FILTERS,
    PRIORITIES,
    PRIORITY_CLASSES,
    STATUS_LABELS,
    STATUSES,
    Stats,
    Task,
    TaskInput,
    Undo,
    clean_task_form,
    delete_task,
    insert_task,
    move_in_bucket,
    parse_quick_add,
    parse_submission,
    reschedule_due_reminders,
    restore_task,
    select_board,
    select_stats,
    select_task,
    task_exists,
    update_task,
    update_task_status,
)
from taskly.web import is_htmx, login_required, render, render_template

blueprint = Blueprint("tasks", __name__)
TOAST_TITLE = 60


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "now": datetime.now(UTC),
        "status_labels": STATUS_LABELS,
        "statuses": STATUSES,
        "priorities": PRIORITIES,
        "priority_classes": PRIORITY_CLASSES,
        **extra,
    }


def _short(title: str) -> str:
    return title if len(title) <= TOAST_TITLE else title[: TOAST_TITLE - 1] + "…"


def _search_args() -> tuple[str, str]:
    """The board's search and filter: from the query string, or, for an action, from the page
    it was sent from (htmx's HX-Current-URL, else the Referer of a plain form post), so lists
    redrawn after Undo or a move, and the board a form post returns to, keep the search."""
    args: Any = request.args
    if request.method == "POST":
        page = request.headers.get("HX-Current-URL" if is_htmx() else "Referer", "")
        args = dict(parse_qsl(urlsplit(page).query))
    # A page URL is not checked like the request's own query string: drop NULs (PostgreSQL
    # text cannot hold them) rather than fail the action over a search.
    search = args.get("q", "").replace("\x00", "").strip()[:200]
    filter = args.get("filter", "")
    return search, filter if filter in FILTERS else ""


def _back_to_board(task_id: int | None = None) -> ResponseReturnValue:
    """Without JavaScript an action ends with a redirect to the board, searched as it was."""
    search, filter = _search_args()
    params: dict[str, Any] = {k: v for k, v in (("q", search), ("filter", filter)) if v}
    anchor = None if task_id is None else f"task-{task_id}"
    return redirect(url_for("tasks.dashboard", _anchor=anchor, **params))


async def _fragment(
    template: str,
    stats: Stats | None = None,
    toast: dict[str, Any] | None = None,
    announce: str | None = None,
    **context: Any,
) -> str:
    """The changed part plus, out of band, the counts, the stats strip, and a toast (undoable
    actions) or a screen-reader announcement (the rest)."""
    return await render_template(
        "partials/_response.html",
        main=template,
        stats=stats,
        toast=toast,
        announce=announce,
        **_context(**context),
    )


async def _dashboard(new_task: TaskInput | None = None, status: int = 200) -> ResponseReturnValue:
    search, filter = _search_args()
    async with connection() as conn:
        board = await select_board(conn, g.user.id, g.user.time_zone, search, filter)
        stats = await select_stats(conn, g.user.id, g.user.time_zone)
    context = _context(
        board=board,
        stats=stats,
        search=search,
        filter=filter,
        new_task=new_task or TaskInput(),
        focus_new_task=session.pop("focus_new_task", False),
    )
    if is_htmx() and request.headers.get("HX-Target") == "board":
        return await render("pages/dashboard.html", partial="partials/_board.html", **context)
    return await render("pages/dashboard.html", status=status, **context)


@blueprint.route("/")
@login_required
async def dashboard() -> ResponseReturnValue:
    return await _dashboard()


@blueprint.route("/tasks/preview")
@login_required
async def preview() -> ResponseReturnValue:
    """What quick add understood so far ("Due Fri 28 Nov 09:00 · High"), shown under New task
    while typing: the same parser the create uses, so the preview never disagrees with it."""
    data = parse_quick_add(request.args.get("title", "")[:400], g.user.time_zone)
    return await render_template("partials/_quick_add_preview.html", data=data, **_context())


@blueprint.route("/tasks", methods=["POST"])
@login_required
async def create() -> ResponseReturnValue:
    form = await request.form
    data = parse_quick_add(form.get("title", ""), g.user.time_zone)
    if data.errors:
        data.title = form.get("title", "")  # keep exactly what was typed
        if not is_htmx():
            return await _dashboard(new_task=data, status=422)
        body = await render_template("partials/_new_task_form.html", new_task=data)
        headers = {"HX-Retarget": "#new-task-form", "HX-Reswap": "outerHTML", "Vary": "HX-Request"}
        return body, 422, headers
    submission = parse_submission(form.get("submission", ""))
    async with connection() as conn:  # one INSERT: atomic by itself
        task = await insert_task(conn, g.user.id, data, submission)
        stats = await select_stats(conn, g.user.id, g.user.time_zone)
    if not is_htmx():
        return _back_to_board()
    announce = f"Added “{_short(task.title)}” to To do."
    return await _fragment(
        "partials/_task_card.html",
        stats=stats,
        announce=announce,
        task=task,
        new_submission=str(uuid4()),  # the form's next id, swapped in out of band
    )


async def card_fragment(task_id: int, announce: str | None = None) -> ResponseReturnValue:
    """The card as it is now, with counts and stats out of band (used after reminder edits)."""
    async with connection() as conn:
        task = await select_task(conn, task_id, g.user.id)
        if task is None:
            abort(404)
        stats = await select_stats(conn, g.user.id, g.user.time_zone)
    return await _fragment("partials/_task_card.html", stats=stats, announce=announce, task=task)


async def owned_task(task_id: int, gone: str | None = None) -> Task:
    """The user's live task, or 404 (another user's id is never confirmed to exist), saying
    `gone` if given. Uses the request's connection, so it can run inside a caller's
    transaction."""
    async with connection() as conn:
        task = await select_task(conn, task_id, g.user.id)
    if task is None:
        abort(404, gone)
    return task


@blueprint.route("/tasks/<id:task_id>")
@login_required
async def show(task_id: int) -> ResponseReturnValue:
    task = await owned_task(task_id)
    return await render(
        "pages/task.html", partial="partials/_task_card.html", **_context(task=task)
    )


@blueprint.route("/tasks/<id:task_id>/edit")
@login_required
async def edit(task_id: int) -> ResponseReturnValue:
    task = await owned_task(task_id)
    return await render(
        "pages/task_edit.html",
        partial="partials/_task_form.html",
        **_context(task=task, form=None, errors={}, conflict=None),
    )


@blueprint.route("/tasks/<id:task_id>", methods=["POST"])
@login_required
async def update(task_id: int) -> ResponseReturnValue:
    form = await request.form
    data = clean_task_form(form, g.user.time_zone)
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = -1
    if not 0 < version < 2**31:
        abort(400, "The form is missing its version. Reload the page and try again.")
    gone = "This task was deleted, perhaps in another tab. Copy what you typed if you need it."
    current = await owned_task(task_id, gone)
    status = 200
    conflict = None
    if not data.errors:
        async with transaction() as conn:
            task = await update_task(conn, task_id, g.user.id, version, data)
            if task is not None and task.due_at != current.due_at:
                await reschedule_due_reminders(conn, task, g.user.id)
            stats = await select_stats(conn, g.user.id, g.user.time_zone)
        if task is not None:
            if not is_htmx():
                await flash(f"Saved “{_short(task.title)}”.", "success")
                return _back_to_board(task.id)
            announce = f"Saved “{_short(task.title)}”."
            return await _fragment(
                "partials/_task_card.html", stats=stats, announce=announce, task=task
            )
        current = await owned_task(task_id, gone)  # it changed meanwhile (or was deleted)
        conflict = current
        status = 409
    else:
        status = 422
    context = _context(task=current, form=data, errors=data.errors, conflict=conflict)
    return await render(
        "pages/task_edit.html", partial="partials/_task_form.html", status=status, **context
    )


def _undo_toast(message: str, undo: Undo) -> dict[str, Any]:
    return {"message": message, "undo": {"task_id": undo.task_id, "fields": undo.fields()}}


async def _flash_undo(message: str, undo: Undo) -> None:
    """Without JavaScript the Undo toast travels through the flash (a redirect)."""
    await flash(json.dumps(_undo_toast(message, undo)), "undo")


@blueprint.route("/tasks/<id:task_id>/status", methods=["POST"])
@login_required
async def change_status(task_id: int) -> ResponseReturnValue:
    form = await request.form
    status = form.get("status", "")
    if status not in STATUSES:
        abort(400, "Choose To do, In progress or Done.")
    async with connection() as conn:
        moved = await update_task_status(conn, task_id, g.user.id, status)
        stats = await select_stats(conn, g.user.id, g.user.time_zone)
    if moved is None:
        task = await owned_task(task_id)  # 404 if not yours; else it was already there
        if not is_htmx():
            return _back_to_board()
        if form.get("shown_in", status) == status:  # a repeated click: the card stays
            return await _fragment("partials/_task_card.html", stats=stats, task=task)
        # This page showed it elsewhere: another tab moved it. Put the card where it is.
        announce = f"“{_short(task.title)}” was already in {STATUS_LABELS[status]}."
        body = await _fragment(
            "partials/_moved_card.html", stats=stats, announce=announce, task=task
        )
        return body, 200, {"HX-Reswap": "delete", "Vary": "HX-Request"}
    task, undo = moved
    message = f"Moved “{_short(task.title)}” to {STATUS_LABELS[status]}."
    if not is_htmx():
        await _flash_undo(message, undo)
        return _back_to_board()
    body = await _fragment(
        "partials/_moved_card.html", stats=stats, toast=_undo_toast(message, undo), task=task
    )
    return body, 200, {"HX-Reswap": "delete", "Vary": "HX-Request"}


@blueprint.route("/tasks/<id:task_id>/delete", methods=["POST"])
@login_required
async def delete(task_id: int) -> ResponseReturnValue:
    async with transaction() as conn:
        deleted = await delete_task(conn, task_id, g.user.id)
        stats = await select_stats(conn, g.user.id, g.user.time_zone)
    if deleted is None:
        abort(404)
    task, undo = deleted
    message = f"Deleted “{_short(task.title)}”."
    if not is_htmx():
        await _flash_undo(message, undo)
        return _back_to_board()
    body = await _fragment("partials/_nothing.html", stats=stats, toast=_undo_toast(message, undo))
    return body, 200, {"HX-Reswap": "delete", "Vary": "HX-Request"}


@blueprint.route("/tasks/<id:task_id>/restore", methods=["POST"])
@login_required
async def restore(task_id: int) -> ResponseReturnValue:
    undo = Undo.from_form(task_id, await request.form)
    if undo is None:
        abort(400, "That undo is not valid any more.")
    async with transaction() as conn:
        task = await restore_task(conn, g.user.id, undo)
        if task is None:
            if await task_exists(conn, task_id, g.user.id):
                abort(409, "Nothing to undo: the task has changed since. Reload to see it.")
            abort(404)
        # Undo may move a card between buckets and into the middle of one: send all three,
        # filtered as the page is.
        board = await select_board(conn, g.user.id, g.user.time_zone, *_search_args())
        stats = await select_stats(conn, g.user.id, g.user.time_zone)
    message = f"Restored “{_short(task.title)}”."
    if not is_htmx():
        await flash(message, "success")
        return _back_to_board(task.id)
    return await _fragment(
        "partials/_restored.html", stats=stats, board=board, message=message, task=task
    )


@blueprint.route("/tasks/<id:task_id>/move", methods=["POST"])
@login_required
async def move(task_id: int) -> ResponseReturnValue:
    direction = (await request.form).get("direction", "")
    if direction not in ("up", "down"):
        abort(400, "Move up or down.")
    task = await owned_task(task_id)
    async with connection() as conn:
        board = await select_board(conn, g.user.id, g.user.time_zone, *_search_args(), task.status)
        bucket = board[task.status]
        await move_in_bucket(conn, g.user.id, bucket, task_id, direction)
    if not is_htmx():
        return _back_to_board(task_id)
    ids = [t.id for t in bucket]
    announce = None
    if task_id in ids:
        place = f"{ids.index(task_id) + 1} of {len(ids)} in {STATUS_LABELS[task.status]}"
        announce = f"“{_short(task.title)}” is now {place}."
    body = await _fragment(
        "partials/_bucket_list.html", announce=announce, status=task.status, tasks=bucket
    )
    headers = {
        "HX-Retarget": f"#list-{task.status}",
        "HX-Reswap": "outerHTML",
        "Vary": "HX-Request",
    }
    return body, 200, headers
