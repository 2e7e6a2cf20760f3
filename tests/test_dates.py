"""Dates as people read them (issue #11): one format across pages and mail, by the user's locale,
with the locale's own 12- or 24-hour clock; and which locales are accepted."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from taskly.dates import (
    DEFAULT_LOCALE,
    best_locale,
    format_clock,
    format_day,
    format_long,
    format_moment,
    locale_choices,
    parse_locale,
    quick_due_dates,
)

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 22)  # a Sunday
NNBSP = "\u202f"  # CLDR puts a narrow no-break space before AM/PM: "9:00 AM" never wraps


def local(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", f"Sat, Nov 28, 5:30{NNBSP}PM"),
        ("en-GB", "Sat 28 Nov, 17:30"),
        ("de", "Sa., 28. Nov., 17:30"),
        ("de-DE", "Sa., 28. Nov., 17:30"),
        ("fr-FR", "sam. 28 nov. 17:30"),
    ],
)
def test_a_day_this_year_has_weekday_day_and_month_and_the_locales_clock(locale, expected):
    assert format_moment(local("2026-11-28T17:30"), locale, TODAY) == expected


@pytest.mark.parametrize(
    ("locale", "morning", "evening"),
    [
        ("en-US", f"9:00{NNBSP}AM", f"9:05{NNBSP}PM"),
        ("en-GB", "09:00", "21:05"),
        ("de", "09:00", "21:05"),
        ("en", f"9:00{NNBSP}AM", f"9:05{NNBSP}PM"),  # English without a region: US usage
    ],
)
def test_times_follow_the_locales_hour_cycle(locale, morning, evening):
    assert format_clock(time(9, 0), locale) == morning
    assert format_clock(local("2026-11-28T21:05"), locale) == evening


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en-US", "Sun, Jan 3, 2027"), ("en-GB", "Sun, 3 Jan 2027"), ("de", "So., 3. Jan. 2027")],
)
def test_another_years_date_carries_its_year(locale, expected):
    assert format_moment(local("2027-01-03T10:00"), locale, TODAY, all_day=True) == expected
    assert format_day(date(2027, 1, 3), locale, TODAY) == expected
    assert format_day(date(2026, 1, 3), locale, TODAY).count("2026") == 0


def test_near_days_are_words_and_all_day_dates_have_no_time():
    assert format_moment(local("2026-11-22T09:00"), "en-GB", TODAY) == "Today, 09:00"
    assert format_moment(local("2026-11-23T09:00"), "en-US", TODAY) == f"Tomorrow, 9:00{NNBSP}AM"
    assert format_moment(local("2026-11-21T23:59"), "en-GB", TODAY, all_day=True) == "Yesterday"
    assert format_moment(local("2026-11-28T23:59"), "en-US", TODAY, all_day=True) == "Sat, Nov 28"
    assert format_moment(local("2026-11-28T23:59"), "de", TODAY, all_day=True) == "Sa., 28. Nov."


def test_daylight_saving_changes_the_zone_not_the_wall_clock():
    # 29 March 2026: Berlin skips 02:00-03:00; 25 October: 03:00 comes twice.
    before = datetime(2026, 3, 29, 0, 59, tzinfo=UTC).astimezone(BERLIN)
    after = datetime(2026, 3, 29, 1, 0, tzinfo=UTC).astimezone(BERLIN)
    assert format_moment(before, "en-GB", TODAY) == "Sun 29 Mar, 01:59"
    assert format_moment(after, "en-US", TODAY) == f"Sun, Mar 29, 3:00{NNBSP}AM"
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC).astimezone(BERLIN)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC).astimezone(BERLIN)
    assert format_long(first, "en-GB") == "Sunday, 25 October 2026, 02:30 CEST"
    assert format_long(second, "en-GB") == "Sunday, 25 October 2026, 02:30 CET"
    # A date on its own is the same day on both sides of the change.
    day = datetime(2026, 10, 24, 22, 0, tzinfo=UTC).astimezone(BERLIN)
    assert format_moment(day, "en-GB", TODAY, all_day=True) == "Sun 25 Oct"


def test_mail_spells_the_date_out_with_the_zone():
    due = datetime(2026, 12, 1, 16, 0, tzinfo=UTC).astimezone(BERLIN)
    assert format_long(due, "en-GB") == "Tuesday, 1 December 2026, 17:00 CET"
    assert format_long(due, "en-US") == f"Tuesday, December 1, 2026, 5:00{NNBSP}PM CET"
    assert format_long(due, "de", all_day=True) == "Dienstag, 1. Dezember 2026"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en-GB", "en-GB"),
        ("en-gb", "en-GB"),
        ("en_US", "en-US"),
        (" de ", "de"),
        ("zh-TW", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de-XX", None),  # no such region
        ("xx", None),
        ("de-DE-u-hc-h12", None),  # extensions are not kept
        ("*", None),
        ("", None),
        ("en-GB" + "-x" * 20, None),
        ("dé", None),
        ("en-GB; DROP TABLE users", None),
    ],
)
def test_only_locales_babel_knows_are_accepted(value, expected):
    assert parse_locale(value) == expected


def test_the_first_known_locale_wins_else_the_default():
    assert best_locale(["", "xx-YY", "de-CH", "en-US"]) == "de-CH"
    assert best_locale(["*"]) == DEFAULT_LOCALE == "en-GB"
    assert best_locale([]) == DEFAULT_LOCALE


def test_the_profile_lists_each_locale_once_by_its_english_name():
    choices = dict(locale_choices())
    assert choices["en-US"] == "English (United States)"
    assert choices["de"] == "German"
    assert all(parse_locale(tag) == tag for tag in choices)


@pytest.mark.parametrize(
    ("today", "monday"),
    [
        (date(2026, 11, 22), "2026-11-23"),  # Sunday: tomorrow is next week
        (date(2026, 11, 23), "2026-11-30"),  # Monday: a week on
        (date(2026, 12, 31), "2027-01-04"),
    ],
)
def test_quick_due_dates(today, monday):
    choices = dict(quick_due_dates(today))
    assert choices["Today"] == today.isoformat()
    assert choices["Next week"] == monday
    assert choices["No date"] == ""
    assert list(choices) == ["Today", "Tomorrow", "Next week", "No date"]
