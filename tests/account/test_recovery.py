"""Forgot password, end to end against the real SMTP sink: no enumeration (the same page after
the same statements), a single-use one-hour link that dies with any password change, that
ends every session and logs the browser in fresh, and that works for no other purpose."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.helpers import PASSWORD, log_in, mailed_link, page_token, post_form, sign_up
from tests.reminders.conftest import engine_for, utc_clock

NEW_PASSWORD = "a brand new passphrase"


async def ask_for_reset(client, email: str):
    return await post_form(client, "/password/forgot", {"email": email}, headers={"User-Agent": UA})


UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


async def test_the_answer_and_the_work_are_the_same_whether_or_not_the_account_exists(make_app, db):
    app = await make_app(db_pool_min=1, db_pool_max=1)  # one connection: we can watch it
    await sign_up(app.test_client(), email="ada@example.com")
    from taskly.db import POOL_KEY

    statements: list[str] = []
    async with app.extensions[POOL_KEY].acquire() as conn:
        conn.add_query_logger(lambda query: statements.append(query.query))
    seen = []
    for email in ("ADA@example.com", "nobody@example.com"):
        client = app.test_client()
        token = await page_token(client, "/password/forgot")
        statements.clear()
        response = await client.post("/password/forgot", form={"csrf_token": token, "email": email})
        page = await client.get(response.headers["Location"])
        html = (await page.get_data(as_text=True)).replace(email, "EMAIL")
        seen.append((response.status_code, response.headers["Location"], statements[:], html))
    (status_a, where_a, work_a, page_a), (status_b, where_b, work_b, page_b) = seen
    assert (status_a, where_a) == (status_b, where_b) == (302, "/password/forgot/sent")
    assert work_a == work_b  # the same statements, in the same order
    assert re.sub(r"[0-9a-f]{64}", "T", page_a) == re.sub(r"[0-9a-f]{64}", "T", page_b)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE template = 'reset_password'") == 1


async def test_reset_by_mail_ends_every_session_and_logs_in_fresh(client, app, db, sink):
    await sign_up(client, email="ada@example.com")
    laptop = app.test_client()
    await log_in(laptop, "ada@example.com")
    stranger = app.test_client()
    await ask_for_reset(stranger, "ada@example.com")
    await engine_for(app, sink, utc_clock).tick()
    [mail] = [m for m in sink.messages if m["Subject"] == "Reset your Taskly password"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "from:  Firefox on Linux" in text and "when:  " in text
    path = urlsplit(re.search(r"http://\S+/password/reset/\S+", text)[0]).path
    assert (await stranger.get(path)).status_code == 200  # a GET spends nothing
    assert (await stranger.get(path)).status_code == 200
    short = await post_form(stranger, path, {"new_password": "short"})
    assert short.status_code == 422 and "at least 8" in await short.get_data(as_text=True)
    done = await post_form(stranger, path, {"new_password": NEW_PASSWORD})
    assert (done.status_code, done.headers["Location"]) == (302, "/")
    assert (await stranger.get("/")).status_code == 200  # logged in here
    for old in (client, laptop):  # every other session ended
        assert (await old.get("/")).status_code == 302
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1
    assert (await log_in(app.test_client(), "ada@example.com")).status_code == 422
    assert (await log_in(app.test_client(), "ada@example.com", NEW_PASSWORD)).status_code == 302
    again = await post_form(
        app.test_client(), path, {"new_password": "yet another one!"}, token_from="/login"
    )
    assert again.status_code == 410  # single use


async def test_a_reset_link_expires_after_an_hour(client, app, db):
    await sign_up(client)
    await ask_for_reset(app.test_client(), "ada@example.com")
    path = urlsplit(await mailed_link(client, "ada@example.com", "reset_password")).path
    # An hour passes (the database's clock decides expiry; the token is made older instead).
    await db.execute(
        "UPDATE account_tokens SET created_at = created_at - interval '61 minutes',"
        " expires_at = expires_at - interval '61 minutes' WHERE purpose = 'reset_password'"
    )
    await db.execute(
        "UPDATE users SET password_changed_at = password_changed_at - interval '2 hours'"
    )
    page = await app.test_client().get(path)
    assert page.status_code == 410 and "expired" in await page.get_data(as_text=True)


async def test_a_password_changed_any_other_way_kills_the_link(client, app, db):
    await sign_up(client)
    await ask_for_reset(app.test_client(), "ada@example.com")
    path = urlsplit(await mailed_link(client, "ada@example.com", "reset_password")).path
    changed = await post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "changed the usual way"},
    )
    assert changed.status_code == 302
    assert (await app.test_client().get(path)).status_code == 410
    response = await post_form(
        app.test_client(), path, {"new_password": NEW_PASSWORD}, token_from="/login"
    )
    assert response.status_code == 410
    assert (await log_in(app.test_client(), "ada@example.com", NEW_PASSWORD)).status_code == 422


async def test_tokens_work_for_their_own_purpose_only(client, app):
    await sign_up(client, verify=False)
    verify_path = urlsplit(await mailed_link(client, "ada@example.com", "verify_email")).path
    await ask_for_reset(app.test_client(), "ada@example.com")
    reset_path = urlsplit(await mailed_link(client, "ada@example.com", "reset_password")).path
    verify_token, reset_token = verify_path.rsplit("/", 1)[1], reset_path.rsplit("/", 1)[1]
    stranger = app.test_client()
    assert (await stranger.get(f"/password/reset/{verify_token}")).status_code == 404
    assert (await stranger.get(f"/verify/{reset_token}")).status_code == 404
    response = await post_form(
        stranger, f"/password/reset/{verify_token}", {"new_password": "x" * 12}, token_from="/login"
    )
    assert response.status_code == 404


async def test_a_reset_link_also_confirms_the_address(client, app, db):
    await sign_up(client, verify=False)
    await ask_for_reset(app.test_client(), "ada@example.com")
    path = urlsplit(await mailed_link(client, "ada@example.com", "reset_password")).path
    await post_form(app.test_client(), path, {"new_password": NEW_PASSWORD})
    assert await db.fetchval("SELECT email_verified_at IS NOT NULL FROM users")


async def test_a_malformed_address_is_a_field_error_and_nothing_else(client, db):
    response = await post_form(client, "/password/forgot", {"email": "not an address"})
    html = await response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="email-error"' in html
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
