"""The Apprise sender against a real HTTP receiver on 127.0.0.1 (tests/support/
apprise_receiver.py): what arrives, once; what is refused before anything is sent; a service
that hangs; and that the URL, a secret, never reaches the logs."""

from __future__ import annotations

import asyncio
import logging

import apprise
import pytest
import requests

from taskly.notify.apprise import guarded, readable, send_apprise
from taskly.outbound import Policy
from taskly.settings import Settings
from tests.support.apprise_receiver import (  # noqa: F401
    AppriseReceiver,
    apprise_receiver_fixture,
)

LINK = "http://localhost/tasks/42"
BODY = f"Due today at 09:00\n{LINK}"


def config(**overrides) -> Settings:
    """Test settings allow private targets (the receiver is on 127.0.0.1), as a LAN would."""
    return Settings(
        env="test",
        secret_key="test-secret-" + "x" * 32,
        notify_allow_private=overrides.pop("notify_allow_private", True),
        notify_timeout=overrides.pop("notify_timeout", 5.0),
        **overrides,
    )


async def test_a_json_message_arrives_once_with_title_body_and_link(apprise_receiver):
    url = apprise_receiver.url("json", "hooks/taskly")
    result = await send_apprise(url, title="Water the plants", body=BODY, settings=config())
    assert result.outcome == "delivered"
    (message,) = apprise_receiver.received
    assert message.path == "/hooks/taskly"
    assert message.body["title"] == "Water the plants"
    assert message.body["message"] == BODY and LINK in message.body["message"]


async def test_an_ntfy_message_arrives_once_on_its_topic(apprise_receiver):
    url = apprise_receiver.url("ntfy", "my-reminders")
    result = await send_apprise(url, title="Water the plants", body=BODY, settings=config())
    assert result.outcome == "delivered"
    (message,) = apprise_receiver.received
    assert message.body["topic"] == "my-reminders"
    assert message.body["title"] == "Water the plants" and LINK in message.body["message"]


@pytest.mark.parametrize(
    ("status", "outcome"), [(500, "retry"), (503, "retry"), (429, "retry"), (403, "failed")]
)
async def test_answers_become_outcomes(apprise_receiver, status, outcome):
    apprise_receiver.answer(status)
    url = apprise_receiver.url("json", "hook")
    result = await send_apprise(url, title="T", body="B", settings=config())
    assert (result.outcome, result.status) == (outcome, status)
    assert apprise_receiver.requests == 1 and apprise_receiver.received == []


async def test_a_closed_port_is_a_retry():
    result = await send_apprise("json://127.0.0.1:1/x", title="T", body="B", settings=config())
    assert result.outcome == "retry"


@pytest.mark.parametrize(
    "url",
    [
        "json://169.254.169.254/latest/meta-data",
        "ntfy://10.0.0.1/topic",
        "json://[fe80::1]:8080/x",
    ],
)
async def test_private_and_metadata_targets_are_refused_at_send_time(url):
    result = await send_apprise(
        url, title="T", body="B", settings=config(notify_allow_private=False)
    )
    assert result.outcome == "refused"
    assert url not in result.detail


async def test_metadata_stays_refused_with_private_targets_allowed():
    result = await send_apprise("json://169.254.169.254/x", title="T", body="B", settings=config())
    assert result.outcome == "refused" and result.detail.startswith("metadata")


async def test_the_receiver_itself_is_refused_when_private_targets_are_not_allowed(
    apprise_receiver,
):
    url = apprise_receiver.url("json", "hook")
    result = await send_apprise(
        url, title="T", body="B", settings=config(notify_allow_private=False)
    )
    assert result.outcome == "refused" and result.detail.startswith("loopback")
    assert apprise_receiver.requests == 0


async def test_a_scheme_the_operator_does_not_allow_is_refused(apprise_receiver):
    url = apprise_receiver.url("json", "hook")
    result = await send_apprise(
        url, title="T", body="B", settings=config(notify_schemes=("ntfy", "ntfys"))
    )
    assert result.outcome == "refused" and result.detail.startswith("scheme")
    assert apprise_receiver.requests == 0


async def test_redirect_options_are_refused(apprise_receiver):
    url = apprise_receiver.url("json", "hook?redirect=yes")
    result = await send_apprise(url, title="T", body="B", settings=config())
    assert result.outcome == "refused" and apprise_receiver.requests == 0


async def test_a_hanging_service_meets_the_deadline_and_the_loop_keeps_running(
    apprise_receiver,
):
    apprise_receiver.hang()
    ticks = 0
    sending = True

    async def ticker() -> None:
        nonlocal ticks
        while sending:
            ticks += 1
            await asyncio.sleep(0.01)

    running = asyncio.create_task(ticker())
    url = apprise_receiver.url("json", "hook")
    result = await send_apprise(url, title="T", body="B", settings=config(notify_timeout=0.5))
    sending = False
    await running
    assert result.outcome == "retry"
    assert apprise_receiver.requests == 1 and apprise_receiver.received == []
    assert ticks > 1, "the event loop ran other work while the service hung"


def test_the_connect_guard_refuses_what_the_policy_refuses(apprise_receiver):
    """Apprise resolves the host itself: the guard judges the addresses it connects to, in
    Apprise's worker threads too, so a name that changed after the check (DNS rebinding) is
    refused at connect time."""
    service = apprise.Apprise()
    service.add(apprise_receiver.url("json", "hook"))
    with guarded(Policy(allow_private=False)) as guard:
        assert not service.notify(body="B", title="T", timeout=5)
    assert guard.refused == ["loopback"] and apprise_receiver.requests == 0
    with guarded(Policy(allow_private=True)):
        assert service.notify(body="B", title="T", timeout=5)
    assert apprise_receiver.requests == 1


def test_outside_a_send_connections_are_untouched(apprise_receiver):
    answer = requests.post(f"http://127.0.0.1:{apprise_receiver.port}/x", json={}, timeout=5)
    assert answer.status_code == 200 and apprise_receiver.requests == 1


async def test_the_url_never_reaches_the_logs(apprise_receiver, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "hook-7f3a9c?token=s3cr3t-v4lue"
    url = apprise_receiver.url("json", secret)
    assert (await send_apprise(url, title="T", body="B", settings=config())).outcome == "delivered"
    apprise_receiver.answer(500)
    assert (await send_apprise(url, title="T", body="B", settings=config())).outcome == "retry"
    topic = apprise_receiver.url("ntfy", "topic-5b1e2d")
    apprise_receiver.answer(403)
    assert (await send_apprise(topic, title="T", body="B", settings=config())).outcome == "failed"
    assert "apprise send: delivered" in caplog.text, "the sends were logged"
    for part in ("7f3a9c", "s3cr3t", "5b1e2d"):
        assert part not in caplog.text


async def test_apprise_reads_one_service_or_none():
    assert await readable("ntfys://ntfy.sh/my-topic")
    assert await readable("tgram://123456789:abcdefghijklmnopqrstuvwxyz012345678/-100123")
    assert not await readable("tgram://not-a-bot-token/")
