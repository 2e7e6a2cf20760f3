"""Deleting the account: the password, an honest summary, every row of the user gone from every
table (checked table by table), a goodbye mail, and the address free to sign up again."""

from __future__ import annotations

import hashlib

from tests.account.test_profile import save_profile
from tests.helpers import log_in, page_token, post_form, sign_up
from tests.reminders.conftest import engine_for, utc_clock
from tests.test_images import picture


async def rows_naming(db, user_id: int, email: str) -> dict[str, int]:
    """Every table, every row: does any refer to this user by id, address or key?"""
    digest = hashlib.sha256(email.lower().encode()).hexdigest()
    found: dict[str, int] = {}
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " AND table_type = 'BASE TABLE'"
    )
    for (table,) in tables:
        columns = {
            r["column_name"]
            for r in await db.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table
            )
        }
        by_id = "user_id = $1::bigint" if "user_id" in columns else "$1::bigint IS NULL"
        if table == "users":
            by_id = "id = $1::bigint"
        count = await db.fetchval(
            f'SELECT count(*) FROM "{table}" t WHERE {by_id} OR t::text ILIKE $2'
            f" OR t::text LIKE $3 OR t::text LIKE $4",
            user_id,
            f"%{email}%",
            f"%{digest}%",
            f"%:user:{user_id}%",
        )
        if count:
            found[table] = count
    return found


async def test_a_wrong_password_deletes_nothing(client, db):
    await sign_up(client)
    response = await post_form(client, "/account/delete", {"password": "not my password"})
    assert response.status_code == 422
    assert "Nothing was deleted" in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_deleting_removes_every_row_and_says_goodbye(client, app, db, sink):
    await sign_up(client, email="ada@example.com")
    user_id = await db.fetchval("SELECT id FROM users")
    # A full account: tasks, a reminder already delivered, a picture, another device, pending
    # mail, a pending import, a change-email token, rate-limit state.
    token = await page_token(client, "/")
    for title in ("One", "Two"):
        await client.post("/tasks", form={"title": title}, headers={"X-CSRF-Token": token})
    task_id = await db.fetchval("SELECT id FROM tasks WHERE title = 'One'")
    await client.post(
        f"/tasks/{task_id}/reminders", form={"repeat": "daily"}, headers={"X-CSRF-Token": token}
    )
    reminder_id = await db.fetchval("SELECT id FROM reminders")
    await db.execute(
        "INSERT INTO deliveries (reminder_id, task_id, user_id, occurrence_at, message_id,"
        " channel, state, sent_at) VALUES ($1, $2, $3, now(), '<x@localhost>', 'email', 'sent',"
        " now())",
        reminder_id,
        task_id,
        user_id,
    )
    await save_profile(client, picture("PNG"))
    phone = app.test_client()
    await log_in(phone, "ada@example.com")
    await post_form(client, "/account/email", {"new_email": "new@example.com", "password": "nope"})
    page = await (await client.get("/account/delete")).get_data(as_text=True)
    assert "2 tasks" in page and "1 active reminder" in page and "2 logged-in sessions" in page
    assert "your picture" in page
    assert await rows_naming(db, user_id, "ada@example.com")  # the check does see rows

    response = await post_form(
        client, "/account/delete", {"password": "correct horse battery staple"}
    )
    assert response.status_code == 302, await response.get_data(as_text=True)
    assert response.headers["Location"] == "/goodbye"
    goodbye = await client.get("/goodbye")
    assert "Your account is deleted" in await goodbye.get_data(as_text=True)
    assert (await phone.get("/")).status_code == 302
    await engine_for(app, sink, utc_clock).tick()
    [mail] = [m for m in sink.messages if m["Subject"] == "Your Taskly account is deleted"]
    assert mail["To"] == "Ada <ada@example.com>"
    assert await rows_naming(db, user_id, "ada@example.com") == {}
    # The address is free again.
    await sign_up(app.test_client(), email="ada@example.com")


async def test_a_second_click_on_delete_is_a_goodbye_too(client, db):
    import asyncio

    await sign_up(client)
    token = await page_token(client, "/account/delete")
    form = {"csrf_token": token, "password": "correct horse battery staple"}
    answers = await asyncio.gather(
        client.post("/account/delete", form=form), client.post("/account/delete", form=form)
    )
    assert sorted(r.status_code for r in answers) in ([302, 302], [302, 401])
    assert await db.fetchval("SELECT count(*) FROM users") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE template = 'goodbye'") == 1
