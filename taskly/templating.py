"""Jinja filters for showing tasks on the user's clock: local times, ages, durations, and notes
as safe text with clickable links; and versioned URLs for static files."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from quart import Quart, g, url_for

from taskly.resources import STATIC

_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""
_CLOSING = {")": "(", "]": "[", "}": "{"}


def _zone() -> ZoneInfo:
    user = g.get("user")
    return ZoneInfo(user.time_zone if user is not None else "UTC")


def local_time(value: datetime, all_day: bool = False) -> str:
    """ "Today 09:00", "Tomorrow", "Fri 28 Nov 17:30", "3 Jan 2027" on the user's clock."""
    zone = _zone()
    local = value.astimezone(zone)
    today = datetime.now(UTC).astimezone(zone).date()
    days = (local.date() - today).days
    if days == 0:
        day = "Today"
    elif days == 1:
        day = "Tomorrow"
    elif days == -1:
        day = "Yesterday"
    elif 0 < days < 7:
        day = local.strftime("%a %-d %b")
    elif local.year == today.year:
        day = local.strftime("%-d %b")
    else:
        day = local.strftime("%-d %b %Y")
    return day if all_day else f"{day} {local:%H:%M}"


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


@lru_cache(maxsize=64)
def _digest(path: Path, _modified_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def asset(filename: str) -> str:
    """A static file's URL carrying a digest of its content: after a deploy, browsers fetch the
    new CSS and JS instead of mixing a cached old one with new pages, and files can be cached
    for a year."""
    path = STATIC / filename
    return url_for("static", filename=filename, v=_digest(path, path.stat().st_mtime_ns))


def init_app(app: Quart) -> None:
    app.jinja_env.globals["asset"] = asset
    app.jinja_env.globals["new_submission_id"] = lambda: str(uuid.uuid4())
    limit = app.extensions["taskly.settings"].mail_daily_limit
    app.jinja_env.globals["mail_daily_limit"] = lambda: limit
    app.jinja_env.filters.update(
        local_time=local_time,
        iso_local=iso_local,
        local_date=local_date,
        local_clock=local_clock,
        duration=duration,
        age=age,
        linkify=linkify,
        from_json=json.loads,
    )
