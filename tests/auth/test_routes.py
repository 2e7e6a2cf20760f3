"""Sign up, log in, log out: happy paths, every error path, and session revocation."""

from __future__ import annotations

from argon2 import PasswordHasher

from taskly.auth.model import hasher
from tests.auth.test_session_cache import until
from tests.helpers import PASSWORD, log_in, page_token, post_form, sign_up

SIGNUP = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "password": PASSWORD,
    "time_zone": "Europe/Paris",
}


async def test_signup_lands_on_dashboard_with_a_session(client, db):
    response = await sign_up(client, time_zone="America/New_York")
    assert response.headers["Location"] == "/"
    page = await client.get("/")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<span>Ada</span>" in html  # the header's link to the profile
    assert '<label for="new-task">New task</label>' in html
    assert "Welcome to Taskly, Ada!" in html
    user = await db.fetchrow("SELECT * FROM users")
    assert user["email"] == "ada@example.com"
    assert user["time_zone"] == "America/New_York"
    assert user["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await db.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1", user["id"]) == 1


async def test_signup_form_is_labelled(client):
    html = await (await client.get("/signup")).get_data(as_text=True)
    for label, name in (
        ("First name", "first_name"),
        ("Last name", "last_name"),
        ("Email", "email"),
        ("Password", "password"),
    ):
        assert f'<label for="{name}">{label}</label>' in html
    assert ">Sign up</button>" in html


async def test_signup_unknown_time_zone_falls_back_to_utc(client, db):
    await sign_up(client, time_zone="Mars/Olympus_Mons")
    assert await db.fetchval("SELECT time_zone FROM users") == "UTC"


