"""Reminders through Apprise against a real HTTP receiver on 127.0.0.1 (tests/support/
apprise_receiver.py, json:// and ntfy://): the message arrives once with the title, the due time
on the owner's clock and a link to the task; a service at a private or metadata address is
refused at send time while the mail of the same occurrence still goes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskly.notify.sealed import seal
from tests.helpers import sign_up
from tests.reminders.conftest import Clock, add_rule, at, engine_for, new_task
from tests.support.apprise_receiver import (  # noqa: F401
    AppriseReceiver,
    apprise_receiver_fixture,
)

FIRE = at("2026-12-01T09:00:00+00:00")


async def add_apprise(app, db, url: str, label: str = "ntfy", email: str = "ada@example.com"):
    """A service row as Settings → Notifications → Other services keeps it (sealed URL)."""
    settings = app.extensions["taskly.settings"]
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", email)
    scheme = url.split(":", 1)[0]
    sealed = seal(url, user_id=user_id, settings=settings)
    service_id: int = await db.fetchval(
        "INSERT INTO notify_services (user_id, label, scheme, url_sealed, masked)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        user_id,
        label,
        scheme,
        sealed,
        f"{scheme}://…",
    )
    return service_id


async def email_and_service(db, task_id: int, service_id: int) -> int:
    reminder_id = await add_rule(db, task_id, FIRE)
    await db.execute(
        "INSERT INTO reminder_targets (reminder_id, notify_service_id) VALUES ($1, $2)",
        reminder_id,
        service_id,
    )
    return reminder_id


@pytest.fixture
async def lan_app(make_app):
    return await make_app(notify_allow_private=True)


@pytest.fixture
async def ada(lan_app, db):
    client = lan_app.test_client()
    await sign_up(client, time_zone="Europe/Berlin")
    await db.execute("DELETE FROM outbox WHERE template = 'verify_email'")
    return client


@pytest.mark.parametrize("scheme", ["json", "ntfy"])
async def test_a_reminder_arrives_once_with_its_due_time_and_link(
    lan_app, ada, db, sink, apprise_receiver: AppriseReceiver, scheme
):
    task_id = await new_task(ada, db, "Renew the passport")
    await db.execute(
        "UPDATE tasks SET due_at = $1 WHERE id = $2", at("2026-12-01T16:00:00+00:00"), task_id
    )
    service = await add_apprise(lan_app, db, apprise_receiver.url(scheme, "reminders"))
    await email_and_service(db, task_id, service)
    engine = engine_for(lan_app, sink, Clock(FIRE))
    assert await engine.tick() == 2
    assert await engine.tick() == 0
    [message] = apprise_receiver.received
    assert message.body["title"] == "Reminder: Renew the passport"
    assert message.body["message"] == (
        f"Due Tuesday, 1 December 2026, 17:00 CET\nhttp://localhost/#task-{task_id}"
    )
    assert [m["Subject"] for m in sink.messages] == ["Reminder: Renew the passport"]
    row = await db.fetchrow("SELECT last_success_at, last_error FROM notify_services")
    assert row["last_success_at"] is not None and row["last_error"] is None
    states = dict(await db.fetch("SELECT channel, state FROM deliveries"))
    assert states == {"email": "sent", "apprise": "sent"}


async def test_a_failing_service_retries_and_never_holds_up_the_mail(
    lan_app, ada, db, sink, apprise_receiver: AppriseReceiver
):
    task_id = await new_task(ada, db, "Flaky ntfy")
    service = await add_apprise(lan_app, db, apprise_receiver.url("json", "hook"))
    await email_and_service(db, task_id, service)
    apprise_receiver.answer(503)
    clock = Clock(FIRE)
    engine = engine_for(lan_app, sink, clock)
    assert await engine.tick() == 1  # the mail
    row = await db.fetchrow("SELECT * FROM deliveries WHERE channel = 'apprise'")
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["retry_at"] == FIRE + timedelta(seconds=30)
    assert await db.fetchval("SELECT last_error FROM notify_services")
    clock.now = FIRE + timedelta(seconds=30)
    assert await engine.tick() == 1
    assert len(apprise_receiver.received) == 1 and len(sink.messages) == 1


@pytest.mark.parametrize("url", ["json://169.254.169.254/latest", "ntfy://10.0.0.1/topic"])
async def test_a_private_or_metadata_service_is_refused_at_send_time(make_app, db, sink, url):
    """The operator has not allowed private targets: a row that points at one (stored while
    they were allowed, or by hand) is refused when sending; nothing is sent there."""
    app = await make_app(notify_allow_private=False)
    client = app.test_client()
    await sign_up(client, time_zone="Europe/Berlin")
    await db.execute("DELETE FROM outbox WHERE template = 'verify_email'")
    task_id = await new_task(client, db, "Not there")
    await email_and_service(db, task_id, await add_apprise(app, db, url))
    assert await engine_for(app, sink, Clock(FIRE)).tick() == 1  # the mail only
    row = await db.fetchrow("SELECT state, last_error FROM deliveries WHERE channel = 'apprise'")
    assert row["state"] == "failed" and row["last_error"]
    assert url not in row["last_error"]  # the URL is a secret: never in an error
    assert await db.fetchval("SELECT last_error FROM notify_services") == row["last_error"]
