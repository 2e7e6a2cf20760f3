"""Error answers: a readable page for a normal request, a toast (or the card's removal) for an
htmx request; never a stack trace. A database that is down, starting or stopping is a 503."""

from __future__ import annotations

import logging
import re

import asyncpg
from quart import Quart, g, request
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

from taskly.db import DatabaseUnavailable
from taskly.web import is_htmx, render_template

log = logging.getLogger("taskly.request")

ERROR_TITLES = {
    400: "Bad request",
    401: "Logged out",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    408: "Too slow",
    409: "Changed meanwhile",
    410: "Link no longer valid",
    411: "Length required",
    413: "Too large",
    422: "Check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
DEFAULT_MESSAGES = {
    404: "There is nothing here. It may have been deleted, or the link is wrong.",
    405: "That page cannot be used this way.",
    408: "The request took too long to arrive. Check your connection and try again.",
    413: "That request was too large. Shorten it and try again.",
    429: "Too many attempts in a short time. Wait a little and try again.",
    500: "An unexpected error happened on our side. It has been logged; please try again.",
    503: "The database is not answering right now. Please try again in a moment.",
}
# The database is unreachable, hung, starting up or shutting down (CannotConnectNowError and
# AdminShutdownError are OperatorInterventionErrors), or the connection broke mid-protocol
# during a fast stop (InternalClientError "cannot switch to state"): all are a 503.
DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.TooManyConnectionsError,
    DatabaseUnavailable,
    TimeoutError,
    OSError,
)

_CARD = re.compile(r"task-\d+")
TASK_GONE = "This task no longer exists: it was deleted, perhaps in another tab."


async def render_error(code: int, message: str) -> tuple[str, int, dict[str, str]]:
    title = ERROR_TITLES.get(code, "Error")
    context = {"code": code, "title": title, "message": message}
    headers = {"Vary": "HX-Request"}
    on_card = is_htmx() and _CARD.fullmatch(request.headers.get("HX-Target", ""))
    if on_card and code == 404 and request.endpoint != "tasks.update":
        # A card whose task is gone (deleted in another tab) goes too, and a toast says why.
        # A failed save keeps its form instead, so nothing typed is lost; Esc then closes it.
        context |= {"title": "Already deleted", "message": TASK_GONE}
        body = await render_template("partials/_error_toast.html", oob=True, **context)
        return body, code, headers | {"HX-Reswap": "delete"}
    if is_htmx():
        # Errors of a fragment request become a toast, wherever the request aimed.
        headers |= {"HX-Retarget": "#toasts", "HX-Reswap": "beforeend"}
        return await render_template("partials/_error_toast.html", **context), code, headers
    return await render_template("pages/error.html", **context), code, headers


async def _handle_http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    described = error.description != type(error).description
    message = error.description if described else DEFAULT_MESSAGES.get(code, error.description)
    body, status, headers = await render_error(code, message or "")
    for name, value in error.get_headers():
        if name.lower() == "retry-after":
            headers[name] = value
    return body, status, headers


async def _handle_unexpected(error: Exception) -> ResponseReturnValue:
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, DATABASE_DOWN):
        log.error("database unavailable: %r", original, extra={"request_id": g.get("request_id")})
        body, status, headers = await render_error(503, DEFAULT_MESSAGES[503])
        return body, status, headers | {"Retry-After": "2"}
    log.exception("unhandled error", extra={"request_id": g.get("request_id", "-")})
    return await render_error(500, DEFAULT_MESSAGES[500])


def init_app(app: Quart) -> None:
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(InternalServerError, _handle_unexpected)
    app.register_error_handler(Exception, _handle_unexpected)
