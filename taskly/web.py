"""Shared request plumbing: the current user, CSRF, page-or-fragment rendering, security
headers, request logs and error pages. Every blueprint relies on this; none repeats it."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
from jinja2 import Environment
from markupsafe import Markup
from quart import Quart, current_app, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import current_user, logout_user
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response as WerkzeugResponse

from taskly.auth.model import select_session_user, touch_session
from taskly.db import DatabaseUnavailable, connection
from taskly.settings import Settings

log = logging.getLogger("taskly.request")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class IdConverter(IntegerConverter):
    """`<id:task_id>`: a positive id that fits PostgreSQL's bigint (else 404, not a 500)."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=2**63 - 1)


# Endpoints that never touch user data: no session lookup, no database round trip.
PUBLIC_ENDPOINTS = frozenset({"static", "core.healthz", "core.readyz"})
TOUCH_EVERY = timedelta(minutes=1)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
F = TypeVar("F", bound=Callable[..., Awaitable[ResponseReturnValue]])


def settings() -> Settings:
    value: Settings = current_app.extensions["taskly.settings"]
    return value


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


SYNC_JINJA = "taskly.sync_jinja"


async def render_template(template: str, **context: Any) -> str:
    """Render with a synchronous overlay of Quart's Jinja environment (same loader, filters
    and globals). Quart's environment is async; rendering 200 cards through it costs several
    times more (every expression is awaited), and nothing in our templates is async. The
    context is built here rather than by Quart's context processors, which run sync
    processors in a thread pool: a measurable cost on every fragment."""
    token = csrf_token()
    context.update(
        g=g,
        request=request,
        session=session,
        csrf_input=Markup(f'<input type="hidden" name="csrf_token" value="{token}">'),  # noqa: S704
    )
    environment: Environment = current_app.extensions[SYNC_JINJA]
    return environment.get_template(template).render(context)


async def render(
    page: str, *, partial: str | None = None, status: int = 200, **context: Any
) -> tuple[str, int, dict[str, str]]:
    """The full page for a normal request, or just `partial` for an htmx request."""
    template = partial if partial is not None and is_htmx() else page
    return await render_template(template, **context), status, {"Vary": "HX-Request"}


def client_ip() -> str:
    """The client's address. A forwarding header is believed only when TRUSTED_PROXY_HEADER
    names it (on fly.io: Fly-Client-IP), because any client can send one."""
    header = settings().trusted_proxy_header
    if header:
        value = request.headers.get(header, "")
        # X-Forwarded-For style lists: the proxy appends the address it saw last.
        candidate = value.split(",")[-1].strip()
        if candidate:
            return candidate
    return request.remote_addr or "unknown"


def login_required(view: F) -> F:
    @wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if g.user is None:
            target = url_for("auth.login", next=request.full_path.rstrip("?"))
            if is_htmx():
                return "", 401, {"HX-Redirect": target}
            return redirect(target)
        return await view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def csrf_exempt(view: F) -> F:
    """For endpoints authenticated by something else (a signed link), never by the cookie."""
    view._csrf_exempt = True  # type: ignore[attr-defined]
    return view


