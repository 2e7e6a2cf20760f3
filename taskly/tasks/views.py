"""The board's pages: the dashboard, a bucket's next page, one task's page and its edit form,
and the quick-add preview. Actions that change tasks are in routes.py."""

from __future__ import annotations

from quart import abort, g, request, session
from quart.typing import ResponseReturnValue

from taskly.db import connection
from taskly.tasks.board import START, parse_cursor, select_board
from taskly.tasks.common import blueprint, board_stats, context, fragment, page_search
from taskly.tasks.model import STATUSES, Task, TaskInput, select_task
from taskly.tasks.quickadd import parse_quick_add
from taskly.web import is_htmx, login_required, render, render_template


async def dashboard_page(
    new_task: TaskInput | None = None, status: int = 200
) -> ResponseReturnValue:
    search = page_search()
    async with connection() as conn:
        board = await select_board(conn, g.user.id, g.user.time_zone, search)
        stats = await board_stats(conn)
    active = request.args.get("bucket", "")
    page = context(
        board=board,
        stats=stats,
        search=search.text,
        filter=search.filter,
        active_bucket=active if active in STATUSES else "todo",
        new_task=new_task or TaskInput(),
        focus_new_task=session.pop("focus_new_task", False),
    )
    if is_htmx() and request.headers.get("HX-Target") == "board":
        return await render("pages/dashboard.html", partial="partials/_board.html", **page)
    return await render("pages/dashboard.html", status=status, **page)


@blueprint.route("/")
@login_required
async def dashboard() -> ResponseReturnValue:
    return await dashboard_page()


@blueprint.route("/tasks/bucket/<status>")
@login_required
async def bucket_page(status: str) -> ResponseReturnValue:
    """A bucket's next page of cards, after the card in `after` ("Show more", or reached by
    scrolling or j/k). Without JavaScript, a page of its own with a link to the next."""
    if status not in STATUSES:
        abort(404)
    after = parse_cursor(request.args.get("after", "")) if request.args.get("after") else START
    if after is None:
        abort(400, "That link is not valid. Go back to the board and try again.")
    search = page_search()
    async with connection() as conn:
        board = await select_board(conn, g.user.id, g.user.time_zone, search, (status,), after)
    page = context(board=board, status=status, search=search.text, filter=search.filter)
    template = "partials/_bucket_page.html" if is_htmx() else "pages/bucket.html"
    return await render_template(template, **page), 200, {"Vary": "HX-Request"}


@blueprint.route("/tasks/preview")
@login_required
async def preview() -> ResponseReturnValue:
    """What quick add understood so far ("Due Fri 28 Nov 09:00 · High"), shown under New task
    while typing: the same parser the create uses, so the preview never disagrees with it."""
    data = parse_quick_add(request.args.get("title", "")[:400], g.user.time_zone)
    return await render_template("partials/_quick_add_preview.html", data=data, **context())


async def card_fragment(task_id: int, announce: str | None = None) -> ResponseReturnValue:
    """The card as it is now, with counts and stats out of band (used after reminder edits)."""
    async with connection() as conn:
        task = await select_task(conn, task_id, g.user.id)
        if task is None:
            abort(404)
        stats = await board_stats(conn)
    return await fragment("partials/_task_card.html", stats=stats, announce=announce, task=task)


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
    return await render("pages/task.html", partial="partials/_task_card.html", **context(task=task))


@blueprint.route("/tasks/<id:task_id>/edit")
@login_required
async def edit(task_id: int) -> ResponseReturnValue:
    task = await owned_task(task_id)
    return await render(
        "pages/task_edit.html",
        partial="partials/_task_form.html",
        **context(task=task, form=None, errors={}, conflict=None),
    )
