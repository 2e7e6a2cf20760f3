"""What the board's views and actions share: the blueprint, the template context, the page's
search (which every redraw keeps), and the fragment an htmx action answers with."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg
from quart import Blueprint, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.tasks.board import Search, count_matches
from taskly.tasks.model import (
    FILTERS,
    PRIORITIES,
    PRIORITY_CLASSES,
    STATUS_LABELS,
    STATUSES,
    Undo,
)
from taskly.tasks.stats import Stats, select_stats
from taskly.web import is_htmx, render_template

blueprint = Blueprint("tasks", __name__)
TOAST_TITLE = 60


def context(**extra: Any) -> dict[str, Any]:
    return {
        "now": datetime.now(UTC),
        "status_labels": STATUS_LABELS,
        "statuses": STATUSES,
        "priorities": PRIORITIES,
        "priority_classes": PRIORITY_CLASSES,
        **extra,
    }


def short(title: str) -> str:
    return title if len(title) <= TOAST_TITLE else title[: TOAST_TITLE - 1] + "…"


def page_search() -> Search:
    """The board's search and filter: from the query string, or, for an action, from the page
    it was sent from (htmx's HX-Current-URL, else the Referer of a plain form post), so lists
    redrawn after Undo or a move, and the board a form post returns to, keep the search."""
    args: Any = request.args
    if request.method == "POST":
        page = request.headers.get("HX-Current-URL" if is_htmx() else "Referer", "")
        args = dict(parse_qsl(urlsplit(page).query))
    # A page URL is not checked like the request's own query string: drop NULs (PostgreSQL
    # text cannot hold them) rather than fail the action over a search.
    text = args.get("q", "").replace("\x00", "").strip()[:200]
    filter = args.get("filter", "")
    return Search(text, filter if filter in FILTERS else "")


async def shown() -> dict[str, int]:
    """How many cards of each bucket the page shows (board.js sends `shown_<status>` with
    every action), so a redrawn list keeps the pages the user has scrolled through."""
    form = await request.form
    counts = {}
    for status in STATUSES:
        value = form.get(f"shown_{status}", "")
        counts[status] = int(value) if value.isdigit() and len(value) <= 6 else 0
    return counts


async def board_stats(conn: asyncpg.Connection) -> Stats:
    """The counts and stats strip; while the page searches, with the matches per bucket."""
    stats = await select_stats(conn, g.user.id, g.user.time_zone)
    search = page_search()
    if not search:
        return stats
    matches = await count_matches(conn, g.user.id, g.user.time_zone, search)
    return dataclasses.replace(stats, matches=matches)


def back_to_board(task_id: int | None = None) -> ResponseReturnValue:
    """Without JavaScript an action ends with a redirect to the board, searched as it was."""
    search = page_search()
    params: dict[str, Any] = {k: v for k, v in (("q", search.text), ("filter", search.filter)) if v}
    anchor = None if task_id is None else f"task-{task_id}"
    return redirect(url_for("tasks.dashboard", _anchor=anchor, **params))


async def fragment(
    template: str,
    stats: Stats | None = None,
    toast: dict[str, Any] | None = None,
    announce: str | None = None,
    **extra: Any,
) -> str:
    """The changed part plus, out of band, the counts, the stats strip, and a toast (undoable
    actions) or a screen-reader announcement (the rest)."""
    search = page_search()
    return await render_template(
        "partials/_response.html",
        main=template,
        stats=stats,
        toast=toast,
        announce=announce,
        **context(search=search.text, filter=search.filter, **extra),
    )


def undo_toast(message: str, undo: Undo) -> dict[str, Any]:
    return {"message": message, "undo": {"task_id": undo.task_id, "fields": undo.fields()}}


async def flash_undo(message: str, undo: Undo) -> None:
    """Without JavaScript the Undo toast travels through the flash (a redirect)."""
    await flash(json.dumps(undo_toast(message, undo)), "undo")
