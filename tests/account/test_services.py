"""Settings → Notifications → Other services, against a real HTTP receiver for Apprise
(tests/support/apprise_receiver.py): a service is added (sealed, masked), sent a test, removed;
unsafe or unreadable addresses are refused beside the field with nothing stored; another
user's service is a 404; the URL never appears in a page, the table or the logs."""

from __future__ import annotations

import logging

import pytest

from taskly.notify.sealed import unseal
from tests.helpers import csrf_of, log_in, post_form, sign_up
from tests.support.apprise_receiver import (  # noqa: F401
    AppriseReceiver,
    apprise_receiver_fixture,
)

PAGE = "/account/notifications"
SERVICES = f"{PAGE}/services"
HTMX = {"HX-Request": "true", "HX-Boosted": "true"}


@pytest.fixture
async def app_private(make_app):
    """Private targets allowed: the receiver is on 127.0.0.1, as a LAN ntfy would be."""
    return await make_app(notify_allow_private=True)


@pytest.fixture
async def user(app_private):
    client = app_private.test_client()
    await sign_up(client)
    return client


async def add(client, label: str, url: str, **kwargs):
    return await post_form(
        client, SERVICES, {"label": label, "url": url}, token_from=PAGE, **kwargs
    )


async def rows(db):
    return await db.fetch("SELECT * FROM notify_services ORDER BY id")


async def page_text(client) -> str:
    return await (await client.get(PAGE)).get_data(as_text=True)


async def test_a_service_is_added_masked_tested_and_removed(
    user, app_private, apprise_receiver, db, caplog
):
    caplog.set_level(logging.DEBUG)
    url = apprise_receiver.url("ntfy", "my-secret-topic-93c1")
    answer = await add(user, "Phone (ntfy)", url)
    assert answer.status_code == 302
    (row,) = await rows(db)
    assert row["label"] == "Phone (ntfy)" and row["scheme"] == "ntfy"
    assert row["masked"] == f"ntfy://127.0.0.1:{apprise_receiver.port}/my-…"
    raw = bytes(row["url_sealed"])
    assert b"93c1" not in raw and b"my-secret" not in raw  # sealed, not stored in clear
    settings = app_private.extensions["taskly.settings"]
    assert unseal(raw, user_id=row["user_id"], settings=settings) == url
    html = await page_text(user)
    assert "Added Phone (ntfy)" in html and row["masked"] in html and "93c1" not in html

    answer = await post_form(user, f"{SERVICES}/{row['id']}/test", {}, token_from=PAGE)
    assert answer.status_code == 302
    (message,) = apprise_receiver.received
    assert message.body["topic"] == "my-secret-topic-93c1" and message.body["title"] == "Taskly"
    assert "http://localhost/account/notifications" in message.body["message"]
    html = await page_text(user)
    assert "Sent. The message should arrive" in html and "last delivered" in html
    assert (await rows(db))[0]["last_success_at"] is not None

    answer = await post_form(user, f"{SERVICES}/{row['id']}/delete", {}, token_from=PAGE)
    assert answer.status_code == 302 and await rows(db) == []
    assert "93c1" not in caplog.text and "my-secret" not in caplog.text


async def test_htmx_gets_the_section_and_a_toast(user, apprise_receiver, db):
    answer = await add(user, "Hook", apprise_receiver.url("json", "hook-x1"), headers=HTMX)
    assert answer.status_code == 200 and "HX-Request" in answer.headers["Vary"]
    html = await answer.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="services"') and "<html" not in html
    assert 'hx-swap-oob="beforeend:#toasts"' in html and "Added Hook" in html
    (row,) = await rows(db)
    apprise_receiver.answer(503)
    answer = await post_form(
        user, f"{SERVICES}/{row['id']}/test", {}, token_from=PAGE, headers=HTMX
    )
    html = await answer.get_data(as_text=True)
    assert "did not take the message just now" in html and "Last attempt failed" in html
    assert (await rows(db))[0]["last_error"] == "the service answered 503"
    answer = await add(user, "", "", headers=HTMX)
    assert answer.status_code == 422
    assert 'aria-invalid="true"' in await answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("json://169.254.169.254/latest", "cloud metadata"),
        ("ntfy://10.0.0.1/topic", "private network"),
        ("json://127.0.0.1:9/x", "this server itself"),
    ],
)
async def test_private_and_metadata_targets_are_refused_at_save_time(make_app, db, url, says):
    app = await make_app()  # NOTIFY_ALLOW_PRIVATE off, the default
    client = app.test_client()
    await sign_up(client)
    answer = await add(client, "Mine", url)
    assert answer.status_code == 422
    html = await answer.get_data(as_text=True)
    assert says in html and 'id="service-url-error"' in html
    assert url not in html and await rows(db) == []


