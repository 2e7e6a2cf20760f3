"""Dates and times as people read them, in one format across pages and mail: CLDR's patterns
(through Babel) for the user's locale, so en-US reads "Sat, Nov 28, 9:00 AM", en-GB
"Sat 28 Nov, 09:00" and de "Sa., 28. Nov., 09:00". The locale sets the format only (the order,
the names, the 12- or 24-hour clock); the surrounding words stay English. Values arrive already
on the user's clock (see taskly.templating and taskly.reminders.messages for the zone).

A locale is stored as a BCP 47 tag ("en-GB", "zh-Hant-TW"), the form browsers give
(`navigator.language`, Accept-Language), and is accepted only when Babel has data for it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from babel import Locale, UnknownLocaleError, localedata
from babel.dates import DateTimePattern, match_skeleton, parse_pattern

# British English: the app's format before locales existed (24-hour, day before month), kept for
# every account made before then and for anyone whose browser names nothing Babel knows.
DEFAULT_LOCALE = "en-GB"
LOCALE_MAX = 35  # longer than any tag Babel has data for
_TAG_SHAPE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", re.ASCII)


def _tag(locale: Locale) -> str:
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


@lru_cache(maxsize=512)
def parse_locale(value: str) -> str | None:
    """The canonical tag ("en-gb" and "en_GB" give "en-GB") if Babel has data for it, else
    None: unknown languages and regions ("de-XX"), extensions ("de-u-hc-h12") and junk."""
    text = value.strip().replace("_", "-")
    if len(text) > LOCALE_MAX or not _TAG_SHAPE.fullmatch(text):
        return None  # Babel itself drops what follows ".", "@" or ";"
    try:
        return _tag(Locale.parse(text, sep="-"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def best_locale(tags: Iterable[str]) -> str:
    """The first tag Babel knows, in the order given (Accept-Language by quality), else the
    default."""
    for value in tags:
        if (found := parse_locale(value)) is not None:
            return found
    return DEFAULT_LOCALE


@lru_cache(maxsize=256)
def _locale(tag: str) -> Locale:
    return Locale.parse(parse_locale(tag) or DEFAULT_LOCALE, sep="-")


@lru_cache(maxsize=2048)
def _pattern(tag: str, skeleton: str) -> DateTimePattern:
    """The locale's pattern for a skeleton ("MMMEd": weekday, day, short month), or its short
    time ("time") or full date ("full"), parsed once: a board renders hundreds of dates."""
    locale = _locale(tag)
    if skeleton == "time":
        return parse_pattern(locale.time_formats["short"])
    if skeleton == "full":
        return parse_pattern(locale.date_formats["full"])
    skeletons = locale.datetime_skeletons
    return parse_pattern(skeletons[match_skeleton(skeleton, skeletons) or "MMMEd"])


def _apply(value: date | time, tag: str, skeleton: str) -> str:
    return _pattern(tag, skeleton).apply(value, _locale(tag))


def join(day: str, clock: str, tag: str) -> str:
    """A day and a time as the locale joins them: "Sat 28 Nov, 09:00", "sam. 28 nov. 09:00"."""
    glue = str(_locale(tag).datetime_formats["short"]).replace("'", "")
    return glue.replace("{1}", day).replace("{0}", clock)


def format_clock(value: time | datetime, tag: str) -> str:
    """A time in the locale's own hour cycle: "9:00 AM" (en-US), "09:00" (en-GB, de)."""
    return _apply(value, tag, "time")


def format_day(value: date, tag: str, today: date | None = None) -> str:
    """Weekday, day and month, with the year only when it is not `today`'s (always without
    `today`): "Sat 28 Nov", "Sun, 3 Jan 2027"."""
    day = value.date() if isinstance(value, datetime) else value
    return _apply(day, tag, "MMMEd" if today is not None and day.year == today.year else "yMMMEd")


def format_moment(local: datetime, tag: str, today: date, all_day: bool = False) -> str:
    """On the user's clock, near days in words: "Today, 09:00", "Tomorrow", "Sat 28 Nov, 5:30
    PM", "Sun, 3 Jan 2027"."""
    days = (local.date() - today).days
    words = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}
    day = words.get(days) or format_day(local.date(), tag, today)
    return day if all_day else join(day, format_clock(local, tag), tag)


def format_long(local: datetime, tag: str, all_day: bool = False) -> str:
    """For mail, read later and elsewhere: the full date and the zone's abbreviation,
    "Tuesday, 1 December 2026, 17:00 CET" (en-GB), "Tuesday, December 1, 2026, 5:00 PM CET"."""
    day = _apply(local.date(), tag, "full")
    if all_day:
        return day
    return join(day, f"{format_clock(local, tag)} {local.tzname() or ''}".rstrip(), tag)


def quick_due_dates(today: date) -> list[tuple[str, str]]:
    """The due picker's quick choices on the user's clock: (label, ISO date, "" for none).
    Next week is the coming Monday (a week on from a Monday)."""
    monday = today + timedelta(days=7 - today.weekday())
    return [
        ("Today", today.isoformat()),
        ("Tomorrow", (today + timedelta(days=1)).isoformat()),
        ("Next week", monday.isoformat()),
        ("No date", ""),
    ]


@lru_cache(maxsize=1)
def locale_choices() -> list[tuple[str, str]]:
    """Every locale Babel has data for, as (tag, name in English), for the profile's list."""
    english = Locale("en")
    choices: dict[str, str] = {}
    for identifier in localedata.locale_identifiers():
        try:
            locale = Locale.parse(identifier)
        except (ValueError, UnknownLocaleError):
            continue
        if locale.variant:
            continue
        choices[_tag(locale)] = locale.get_display_name(english) or _tag(locale)
    return sorted(choices.items(), key=lambda item: item[1].casefold())
