"""Cross-site request forgery: every state-changing request must come from this site.

Two independent checks: where the request says it comes from (Origin / Sec-Fetch-Site,
headers only, checked before a byte of the body is read), and a token bound to the browser
session (a hidden form field or htmx's X-CSRF-Token header). A view that is authenticated by
something else (a signed mail link) is marked with @csrf_exempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from quart import current_app, g, request, session
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
OTHER_SITE = "This request came from another site and was refused."
F = TypeVar("F", bound=Callable[..., Awaitable[ResponseReturnValue]])


def csrf_exempt(view: F) -> F:
    """For endpoints authenticated by something else (a signed link), never by the cookie."""
    view._csrf_exempt = True  # type: ignore[attr-defined]
    return view


def is_exempt() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "_csrf_exempt", False))


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


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with default ports filled in; None for 'null' or junk."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def allowed_origins() -> set[tuple[str, str, int] | None]:
    """BASE_URL's origin, scheme included (http://host is not https://host). Outside
    production also the origin the request was addressed to, for a dev server on any port."""
    settings: Any = current_app.extensions["taskly.settings"]
    allowed = {origin_of(settings.base_url)}
    if not settings.production:
        allowed.add(origin_of(f"{request.scheme}://{request.host}"))
    return allowed


def check_origin() -> None:
    """Refuse a state-changing request a browser says came from elsewhere (headers only)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin_of(origin) not in allowed_origins() - {None}:
        raise Forbidden(OTHER_SITE)
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden(OTHER_SITE)


async def check_token() -> None:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        sent = (await request.form).get("csrf_token", "")
    if not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        raise Forbidden("This form has expired. Reload the page and try again.")
