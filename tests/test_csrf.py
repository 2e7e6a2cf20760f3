"""CSRF: every state-changing request needs the session's token and a same-site origin;
no GET changes state. The URL-map walk covers routes added later automatically."""

from __future__ import annotations

import re

from tests.helpers import PASSWORD, page_token, sign_up

# Values for URL variables when walking the map; a new converter type must be added here.
SAMPLE_ARGS = {
    "int": "1",
    "id": "1",
    "default": "x",
    "string": "x",
    "path": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
}
SIGNED_LINK_ROUTES = {"/m/<token>"}
_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")


def sample_path(rule: str) -> str:
    return _ARG.sub(lambda m: SAMPLE_ARGS[m[1] or "default"], rule)


async def snapshot(db) -> list:
    """Everything a request could change, except the session's throttled last-seen time."""
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    state = []
    for row in tables:
        rows = await db.fetch(f'SELECT * FROM "{row["tablename"]}"')
        state.append(
            (
                row["tablename"],
                sorted(
                    repr(sorted((k, v) for k, v in dict(r).items() if k != "last_seen_at"))
                    for r in rows
                ),
            )
        )
    return state


async def test_login_without_token_is_refused(client, db):
    await sign_up(client)
    await client.post("/logout", form={"csrf_token": await page_token(client, "/")})
    response = await client.post("/login", form={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired" in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM sessions") == 0


async def test_signup_with_a_wrong_token_is_refused(client, db):
    await page_token(client, "/signup")
    response = await client.post(
        "/signup",
        form={
            "csrf_token": "0" * 64,
            "first_name": "A",
            "last_name": "B",
            "email": "a@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_foreign_origin_is_refused_even_with_a_valid_token(client, db):
    token = await page_token(client, "/signup")
    form = {
        "csrf_token": token,
        "first_name": "A",
        "last_name": "B",
        "email": "a@example.com",
        "password": PASSWORD,
    }
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        response = await client.post("/signup", form=form, headers=headers)
        assert response.status_code == 403, headers
        assert "came from another site" in await response.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM users") == 0
    same = await client.post(
        "/signup",
        form=form,
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 302


async def test_htmx_header_token_is_accepted(client):
    await sign_up(client)
    token = await page_token(client, "/")
    response = await client.post("/logout", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert response.status_code == 302


async def test_token_is_bound_to_the_session(client, app):
    await sign_up(client)
    mine = await page_token(client, "/")
    other = app.test_client()
    theirs = await page_token(other, "/login")
    assert mine != theirs
    response = await client.post("/logout", form={"csrf_token": theirs})
    assert response.status_code == 403


async def test_every_unsafe_route_requires_the_token(app, client, db):
    await sign_up(client)
    unsafe = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.methods and rule.methods - {"GET", "HEAD", "OPTIONS"}
    ]
    assert len(unsafe) >= 4  # signup, login, logout, change password at least
    exempt = {
        rule.rule
        for rule in unsafe
        if getattr(app.view_functions[rule.endpoint], "_csrf_exempt", False)
    }
    # Only the signed mail links are exempt: their signed, expiring, single-use token is the
    # proof (RFC 8058 one-click unsubscribe posts come from mail clients, without a session).
    assert exempt == SIGNED_LINK_ROUTES
    before = await snapshot(db)
    for rule in unsafe:
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            response = await client.open(sample_path(rule.rule), method=method, form={"x": "1"})
            expected = 400 if rule.rule in exempt else 403  # a bad signature is refused too
            assert response.status_code == expected, f"{method} {rule.rule} is not protected"
    assert await snapshot(db) == before
    assert (await client.get("/")).status_code == 200  # still logged in: nothing happened


async def test_no_get_route_changes_state(app, client, db):
    await sign_up(client)
    await client.get("/")
    before = await snapshot(db)
    gets = [rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())]
    assert len(gets) >= 6
    for rule in gets:
        if rule.endpoint == "live.live":  # an event stream never ends: its start is enough
            async with client.request(sample_path(rule.rule)) as stream:
                await stream.send_complete()
                await stream.receive()
                assert stream.status_code == 200
                await stream.disconnect()
            continue
        response = await client.get(sample_path(rule.rule))
        assert response.status_code < 500, rule.rule
    assert await snapshot(db) == before
