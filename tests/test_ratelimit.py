"""Rate limits on the password endpoints: per account and per client address, and the client
address is never taken from a header the client controls unless a trusted proxy sets it."""

from __future__ import annotations

import time

from tests.helpers import PASSWORD, page_token, sign_up

ATTACKER = {"client": ("198.51.100.7", 40000)}
ADDRESS_LIMIT, ADDRESS_PERIOD = 30, 15 * 60  # per address, per 15 minutes (GCRA)


def allowance(started: float) -> int:
    """Attempts one address may make since `started`: the burst, plus one slot refilled every
    PERIOD/LIMIT seconds (30 s). On a busy machine 31 argon2-checked attempts can take longer
    than that, and then the 31st is rightly allowed: the test asks the limiter's arithmetic,
    not the machine's speed."""
    return ADDRESS_LIMIT + int((time.monotonic() - started) // (ADDRESS_PERIOD / ADDRESS_LIMIT))


async def attempt(client, email: str, headers=None, scope=ATTACKER):
    token = await page_token(client, "/login")
    return await client.post(
        "/login",
        form={"csrf_token": token, "email": email, "password": "wrong password"},
        headers=headers or {},
        scope_base=scope,
    )


async def test_login_per_account_limit_trips_with_a_readable_page(client, app):
    await sign_up(client)
    attacker = app.test_client()
    statuses = []
    for i in range(11):
        # A new address every time: the per-account limit still holds.
        scope = {"client": (f"198.51.100.{i + 1}", 40000)}
        statuses.append((await attempt(attacker, "ADA@example.com", scope=scope)).status_code)
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
    blocked = await attempt(attacker, "ada@example.com", scope={"client": ("192.0.2.1", 1)})
    html = await blocked.get_data(as_text=True)
    assert blocked.status_code == 429
    assert "Too many attempts" in html
    assert int(blocked.headers["Retry-After"]) > 0
    # Even the right password waits: the limit is on attempts, not on failures.
    fresh = app.test_client()
    token = await page_token(fresh, "/login")
    right = await fresh.post(
        "/login",
        form={"csrf_token": token, "email": "ada@example.com", "password": PASSWORD},
        scope_base={"client": ("192.0.2.9", 1)},
    )
    assert right.status_code == 429


async def test_rotating_x_forwarded_for_does_not_bypass_the_address_limit(client):
    statuses: list[int] = []
    started = time.monotonic()
    while 429 not in statuses and len(statuses) < 60:
        i = len(statuses)
        headers = {"X-Forwarded-For": f"10.0.{i}.1", "Fly-Client-IP": f"10.1.{i}.1"}
        response = await attempt(client, f"user{i}@example.com", headers=headers)
        statuses.append(response.status_code)
    assert statuses[:ADDRESS_LIMIT] == [422] * ADDRESS_LIMIT  # the burst, whatever the headers
    assert statuses[-1] == 429 and len(statuses) <= allowance(started) + 1


async def test_trusted_proxy_header_separates_clients(make_app):
    app = await make_app(trusted_proxy_header="Fly-Client-IP")
    client = app.test_client()
    for i in range(31):
        # One proxy address, many real clients: each is its own bucket.
        headers = {"Fly-Client-IP": f"203.0.113.{i}"}
        response = await attempt(client, f"user{i}@example.com", headers=headers)
        assert response.status_code == 422
    same: list[int] = []
    started = time.monotonic()
    while 429 not in same and len(same) < 60:
        headers = {"Fly-Client-IP": "203.0.113.200"}
        response = await attempt(client, f"x{len(same)}@example.com", headers=headers)
        same.append(response.status_code)
    assert same[:ADDRESS_LIMIT] == [422] * ADDRESS_LIMIT
    assert same[-1] == 429 and len(same) <= allowance(started) + 1


async def test_showing_the_form_is_not_limited(client):
    for _ in range(40):
        assert (await client.get("/login", scope_base=ATTACKER)).status_code == 200


async def test_signup_is_limited_per_address(client):
    statuses = []
    for i in range(21):
        token = await page_token(client, "/signup")
        response = await client.post(
            "/signup",
            form={
                "csrf_token": token,
                "first_name": "A",
                "last_name": "B",
                "email": f"s{i}@example.com",
                "password": "short",
            },
            scope_base=ATTACKER,
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [422] * 20
    assert statuses[20] == 429


async def test_change_password_is_limited_per_account(client):
    await sign_up(client)
    statuses = []
    for _ in range(6):
        token = await page_token(client, "/account/password")
        response = await client.post(
            "/account/password",
            form={
                "csrf_token": token,
                "current_password": "wrong one!",
                "new_password": "whatever123",
            },
        )
        statuses.append(response.status_code)
    assert statuses == [422] * 5 + [429]


async def test_any_email_a_client_sends_is_a_clear_answer_not_a_500(client, db):
    nul = await attempt(client, "ada@example.com\x00")
    assert nul.status_code == 400
    huge = await attempt(client, "a" * 6000 + "@example.com")
    assert huge.status_code == 422
    # The key is a fixed-size digest, never what the client typed.
    keys = [r["key"] for r in await db.fetch("SELECT key FROM rate_limits")]
    assert keys and all(len(key) < 120 and "aaaa" not in key for key in keys), keys
