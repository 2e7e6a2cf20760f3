"""Helpers for tests that drive the app like a browser: forms with their CSRF tokens."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from quart.typing import TestClientProtocol

from taskly.db import POOL_KEY

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match[1]


async def page_token(client: TestClientProtocol, path: str) -> str:
    response = await client.get(path)
    return csrf_of(await response.get_data(as_text=True))


async def post_form(
    client: TestClientProtocol, path: str, form: dict[str, str], **kwargs: Any
) -> Any:
    """POST a form the way a browser would: with the CSRF token of the page that shows it."""
    token = await page_token(client, kwargs.pop("token_from", path))
    return await client.post(path, form={"csrf_token": token, **form}, **kwargs)


async def mailed_link(client: TestClientProtocol, email: str, template: str) -> str:
    """The link in the newest queued message of `template` to `email` (read from the outbox
    before the engine sends it: route tests run no engine)."""
    pool = client.app.extensions[POOL_KEY]  # type: ignore[attr-defined]
    async with pool.acquire() as conn:
        context = await conn.fetchval(
            "SELECT o.context FROM outbox o JOIN users u ON u.id = o.user_id "
            "WHERE u.email_key = lower($1) AND o.template = $2 ORDER BY o.id DESC LIMIT 1",
            email,
            template,
        )
    assert context is not None, f"no {template} mail queued for {email}"
    link: str = json.loads(context)["link"]
    return link


async def sign_up(
    client: TestClientProtocol,
    email: str = "ada@example.com",
    password: str = PASSWORD,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    time_zone: str = "Europe/London",
    verify: bool = True,
    locale: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Sign up as a new user would: the form, then the link from the verification mail
    (which asks for the password and logs the browser in). verify=False logs in instead and
    leaves the address unconfirmed."""
    response = await post_form(
        client,
        "/signup",
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "password": password,
            "time_zone": time_zone,
            **({} if locale is None else {"locale": locale}),
        },
        headers=headers or {},
    )
    assert response.status_code == 302, await response.get_data(as_text=True)
    assert response.headers["Location"] == "/signup/sent"
    if not verify:
        response = await log_in(client, email, password, headers=headers or {})
    else:
        path = urlsplit(await mailed_link(client, email, "verify_email")).path
        response = await post_form(client, path, {"password": password}, headers=headers or {})
    assert response.status_code == 302, await response.get_data(as_text=True)
    return response


async def log_in(
    client: TestClientProtocol, email: str, password: str = PASSWORD, **kwargs: Any
) -> Any:
    return await post_form(client, "/login", {"email": email, "password": password}, **kwargs)
