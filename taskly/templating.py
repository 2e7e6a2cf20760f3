"""Jinja filters for showing tasks on the user's clock and in their locale's date format: local
times, ages, durations, and notes as safe text with clickable links; the due picker's quick
choices; and versioned URLs for static files."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from quart import Quart, g, has_request_context, request, url_for

from taskly.dates import (
    DEFAULT_LOCALE,
    best_locale,
    format_clock,
    format_day,
    format_moment,
    quick_due_dates,
)
from taskly.resources import STATIC

_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""
_CLOSING = {")": "(", "]": "[", "}": "{"}


def _zone() -> ZoneInfo:
    user = g.get("user")
    return ZoneInfo(user.time_zone if user is not None else "UTC")


def current_locale() -> str:
    """The user's chosen locale, so pages and mail agree on every device; for anonymous pages,
    the browser's Accept-Language."""
    user = g.get("user")
    if user is not None:
        return str(user.locale)
    if not has_request_context():
        return DEFAULT_LOCALE
    if "locale" not in g:
        g.locale = best_locale(request.accept_languages.values())
    return str(g.locale)


def _today() -> date:
    return datetime.now(UTC).astimezone(_zone()).date()


def local_time(value: datetime, all_day: bool = False) -> str:
    """ "Today, 09:00", "Tomorrow", "Sat 28 Nov, 5:30 PM", "Sun, 3 Jan 2027" on the user's clock
    and in their locale's format (taskly.dates)."""
    return format_moment(value.astimezone(_zone()), current_locale(), _today(), all_day)


def clock(value: time) -> str:
    """A wall-clock time (a repeating reminder's) in the locale's hour cycle."""
    return format_clock(value, current_locale())


def locale_example(tag: str | None = None) -> str:
    """How a date reads in a locale: the profile's live example."""
    sample = datetime.combine(_today() + timedelta(days=6), time(17, 30))
    return format_moment(sample, tag or current_locale(), _today())


def due_choices() -> list[tuple[str, str, str]]:
    """The due picker's quick choices, on the user's clock: (label, ISO date, date in words)."""
    tag, today = current_locale(), _today()
    return [
        (label, day, format_day(date.fromisoformat(day), tag, today) if day else "")
        for label, day in quick_due_dates(today)
    ]


# Machine-readable values (datetime attributes, date and time inputs) stay ISO.
def iso_local(value: datetime) -> str:
    return value.astimezone(_zone()).isoformat(timespec="minutes")


def local_date(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(_zone()).date().isoformat()


def local_clock(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(_zone()).strftime("%H:%M")


def duration(seconds: float | None) -> str:
    """A short human duration: "45s", "12m", "5h", "3d", "7w"."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    for size, unit in ((604800 * 2, "w"), (86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            divisor = 604800 if unit == "w" else size
            return f"{int(seconds // divisor)}{unit}"
    return f"{int(seconds)}s"


def age(value: datetime, until: datetime | None = None) -> str:
    end = until or datetime.now(UTC)
    return duration((end - value).total_seconds())


def linkify(text: str) -> Markup:
    """The text, escaped, with its http(s) URLs as links. URLs are found in the text as typed
    (escaping first would make `"https://x"` end in `&#34`), and lose trailing punctuation and
    unbalanced closing brackets: `(see https://en.wikipedia.org/wiki/Foo_(bar)).` links the
    whole article name. Line breaks are kept by CSS."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match[0]
        while url and (
            url[-1] in _TRAILING
            or (url[-1] in _CLOSING and url.count(url[-1]) > url.count(_CLOSING[url[-1]]))
        ):
            url = url[:-1]
        if "://" not in url.rstrip("/:"):
            continue  # nothing left after the scheme
        parts.append(str(escape(text[last : match.start()])))
        href = escape(url)
        parts.append(
            f'<a href="{href}" rel="noopener noreferrer nofollow" target="_blank">{href}</a>'
        )
        last = match.start() + len(url)
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))  # noqa: S704 - every piece is escaped


def highlight(text: str, term: str | None) -> Markup | str:
    """The text, escaped, with each case-insensitive occurrence of the search `term` in
    <mark> (the board while searching); the plain text when there is no term."""
    if not term:
        return text
    pieces = re.split(f"({re.escape(term)})", text, flags=re.IGNORECASE)
    return Markup(  # noqa: S704 - every piece is escaped
        "".join(
            f"<mark>{escape(piece)}</mark>" if i % 2 else str(escape(piece))
            for i, piece in enumerate(pieces)
        )
    )


@lru_cache(maxsize=64)
def _digest(path: Path, _modified_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset(filename: str) -> str:
    """A static file's URL carrying a digest of its content: after a deploy, browsers fetch the
    new CSS and JS instead of mixing a cached old one with new pages, and files can be cached
    for a year."""
    path = STATIC / filename
    return url_for("static", filename=filename, v=_digest(path, path.stat().st_mtime_ns))


def reminder_channels_text(channels: list[str] | None) -> str:
    """What a card's bell says after "Next reminder": ", by email, all my devices and ntfy"."""
    names = {"email": "email", "devices": "all my devices", "device": "push to a device"}
    ordered = sorted(channels or [], key=lambda c: (list(names).index(c) if c in names else 3, c))
    words = [names.get(c) or c.removeprefix("service:") for c in ordered]
    if not words:
        return ""
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f", by {listed}"


def init_app(app: Quart) -> None:
    app.jinja_env.globals["reminder_channels_text"] = reminder_channels_text
    app.jinja_env.globals["asset"] = asset
    app.jinja_env.globals["due_choices"] = due_choices
    app.jinja_env.globals["locale_example"] = locale_example
    app.jinja_env.globals["new_submission_id"] = lambda: str(uuid.uuid4())
    limit = app.extensions["taskly.settings"].mail_daily_limit
    app.jinja_env.globals["mail_daily_limit"] = lambda: limit
    app.jinja_env.filters.update(
        local_time=local_time,
        iso_local=iso_local,
        local_date=local_date,
        local_clock=local_clock,
        clock=clock,
        duration=duration,
        age=age,
        linkify=linkify,
        highlight=highlight,
        from_json=json.loads,
    )