async def test_a_scheme_not_allowed_is_refused_with_the_allowed_list(make_app, db):
    app = await make_app(notify_schemes=("ntfys", "tgram"))
    client = app.test_client()
    await sign_up(client)
    answer = await add(client, "Mine", "gotifys://push.example.org/AbCdEf")
    html = await answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "does not send to gotifys://" in html and "ntfys://, tgram://" in html
    assert await rows(db) == []


@pytest.mark.parametrize(
    ("label", "url", "field", "says"),
    [
        ("Bot", "tgram://not-a-token/", "url", "Apprise cannot read this address"),
        ("Bot", "not a url", "url", "spaces or characters"),
        ("Bot", "ntfys://ntfy.sh/a,json://x.example/b", "url", "one service address"),
        ("", "ntfys://ntfy.sh/topic", "label", "Give it a name"),
        ("x" * 61, "ntfys://ntfy.sh/topic", "label", "At most 60"),
    ],
)
async def test_bad_input_is_refused_beside_its_field(user, db, label, url, field, says):
    answer = await add(user, label, url)
    assert answer.status_code == 422
    html = await answer.get_data(as_text=True)
    assert f'id="service-{field}-error"' in html and says in html
    assert await rows(db) == []


async def test_a_label_is_used_once(user, apprise_receiver, db):
    await add(user, "Phone", apprise_receiver.url("json", "a"))
    answer = await add(user, "Phone", apprise_receiver.url("json", "b"))
    assert answer.status_code == 422
    assert "already have a service with this name" in await answer.get_data(as_text=True)
    assert len(await rows(db)) == 1


async def test_a_stored_url_pointing_somewhere_refused_now_is_not_sent(
    make_app, user, apprise_receiver, db
):
    """The operator turned NOTIFY_ALLOW_PRIVATE off after the service was added: the send
    checks again and refuses."""
    await add(user, "Hook", apprise_receiver.url("json", "hook"))
    (row,) = await rows(db)
    strict = await make_app()  # same database, NOTIFY_ALLOW_PRIVATE off
    client = strict.test_client()
    await log_in(client, "ada@example.com")
    await post_form(client, f"{SERVICES}/{row['id']}/test", {}, token_from=PAGE)
    assert apprise_receiver.requests == 0
    assert (await rows(db))[0]["last_error"].startswith("loopback")


async def test_another_users_service_is_a_404(app_private, user, apprise_receiver, db):
    await add(user, "Hook", apprise_receiver.url("json", "hook"))
    (row,) = await rows(db)
    other = app_private.test_client()
    await sign_up(other, email="grace@example.com", first_name="Grace")
    for action in ("test", "delete"):
        answer = await post_form(other, f"{SERVICES}/{row['id']}/{action}", {}, token_from=PAGE)
        assert answer.status_code == 404
    assert "Hook" not in await page_text(other)
    assert len(await rows(db)) == 1 and apprise_receiver.requests == 0


async def test_posts_need_the_csrf_token(user, apprise_receiver, db):
    url = apprise_receiver.url("json", "hook")
    answer = await user.post(SERVICES, form={"label": "Hook", "url": url})
    assert answer.status_code in (400, 403)
    assert await rows(db) == []
    await add(user, "Hook", url)
    (row,) = await rows(db)
    for action in ("test", "delete"):
        answer = await user.post(f"{SERVICES}/{row['id']}/{action}", form={"csrf_token": "0" * 64})
        assert answer.status_code in (400, 403)
    assert len(await rows(db)) == 1 and apprise_receiver.requests == 0
    assert csrf_of(await page_text(user))
