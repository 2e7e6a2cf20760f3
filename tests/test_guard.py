"""What a request must pass before any view or pooled connection sees it (taskly/guard.py,
taskly/csrf.py): slow bodies hold nothing, hostile forms are refused before parsing, only
BASE_URL's host and origin are trusted, and logs neither leak tokens nor take forged lines."""

from __future__ import annotations

import asyncio
import logging
import re

from taskly.db import POOL_KEY
from tests.helpers import PASSWORD, page_token, sign_up


def _in_use(app) -> int:
    pool = app.extensions[POOL_KEY]
    return pool.get_size() - pool.get_idle_size()


async def test_slow_bodies_hold_no_pooled_connection(make_app, db):
    """Hardening #1 (high): ten logged-in requests whose bodies never arrive once held all ten
    pooled connections (taken for the session lookup) until Quart's 60 s body timeout, and
    every other request answered 503."""
    app = await make_app(db_pool_min=4, db_pool_max=4, body_timeout=30.0)
    client = app.test_client()
    await sign_up(client)
    token = await page_token(client, "/")
    slow = []
    for _ in range(10):
        connection = client.request(
            "/tasks",
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": "100",
                "X-CSRF-Token": token,
            },
        )
        await connection.__aenter__()
        await connection.send(b"title=half")  # ...and the rest never comes
        slow.append(connection)
    await asyncio.sleep(0.2)  # let every request reach the point where it waits on its body
    assert _in_use(app) == 0
    # The same account and a stranger are both served meanwhile.
    assert (await client.get("/")).status_code == 200
    other = app.test_client()
    await sign_up(other, email="bob@example.com")
    assert (await other.get("/")).status_code == 200
    headers = {"X-CSRF-Token": await page_token(other, "/"), "HX-Request": "true"}
    created = await other.post("/tasks", form={"title": "Still works"}, headers=headers)
    assert created.status_code == 200
    for connection in slow:
        await connection.disconnect()
        await connection.__aexit__(None, None, None)
    assert _in_use(app) == 0
    assert await db.fetchval("SELECT count(*) FROM tasks") == 1


async def test_a_body_that_stops_is_cut_off_after_body_timeout(make_app):
    app = await make_app(body_timeout=0.3)
    client = app.test_client()
    token = await page_token(client, "/login")
    async with client.request(
        "/login",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "500"},
    ) as connection:
        await connection.send(f"csrf_token={token}&email=a".encode())
        async with asyncio.timeout(5):
            while connection.status_code is None:  # noqa: ASYNC110 - the app sets it
                await asyncio.sleep(0.02)
    assert connection.status_code == 408


async def test_one_account_cannot_take_the_whole_pool(make_app):
    """Past its fair share (half the pool) an account's extra requests wait, then get a 429:
    the other half stays free for everyone else."""
    app = await make_app(db_pool_min=4, db_pool_max=4, db_acquire_timeout=0.5)
    client = app.test_client()
    await sign_up(client)
    pool = app.extensions[POOL_KEY]
    share = app.extensions["taskly.fair_share"]
    # Two of this account's requests are inside long queries (simulated by holding its slots).
    await share.take(1, 1.0)
    await share.take(1, 1.0)
    assert (await client.get("/")).status_code == 429
    other = app.test_client()
    await sign_up(other, email="bob@example.com")
    assert (await other.get("/")).status_code == 200
    share.give(1)
    share.give(1)
    assert (await client.get("/")).status_code == 200
    assert pool.get_idle_size() == pool.get_size()


