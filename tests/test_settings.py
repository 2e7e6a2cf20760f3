"""Settings: development works with nothing set; production refuses unsafe values by name."""

from __future__ import annotations

import pytest

from taskly.settings import DEV_SECRET_KEY, Settings, SettingsError

SAFE = {
    "TASKLY_ENV": "production",
    "SECRET_KEY": "3f9a1c77e0b24d5e8a6b2c1d9e0f4a7b6c5d8e9f0a1b2c3d4e5f60718293a4b5",
    "DATABASE_URL": "postgresql://taskly@db/taskly",
    "BASE_URL": "https://tasks.example",
    "SMTP_URL": "smtp://taskly:secret@mail.example:587",
    "MAIL_FROM": "Taskly <tasks@tasks.example>",
}


def test_development_needs_nothing(tmp_path):
    settings = Settings.from_env({"TASKLY_DATA_DIR": str(tmp_path)})
    assert settings.env == "development"
    assert settings.database_url is None  # the embedded PostgreSQL will be used
    assert not settings.cookie_secure


def test_development_key_is_random_kept_private_and_reused(tmp_path):
    """No public default: a key is made on first start, kept 0600, and read back later (so
    mail links and sessions survive a restart)."""
    first = Settings.from_env({"TASKLY_DATA_DIR": str(tmp_path)}).secret_key
    again = Settings.from_env({"TASKLY_DATA_DIR": str(tmp_path)}).secret_key
    other = Settings.from_env({"TASKLY_DATA_DIR": str(tmp_path / "other")}).secret_key
    assert first == again != other
    assert first != DEV_SECRET_KEY and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret")] == []


def test_safe_production_settings_are_accepted():
    settings = Settings.from_env(SAFE)
    assert settings.production
    assert settings.cookie_secure
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY is unsafe"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is unsafe"),
        ({"TASKLY_DEBUG": "true"}, "TASKLY_DEBUG must be off"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is required"),
        ({"BASE_URL": "http://tasks.example"}, "BASE_URL must use https"),
        ({"BASE_URL": "tasks.example"}, "BASE_URL must be an absolute"),
        ({"TASKLY_ENV": "staging"}, "TASKLY_ENV must be one of"),
        ({"DB_POOL_MAX": "lots"}, "DB_POOL_MAX must be a whole number"),
        ({"TASKLY_DEBUG": "maybe"}, "TASKLY_DEBUG must be true or false"),
        ({"SMTP_URL": ""}, "SMTP_URL is required in production"),
        ({"MAIL_FROM": ""}, "MAIL_FROM must be set in production"),
        ({"SMTP_URL": "smtp+insecure://mail.example:25"}, "allowed only for localhost"),
        ({"SMTP_URL": "http://mail.example"}, "SMTP_URL must start with"),
        # The documented minimum once sent nothing (lease 30, timeout 15: no sending window).
        ({"REMINDER_LEASE": "30", "SMTP_TIMEOUT": "15"}, r"REMINDER_LEASE must be at least"),
        ({"REMINDER_LEASE": "39", "SMTP_TIMEOUT": "15"}, r"\(40 s with these values\)"),
        # A push or Apprise send is held to NOTIFY_TIMEOUT: the lease must cover one too.
        (
            {"REMINDER_LEASE": "40", "SMTP_TIMEOUT": "5", "NOTIFY_TIMEOUT": "20"},
            r"2 \* NOTIFY_TIMEOUT \+ DB_ACQUIRE_TIMEOUT \+ DB_COMMAND_TIMEOUT \(55 s with these",
        ),
        ({"SECRET_KEY": "a" * 40}, "SECRET_KEY is unsafe"),
        ({"SECRET_KEY": "abcd" * 12}, "SECRET_KEY is unsafe"),
        ({"MAIL_DAILY_LIMIT": "-1"}, "MAIL_DAILY_LIMIT must be"),
    ],
)
def test_production_refuses_unsafe_values(change, named):
    env = {**SAFE, **change}
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_missing_secret_in_production_is_refused():
    env = {k: v for k, v in SAFE.items() if k != "SECRET_KEY"}
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        Settings.from_env(env)


def test_the_smallest_valid_lease_leaves_a_window_for_one_send():
    settings = Settings.from_env({**SAFE, "REMINDER_LEASE": "40", "SMTP_TIMEOUT": "15"})
    window = settings.reminder_lease - settings.smtp_timeout - settings.db_command_timeout
    assert window >= settings.smtp_timeout
