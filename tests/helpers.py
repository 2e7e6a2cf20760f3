"""Helpers for tests that drive the app like a browser: forms with their CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from quart.typing import TestClientProtocol

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


async def sign_up(
    client: TestClientProtocol,
    email: str = "ada@example.com",
    password: str = PASSWORD,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
    time_zone: str = "Europe/London",
) -> Any:
    response = await post_form(
        client,
        "/signup",
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "password": password,
            "time_zone": time_zone,
        },
    )
    assert response.status_code == 302, await response.get_data(as_text=True)
    return response


async def log_in(client: TestClientProtocol, email: str, password: str = PASSWORD) -> Any:
    return await post_form(client, "/login", {"email": email, "password": password})
