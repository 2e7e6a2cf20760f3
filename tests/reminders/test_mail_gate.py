"""Mail only to addresses that were confirmed, and no more than MAIL_DAILY_LIMIT a day
(Hardening #3): one sign-up with a stranger's address once sent that stranger 140 messages in
47 seconds. Held mail is not lost: it goes out once the hold ends."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from tests.helpers import PASSWORD, post_form, sign_up
from tests.reminders.conftest import Clock, add_rule, at, engine_for, new_task


async def test_an_unverified_address_gets_only_the_verification_mail(app, client, db, sink):
    await sign_up(client, email="stranger@example.com", verify=False)
    task_ids = [await new_task(client, db, f"Task {i}") for i in range(3)]
    fire = at("2026-12-01T09:00:00+00:00")
    for task_id in task_ids:
        await add_rule(db, task_id, fire)
    headers = {"X-CSRF-Token": await _token(client)}
    daily = await new_task(client, db, "Daily")
    await client.post(f"/tasks/{daily}/reminders", form={"repeat": "daily"}, headers=headers)
    clock = Clock(fire + timedelta(minutes=2))
    engine = engine_for(app, sink, clock)
    assert await engine.tick() == 1
    assert [m["Subject"] for m in sink.messages] == ["Confirm your email address for Taskly"]
    held = await db.fetch("SELECT last_error, retry_at FROM deliveries WHERE state = 'pending'")
    assert len(held) == 4
    assert {r["last_error"] for r in held} == {"held: address not verified"}
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE state = 'sent'") == 0
    board = await (await client.get("/")).get_data(as_text=True)
    assert "Confirm your address" in board and "holds your reminder mail" in board
    clock.now += timedelta(minutes=30)
    assert await engine.tick() == 0  # still held, and not counted as attempts
    assert {r["attempts"] for r in await db.fetch("SELECT attempts FROM deliveries")} == {0}

    # Confirmed: what was held goes out at once, each reminder once (marked late).
    text = sink.messages[0].get_body(preferencelist=("plain",)).get_content()
    path = urlsplit(re.search(r"http://\S+/verify/\S+", text)[0]).path
    # The sent verification mail keeps no link; the held "Reminders on" mail keeps its context.
    contexts = await db.fetch("SELECT state, context FROM outbox ORDER BY id")
    assert [(r["state"], r["context"] == "{}") for r in contexts] == [
        ("sent", True),
        ("pending", False),
    ]
    response = await post_form(client, path, {"password": PASSWORD})
    assert response.status_code == 302
    assert await engine.tick() == 5  # four reminders and the "Reminders on" confirmation
    subjects = sorted(m["Subject"] for m in sink.messages[1:])
    assert subjects == [
        "Reminder: Daily",
        "Reminder: Task 0",
        "Reminder: Task 1",
        "Reminder: Task 2",
        "Reminders on: Daily",
    ]
    assert await db.fetchval("SELECT bool_and(late) FROM deliveries")
    assert await engine.tick() == 0
    board = await (await client.get("/")).get_data(as_text=True)
    assert "Confirm your address" not in board


async def _token(client) -> str:
    from tests.helpers import page_token

    return await page_token(client, "/")


async def test_the_daily_ceiling_holds_mail_until_local_midnight(make_app, db, sink):
    app = await make_app(mail_daily_limit=3)
    client = app.test_client()
    await sign_up(client, time_zone="Europe/Berlin")
    await db.execute("DELETE FROM outbox")
    fire = at("2026-12-01T20:00:00+01:00")
    for i in range(5):
        await add_rule(db, await new_task(client, db, f"Task {i}"), fire)
    clock = Clock(fire)
    engine = engine_for(app, sink, clock)
    assert await engine.tick() == 3
    held = await db.fetch("SELECT retry_at, last_error FROM deliveries WHERE state = 'pending'")
    assert len(held) == 2
    assert {r["last_error"] for r in held} == {"held: daily mail limit reached"}
    assert {r["retry_at"] for r in held} == {at("2026-12-02T00:00:00+01:00")}  # Berlin midnight
    await db.execute(
        "UPDATE mail_budget SET day = (now() AT TIME ZONE 'Europe/Berlin')::date"
    )  # the banner reads today's row: make the test's day today
    board = await (await client.get("/")).get_data(as_text=True)
    assert "Taskly sent you 3 messages today, its daily limit" in board
    clock.now = at("2026-12-01T23:59:00+01:00")
    assert await engine.tick() == 0
    clock.now = at("2026-12-02T00:00:30+01:00")
    assert await engine.tick() == 2
    assert len(set(sink.message_ids())) == 5


async def test_a_temporary_failure_gives_its_slot_back(make_app, db, sink):
    app = await make_app(mail_daily_limit=1)
    client = app.test_client()
    await sign_up(client)
    await db.execute("DELETE FROM outbox")
    fire = at("2026-12-01T09:00:00+00:00")
    await add_rule(db, await new_task(client, db, "Once"), fire)
    sink.stop()
    engine = engine_for(app, sink, Clock(fire))
    assert await engine.tick() == 0
    assert await db.fetchval("SELECT used FROM mail_budget") == 0
    sink.start()
    engine.clock.now = fire + timedelta(minutes=1)  # type: ignore[attr-defined]
    assert await engine.tick() == 1


async def test_account_mail_a_stranger_causes_neither_uses_the_ceiling_nor_floods(
    make_app, db, sink
):
    """Forgot-password mails anyone can ask for once counted against the victim's daily
    ceiling (three of them held the victim's reminders until midnight). Now they use a small
    ceiling of their own, and past it they are dropped."""
    from tests.helpers import post_form
    from tests.reminders.conftest import utc_clock

    app = await make_app(mail_daily_limit=3, rate_limits_enabled=False)
    client = app.test_client()
    await sign_up(client)
    await db.execute("DELETE FROM outbox")
    engine = engine_for(app, sink, utc_clock)
    for _ in range(12):
        await post_form(app.test_client(), "/password/forgot", {"email": "ada@example.com"})
        await engine.tick()
    resets = [m for m in sink.messages if m["Subject"] == "Reset your Taskly password"]
    assert len(resets) == 10
    budget = await db.fetchrow("SELECT used, account_used FROM mail_budget")
    assert (budget["used"], budget["account_used"]) == (0, 10)
    dropped = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE last_error = 'dropped: too much account mail today'"
    )
    assert dropped == 2
