"""Changing the address: the current password, a link to the new address, the change only
when it is followed, the old address told; nothing said about who owns an address."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.helpers import PASSWORD, log_in, page_token, post_form, sign_up
from tests.reminders.conftest import engine_for, utc_clock


async def ask(client, new_email: str, password: str = PASSWORD):
    return await post_form(client, "/account/email", {"new_email": new_email, "password": password})


async def test_the_address_changes_only_when_the_new_one_follows_the_link(client, app, db, sink):
    await sign_up(client, email="ada@example.com")
    await db.execute("DELETE FROM outbox")
    response = await ask(client, "Ada@New.example")
    assert response.status_code == 302
    assert await db.fetchval("SELECT email FROM users") == "ada@example.com"  # not yet
    await engine_for(app, sink, utc_clock).tick()
    [mail] = sink.messages
    assert mail["To"] == "Ada@New.example"  # no name: the new address is not confirmed yet
    text = mail.get_body(preferencelist=("plain",)).get_content()
    path = urlsplit(re.search(r"http://\S+/account/email/confirm/\S+", text)[0]).path
    stranger = app.test_client()  # the link works on any device
    page = await stranger.get(path)
    assert page.status_code == 200 and "Ada@New.example" in await page.get_data(as_text=True)
    assert await db.fetchval("SELECT email FROM users") == "ada@example.com"  # GET changes nothing
    done = await post_form(stranger, path, {})
    assert done.status_code == 302
    user = await db.fetchrow("SELECT email, email_key, email_verified_at FROM users")
    assert (user["email"], user["email_key"]) == ("Ada@New.example", "ada@new.example")
    assert user["email_verified_at"] is not None
    await engine_for(app, sink, utc_clock).tick()
    notice = sink.messages[-1]
    assert notice["To"] == "ada@example.com"
    assert notice["Subject"] == "Your Taskly address was changed"
    body = notice.get_body(preferencelist=("plain",)).get_content()
    assert "Ada@New.example" in body and "/m/" not in body and "confirm" not in body
    assert (await log_in(app.test_client(), "ada@new.example")).status_code == 302
    assert (await log_in(app.test_client(), "ada@example.com")).status_code == 422
    again = await post_form(app.test_client(), path, {}, token_from="/login")
    assert again.status_code == 410


async def test_a_wrong_password_or_bad_address_changes_nothing(client, db):
    await sign_up(client)
    await db.execute("DELETE FROM outbox")
    wrong = await ask(client, "new@example.com", password="not my password")
    assert wrong.status_code == 422 and 'id="password-error"' in await wrong.get_data(as_text=True)
    for bad, message in (("nonsense", "like name@example.com"), ("ADA@example.com", "already")):
        response = await ask(client, bad)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422 and message in html
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM account_tokens WHERE purpose = 'change_email'") == 0
    )


async def test_a_taken_address_is_not_revealed_and_its_owner_gets_a_note(client, app, db):
    await sign_up(client, email="ada@example.com")
    await sign_up(app.test_client(), email="bob@example.com")
    await db.execute("DELETE FROM outbox")
    taken = await ask(client, "bob@example.com")
    free = await ask(client, "free@example.com")
    assert taken.status_code == free.status_code == 302
    assert taken.headers["Location"] == free.headers["Location"]
    rows = await db.fetch("SELECT template, recipient FROM outbox ORDER BY id")
    # The second replaced the first while pending (one change at a time): ask again to see both.
    assert [tuple(r) for r in rows] == [("change_email", "free@example.com")]
    await db.execute("DELETE FROM outbox")
    await ask(client, "bob@example.com")
    rows = await db.fetch("SELECT template, recipient FROM outbox")
    assert [tuple(r) for r in rows] == [("email_taken", "bob@example.com")]


async def test_change_email_needs_a_session_and_a_csrf_token(client, app):
    await sign_up(client)
    anonymous = app.test_client()
    assert (await anonymous.get("/account/email")).status_code == 302
    token = await page_token(client, "/account/email")
    forged = await client.post(
        "/account/email",
        form={"csrf_token": "0" * 64, "new_email": "x@example.com", "password": PASSWORD},
    )
    assert forged.status_code == 403
    assert token


async def test_links_mailed_to_the_old_address_die_with_it(client, app, db):
    """A reset link sent to the old inbox must not work once the account has moved: whoever
    holds the old inbox could otherwise take the account."""
    from tests.helpers import mailed_link

    await sign_up(client, email="old@example.com")
    await post_form(app.test_client(), "/password/forgot", {"email": "old@example.com"})
    reset_path = urlsplit(await mailed_link(client, "old@example.com", "reset_password")).path
    await ask(client, "new@example.com")
    context = await db.fetchval(
        "SELECT context FROM outbox WHERE template = 'change_email' ORDER BY id DESC LIMIT 1"
    )
    confirm_path = urlsplit(__import__("json").loads(context)["link"]).path
    assert (await post_form(client, confirm_path, {})).status_code == 302
    stale = await post_form(
        app.test_client(), reset_path, {"new_password": "attacker password!"}, token_from="/login"
    )
    assert stale.status_code == 410
    assert (await log_in(app.test_client(), "new@example.com")).status_code == 302


async def test_an_unconfirmed_account_cannot_mail_an_address_of_its_choosing(client, db):
    """An account that never confirmed its address could send a stranger Taskly mail greeting
    them with any text it put in its first name."""
    await sign_up(client, first_name="WIN A PRIZE at evil.example", verify=False)
    await db.execute("DELETE FROM outbox")
    response = await ask(client, "stranger@example.org")
    assert response.status_code == 422
    assert "Confirm your current address first" in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_mail_to_an_unconfirmed_address_does_not_carry_the_chosen_name(app, client, sink):
    await sign_up(client, first_name="WIN A PRIZE at evil.example", verify=False)
    await engine_for(app, sink, utc_clock).tick()
    [mail] = sink.messages
    assert "PRIZE" not in mail.as_string()
    assert mail.get_body(("plain",)).get_content().startswith("Hello,")