async def test_signup_errors_are_shown_beside_fields_and_input_is_kept(client, db):
    cases = [
        ({"first_name": ""}, "first_name", "Enter your first name."),
        ({"last_name": "x" * 101}, "last_name", "Use at most 100 characters."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
        ({"email": "a b@example.com"}, "email", "Enter an email address like name@example.com."),
        ({"email": "josé@example.com"}, "email", "Enter an email address like name@example.com."),
        # One address, nothing that would change the meaning of a To: header.
        *(
            ({"email": bad}, "email", "Enter an email address like name@example.com.")
            for bad in ("a@example.com>,<b@example.org", "<a@example.com>", "a@b@example.com")
        ),
        (
            {"last_name": "Love\nX-Header: y"},
            "last_name",
            "Use letters, spaces and punctuation only.",
        ),
        ({"password": "short"}, "password", "Use at least 8 characters."),
        ({"password": "p" * 129}, "password", "Use at most 128 characters."),
    ]
    for change, field, message in cases:
        form = {**SIGNUP, **change}
        response = await post_form(client, "/signup", form)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422, change
        assert f'<p class="field-error" id="{field}-error">{message}</p>' in html, change
        assert f'aria-describedby="{field}-error"' in html
        if field != "first_name":
            assert 'value="Ada"' in html  # the rest of the input is kept
        assert PASSWORD not in html  # a password is never echoed
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_password_limits_count_characters_and_accept_any_unicode(client, app, db):
    unicode_password = "пароль🔑 façade"  # 14 characters, more bytes
    await sign_up(client, password=unicode_password)
    other = app.test_client()
    response = await log_in(other, "ada@example.com", unicode_password)
    assert response.status_code == 302
    long_ok = "ü" * 128
    third = app.test_client()
    response = await sign_up(third, email="bob@example.com", password=long_ok)
    assert response.status_code == 302


async def test_login_is_case_insensitive_and_issues_a_fresh_session(client, app, db):
    await sign_up(client, email="ada@example.com")
    first = await db.fetchval("SELECT token_hash FROM sessions")
    other = app.test_client()
    response = await log_in(other, "ADA@example.COM")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    hashes = await db.fetch("SELECT token_hash FROM sessions")
    assert len(hashes) == 2
    assert first in [row["token_hash"] for row in hashes]
    assert (await other.get("/")).status_code == 200


async def test_login_errors_keep_the_email_and_say_nothing_specific(client, app):
    await sign_up(client)
    other = app.test_client()
    for email, password in (
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("", ""),
        ("ada@example.com", ""),
    ):
        response = await log_in(other, email, password)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422
        assert "That email and password do not match an account." in html
        assert f'value="{email}"' in html
    assert (await other.get("/")).status_code == 302


async def test_login_redirects_to_a_local_next_only(client, app):
    await sign_up(client)
    for next_url, expected in (
        ("/account/password", "/account/password"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        other = app.test_client()
        response = await post_form(
            other, "/login", {"email": "ada@example.com", "password": PASSWORD, "next": next_url}
        )
        assert response.headers["Location"] == expected


async def test_private_pages_redirect_to_login_when_logged_out(client):
    response = await client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/"
    htmx = await client.get("/", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/login?next=/"


async def test_logout_deletes_the_session_and_a_replayed_cookie_is_rejected(client, app, db):
    await sign_up(client)
    cookie = client.cookie_jar  # keep a copy of the auth cookie, as a thief would
    stolen = {c.name: c.value for c in cookie}
    response = await post_form(client, "/logout", {}, token_from="/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert await db.fetchval("SELECT count(*) FROM sessions") == 0
    assert (await client.get("/")).status_code == 302

    thief = app.test_client()
    for name, value in stolen.items():
        thief.set_cookie("localhost", name, value)
    replay = await thief.get("/")
    assert replay.status_code == 302
    assert replay.headers["Location"] == "/login?next=/"
    assert "taskly_auth=;" in replay.headers.get("Set-Cookie", "")  # the dead cookie is dropped


async def test_idle_and_absolute_timeouts_end_a_session(client, db):
    # A session this process has cached ends when PostgreSQL's notification of the change
    # reaches the listener (tests/auth/test_session_cache.py): wait for it, as a user would.
    async def logged_out() -> bool:
        return (await client.get("/")).status_code == 302

    await sign_up(client)
    assert (await client.get("/")).status_code == 200
    await db.execute("UPDATE sessions SET last_seen_at = now() - interval '15 days'")
    await until(logged_out)

    await log_in(client, "ada@example.com")
    assert (await client.get("/")).status_code == 200
    await db.execute("UPDATE sessions SET created_at = now() - interval '31 days'")
    await until(logged_out)


async def test_activity_refreshes_last_seen(client, db):
    await sign_up(client)
    await db.execute("UPDATE sessions SET last_seen_at = now() - interval '2 days'")
    assert (await client.get("/")).status_code == 200
    age = await db.fetchval("SELECT now() - last_seen_at FROM sessions")
    assert age.total_seconds() < 60


async def test_outdated_password_hash_is_upgraded_on_login(client, app, db):
    await sign_up(client)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await db.execute("UPDATE users SET password_hash = $1", weak)
    other = app.test_client()
    assert (await log_in(other, "ada@example.com")).status_code == 302
    upgraded = await db.fetchval("SELECT password_hash FROM users")
    assert upgraded != weak
    assert not hasher.check_needs_rehash(upgraded)
    assert hasher.verify(upgraded, PASSWORD)


async def test_an_action_after_the_session_ended_elsewhere_says_logged_out(client, app, db):
    """The password changed on another device ends this session: the next action says "You
    were logged out" with a way to log in (a new tab, so the page keeps what was typed), not
    "This form has expired", and changes nothing."""
    await sign_up(client)
    laptop, tablet = app.test_client(), app.test_client()
    for device in (laptop, tablet):
        await log_in(device, "ada@example.com")
    token = await page_token(laptop, "/")
    tablet_token = await page_token(tablet, "/")
    await post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "another passphrase"},
    )
    htmx = await laptop.post(
        "/tasks",
        form={"title": "Typed before"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    toast = await htmx.get_data(as_text=True)
    assert htmx.status_code == 401
    assert "You were logged out" in toast and "expired" not in toast
    assert 'href="/login" target="_blank"' in toast
    plain = await tablet.post("/tasks", form={"title": "Typed before", "csrf_token": tablet_token})
    page = await plain.get_data(as_text=True)
    assert plain.status_code == 401 and 'href="/login"' in page
    assert await db.fetchval("SELECT count(*) FROM tasks") == 0