def csrf_token() -> str:
    """A token bound to this browser session: the login session if there is one, else an
    anonymous id in the signed session cookie (so login and signup are protected too)."""
    cached: str | None = g.get("csrf_token")
    if cached is not None:
        return cached
    seed = g.get("session_token")
    if seed is None:
        seed = session.get("anon")
        if seed is None:
            seed = session["anon"] = secrets.token_urlsafe(16)
    key = current_app.secret_key
    assert isinstance(key, str)
    token = hmac.new(key.encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()
    g.csrf_token = token
    return token


def safe_next(target: str | None) -> str:
    """A local path to continue to after login; anything else goes to the dashboard.
    Browsers drop tabs and newlines and treat backslashes as slashes, so any of those (or a
    scheme or host) makes the target unsafe: `/\t/evil.example` would leave the site."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("tasks.dashboard")


def _same_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    if parts.netloc == request.host:
        return True
    base = urlsplit(settings().base_url)
    return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)


async def _begin_request() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.user = None
    g.session_token = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = current_user.auth_id
    if token is None:
        return
    config = settings()
    async with connection() as conn:
        found = await select_session_user(
            conn, token, config.session_idle_timeout, config.session_absolute_timeout
        )
        if found is None:
            logout_user()  # revoked or expired: drop the cookie too
            return
        if datetime.now(UTC) - found.last_seen_at > TOUCH_EVERY:
            await touch_session(conn, token)
    g.user = found.user
    g.session_token = token


async def _reject_nul() -> None:
    """PostgreSQL text cannot hold NUL: refuse it up front with a 400, not a 500."""
    if any("\x00" in value for value in request.args.values()):
        raise BadRequest("The request contains a NUL character.")
    if request.method not in SAFE_METHODS and request.mimetype in FORM_TYPES:
        form = await request.form
        if any("\x00" in value for value in form.values()):
            raise BadRequest("The form contains a NUL character. Remove it and try again.")


async def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "_csrf_exempt", False):
        return
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin):
        raise Forbidden("This request came from another site and was refused.")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("This request came from another site and was refused.")
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        sent = (await request.form).get("csrf_token", "")
    if not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        raise Forbidden("This form has expired. Reload the page and try again.")


async def _finish_response(response: WerkzeugResponse) -> WerkzeugResponse:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if settings().production:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint != "static":
        # Nothing dynamic is stored by the browser or a proxy: Back after logout shows no
        # private page, it asks the server again and is sent to the login page.
        headers["Cache-Control"] = "no-store"
    request_id = g.get("request_id", "-")
    headers["X-Request-ID"] = request_id
    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else 0.0
    log.info(
        "%s %s %s %sms %s",
        request.method,
        request.path,
        response.status_code,
        duration_ms,
        request_id,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "request_id": request_id,
        },
    )
    return response


ERROR_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Changed meanwhile",
    413: "Too large",
    422: "Check the form",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
DEFAULT_MESSAGES = {
    404: "There is nothing here. It may have been deleted, or the link is wrong.",
    405: "That page cannot be used this way.",
    413: "That request was too large. Shorten it and try again.",
    429: "Too many attempts in a short time. Wait a little and try again.",
    500: "An unexpected error happened on our side. It has been logged; please try again.",
    503: "The database is not answering right now. Please try again in a moment.",
}
# A hung or unreachable database: the pool's acquire/command timeouts end the request quickly.
DATABASE_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    DatabaseUnavailable,
    TimeoutError,
    OSError,
)


_CARD = re.compile(r"task-\d+")
TASK_GONE = "This task no longer exists: it was deleted, perhaps in another tab."


async def _render_error(code: int, message: str) -> tuple[str, int, dict[str, str]]:
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
    body, status, headers = await _render_error(code, message or "")
    for name, value in error.get_headers():
        if name.lower() == "retry-after":
            headers[name] = value
    return body, status, headers


async def _handle_unexpected(error: Exception) -> ResponseReturnValue:
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, DATABASE_DOWN):
        log.error("database unavailable: %r", original, extra={"request_id": g.get("request_id")})
        return await _render_error(503, DEFAULT_MESSAGES[503])
    log.exception("unhandled error", extra={"request_id": g.get("request_id", "-")})
    return await _render_error(500, DEFAULT_MESSAGES[500])


def init_app(app: Quart) -> None:
    app.url_map.converters["id"] = IdConverter
    app.before_request(_begin_request)
    app.before_request(_reject_nul)
    app.before_request(_check_csrf)
    app.after_request(_finish_response)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(InternalServerError, _handle_unexpected)
    app.register_error_handler(Exception, _handle_unexpected)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.extensions[SYNC_JINJA] = app.jinja_env.overlay(enable_async=False)
