"""GET /live: the board's event stream (Server-Sent Events), one per open board.

The page gives the change number it was rendered at (`since`); a browser reconnecting gives
the last one it was sent (Last-Event-ID, which wins). The stream first sends what changed since
then, then waits to be woken by the hub (taskly/live/hub.py) and sends each batch of changes
as one `change` event: the changed cards rendered with the board's own card partial, filtered
by the page's search, with the counts and stats out of band. Its id is the change number, so a
reconnect neither misses nor repeats anything. When too much changed (more than MAX_CARDS
cards, or numbers already pruned from the log), it sends `refetch` and the page reloads its
board. It sends `logout` and closes when the session ends (a logout anywhere, a revocation,
its timeout), and closes at shutdown.

Nothing is held while waiting: no pooled connection, no transaction. A comment line every
HEARTBEAT seconds keeps idle connections open through proxies (fly.io closes idle ones after
60 s) and notices browsers that went away.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from quart import (
    Blueprint,
    Quart,
    abort,
    current_app,
    g,
    make_response,
    request,
    stream_with_context,
)
from quart.typing import ResponseReturnValue

from taskly.auth.cache import SESSION_CACHE_KEY, SessionCache
from taskly.auth.model import token_hash
from taskly.db import current_pool, queries
from taskly.live.hub import Full, Hub, Listener, Stream
from taskly.settings import Settings
from taskly.tasks.board import Search, count_matches, select_live_changes
from taskly.tasks.common import context, page_search
from taskly.tasks.stats import Stats
from taskly.web import login_required, render_template, settings

blueprint = Blueprint("live", __name__)
HUB_KEY = "taskly.live.hub"
LISTENER_KEY = "taskly.live.listener"
HEARTBEAT = 20.0
RETRY_MS = 2000  # how soon a browser reconnects after the connection drops
MAX_CARDS = 100  # more changed cards than this in one batch: reload the board instead


def hub() -> Hub:
    found: Hub = current_app.extensions[HUB_KEY]
    return found


def _since() -> int | None:
    value = request.headers.get("Last-Event-ID") or request.args.get("since", "")
    if value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _event(kind: str, body: str = "", seq: int | None = None) -> str:
    lines = [f"event: {kind}"]
    if seq is not None:
        lines.append(f"id: {seq}")
    lines.extend(f"data: {line}" for line in (body.splitlines() or [""]))
    return "\n".join(lines) + "\n\n"


def _pooled() -> Any:
    """A pooled connection for one step, given back at once: a stream lives for hours, and
    must not keep the request's connection (taskly.db.connection) all that time."""
    return current_pool().acquire(timeout=settings().db_acquire_timeout)


async def _changes(stream: Stream, search: Search) -> str | None:
    """What changed after `stream.seen`, as one event (or None), advancing `seen`.

    A user's open boards usually wait at the same number with the same search, and a change
    wakes them all at once: the first to ask makes the event, the others are given the same one
    (the hub drops it when a newer change is heard)."""
    key = (stream.seen, search.text, search.filter)
    made = hub().made.setdefault(stream.user_id, {})
    future = made.get(key)
    if future is None:
        future = made[key] = asyncio.ensure_future(_make(stream.user_id, stream.seen, search))
    try:
        current, event = await asyncio.shield(future)
    except Exception:
        if made.get(key) is future:
            del made[key]  # the next wake-up tries again
        raise
    stream.seen = current
    return event


async def _make(user_id: int, since: int, search: Search) -> tuple[int, str | None]:
    zone = g.user.time_zone
    async with _pooled() as conn:
        found = await select_live_changes(conn, user_id, zone, search, since, MAX_CARDS)
        current = found.current
        if current == since:
            return current, None
        complete = found.numbers == set(range(since + 1, current + 1))
        if (
            since > current
            or not complete
            or 0 in found.task_ids
            or len(found.task_ids) > MAX_CARDS
        ):
            return current, _event("refetch", seq=current)
        stats = found.stats
        if search:
            matches = await count_matches(conn, user_id, zone, search)
            stats = dataclasses.replace(stats, matches=matches)
    body = await render_template(
        "partials/_live_event.html",
        **context(
            ids=sorted(found.task_ids),
            cards={card.id: card for card in found.cards},
            versions=found.versions,
            search=search.text,
            filter=search.filter,
        ),
    ) + await _counts_and_stats(user_id, stats)
    return current, _event("change", body, current)


