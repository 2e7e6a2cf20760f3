"""Every mailed account link (verify, reset, change email): it expires, it works once, and it
works for its own purpose only. The database's clock decides expiry, so a token is made older
rather than the clock moved."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.helpers import PASSWORD, mailed_link, post_form, sign_up

ROUTES = {
    "verify_email": "/verify/{}",
    "reset_password": "/password/reset/{}",
    "change_email": "/account/email/confirm/{}",
}
LIFETIME = {"verify_email": 7 * 86400, "reset_password": 3600, "change_email": 86400}
FORMS = {
    "verify_email": {"password": PASSWORD},
    "reset_password": {"new_password": "a fresh passphrase"},
    "change_email": {},
}


async def issue(client, app, purpose: str) -> str:
    """A live token of `purpose` for ada@example.com, as its mail would carry it."""
    if purpose == "reset_password":
        await post_form(app.test_client(), "/password/forgot", {"email": "ada@example.com"})
    elif purpose == "change_email":
        await post_form(
            client, "/account/email", {"new_email": "new@example.com", "password": PASSWORD}
        )
    return urlsplit(await mailed_link(client, "ada@example.com", purpose)).path.rsplit("/", 1)[1]


@pytest.mark.parametrize("purpose", list(ROUTES))
async def test_each_link_expires(client, app, db, purpose):
    await sign_up(client, verify=purpose != "verify_email")
    token = await issue(client, app, purpose)
    path = ROUTES[purpose].format(token)
    assert (await app.test_client().get(path)).status_code == 200
    lifetime = await db.fetchval(
        "SELECT expires_at - created_at FROM account_tokens WHERE purpose = $1", purpose
    )
    assert lifetime.total_seconds() == LIFETIME[purpose]
    await db.execute(
        "UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE purpose = $1",
        purpose,
    )
    page = await app.test_client().get(path)
    assert page.status_code == 410 and "expired" in await page.get_data(as_text=True)
    response = await post_form(app.test_client(), path, FORMS[purpose], token_from="/login")
    assert response.status_code == 410


@pytest.mark.parametrize("purpose", list(ROUTES))
async def test_each_link_works_once(client, app, purpose):
    await sign_up(client, verify=purpose != "verify_email")
    token = await issue(client, app, purpose)
    path = ROUTES[purpose].format(token)
    first = await post_form(client, path, FORMS[purpose])
    assert first.status_code == 302
    again = await post_form(app.test_client(), path, FORMS[purpose], token_from="/login")
    assert again.status_code == 410


@pytest.mark.parametrize("purpose", list(ROUTES))
async def test_each_link_works_for_its_own_purpose_only(client, app, purpose):
    await sign_up(client, verify=purpose != "verify_email")
    token = await issue(client, app, purpose)
    for other, route in ROUTES.items():
        if other == purpose:
            continue
        stranger = app.test_client()
        assert (await stranger.get(route.format(token))).status_code == 404, (purpose, other)
        post = await post_form(stranger, route.format(token), FORMS[other], token_from="/login")
        assert post.status_code == 404, (purpose, other)


async def test_resending_the_verification_link_replaces_the_old_one_and_is_limited(client, db):
    await sign_up(client, verify=False)
    first = await mailed_link(client, "ada@example.com", "verify_email")
    statuses = [
        (await post_form(client, "/verify", {}, token_from="/")).status_code for _ in range(4)
    ]
    assert statuses == [302, 302, 302, 429]
    assert await mailed_link(client, "ada@example.com", "verify_email") != first
    pending = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE template = 'verify_email' AND state = 'pending'"
    )
    assert pending == 1  # each new link replaced the unsent one
