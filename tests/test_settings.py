"""Settings: development works with nothing set; production refuses unsafe values by name."""

from __future__ import annotations

import pytest

from taskly.settings import DEV_SECRET_KEY, Settings, SettingsError

SAFE = {
    "TASKLY_ENV": "production",
    "SECRET_KEY": "k" * 48,
    "DATABASE_URL": "postgresql://taskly@db/taskly",
    "BASE_URL": "https://tasks.example",
    "SMTP_URL": "smtp://taskly:secret@mail.example:587",
    "MAIL_FROM": "Taskly <tasks@tasks.example>",
}


def test_development_needs_nothing():
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.database_url is None  # the embedded PostgreSQL will be used
    assert settings.secret_key == DEV_SECRET_KEY
    assert not settings.cookie_secure


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
        ({"REMINDER_LEASE": "10"}, "REMINDER_LEASE must be at least twice SMTP_TIMEOUT"),
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
