"""Changing the password: happy path, errors, and revocation of the other sessions."""

from __future__ import annotations

from tests.helpers import PASSWORD, log_in, post_form, sign_up

NEW = "a much better passphrase"


async def change(client, current: str, new: str):
    return await post_form(
        client, "/account/password", {"current_password": current, "new_password": new}
    )


async def test_form_is_labelled_and_requires_login(client):
    assert (await client.get("/account/password")).status_code == 302
    await sign_up(client)
    html = await (await client.get("/account/password")).get_data(as_text=True)
    assert '<label for="current_password">Current password</label>' in html
    assert '<label for="new_password">New password</label>' in html


async def test_change_password_revokes_other_sessions_only(client, app, db):
    await sign_up(client)
    laptop = app.test_client()
    await log_in(laptop, "ada@example.com")
    assert (await laptop.get("/")).status_code == 200

    response = await change(client, PASSWORD, NEW)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert "Your other sessions have been logged out" in await home.get_data(as_text=True)
    assert (await laptop.get("/")).status_code == 302
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1

    fresh = app.test_client()
    assert (await log_in(fresh, "ada@example.com", PASSWORD)).status_code == 422
    assert (await log_in(fresh, "ada@example.com", NEW)).status_code == 302


async def test_change_password_errors_change_nothing(client, db):
    await sign_up(client)
    before = await db.fetchval("SELECT password_hash FROM users")
    cases = [
        ("wrong current", NEW, "current_password", "That is not your current password."),
        ("", NEW, "current_password", "That is not your current password."),
        (PASSWORD, "short", "new_password", "Use at least 8 characters."),
        (PASSWORD, "x" * 129, "new_password", "Use at most 128 characters."),
        (PASSWORD, PASSWORD, "new_password", "Choose a password different from the current one."),
    ]
    for current, new, field, message in cases:
        response = await change(client, current, new)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422, (current, new)
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in html
    assert await db.fetchval("SELECT password_hash FROM users") == before
