"""Apprise URLs at rest: sealed for one owner under SECRET_KEY or NOTIFY_KEY, and masked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from taskly.notify.sealed import Unreadable, mask, seal, unseal
from taskly.settings import Settings, SettingsError

URL = "ntfys://ntfy.sh/my-secret-topic-4711"
SETTINGS = Settings(env="test", secret_key="test-secret-" + "x" * 32)


def test_a_sealed_url_opens_for_its_owner_only():
    sealed = seal(URL, user_id=7, settings=SETTINGS)
    assert URL.encode() not in sealed and b"4711" not in sealed
    assert unseal(sealed, user_id=7, settings=SETTINGS) == URL
    with pytest.raises(Unreadable) as refused:
        unseal(sealed, user_id=8, settings=SETTINGS)
    assert "4711" not in str(refused.value)


def test_sealing_twice_gives_different_bytes():
    assert seal(URL, user_id=7, settings=SETTINGS) != seal(URL, user_id=7, settings=SETTINGS)


def test_another_secret_key_cannot_open_it():
    sealed = seal(URL, user_id=7, settings=SETTINGS)
    with pytest.raises(Unreadable):
        unseal(sealed, user_id=7, settings=replace(SETTINGS, secret_key="another-" + "y" * 40))


def test_damaged_bytes_do_not_open():
    sealed = bytearray(seal(URL, user_id=7, settings=SETTINGS))
    sealed[-1] ^= 1
    with pytest.raises(Unreadable):
        unseal(bytes(sealed), user_id=7, settings=SETTINGS)
    with pytest.raises(Unreadable):
        unseal(b"\x01short", user_id=7, settings=SETTINGS)


def test_notify_key_seals_new_urls_and_old_ones_still_open():
    before = seal(URL, user_id=7, settings=SETTINGS)
    with_key = replace(SETTINGS, notify_key="notify-" + "z" * 40)
    after = seal(URL, user_id=7, settings=with_key)
    assert unseal(before, user_id=7, settings=with_key) == URL
    assert unseal(after, user_id=7, settings=with_key) == URL
    with pytest.raises(Unreadable):  # the key it was sealed under is gone
        unseal(after, user_id=7, settings=SETTINGS)
    with pytest.raises(Unreadable):  # SECRET_KEY alone cannot stand in for NOTIFY_KEY
        unseal(after, user_id=7, settings=replace(with_key, notify_key="other-" + "w" * 40))


@pytest.mark.parametrize(
    ("url", "host", "shown"),
    [
        ("ntfys://ntfy.sh/my-secret-topic", "ntfy.sh", "ntfys://ntfy.sh/my-…"),
        ("ntfy://my-secret-topic", "ntfy.sh", "ntfy://…"),  # the "host" is a topic
        ("tgram://123456:AAbbCC/-100200", "api.telegram.org", "tgram://…"),
        ("json://user:pass@10.1.2.3:8080/hook?token=abc", "10.1.2.3", "json://10.1.2.3:8080/hoo…"),
        (
            "gotifys://push.example.org/AbCdEfGh",
            "push.example.org",
            "gotifys://push.example.org/AbC…",
        ),
        ("json://[::1]:9000", "::1", "json://[::1]:9000"),
        ("not a url", "x", "…"),
    ],
)
def test_masks_keep_scheme_and_host_only(url, host, shown):
    assert mask(url, host=host) == shown


def test_production_refuses_a_weak_notify_key():
    env = {
        "TASKLY_ENV": "production",
        "SECRET_KEY": "0123456789abcdef" * 4,
        "DATABASE_URL": "postgresql://db/taskly",
        "BASE_URL": "https://tasks.example.com",
        "SMTP_URL": "smtp://mail.example.com:587",
        "MAIL_FROM": "Taskly <tasks@example.com>",
    }
    assert Settings.from_env(env).notify_key is None
    with pytest.raises(SettingsError, match="NOTIFY_KEY"):
        Settings.from_env(env | {"NOTIFY_KEY": "short"})
    strong = "f1e2d3c4b5a69788" * 4
    assert Settings.from_env(env | {"NOTIFY_KEY": strong}).notify_key == strong
    assert strong not in repr(Settings.from_env(env | {"NOTIFY_KEY": strong}))