async def _counts_and_stats(user_id: int, stats: Stats) -> str:
    """The event's counts and stats, rendered again only when they changed: a title, a note,
    a reminder or a move within a bucket leaves them as they were."""
    last = hub().oob.get(user_id)
    if last is not None and last[0] == stats:
        return last[1]
    html = await render_template("partials/_live_oob.html", **context(stats=stats))
    hub().oob[user_id] = (stats, html)
    return html


async def _session_ends(token: bytes) -> datetime | None:
    config = settings()
    async with _pooled() as conn:
        ends: datetime | None = await queries.select_session_expiry(
            conn,
            token_hash=token,
            idle_seconds=float(config.session_idle_timeout),
            absolute_seconds=float(config.session_absolute_timeout),
        )
    return ends


@blueprint.route("/live")
@login_required
async def live() -> ResponseReturnValue:
    since = _since()
    stream = Stream(
        g.user.id, token_hash(g.session_token), g.user.change_seq if since is None else since
    )
    try:
        hub().add(stream)  # first: a change committed from here on wakes it
    except Full as full:
        why = "too many open boards" if full.per_user else "too busy"
        abort(429 if full.per_user else 503, f"Live updates are paused: {why}.")
    ends = await _session_ends(stream.token_hash)
    if ends is None:
        hub().remove(stream)
        abort(401)

    user = g.user
    search = page_search()

    @stream_with_context
    async def events() -> AsyncIterator[str]:
        nonlocal ends
        g.user = user  # the app context is not carried into the stream; the board's helpers read it
        try:
            yield f"retry: {RETRY_MS}\n\n"
            woken = True  # first, what changed since the page was rendered
            while True:
                if stream.check_session:
                    stream.check_session = False
                    ends = await _session_ends(stream.token_hash)
                if ends is None or stream.ended == "logout":
                    yield _event("logout")
                    return
                if stream.ended:
                    return
                if woken:  # not after a heartbeat: nothing was heard, nothing to read
                    stream.wake.clear()
                    event = await _changes(stream, search)
                    if event is not None:
                        yield event
                wait = min(HEARTBEAT, (ends - datetime.now(UTC)).total_seconds())
                try:
                    await asyncio.wait_for(stream.wake.wait(), max(wait, 0.0))
                    woken = True
                except TimeoutError:
                    woken = False
                    if datetime.now(UTC) >= ends:
                        stream.check_session = True  # touched meanwhile by another request?
                    else:
                        yield ": keep-alive\n\n"
        finally:
            hub().remove(stream)

    response = await make_response(
        events(),
        200,
        {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )
    response.timeout = None  # type: ignore[union-attr]  # open as long as the board is
    return response


def init_app(app: Quart, settings: Settings) -> None:
    """The stream route, this process's hub, and its one listening connection (opened when
    serving starts; streams are ended before the pool closes)."""
    app.register_blueprint(blueprint)
    live_hub = app.extensions[HUB_KEY] = Hub()

    def listening() -> bool:
        listener = app.extensions.get(LISTENER_KEY)
        return listener is not None and listener.listening.is_set()

    cache = app.extensions[SESSION_CACHE_KEY] = SessionCache(listening)
    live_hub.session_listeners.append(cache.drop_session)
    live_hub.user_listeners.append(cache.drop_user)
    live_hub.resync_listeners.append(cache.clear)
    dsn = settings.database_direct_url if settings.db_pgbouncer else settings.database_url

    @app.before_serving
    async def listen() -> None:
        if dsn:
            listener = Listener(dsn, app.extensions[HUB_KEY], settings.db_connect_timeout)
            listener.start()
            app.extensions[LISTENER_KEY] = listener

    @app.after_serving
    async def stop_listening() -> None:
        app.extensions[HUB_KEY].close_all()
        listener = app.extensions.pop(LISTENER_KEY, None)
        if listener is not None:
            await listener.stop()
