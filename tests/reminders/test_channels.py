"""Reminders on several channels against real receivers: the SMTP sink (tests/smtp.py) and a
real RFC 8030 push service (tests/support/push_service.py) that checks Taskly's VAPID signature
and decrypts each message with the keys only the browser holds. What a phone would show is
asserted: the title, the due time on the owner's clock, and Done / Snooze links that work once
without a session. A failing channel never holds up another."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.helpers import page_token, sign_up
from tests.reminders.conftest import (
    Clock,
    add_device,
    add_service,
    at,
    email_and_push,
    engine_for,
    new_task,
)

FIRE = at("2026-12-01T09:00:00+00:00")  # the FIRE of email_and_push
JSON = {"Accept": "application/json"}


async def states(db) -> dict[str, str]:
    rows = await db.fetch("SELECT channel, state FROM deliveries ORDER BY channel")
    return {r["channel"]: r["state"] for r in rows}


async def test_a_due_reminder_goes_by_mail_and_push_and_its_actions_work_once(
    push_app, ada, db, sink, push_service
):
    task_id = await new_task(ada, db, "Call the bank")
    await db.execute(
        "UPDATE tasks SET due_at = $1 WHERE id = $2", at("2026-12-01T16:00:00+00:00"), task_id
    )
    device = await add_device(ada, db, push_service)
    await email_and_push(db, task_id, device)
    engine = engine_for(push_app, sink, Clock(FIRE))
    assert await engine.tick() == 2
    assert await engine.tick() == 0
    [mail] = sink.messages
    assert mail["Subject"] == "Reminder: Call the bank"
    assert push_service.rejected == []
    [push] = push_service.received  # VAPID verified, decrypted with the browser's keys
    shown = push.payload
    assert shown["title"] == "Call the bank"
    assert shown["body"] == "Due Tuesday, 1 December 2026, 17:00 CET"  # Berlin, not UTC
    assert shown["url"] == f"/#task-{task_id}"
    assert [(a["action"], a["title"]) for a in shown["actions"]] == [
        ("done", "Done"),
        ("snooze_hour", "Snooze 1 hour"),
    ]
    assert push.urgency == "high" and push.ttl == 24 * 3600
    assert push.topic == f"reminder-{task_id}"
    assert await states(db) == {"email": "sent", "push": "sent"}
    assert await db.fetchval("SELECT last_success_at FROM push_subscriptions") is not None

    # Done from the lock screen: the service worker posts with no cookies at all.
    done = next(a["url"] for a in shown["actions"] if a["action"] == "done")
    worker = push_app.test_client()
    answer = await worker.post(done, headers=JSON)
    assert answer.status_code == 204
    assert await db.fetchval("SELECT status FROM tasks WHERE id = $1", task_id) == "done"
    again = await worker.post(done, headers=JSON)
    assert again.status_code == 409
    assert (await again.get_json()) == {"error": "This link was already used."}


async def test_snooze_from_a_notification_reminds_again_on_the_same_channels(
    push_app, ada, db, sink, push_service
):
    task_id = await new_task(ada, db, "Stretch")
    device = await add_device(ada, db, push_service)
    await email_and_push(db, task_id, device)
    await engine_for(push_app, sink, Clock(FIRE)).tick()
    [push] = push_service.received
    snooze = next(a["url"] for a in push.payload["actions"] if a["action"] == "snooze_hour")
    answer = await push_app.test_client().post(snooze, headers=JSON)
    assert answer.status_code == 204
    snoozed = await db.fetchrow(
        "SELECT id, by_email, all_devices, next_fire_at FROM reminders WHERE state = 'active'"
    )
    assert snoozed["by_email"] and not snoozed["all_devices"]
    assert (
        await db.fetchval(
            "SELECT push_subscription_id FROM reminder_targets WHERE reminder_id = $1",
            snoozed["id"],
        )
        == device
    )
    later = engine_for(push_app, sink, Clock(snoozed["next_fire_at"]))
    assert await later.tick() == 2
    assert len(push_service.received) == 2 and len(sink.messages) == 2


async def test_a_gone_subscription_is_removed_and_the_mail_still_goes(
    push_app, ada, db, sink, push_service
):
    task_id = await new_task(ada, db, "Water plants")
    device = await add_device(ada, db, push_service)
    await email_and_push(db, task_id, device)
    push_service.answer(410)
    assert await engine_for(push_app, sink, Clock(FIRE)).tick() == 1
    assert [m["Subject"] for m in sink.messages] == ["Reminder: Water plants"]
    assert await db.fetchval("SELECT count(*) FROM push_subscriptions") == 0
    assert await states(db) == {"email": "sent"}  # the push row went with its subscription


async def test_429_waits_for_retry_after(push_app, ada, db, sink, push_service):
    task_id = await new_task(ada, db, "Throttled")
    await email_and_push(db, task_id, await add_device(ada, db, push_service))
    push_service.answer(429, headers={"Retry-After": "120"})
    clock = Clock(FIRE)
    engine = engine_for(push_app, sink, clock)
    assert await engine.tick() == 1  # the mail
    row = await db.fetchrow("SELECT * FROM deliveries WHERE channel = 'push'")
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["retry_at"] == FIRE + timedelta(seconds=120)
    assert row["last_error"].startswith("429")
    assert "429" in await db.fetchval("SELECT last_error FROM push_subscriptions")
    clock.now = FIRE + timedelta(seconds=119)
    assert await engine.tick() == 0
    assert push_service.requests == 1
    clock.now = FIRE + timedelta(seconds=120)
    assert await engine.tick() == 1
    assert len(push_service.received) == 1
    assert await states(db) == {"email": "sent", "push": "sent"}
    assert await db.fetchval("SELECT last_error FROM push_subscriptions") is None


async def test_500_retries_with_backoff(push_app, ada, db, sink, push_service):
    task_id = await new_task(ada, db, "Flaky")
    await email_and_push(db, task_id, await add_device(ada, db, push_service))
    push_service.answer(500, times=2)
    clock = Clock(FIRE)
    engine = engine_for(push_app, sink, clock)
    assert await engine.tick() == 1
    assert await db.fetchval("SELECT retry_at FROM deliveries WHERE channel = 'push'") == (
        FIRE + timedelta(seconds=30)
    )
    clock.now = FIRE + timedelta(seconds=30)
    assert await engine.tick() == 0  # the second 500: now a minute
    row = await db.fetchrow("SELECT * FROM deliveries WHERE channel = 'push'")
    assert (row["attempts"], row["retry_at"]) == (2, clock.now + timedelta(seconds=60))
    clock.now += timedelta(seconds=60)
    assert await engine.tick() == 1
    assert len(push_service.received) == 1 and len(sink.messages) == 1


async def test_mail_down_does_not_hold_up_the_push(push_app, ada, db, sink, push_service):
    task_id = await new_task(ada, db, "Mail is down")
    await email_and_push(db, task_id, await add_device(ada, db, push_service))
    sink.stop()  # connection refused
    clock = Clock(FIRE)
    engine = engine_for(push_app, sink, clock)
    assert await engine.tick() == 1
    assert len(push_service.received) == 1
    row = await db.fetchrow("SELECT state, attempts FROM deliveries WHERE channel = 'email'")
    assert (row["state"], row["attempts"]) == ("pending", 1)
    sink.start()
    clock.now = FIRE + timedelta(minutes=1)
    assert await engine.tick() == 1
    assert len(sink.messages) == 1 and len(push_service.received) == 1


async def test_unverified_mail_is_held_but_the_push_goes(push_app, db, sink, push_service):
    """Holds are about mail: an unconfirmed address waits, the phone does not."""
    app_client = push_app.test_client()
    await sign_up(app_client, email="new@example.com", verify=False)
    task_id = await new_task(app_client, db, "Unconfirmed")
    await email_and_push(
        db, task_id, await add_device(app_client, db, push_service, "new@example.com")
    )
    assert await engine_for(push_app, sink, Clock(FIRE)).tick() == 2  # verification mail, push
    assert [m["Subject"] for m in sink.messages] == ["Confirm your email address for Taskly"]
    assert len(push_service.received) == 1
    row = await db.fetchrow("SELECT state, last_error FROM deliveries WHERE channel = 'email'")
    assert (row["state"], row["last_error"]) == ("pending", "held: address not verified")


# ---- the Remind me form ---------------------------------------------------------------------


async def remind(client, task_id: int, **form: Any):
    token = await page_token(client, f"/tasks/{task_id}/reminders")
    fields = {"repeat": "daily", "repeat_time": "07:45", "channels_shown": "1", **form}
    return await client.post(
        f"/tasks/{task_id}/reminders",
        form=fields,
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )


async def test_the_channels_chosen_are_saved_and_shown_on_the_bell(ada, db, push_service):
    task_id = await new_task(ada, db, "Stretch")
    device = await add_device(ada, db, push_service)
    endpoint = await db.fetchval("SELECT endpoint FROM push_subscriptions WHERE id = $1", device)
    service = await add_service(db, "ntfy")
    form = await (await ada.get(f"/tasks/{task_id}/reminders")).get_data(as_text=True)
    assert 'name="channel_email" checked' in form  # the default: email only
    assert 'name="channel_this_device">' in form and f'value="{service}">' in form
    answer = await remind(
        ada,
        task_id,
        channel_email="on",
        channel_this_device="on",
        endpoint=endpoint,
        service=str(service),
    )
    assert answer.status_code == 200
    card = await answer.get_data(as_text=True)
    assert 'aria-label="Next reminder, by email, push to a device and ntfy"' in card
    assert 'title="Next reminder, by email, push to a device and ntfy"' in card
    reminder = await db.fetchrow("SELECT id, by_email, all_devices FROM reminders")
    assert reminder["by_email"] and not reminder["all_devices"]
    targets = await db.fetch(
        "SELECT push_subscription_id, notify_service_id FROM reminder_targets ORDER BY 1, 2"
    )
    assert [tuple(r) for r in targets] == [(device, None), (None, service)]
    confirmation = await db.fetchval("SELECT context FROM outbox WHERE template = 'subscribed'")
    assert json.loads(confirmation)["channels"] == "by email, on this device and through ntfy"
    # Opened again (from another browser), the form shows the device by name, ticked.
    again = await (await ada.get(f"/tasks/{task_id}/reminders")).get_data(as_text=True)
    assert f'name="device" value="{device}" checked> Firefox on Android' in again
    assert f'name="service" value="{service}" checked>' in again
    # All my devices, no mail.
    answer = await remind(ada, task_id, channel_all_devices="on")
    card = await answer.get_data(as_text=True)
    assert 'aria-label="Next reminder, by all my devices"' in card
    assert await db.fetchval("SELECT by_email FROM reminders") is False


async def test_no_channel_is_an_error_beside_the_field(ada, db):
    task_id = await new_task(ada, db, "Nothing")
    answer = await remind(ada, task_id)
    assert answer.status_code == 422
    html = await answer.get_data(as_text=True)
    error = f'id="remind-{task_id}-channels-error">Choose at least one way to be reminded.'
    assert error in html
    assert await db.fetchval("SELECT count(*) FROM reminders") == 0


async def test_this_device_without_a_subscription_says_so(ada, db):
    task_id = await new_task(ada, db, "No push here")
    answer = await remind(ada, task_id, channel_email="on", channel_this_device="on")
    assert answer.status_code == 422
    assert "This browser does not get notifications yet" in await answer.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM reminders") == 0


async def test_another_users_device_or_service_is_refused(push_app, ada, db, push_service):
    other = push_app.test_client()
    await sign_up(other, email="eve@example.com")
    their_device = await add_device(other, db, push_service, "eve@example.com")
    their_endpoint = await db.fetchval("SELECT endpoint FROM push_subscriptions")
    their_service = await add_service(db, "eve's ntfy", "eve@example.com")
    task_id = await new_task(ada, db, "Mine")
    for form in (
        {"channel_this_device": "on", "endpoint": their_endpoint},
        {"device": str(their_device)},
        {"service": str(their_service)},
        {"service": "1" * 40},
    ):
        answer = await remind(ada, task_id, channel_email="on", **form)
        assert answer.status_code == 422, form
        assert "field-error" in await answer.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM reminders") == 0
    assert await db.fetchval("SELECT count(*) FROM reminder_targets") == 0


async def test_defaults_come_from_settings(ada, db, push_service):
    service = await add_service(db, "Gotify")
    token = await page_token(ada, "/account/notifications")
    page = await (await ada.get("/account/notifications")).get_data(as_text=True)
    assert "Default channels for new reminders" in page
    answer = await ada.post(
        "/account/notifications/defaults",
        form={
            "csrf_token": token,
            "channels_shown": "1",
            "channel_all_devices": "on",
            "service": str(service),
        },
    )
    assert answer.status_code == 302
    task_id = await new_task(ada, db, "Defaults")
    form = await (await ada.get(f"/tasks/{task_id}/reminders")).get_data(as_text=True)
    assert 'name="channel_email">' in form  # no longer ticked
    assert 'name="channel_all_devices" checked' in form
    assert f'name="service" value="{service}" checked' in form