async def test_huge_anonymous_forms_are_refused_before_parsing(client):
    """Hardening #10: a 1 MB login form with 128,843 fields was parsed (0.3 s of event loop)
    before the CSRF check. Anonymous forms are small and have few fields."""
    body = "&".join(f"f{i}=x" for i in range(128_843))[: 1024 * 1024]
    response = await client.post(
        "/login", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    many = "&".join(f"f{i}=x" for i in range(40))
    response = await client.post(
        "/login", data=many, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "too many fields" in (await response.get_data(as_text=True))


async def test_logged_in_forms_obey_the_field_limit_too(client):
    await sign_up(client)
    token = await page_token(client, "/")
    body = f"csrf_token={token}&title=x&" + "&".join(f"f{i}=x" for i in range(300))
    response = await client.post(
        "/tasks", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413


async def test_another_site_is_refused_before_its_body_is_read(client):
    response = await client.post(
        "/login",
        data=b"\xff\xfe not even utf-8",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
        },
    )
    assert response.status_code == 403  # not the 400 that parsing the body would give


async def test_the_origin_check_compares_the_scheme_too(make_app):
    """http://host was accepted for an https site."""
    app = await make_app(base_url="https://tasks.example")
    client = app.test_client()
    token = await page_token(client, "/login")
    form = {"csrf_token": token, "email": "a@example.com", "password": "x"}
    for origin, status in (
        ("http://tasks.example", 403),
        ("https://tasks.example:8443", 403),
        ("null", 403),
        ("https://tasks.example", 422),
        ("https://TASKS.example:443", 422),
    ):
        response = await client.post("/login", form=form, headers={"Origin": origin})
        assert response.status_code == status, origin


async def test_production_answers_only_to_its_own_host(make_app):
    """GET /tasks//1 with Host: evil.example redirected to http://evil.example/tasks/1."""
    app = await make_app(env="production", base_url="https://tasks.example")
    client = app.test_client()
    response = await client.get("/tasks//1", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", "")
    ok = await client.get("/login", headers={"Host": "tasks.example"})
    assert ok.status_code == 200
    # The platform's health checks come with whatever Host they like.
    assert (await client.get("/healthz", headers={"Host": "10.0.0.5:8080"})).status_code == 200


async def test_request_logs_redact_link_tokens_and_escape_control_characters(client, caplog):
    caplog.set_level(logging.INFO, logger="taskly.request")
    await client.get("/verify/SeCrEtToKeN123")
    await client.get("/m/AnotherSecret.abc")
    await client.get("/x%0aFAKE 200 GET /admin")
    lines = [r.getMessage() for r in caplog.records if r.name == "taskly.request"]
    assert any("/verify/[token]" in line for line in lines)
    assert any("/m/[token]" in line for line in lines)
    assert not any("SeCrEtToKeN" in line or "AnotherSecret" in line for line in lines)
    forged = next(line for line in lines if "FAKE" in line)
    assert "\n" not in forged and "/x\\nFAKE" in forged
    assert all(
        re.search(r"\[token\]", r.path) for r in caplog.records if "token]" in r.getMessage()
    )


async def test_twenty_simultaneous_wrong_passwords_meet_a_limit_of_ten(client, app):
    """Hardening #8: 17 of 20 concurrent attempts were evaluated against a limit of 10."""
    await sign_up(client)

    async def attempt(i: int) -> int:
        browser = app.test_client()
        token = await page_token(browser, "/login")
        response = await browser.post(
            "/login",
            form={"csrf_token": token, "email": "ada@example.com", "password": f"guess {i}"},
            scope_base={"client": (f"203.0.113.{i}", 1)},
        )
        return response.status_code

    statuses = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert sorted(statuses) == [422] * 10 + [429] * 10
    late = app.test_client()
    token = await page_token(late, "/login")
    right = await late.post(
        "/login",
        form={"csrf_token": token, "email": "ada@example.com", "password": PASSWORD},
        scope_base={"client": ("192.0.2.1", 1)},
    )
    assert right.status_code == 429


async def test_nul_bytes_are_a_400_whatever_the_form_type_or_url(client):
    await sign_up(client)
    token = await page_token(client, "/")
    response = await client.post(
        "/tasks",
        data=f"csrf_token={token}&title=bad%00title".encode(),
        headers={"Content-Type": "application/x-url-encoded"},
    )
    assert response.status_code == 400
    assert (await client.get("/account/avatar/" + "a" * 31 + "%00-64.webp")).status_code in (
        400,
        404,
    )


async def test_the_development_mailbox_shows_nothing_to_a_stranger_on_the_network(make_app):
    """Before login the mailbox trusts the address typed in the forgot-password form: only a
    browser on the same machine may see it (a dev server on 0.0.0.0 must not hand out reset
    links)."""
    app = await make_app(env="development")
    owner = app.test_client()
    await sign_up(owner, email="victim@example.com")
    stranger = app.test_client()
    far = {"client": ("198.51.100.9", 40000)}
    token = await page_token(stranger, "/password/forgot")
    await stranger.post(
        "/password/forgot",
        form={"csrf_token": token, "email": "victim@example.com"},
        scope_base=far,
    )
    response = await stranger.get("/dev/mail", scope_base=far)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    near = app.test_client()
    token = await page_token(near, "/password/forgot")
    await near.post("/password/forgot", form={"csrf_token": token, "email": "x@example.com"})
    assert (await near.get("/dev/mail")).status_code == 200  # on this machine, as before
