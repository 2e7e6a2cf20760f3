"""Remind me (subscribe/unsubscribe), the signed links in reminder mail, and profile settings."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from taskly.reminders.model import sign_action
from tests.helpers import page_token, sign_up
from tests.reminders.conftest import new_task

HX = {"HX-Request": "true"}
SECRET = "test-secret-" + "x" * 32


async def post(client, path: str, form: dict[str, str] | None = None, htmx: bool = True):
    headers = {"X-CSRF-Token": await page_token(client, "/")}
    return await client.post(path, form=form or {}, headers={**headers, **(HX if htmx else {})})


async def test_remind_me_form_as_fragment_and_page(user, db):
    task_id = await new_task(user, db, "Pay rent")
    fragment = await user.get(f"/tasks/{task_id}/reminders", headers=HX)
    html = await fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert html.lstrip().startswith(f'<li id="task-{task_id}"')
    for label in ("At a date and time", "Before the due date", "Repeat until done"):
        assert f">{label}</label>" in html
    page = await user.get(f"/tasks/{task_id}/reminders")
    assert "<html" in await page.get_data(as_text=True)


async def test_subscribe_shows_a_bell_with_the_next_time(user, db):
    task_id = await new_task(user, db, "Stretch")
    response = await post(
        user, f"/tasks/{task_id}/reminders", {"repeat": "daily", "repeat_time": "07:45"}
    )
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'aria-label="Next reminder, by email"' in html and "07:45" in html
    row = await db.fetchrow("SELECT * FROM reminders WHERE task_id = $1", task_id)
    assert (row["kind"], row["repeat"], row["repeat_time"]) == ("repeat", "daily", time(7, 45))
    local = row["next_fire_at"].astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (7, 45)
    assert await db.fetchval("SELECT template FROM outbox") == "subscribed"
    # Saving again replaces the rules, and does not send a second "subscribed" mail.
    await post(user, f"/tasks/{task_id}/reminders", {"at": "2031-01-02T08:00"})
    kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM reminders")]
    assert kinds == ["at"]
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "Choose at least one reminder"),
        ({"at": "2001-01-01T09:00"}, "Choose a time in the future."),
        ({"at": "next tuesday"}, "Enter a date and time like"),
        ({"lead": "60"}, "This task has no due date."),
        ({"lead": "7"}, "Choose a lead time from the list."),
        ({"repeat": "hourly"}, "Choose how often from the list."),
        ({"repeat": "daily", "repeat_time": "25:99"}, "Enter a time like 09:00."),
        ({"lead": "9" * 5000}, "Choose a lead time from the list."),
        ({"repeat": "weekly", "repeat_day": "7"}, "Choose a day of the week."),
        ({"repeat": "weekly", "repeat_day": "-1"}, "Choose a day of the week."),
        ({"repeat": "weekly", "repeat_day": "9" * 5000}, "Choose a day of the week."),
    ],
)
async def test_subscribe_errors_are_shown_and_nothing_is_saved(user, db, form, message):
    task_id = await new_task(user, db, "Errors")
    response = await post(user, f"/tasks/{task_id}/reminders", form)
    assert response.status_code == 422
    assert message in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM reminders") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_double_submitted_remind_me_saves_one_rule_and_one_mail(user, db):
    task_id = await new_task(user, db, "Once")
    headers = {"X-CSRF-Token": await page_token(user, "/"), **HX}
    form = {"repeat": "daily", "repeat_time": "09:00"}
    responses = await asyncio.gather(
        *(user.post(f"/tasks/{task_id}/reminders", form=form, headers=headers) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [200] * 6
    assert await db.fetchval("SELECT count(*) FROM reminders") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1


async def test_reminders_of_another_user_are_404(user, app, db):
    task_id = await new_task(user, db, "Private")
    other = app.test_client()
    await sign_up(other, email="eve@example.com")
    assert (await other.get(f"/tasks/{task_id}/reminders")).status_code == 404
    assert (
        await post(other, f"/tasks/{task_id}/reminders", {"repeat": "daily"})
    ).status_code == 404
    assert (await post(other, f"/tasks/{task_id}/reminders/delete")).status_code == 404


async def link_for(db, action: str, task_id: int) -> str:
    user_id = await db.fetchval("SELECT user_id FROM tasks WHERE id = $1", task_id)
    reminder_id = await db.fetchval(
        "INSERT INTO reminders (user_id, task_id, kind, repeat, repeat_time, next_fire_at)"
        " VALUES ($1, $2, 'repeat', 'daily', '09:00', now() + interval '1 day') RETURNING id",
        user_id,
        task_id,
    )
    return "/m/" + sign_action(SECRET, action, user_id, task_id, reminder_id)


async def test_get_on_an_action_link_changes_nothing(app, user, db):
    task_id = await new_task(user, db, "Prefetched")
    link = await link_for(db, "done", task_id)
    scanner = app.test_client()  # a mail scanner: no session, follows links
    for _ in range(3):
        page = await scanner.get(link)
        html = await page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Mark this task done?" in html and ">Mark done</button>" in html
    assert await db.fetchval("SELECT status FROM tasks WHERE id = $1", task_id) == "todo"
    assert await db.fetchval("SELECT count(*) FROM used_links") == 0


async def test_mark_done_link_works_once(app, user, db):
    task_id = await new_task(user, db, "Finish via mail")
    link = await link_for(db, "done", task_id)
    browser = app.test_client()
    first = await browser.post(link)
    assert first.status_code == 200
    assert "Marked done" in await first.get_data(as_text=True)
    assert await db.fetchval("SELECT status FROM tasks WHERE id = $1", task_id) == "done"
    again = await browser.post(link)
    assert again.status_code == 409
    assert "already used" in await again.get_data(as_text=True)
    # Opened again from the mail: the page says so at once, with no button to press.
    page = await browser.get(link)
    html = await page.get_data(as_text=True)
    assert page.status_code == 409
    main = html.split("<main")[1].split("</main>")[0]
    assert "This link was already used." in main and "<button" not in main


async def test_snooze_links(app, user, db):
    task_id = await new_task(user, db, "Snooze me")
    browser = app.test_client()
    before = datetime.now(UTC)
    snooze = await link_for(db, "snooze_hour", task_id)
    await browser.post(snooze)
    fire = await db.fetchval("SELECT fire_at FROM reminders WHERE kind = 'at'")
    assert timedelta(minutes=59) < fire - before < timedelta(minutes=61)
    assert (await browser.post(snooze)).status_code == 409  # once
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE kind = 'at'") == 1
    await browser.post(await link_for(db, "snooze_tomorrow", task_id))
    tomorrow = await db.fetchval("SELECT max(fire_at) FROM reminders WHERE kind = 'at'")
    local = tomorrow.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() == (before.astimezone(local.tzinfo) + timedelta(days=1)).date()


async def test_one_click_unsubscribe_rfc_8058(app, user, db):
    task_id = await new_task(user, db, "Unsubscribe me")
    link = await link_for(db, "unsubscribe", task_id)
    mail_client = app.test_client()
    response = await mail_client.post(
        link,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE task_id = $1", task_id) == 0
    assert await db.fetchval("SELECT template FROM outbox") == "unsubscribed"


async def test_tampered_and_expired_links_are_refused(app, user, db):
    task_id = await new_task(user, db, "Safe")
    link = await link_for(db, "done", task_id)
    browser = app.test_client()
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    for method in ("GET", "POST"):
        response = await browser.open(tampered, method=method)
        assert response.status_code == 400
        assert "not valid" in await response.get_data(as_text=True)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=False):
        expired = await browser.post(link)
        assert expired.status_code == 400
        assert "expired" in await expired.get_data(as_text=True)
    assert await db.fetchval("SELECT status FROM tasks WHERE id = $1", task_id) == "todo"


async def test_a_new_time_zone_keeps_repeats_on_the_wall_clock(user, db):
    task_id = await new_task(user, db, "Zoned")
    await post(user, f"/tasks/{task_id}/reminders", {"repeat": "daily", "repeat_time": "09:00"})
    form = {"first_name": "Ada", "last_name": "Lovelace", "time_zone": "America/New_York"}
    response = await post(user, "/account/profile", form, htmx=False)
    assert response.status_code == 302
    assert await db.fetchval("SELECT time_zone FROM users") == "America/New_York"
    fire = await db.fetchval("SELECT next_fire_at FROM reminders")
    local = fire.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 0)
    for zone in ("Mars/Base", "localtime", "Factory"):
        bad = await post(user, "/account/profile", {**form, "time_zone": zone}, htmx=False)
        assert bad.status_code == 422, zone
        assert "Choose a time zone from the list" in await bad.get_data(as_text=True)


async def test_the_reminder_mail_switch(user, db):
    page = await (await user.get("/account/settings")).get_data(as_text=True)
    assert 'name="reminders_enabled" checked' in page
    response = await post(user, "/account/settings", {}, htmx=False)
    assert response.status_code == 302
    assert await db.fetchval("SELECT reminders_enabled FROM users") is False
    await post(user, "/account/settings", {"reminders_enabled": "on"}, htmx=False)
    assert await db.fetchval("SELECT reminders_enabled FROM users") is True


async def test_dev_mail_exists_only_in_development(make_app, client):
    await sign_up(client)
    assert (await client.get("/dev/mail")).status_code == 404  # the test environment
    dev = await make_app(env="development")
    dev_client = dev.test_client()
    await sign_up(dev_client, email="dev@example.com")
    page = await dev_client.get("/dev/mail")
    assert page.status_code == 200
    assert "Caught mail" in await page.get_data(as_text=True)


async def test_a_link_works_once_however_its_signature_is_written(app, user, db):
    task_id = await new_task(user, db, "Padding")
    link = await link_for(db, "snooze_hour", task_id)
    browser = app.test_client()
    assert (await browser.post(link)).status_code == 200
    for variant in (link + "=", link + "==", link + "==="):
        response = await browser.post(variant)
        assert response.status_code in (400, 409), variant
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE kind = 'at'") == 1


async def test_snooze_after_unsubscribing_does_nothing(app, user, db):
    task_id = await new_task(user, db, "Gone quiet")
    snooze = await link_for(db, "snooze_hour", task_id)
    await post(user, f"/tasks/{task_id}/reminders/delete")
    response = await app.test_client().post(snooze)
    assert response.status_code == 409
    assert "unsubscribed" in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM reminders") == 0


async def test_snooze_of_a_done_task_says_so_and_the_link_still_works_later(app, user, db):
    task_id = await new_task(user, db, "Finished")
    snooze = await link_for(db, "snooze_hour", task_id)
    await db.execute(
        "UPDATE tasks SET status = 'done', completed_at = now() WHERE id = $1", task_id
    )
    browser = app.test_client()
    response = await browser.post(snooze)
    assert response.status_code == 409
    assert "already done" in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE kind = 'at'") == 0
    await db.execute("UPDATE tasks SET status = 'todo', completed_at = NULL WHERE id = $1", task_id)
    assert (await browser.post(snooze)).status_code == 200  # reopened: now it snoozes
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE kind = 'at'") == 1


async def test_a_link_to_a_deleted_task_offers_nothing(app, user, db):
    task_id = await new_task(user, db, "Binned")
    link = await link_for(db, "done", task_id)
    await db.execute("UPDATE tasks SET deleted_at = now() WHERE id = $1", task_id)
    page = await app.test_client().get(link)
    html = await page.get_data(as_text=True)
    assert page.status_code == 404
    assert "That task no longer exists." in html and "<button" not in html.split("<main")[1]


async def test_a_signed_link_with_a_malformed_payload_is_refused(app, user, db):
    from taskly.reminders.model import _serializer

    for payload in ({"a": "done"}, {"a": "done", "u": "x", "t": 1, "r": 1}, ["done"]):
        token = _serializer(SECRET).dumps(payload)
        response = await app.test_client().post(f"/m/{token}")
        assert response.status_code == 400, payload
        assert "not valid" in await response.get_data(as_text=True)


async def test_dev_mail_shows_only_your_own_mail(make_app, db):
    dev = await make_app(env="development")
    client = dev.test_client()
    await sign_up(client, email="me@example.com")
    await db.execute(
        "INSERT INTO dev_mail (mail_from, rcpt_to, message) VALUES"
        " ('t@x', 'me@example.com', 'Subject: For me\n\nhello'),"
        " ('t@x', 'other@example.com', 'Subject: Not for me\n\nsecret link')"
    )
    html = await (await client.get("/dev/mail")).get_data(as_text=True)
    assert "For me" in html
    assert "Not for me" not in html


async def test_dev_mail_shows_the_html_part_sandboxed_and_refreshes(make_app, db):
    dev = await make_app(env="development")
    client = dev.test_client()
    await sign_up(client, email="me@example.com")
    message = (
        "Subject: Rich\nMIME-Version: 1.0\n"
        'Content-Type: multipart/alternative; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nplain words\n"
        '--b\nContent-Type: text/html\n\n<p>rich <img src="https://tracker.example/x.gif">'
        "<script>alert(1)</script></p>\n--b--\n"
    )
    await db.execute(
        "INSERT INTO dev_mail (mail_from, rcpt_to, message) VALUES ('t@x', 'me@example.com', $1)",
        message,
    )
    html = await (await client.get("/dev/mail")).get_data(as_text=True)
    frame = re.search(r"<iframe [^>]*>", html)[0]
    assert " sandbox " in frame  # no allow-*: no script, no forms, an origin of its own
    part = await client.get(re.search(r'src="([^"]+)"', frame)[1])
    assert "<p>rich" in await part.get_data(as_text=True)
    csp = part.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src data:" in csp and "sandbox" in csp
    assert "frame-ancestors 'self'" in csp and part.headers["X-Frame-Options"] == "SAMEORIGIN"
    stranger = await make_app(env="development")
    other = stranger.test_client()
    await sign_up(other, email="other@example.com")
    assert (await other.get(re.search(r'src="([^"]+)"', frame)[1])).status_code == 404
    assert "plain words" in html
    assert 'hx-trigger="every 3s"' in html
    fragment = await client.get("/dev/mail", headers={"HX-Request": "true"})
    assert (await fragment.get_data(as_text=True)).lstrip().startswith('<div id="mail-list"')
    newest = re.search(r'hx-get="/dev/mail\?after=(\d+)"', html)[1]
    same = await client.get(f"/dev/mail?after={newest}", headers={"HX-Request": "true"})
    assert same.status_code == 204  # nothing new: nothing redrawn


async def test_saving_reminders_says_when_they_will_fire(app, user, db, sink):
    from tests.reminders.conftest import engine_for, utc_clock

    task_id = await new_task(user, db, "Stretch")
    response = await post(
        user, f"/tasks/{task_id}/reminders", {"repeat": "weekdays", "repeat_time": "07:45"}
    )
    html = await response.get_data(as_text=True)
    assert "Reminders for “Stretch”: every weekday at 07:45. Next: " in html
    await db.execute("UPDATE outbox SET retry_at = now()")  # past the quiet minute
    await engine_for(app, sink, utc_clock).tick()
    [mail] = sink.to("Reminders on: Stretch")
    assert "When: every weekday at 07:45. Next: " in mail.get_body(("plain",)).get_content()
