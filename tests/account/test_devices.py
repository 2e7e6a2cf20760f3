"""Devices: every live session with its browser, "This device" marked, and logging out one
from another client, or every other one."""

from __future__ import annotations

import re

from tests.helpers import log_in, page_token, sign_up

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


async def test_devices_are_listed_and_one_can_log_out_another(client, app, db):
    await sign_up(client, headers={"User-Agent": FIREFOX})
    phone = app.test_client()
    await log_in(phone, "ada@example.com", headers={"User-Agent": IPHONE})
    html = await (await client.get("/account/devices")).get_data(as_text=True)
    assert "Firefox on Linux" in html and "Safari on iPhone" in html
    assert html.count('class="badge">This device<') == 1
    assert html.index("This device") > html.index("Firefox on Linux")
    phone_id = await db.fetchval("SELECT id FROM sessions WHERE user_agent LIKE '%iPhone%'")
    token = await page_token(client, "/account/devices")
    response = await client.post(f"/account/devices/{phone_id}/logout", form={"csrf_token": token})
    assert response.status_code == 302
    assert (await phone.get("/")).status_code == 302  # the phone is logged out at once
    assert (await client.get("/")).status_code == 200
    html = await (await client.get("/account/devices")).get_data(as_text=True)
    assert "iPhone" not in html


async def test_another_users_session_id_is_not_yours_to_end(client, app, db):
    await sign_up(client)
    bob = app.test_client()
    await sign_up(bob, email="bob@example.com")
    bob_session = await db.fetchval(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE u.email = 'bob@example.com'"
    )
    token = await page_token(client, "/account/devices")
    await client.post(f"/account/devices/{bob_session}/logout", form={"csrf_token": token})
    assert (await bob.get("/")).status_code == 200


async def test_log_out_everywhere_else_keeps_this_device(client, app, db):
    await sign_up(client)
    others = [app.test_client() for _ in range(2)]
    for other in others:
        await log_in(other, "ada@example.com")
    token = await page_token(client, "/account/devices")
    await client.post("/account/devices/logout-others", form={"csrf_token": token})
    assert (await client.get("/")).status_code == 200
    for other in others:
        assert (await other.get("/")).status_code == 302
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1


async def test_logging_out_this_device_from_the_list_logs_out(client, db):
    await sign_up(client)
    mine = await db.fetchval("SELECT id FROM sessions")
    token = await page_token(client, "/account/devices")
    response = await client.post(f"/account/devices/{mine}/logout", form={"csrf_token": token})
    assert response.headers["Location"] == "/login"
    assert (await client.get("/")).status_code == 302
    assert re.search("Log in", await (await client.get("/login")).get_data(as_text=True))
