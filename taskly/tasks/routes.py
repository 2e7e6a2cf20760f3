"""The board's actions, each answering with the full page (after a redirect) for a plain form
post, or only what changed for an htmx request. Drag and drop posts to the same status and
move routes as the keys, with `after` saying where the card was dropped."""

from __future__ import annotations

from uuid import uuid4

from quart import abort, flash, g, request
from quart.typing import ResponseReturnValue

from taskly.db import connection, transaction
from taskly.tasks.board import select_board
from taskly.tasks.common import (
    back_to_board,
    blueprint,
    board_stats,
    context,
    flash_undo,
    fragment,
    page_search,
    short,
    shown,
    undo_toast,
)
from taskly.tasks.model import (
    STATUS_LABELS,
    STATUSES,
    Undo,
    clean_task_form,
    delete_task,
    insert_task,
    parse_submission,
    reschedule_due_reminders,
    restore_task,
    task_exists,
    update_task,
    update_task_status,
)
from taskly.tasks.quickadd import parse_quick_add
from taskly.tasks.reorder import drop, dropped_after
from taskly.tasks.views import dashboard_page, owned_task
from taskly.web import is_htmx, login_required, render, render_template


@blueprint.route("/tasks", methods=["POST"])
@login_required
async def create() -> ResponseReturnValue:
    form = await request.form
    data = parse_quick_add(form.get("title", ""), g.user.time_zone)
    if data.errors:
        data.title = form.get("title", "")  # keep exactly what was typed
        if not is_htmx():
            return await dashboard_page(new_task=data, status=422)
        body = await render_template("partials/_new_task_form.html", new_task=data)
        headers = {"HX-Retarget": "#new-task-form", "HX-Reswap": "outerHTML", "Vary": "HX-Request"}
        return body, 422, headers
    submission = parse_submission(form.get("submission", ""))
    async with connection() as conn:  # one INSERT: atomic by itself
        task = await insert_task(conn, g.user.id, data, submission)
        stats = await board_stats(conn)
    if not is_htmx():
        return back_to_board()
    announce = f"Added “{short(task.title)}” to To do."
    return await fragment(
        "partials/_task_card.html",
        stats=stats,
        announce=announce,
        task=task,
        new_submission=str(uuid4()),  # the form's next id, swapped in out of band
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
            stats = await board_stats(conn)
        if task is not None:
            if not is_htmx():
                await flash(f"Saved “{short(task.title)}”.", "success")
                return back_to_board(task.id)
            announce = f"Saved “{short(task.title)}”."
            return await fragment(
                "partials/_task_card.html", stats=stats, announce=announce, task=task
            )
        current = await owned_task(task_id, gone)  # it changed meanwhile (or was deleted)
        conflict = current
        status = 409
    else:
        status = 422
    page = context(task=current, form=data, errors=data.errors, conflict=conflict)
    return await render(
        "pages/task_edit.html", partial="partials/_task_form.html", status=status, **page
    )


@blueprint.route("/tasks/<id:task_id>/status", methods=["POST"])
@login_required
async def change_status(task_id: int) -> ResponseReturnValue:
    form = await request.form
    status = form.get("status", "")
    if status not in STATUSES:
        abort(400, "Choose To do, In progress or Done.")
    after = dropped_after(form.get("after", ""))
    if after != "":
        return await drop(task_id, status, after)  # type: ignore[arg-type]
    async with connection() as conn:
        moved = await update_task_status(conn, task_id, g.user.id, status)
        stats = await board_stats(conn)
    if moved is None:
        task = await owned_task(task_id)  # 404 if not yours; else it was already there
        if not is_htmx():
            return back_to_board()
        if form.get("shown_in", status) == status:  # a repeated click: the card stays
            return await fragment("partials/_task_card.html", stats=stats, task=task)
        # This page showed it elsewhere: another tab moved it. Put the card where it is.
        announce = f"“{short(task.title)}” was already in {STATUS_LABELS[status]}."
        body = await fragment(
            "partials/_moved_card.html", stats=stats, announce=announce, task=task
        )
        return body, 200, {"HX-Reswap": "delete", "Vary": "HX-Request"}
    task, undo = moved
    message = f"Moved “{short(task.title)}” to {STATUS_LABELS[status]}."
    if not is_htmx():
        await flash_undo(message, undo)
        return back_to_board()
    body = await fragment(
        "partials/_moved_card.html", stats=stats, toast=undo_toast(message, undo), task=task
    )
    return body, 200, {"HX-Reswap": "delete", "Vary": "HX-Request"}


@blueprint.route("/tasks/<id:task_id>/delete", methods=["POST"])
@login_required
async def delete(task_id: int) -> ResponseReturnValue:
    async with transaction() as conn:
        deleted = await delete_task(conn, task_id, g.user.id)
        stats = await board_stats(conn)
    if deleted is None:
        abort(404)
    task, undo = deleted
    message = f"Deleted “{short(task.title)}”."
    if not is_htmx():
        await flash_undo(message, undo)
        return back_to_board()
    body = await fragment("partials/_nothing.html", stats=stats, toast=undo_toast(message, undo))
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
        # filtered as the page is, as far as the page shows them.
        board = await select_board(
            conn, g.user.id, g.user.time_zone, page_search(), shown=await shown()
        )
        stats = await board_stats(conn)
    message = f"Restored “{short(task.title)}”."
    if not is_htmx():
        await flash(message, "success")
        return back_to_board(task.id)
    return await fragment(
        "partials/_restored.html", stats=stats, board=board, message=message, task=task
    )
