"""Reordering the board: a card dropped where the user let go of it (drag and drop, or the
status keys with `after`), and Shift+K / Shift+J, which swap a card with its neighbour.
Each answers with as little as shows the change: two swapped cards, a bucket, or the lists."""

from __future__ import annotations

from quart import abort, g, request
from quart.typing import ResponseReturnValue

from taskly.db import connection, transaction
from taskly.tasks.board import place_task, select_board, swap_with_neighbour
from taskly.tasks.common import (
    back_to_board,
    blueprint,
    board_stats,
    flash_undo,
    fragment,
    page_search,
    short,
    shown,
    undo_toast,
)
from taskly.tasks.model import STATUS_LABELS, move_in_bucket, task_exists
from taskly.tasks.views import owned_task
from taskly.web import is_htmx, login_required

DROPPED_AT_TOP = "top"


def dropped_after(value: str) -> int | str | None:
    """A drop's `after`: a card id, None for the top of the bucket, or "" for not a drop."""
    if value == DROPPED_AT_TOP:
        return None
    if value.isdigit() and 0 < len(value) <= 18:
        return int(value)
    if value:
        abort(400, "That drop is not valid. Reload the page and try again.")
    return ""


async def drop(task_id: int, status: str, after: int | None) -> ResponseReturnValue:
    """A card dropped into `status` after card `after`: one transaction, then the board's
    lists as they now are (the page already shows the card there; this confirms it, or puts
    it back where it really is) with an Undo toast."""
    async with transaction() as conn:
        placed = await place_task(conn, g.user.id, task_id, status, after)
        if placed is None and not await task_exists(conn, task_id, g.user.id):
            abort(404)
    async with connection() as conn:
        board = await select_board(
            conn, g.user.id, g.user.time_zone, page_search(), shown=await shown()
        )
        stats = await board_stats(conn)
    toast = announce = None
    undo = placed[1] if placed else None
    if placed is None:
        announce = "The board changed meanwhile: the card stays where it was."
    elif undo is not None:
        title, where = short(placed[0].title), STATUS_LABELS[status]
        verb = "in" if undo.status == status else "to"
        toast = undo_toast(f"Moved “{title}” {verb} {where}.", undo)
    if not is_htmx():
        if toast and undo:
            await flash_undo(toast["message"], undo)
        return back_to_board(task_id)
    body = await fragment(
        "partials/_lists.html", stats=stats, board=board, toast=toast, announce=announce
    )
    return body, 200, {"HX-Reswap": "none", "Vary": "HX-Request"}


@blueprint.route("/tasks/<id:task_id>/move", methods=["POST"])
@login_required
async def move(task_id: int) -> ResponseReturnValue:
    form = await request.form
    direction = form.get("direction", "")
    neighbour = form.get("neighbour", "")
    if direction in ("up", "down") and neighbour.isdigit() and 0 < len(neighbour) <= 18:
        swapped = await _swap(task_id, int(neighbour), direction)
        if swapped is not None:
            return swapped
    task = await owned_task(task_id)
    after = dropped_after(form.get("after", ""))
    if after != "":
        return await drop(task_id, task.status, after)  # type: ignore[arg-type]
    if direction not in ("up", "down"):
        abort(400, "Move up or down.")
    async with connection() as conn:
        board = await select_board(
            conn, g.user.id, g.user.time_zone, page_search(), (task.status,), shown=await shown()
        )
        bucket = board[task.status]
        await move_in_bucket(conn, g.user.id, bucket, task_id, direction)
    if not is_htmx():
        return back_to_board(task_id)
    ids = [t.id for t in bucket]
    announce = None
    if task_id in ids:
        place = f"{ids.index(task_id) + 1} of {len(ids)} in {STATUS_LABELS[task.status]}"
        announce = f"“{short(task.title)}” is now {place}."
    body = await fragment(
        "partials/_bucket_list.html",
        announce=announce,
        status=task.status,
        tasks=bucket,
        board=board,
    )
    headers = {
        "HX-Retarget": f"#list-{task.status}",
        "HX-Reswap": "outerHTML",
        "Vary": "HX-Request",
    }
    return body, 200, headers


async def _swap(task_id: int, other_id: int, direction: str) -> ResponseReturnValue | None:
    """Shift+K / Shift+J with the neighbour the page shows: the two cards, swapped in place
    (the card that was on top is replaced by both, the other deleted out of band), instead
    of the whole bucket. None when the page was wrong about the neighbour: the caller then
    moves past the real one and redraws the bucket, which shows how things stand."""
    async with connection() as conn:  # one statement: atomic by itself
        pair = await swap_with_neighbour(conn, g.user.id, task_id, other_id, direction == "up")
    if not pair:
        return None
    if not is_htmx():
        return back_to_board(task_id)
    task, other = pair if pair[0].id == task_id else pair[::-1]
    where = "above" if direction == "up" else "below"
    announce = f"Moved “{short(task.title)}” {where} “{short(other.title)}”."
    was_on_top = other_id if direction == "up" else task_id
    gone = task_id if was_on_top == other_id else other_id
    body = await fragment("partials/_swapped.html", announce=announce, tasks=pair, gone=gone)
    headers = {
        "HX-Retarget": f"#task-{was_on_top}",
        "HX-Reswap": "outerHTML",
        "Vary": "HX-Request",
    }
    return body, 200, headers
