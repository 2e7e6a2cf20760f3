"""Shared request plumbing: the current user, page-or-fragment rendering, security headers
and the request log; it wires in the request guards (taskly.guard), CSRF (taskly.csrf) and
error answers (taskly.errors). Every blueprint relies on this; none repeats it."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from jinja2 import Environment
from markupsafe import Markup
from quart import Quart, current_app, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import current_user, logout_user
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response as WerkzeugResponse

from taskly.auth.cache import SESSION_CACHE_KEY, SessionCache
from taskly.auth.model import select_session_user, token_hash, touch_session
from taskly.csrf import SAFE_METHODS, check_token, csrf_exempt, csrf_token, is_exempt
from taskly.db import current_pool
from taskly.logs import log_request
from taskly.settings import Settings

__all__ = ["csrf_exempt", "csrf_token"]  # re-exported for the blueprints


class IdConverter(IntegerConverter):
    """`<id:task_id>`: a positive id that fits PostgreSQL's bigint (else 404, not a 500)."""

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=2**63 - 1)


# Endpoints that never touch user data: no session lookup, no database round trip. (A browser
# checks /sw.js for a new version as pages open: that costs no query.)
PUBLIC_ENDPOINTS = frozenset(
    {"static", "core.healthz", "core.readyz", "core.manifest", "core.service_worker"}
)
TOUCH_EVERY = timedelta(minutes=1)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
F = TypeVar("F", bound=Callable[..., Awaitable[ResponseReturnValue]])


class LoggedOut(Unauthorized):
    """The session this page was loaded in has ended (logged out, or the password changed on
    another device): say so and offer to log in, rather than "this form has expired"."""

    description = (
        "You were logged out: your session ended, perhaps on another device. Log in again"
        " (in a new tab, so what you typed here stays), then try once more."
    )


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


async def _begin_request() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.user = None
    g.session_token = None


async def _load_user() -> None:
    """The session's user. Runs after guard_request has read the whole body, and gives its
    pooled connection back at once: views take their own (see db.connection's fair share)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = current_user.auth_id
    if token is None:
        return
    config = settings()
    idle, absolute = config.session_idle_timeout, config.session_absolute_timeout
    now = datetime.now(UTC)
    cache: SessionCache | None = current_app.extensions.get(SESSION_CACHE_KEY)
    key = token_hash(token)
    found = cache.get(key, now) if cache is not None else None
    if found is None or now - found.last_seen_at > TOUCH_EVERY:
        version = cache.version() if cache is not None else 0
        async with current_pool().acquire(timeout=config.db_acquire_timeout) as conn:
            if found is None:
                found = await select_session_user(conn, token, idle, absolute)
                if found is None:
                    logout_user()  # revoked or expired: drop the cookie too
                    g.session_ended = True  # an action now says "you were logged out"
                    return
                if cache is not None:
                    cache.put(key, found, version, idle, absolute)
            if now - found.last_seen_at > TOUCH_EVERY:
                await touch_session(conn, token)
                found = replace(found, last_seen_at=now)
                if cache is not None:
                    cache.touched(key, found, idle, absolute)
    g.user = found.user
    g.session_token = token


async def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return
    if g.get("body_too_large"):  # unread, so unverifiable: the view changes nothing then
        return
    if not is_exempt():
        try:
            await check_token()
        except Forbidden:
            if g.get("session_ended"):
                raise LoggedOut() from None
            raise


# The security headers, as tuples built once: every response gets these, replacing any a view
# set (werkzeug's headers[key] = value scans and rebuilds the list once per header; one
# extend() of ready-made pairs costs a third as much: ~14 instead of ~38 µs a response).
FORCED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)
FORCED_IN_PRODUCTION = (
    *FORCED_HEADERS,
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
)
# Defaults a view may narrow (the dev mail viewer sets its own CSP and X-Frame-Options).
DEFAULT_HEADERS = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"))
NO_STORE = ("Cache-Control", "no-store")


async def _finish_response(response: WerkzeugResponse) -> WerkzeugResponse:
    headers = response.headers
    forced = FORCED_IN_PRODUCTION if settings().production else FORCED_HEADERS
    present = {key.lower() for key in headers.keys()}  # noqa: SIM118 - Headers iterates pairs
    for key, _ in forced:
        if key.lower() in present:  # rare: never two of them
            del headers[key]
    added = [pair for pair in DEFAULT_HEADERS if pair[0].lower() not in present]
    if request.endpoint != "static" and "cache-control" not in present:
        # Nothing dynamic is stored by the browser or a proxy: Back after logout shows no
        # private page, it asks the server again and is sent to the login page. (A view that
        # sets its own, like the immutable avatar URLs, knows better.)
        added.append(NO_STORE)
    if "x-request-id" in present:
        del headers["X-Request-ID"]
    added.append(("X-Request-ID", g.get("request_id", "-")))
    headers.extend(forced)
    headers.extend(added)
    log_request(response.status_code)
    return response


def init_app(app: Quart) -> None:
    from taskly import compression, errors
    from taskly.guard import TasklyRequest, guard_request

    app.request_class = TasklyRequest
    app.url_map.converters["id"] = IdConverter
    app.before_request(_begin_request)
    app.before_request(guard_request)  # reads the whole body before anything takes a connection
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_finish_response)
    compression.init_app(app)  # after_request runs last-registered first: compress, then log
    errors.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.extensions[SYNC_JINJA] = app.jinja_env.overlay(enable_async=False)
