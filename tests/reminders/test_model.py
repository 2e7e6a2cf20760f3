"""Next occurrences on the user's clock, including both DST changes, in two zones."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from taskly.reminders.model import Rule, next_occurrence


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def series(rule: Rule, start: datetime, zone: str, count: int) -> list[datetime]:
    found, after = [], start
    for _ in range(count):
        after = next_occurrence(rule, after, zone, None)
        found.append(after)
    return found


def test_daily_nine_oclock_stays_nine_across_spring_forward_in_berlin():
    rule = Rule("repeat", repeat="daily", repeat_time=time(9, 0))
    got = series(rule, utc("2026-03-27T12:00:00"), "Europe/Berlin", 3)
    # 09:00 CET is 08:00 UTC; from 29 March 09:00 CEST is 07:00 UTC.
    assert got == [
        utc("2026-03-28T08:00:00"),
        utc("2026-03-29T07:00:00"),
        utc("2026-03-30T07:00:00"),
    ]


def test_daily_nine_oclock_stays_nine_across_fall_back_in_new_york():
    rule = Rule("repeat", repeat="daily", repeat_time=time(9, 0))
    got = series(rule, utc("2026-10-31T20:00:00"), "America/New_York", 2)
    # 09:00 EDT is 13:00 UTC; on 1 November (EST) 09:00 is 14:00 UTC.
    assert got == [utc("2026-11-01T14:00:00"), utc("2026-11-02T14:00:00")]


def test_a_time_in_the_spring_gap_fires_after_it_never_before():
    rule = Rule("repeat", repeat="daily", repeat_time=time(2, 30))
    got = next_occurrence(rule, utc("2026-03-28T12:00:00"), "Europe/Berlin", None)
    assert got == utc("2026-03-29T01:30:00")  # 03:30 CEST: the 02:30 that did not exist
    assert got > utc("2026-03-29T01:00:00")  # the gap began at 01:00 UTC


def test_an_ambiguous_fall_back_time_fires_once():
    rule = Rule("repeat", repeat="daily", repeat_time=time(2, 30))
    got = series(rule, utc("2026-10-24T12:00:00"), "Europe/Berlin", 2)
    assert got == [utc("2026-10-25T00:30:00"), utc("2026-10-26T01:30:00")]


def test_weekdays_skip_the_weekend_and_weekly_keeps_its_day():
    weekdays = Rule("repeat", repeat="weekdays", repeat_time=time(8, 0))
    got = series(weekdays, utc("2026-11-20T12:00:00"), "Europe/Paris", 2)  # a Friday
    assert got == [utc("2026-11-23T07:00:00"), utc("2026-11-24T07:00:00")]  # Monday, Tuesday
    weekly = Rule("repeat", repeat="weekly", repeat_time=time(18, 15), repeat_day=2)
    got = series(weekly, utc("2026-11-20T12:00:00"), "Asia/Tokyo", 2)
    assert got == [utc("2026-11-25T09:15:00"), utc("2026-12-02T09:15:00")]


def test_one_shots_fire_once_and_never_in_the_past():
    fire = utc("2026-12-01T10:00:00")
    rule = Rule("at", fire_at=fire)
    assert next_occurrence(rule, fire - timedelta(seconds=1), "UTC", None) == fire
    assert next_occurrence(rule, fire, "UTC", None) is None
    lead = Rule("before_due", lead_minutes=60)
    due = utc("2026-12-05T17:00:00")
    assert next_occurrence(lead, utc("2026-12-01T00:00:00"), "UTC", due) == utc(
        "2026-12-05T16:00:00"
    )
    assert next_occurrence(lead, utc("2026-12-05T16:30:00"), "UTC", due) is None
    assert next_occurrence(lead, utc("2026-12-01T00:00:00"), "UTC", None) is None


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney"])
def test_a_year_of_daily_reminders_is_always_at_nine_local(zone):
    from zoneinfo import ZoneInfo

    rule = Rule("repeat", repeat="daily", repeat_time=time(9, 0))
    for instant in series(rule, utc("2026-01-01T00:00:00"), zone, 366):
        local = instant.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (9, 0)


def test_schedules_are_described_on_the_users_clock():
    from datetime import UTC, datetime, time

    from taskly.reminders.model import Rule, describe_schedule

    rules = [
        Rule("repeat", repeat="weekdays", repeat_time=time(8, 30)),
        Rule("repeat", repeat="weekly", repeat_time=time(18, 0), repeat_day=4),
        Rule("before_due", lead_minutes=60),
        Rule("at", fire_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
    ]
    following = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert describe_schedule(rules, "Europe/Berlin", following, now=now) == (
        "every weekday at 08:30; every Friday at 18:00; 1 hour before it is due;"
        " on Sat, 28 Nov 2026 at 09:00. Next: Tue 24 Nov at 08:30"
    )
    # In the user's format: a 12-hour clock; the year shows when it is not this year's.
    am, pm = "\u202fAM", "\u202fPM"
    assert describe_schedule(rules, "Europe/Berlin", following, "en-US", now.replace(2025)) == (
        f"every weekday at 8:30{am}; every Friday at 6:00{pm}; 1 hour before it is due;"
        f" on Sat, Nov 28, 2026 at 9:00{am}. Next: Tue, Nov 24, 2026 at 8:30{am}"
    )
