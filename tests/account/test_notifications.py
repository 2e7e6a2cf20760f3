"""Settings → Notifications against a real push service (tests/support/push_service.py), which
verifies Taskly's VAPID signature and decrypts with the keys a browser would hold: a device
subscribes, gets a test, is removed; a gone subscription removes itself; an endpoint at a
private or metadata address is refused before anything is stored or sent."""

from __future__ import annotations

import re

import pytest

from tests.helpers import post_form, sign_up
from tests.support.push_service import PushService, push_service_fixture  # noqa: F401

PAGE = "/account/notifications"


@pytest.fixture
async def user(make_app, push_service: PushService):
    """A signed-up user on an app that trusts the test push service (on 127.0.0.1, hence
    private targets allowed, as an operator on a LAN would)."""
    app = await make_app(notify_allow_private=True, notify_ca_file=push_service.ca_file)
    client = app.test_client()
    await sign_up(client)
    return client


async def server_key(client) -> str:
    html = await (await client.get(PAGE)).get_data(as_text=True)
    found = re.search(r'data-server-key="([A-Za-z0-9_-]+)"', html)
    assert found, "the page gives the browser Taskly's public key"
    return found[1]


async def subscribe(client, service: PushService, **override: str):
    subscription = service.subscribe(await server_key(client))
    form = {
        "endpoint": subscription["endpoint"],
        "p256dh": subscription["keys"]["p256dh"],
        "auth": subscription["keys"]["auth"],
    } | override
    headers = {"User-Agent": "Mozilla/5.0 (Android 14; Mobile) Firefox/133.0"}
    return await post_form(client, f"{PAGE}/devices", form, headers=headers)


async def device_ids(db) -> list[int]:
    return [r["id"] for r in await db.fetch("SELECT id FROM push_subscriptions ORDER BY id")]


async def test_a_device_subscribes_gets_a_test_and_is_removed(user, push_service, db):
    answer = await subscribe(user, push_service)
    assert answer.status_code == 302
    page = await (await user.get(PAGE)).get_data(as_text=True)
    assert "Firefox on Android" in page and "nothing delivered yet" in page
    (device,) = await device_ids(db)
    answer = await post_form(user, f"{PAGE}/devices/{device}/test", {}, token_from=PAGE)
    assert answer.status_code == 302
    (message,) = push_service.received  # decrypted with the browser's keys, signature checked
    assert message.payload["title"] == "Taskly" and message.payload["url"] == PAGE
    assert message.topic == "taskly-test" and message.ttl == 300
    page = await (await user.get(PAGE)).get_data(as_text=True)
    assert "Sent. The notification should appear" in page and "last delivered" in page
    await post_form(user, f"{PAGE}/devices/{device}/delete", {}, token_from=PAGE)
    assert await device_ids(db) == []
    answer = await post_form(user, f"{PAGE}/devices/{device}/delete", {}, token_from=PAGE)
    assert "already removed" in await (await user.get(PAGE)).get_data(as_text=True)


async def test_subscribing_again_replaces_the_keys_not_the_device(user, push_service, db):
    await subscribe(user, push_service)
    endpoint = await db.fetchval("SELECT endpoint FROM push_subscriptions")
    await subscribe(user, push_service, endpoint=endpoint)
    assert len(await device_ids(db)) == 1


@pytest.mark.parametrize("status", [404, 410])
async def test_a_subscription_the_push_service_has_dropped_is_removed(
    user, push_service, db, status
):
    await subscribe(user, push_service)
    (device,) = await device_ids(db)
    push_service.answer(status)
    await post_form(user, f"{PAGE}/devices/{device}/test", {}, token_from=PAGE)
    assert await device_ids(db) == []
    assert "has unsubscribed" in await (await user.get(PAGE)).get_data(as_text=True)


async def test_a_failing_push_service_is_reported_and_kept(user, push_service, db):
    await subscribe(user, push_service)
    (device,) = await device_ids(db)
    push_service.answer(503)
    await post_form(user, f"{PAGE}/devices/{device}/test", {}, token_from=PAGE)
    assert await device_ids(db) == [device]
    page = await (await user.get(PAGE)).get_data(as_text=True)
    assert "did not take the message just now" in page and "Last attempt failed" in page


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.com/x",  # not https
        "https://169.254.169.254/latest/meta-data",  # cloud metadata, never allowed
        "https://[fe80::1]/x",  # link-local
        "https://user:pw@push.example.com/x",
    ],
)
async def test_unsafe_endpoints_are_refused_before_anything_is_kept(
    user, push_service, db, endpoint
):
    answer = await subscribe(user, push_service, endpoint=endpoint)
    assert answer.status_code == 422
    html = await answer.get_data(as_text=True)
    assert "Taskly cannot send to this browser" in html and 'role="alert"' in html
    assert await device_ids(db) == [] and push_service.requests == 0


async def test_private_push_services_are_refused_by_default(make_app, push_service, db):
    app = await make_app(notify_ca_file=push_service.ca_file)  # NOTIFY_ALLOW_PRIVATE off
    client = app.test_client()
    await sign_up(client)
    answer = await subscribe(client, push_service)
    assert answer.status_code == 422
    assert await device_ids(db) == [] and push_service.requests == 0


@pytest.mark.parametrize(
    ("field", "value"), [("p256dh", "short"), ("auth", "!!!!"), ("p256dh", ""), ("auth", "A" * 200)]
)
async def test_malformed_keys_are_a_clear_answer(user, push_service, db, field, value):
    answer = await subscribe(user, push_service, **{field: value})
    assert answer.status_code == 422
    assert "incomplete subscription" in await answer.get_data(as_text=True)
    assert await device_ids(db) == []


async def test_devices_are_private_to_their_owner(user, make_app, push_service, db):
    await subscribe(user, push_service)
    (device,) = await device_ids(db)
    other = (await make_app(notify_allow_private=True)).test_client()
    await sign_up(other, email="other@example.com")
    for action in ("test", "delete"):
        answer = await post_form(other, f"{PAGE}/devices/{device}/{action}", {}, token_from=PAGE)
        assert answer.status_code in (302, 404)
    assert await device_ids(db) == [device] and push_service.requests == 0
    assert "Firefox on Android" not in await (await other.get(PAGE)).get_data(as_text=True)
