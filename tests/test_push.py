"""Web Push (taskly/push.py) against a real push service (tests/support/push_service.py): it
verifies the VAPID JWT against Taskly's public key and decrypts what arrives with the keys a
browser would hold. The service listens on 127.0.0.1, so these settings allow private targets,
as the test environment does (NOTIFY_ALLOW_PRIVATE); the refusal tests turn it off."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import asyncpg
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from taskly.outbound import Target
from taskly.pinned import pinned_session
from taskly.push import (
    MAX_PAYLOAD,
    PushResult,
    VapidKeys,
    load_private_key,
    send_push,
    vapid_keys,
)
from taskly.settings import Settings, SettingsError
from tests.support.push_service import PushService, push_service_fixture  # noqa: F401
from tests.test_settings import SAFE

REMINDER = {
    "title": "Water the plants ✓",
    "body": "Due today at 17:00",
    "url": "/?task=42",
    "actions": [{"action": "done", "token": "d" * 43}, {"action": "snooze", "token": "s" * 43}],
}


@pytest.fixture
async def conn(database_url):
    """A connection, with no VAPID key stored before or after the test."""
    connection = await asyncpg.connect(database_url)
    await connection.execute("TRUNCATE vapid_keys")
    yield connection
    await connection.execute("TRUNCATE vapid_keys")
    await connection.close()


@pytest.fixture
def push_settings(settings: Settings) -> Settings:
    return replace(settings, notify_allow_private=True, notify_timeout=3.0)


@pytest.fixture
async def keys(conn, push_settings) -> VapidKeys:
    return await vapid_keys(conn, push_settings)


async def send(service: PushService, subscription, settings: Settings, keys: VapidKeys, **kw):
    options = {"ttl": 3600, "urgency": "normal"} | kw
    return await send_push(
        subscription, REMINDER, keys=keys, settings=settings, ca_file=service.ca_file, **options
    )


def raw_private(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# The key pair


async def test_the_key_pair_is_made_once_even_by_concurrent_first_users(
    conn, database_url, push_settings
):
    others = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        pairs = await asyncio.gather(*(vapid_keys(c, push_settings) for c in [conn, *others]))
    finally:
        for other in others:
            await other.close()
    assert len({pair.application_server_key() for pair in pairs}) == 1
    assert await conn.fetchval("SELECT count(*) FROM vapid_keys") == 1
    again = await vapid_keys(conn, push_settings)
    assert again.application_server_key() == pairs[0].application_server_key()
    assert again.created_at is not None


async def test_the_public_key_is_what_push_manager_subscribe_takes(keys):
    text = keys.application_server_key()
    assert len(text) == 87 and "=" not in text
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    point = base64.urlsafe_b64decode(text + "=")
    assert len(point) == 65 and point[0] == 4  # uncompressed P-256 point
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    assert public.public_numbers() == keys.private_key.public_key().public_numbers()


@pytest.mark.parametrize("form", ["raw", "pem"])
async def test_a_configured_key_is_used_and_nothing_is_stored(conn, push_settings, form):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    configured = raw_private(key) if form == "raw" else pem
    pair = await vapid_keys(conn, replace(push_settings, vapid_private_key=configured))
    assert pair.private_key.private_numbers() == key.private_numbers()
    assert pair.created_at is None
    assert await conn.fetchval("SELECT count(*) FROM vapid_keys") == 0


def test_vapid_settings_are_checked_and_the_subject_defaults_to_mail_from(tmp_path):
    key = raw_private(ec.generate_private_key(ec.SECP256R1()))
    settings = Settings.from_env({**SAFE, "VAPID_PRIVATE_KEY": key})
    assert settings.vapid_contact == "mailto:tasks@tasks.example"
    assert key not in repr(settings)
    assert Settings().vapid_contact == "mailto:taskly@localhost"
    chosen = Settings.from_env({**SAFE, "VAPID_SUBJECT": "https://tasks.example/contact"})
    assert chosen.vapid_contact == "https://tasks.example/contact"
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for bad in ("not a key", "A" * 43, p384.decode(), raw_private(load_private_key(key))[:-2]):
        with pytest.raises(SettingsError, match="VAPID_PRIVATE_KEY"):
            Settings.from_env({**SAFE, "VAPID_PRIVATE_KEY": bad})
    for bad in ("tasks@tasks.example", "mailto:nobody", "http://tasks.example"):
        with pytest.raises(SettingsError, match="VAPID_SUBJECT"):
            Settings.from_env({**SAFE, "VAPID_SUBJECT": bad})
    with pytest.raises(SettingsError, match="VAPID_SUBJECT"):
        Settings.from_env({**SAFE, "MAIL_FROM": "Taskly <tasks@mailhost>"})
    development = Settings.from_env({"TASKLY_DATA_DIR": str(tmp_path), "MAIL_FROM": "a@mailhost"})
    assert development.vapid_contact == "mailto:a@mailhost"  # pushes fail; the app starts


# Sending


async def test_a_reminder_arrives_signed_and_decrypts_to_what_was_sent(
    push_service, push_settings, keys
):
    subscription = push_service.subscribe(keys.application_server_key())
    result = await send(
        push_service, subscription, push_settings, keys, ttl=7200, urgency="high", topic="task-42"
    )
    assert result == PushResult("delivered", 201, detail="201 Created")
    assert push_service.rejected == []
    [message] = push_service.received
    assert message.payload == REMINDER
    assert (message.ttl, message.urgency, message.topic) == (7200, "high", "task-42")
    assert message.claims["sub"] == "mailto:taskly@localhost"
    assert message.claims["aud"] == push_service.origin


async def test_an_endpoint_by_name_is_reached_at_its_checked_address(
    push_service, push_settings, keys
):
    """`localhost` resolves to 127.0.0.1 (and often ::1, where nothing listens): the send
    connects to a checked address and still names the host for TLS and the JWT audience."""
    subscription = push_service.subscribe(keys.application_server_key())
    subscription["endpoint"] = subscription["endpoint"].replace("127.0.0.1", "localhost")
    result = await send(push_service, subscription, push_settings, keys)
    assert result.outcome == "delivered"
    assert push_service.received[0].claims["aud"] == f"https://localhost:{push_service.port}"


async def test_a_subscription_made_for_another_key_is_refused_by_the_service(
    push_service, push_settings, keys
):
    other = VapidKeys(ec.generate_private_key(ec.SECP256R1()))
    subscription = push_service.subscribe(other.application_server_key())
    result = await send(push_service, subscription, push_settings, keys)
    assert (result.outcome, result.status) == ("failed", 403)
    assert push_service.received == []


@pytest.mark.parametrize("status", [404, 410])
async def test_a_forgotten_subscription_is_gone(push_service, push_settings, keys, status):
    push_service.answer(status)
    subscription = push_service.subscribe(keys.application_server_key())
    result = await send(push_service, subscription, push_settings, keys)
    assert (result.outcome, result.status) == ("gone", status)


async def test_throttling_is_retried_after_the_delay_the_service_asks(
    push_service, push_settings, keys
):
    subscription = push_service.subscribe(keys.application_server_key())
    push_service.answer(429, headers={"Retry-After": "120"})
    when = datetime.now(UTC) + timedelta(seconds=300)
    push_service.answer(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    seconds = await send(push_service, subscription, push_settings, keys)
    date = await send(push_service, subscription, push_settings, keys)
    assert (seconds.outcome, seconds.status, seconds.retry_after) == ("retry", 429, 120.0)
    assert (date.outcome, date.status) == ("retry", 429)
    assert date.retry_after is not None and 290 <= date.retry_after <= 300


@pytest.mark.parametrize(("status", "after"), [(500, None), (503, "30")])
async def test_a_failing_service_is_retried(push_service, push_settings, keys, status, after):
    subscription = push_service.subscribe(keys.application_server_key())
    push_service.answer(status, headers={"Retry-After": after} if after else None)
    result = await send(push_service, subscription, push_settings, keys)
    assert (result.outcome, result.status) == ("retry", status)
    assert result.retry_after == (float(after) if after else None)
    assert (await send(push_service, subscription, push_settings, keys)).outcome == "delivered"


@pytest.mark.parametrize("status", [400, 401, 413])
async def test_other_refusals_are_permanent(push_service, push_settings, keys, status):
    push_service.answer(status)
    subscription = push_service.subscribe(keys.application_server_key())
    result = await send(push_service, subscription, push_settings, keys)
    assert (result.outcome, result.status) == ("failed", status)


async def test_a_redirect_is_not_followed(push_service, push_settings, keys):
    subscription = push_service.subscribe(keys.application_server_key())
    push_service.answer(307, headers={"Location": subscription["endpoint"]})
    result = await send(push_service, subscription, push_settings, keys)
    assert (result.outcome, result.status) == ("failed", 307)
    assert push_service.requests == 1
    assert push_service.received == []


async def test_a_silent_service_times_out_and_the_loop_keeps_running(
    push_service, push_settings, keys
):
    settings = replace(push_settings, notify_timeout=1.0)
    subscription = push_service.subscribe(keys.application_server_key())
    push_service.hang()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    result = await send(push_service, subscription, settings, keys)
    elapsed = time.monotonic() - started
    ticker.cancel()
    assert result.outcome == "retry"
    assert push_service.requests == 1  # it was asked, and never answered
    assert 0.9 <= elapsed < 1.5
    assert ticks >= 15  # about 20 in a second: the loop was never blocked


@pytest.mark.parametrize(
    ("endpoint", "allow_private", "reason"),
    [
        ("http://127.0.0.1:{port}/push/x", True, "scheme"),
        ("https://10.0.0.1/push/x", False, "private"),
        ("https://169.254.169.254/push/x", True, "metadata"),
        ("https://127.0.0.1:{port}/push/x", False, "loopback"),
        ("https://user:pw@127.0.0.1:{port}/push/x", True, "syntax"),
    ],
)
async def test_a_refused_endpoint_is_never_contacted(
    push_service, push_settings, keys, endpoint, allow_private, reason
):
    subscription = push_service.subscribe(keys.application_server_key())
    subscription["endpoint"] = endpoint.format(port=push_service.port)
    settings = replace(push_settings, notify_allow_private=allow_private)
    result = await send(push_service, subscription, settings, keys)
    assert result.outcome == "refused"
    assert result.detail.startswith(f"{reason}: ")
    assert str(push_service.port) not in result.detail
    assert push_service.requests == 0


async def test_the_connection_goes_only_to_the_pinned_addresses(push_service):
    """What a rebound name would meet: the session never resolves the host again, connects
    only to the addresses it was given (each checked once more), and to no other host."""
    url = f"https://localhost:{push_service.port}/push/unknown"
    loopback = ipaddress.ip_address("127.0.0.1")
    metadata = ipaddress.ip_address("169.254.169.254")

    ca = push_service.ca_file

    def post(addresses, allow_private=True, to=url) -> int:
        target = Target("localhost", push_service.port, tuple(addresses))
        with pinned_session(target, allow_private=allow_private, ca_file=ca) as session:
            return session.post(to, data=b"", timeout=2).status_code

    assert await asyncio.to_thread(post, [loopback]) == 404
    assert push_service.requests == 1
    refused = [
        ([metadata], True, url),  # what the name resolves to now does not matter
        ([loopback], False, url),  # checked again at connect time
        ([], True, url),
        ([loopback], True, url.replace("localhost", "127.0.0.1")),  # another host
        ([loopback], True, url.replace("https:", "http:")),
    ]
    for addresses, allow_private, to in refused:
        with pytest.raises(requests.RequestException):
            await asyncio.to_thread(post, addresses, allow_private, to)
    assert push_service.requests == 1


async def test_bad_messages_are_the_caller_s_mistake(push_settings, keys):
    subscription = {"endpoint": "https://push.example/x", "keys": {"p256dh": "x", "auth": "y"}}
    cases = [
        ({"title": "x" * MAX_PAYLOAD}, {}),
        (REMINDER, {"urgency": "urgent"}),
        (REMINDER, {"ttl": -1}),
        (REMINDER, {"topic": "has spaces"}),
        (REMINDER, {"topic": "t" * 33}),
    ]
    for payload, options in cases:
        with pytest.raises(ValueError):
            await send_push(
                subscription, payload, keys=keys, settings=push_settings,
                **({"ttl": 60} | options),
            )  # fmt: skip
