"""Settings: one frozen dataclass, read from the environment and nowhere else.

Every variable is documented in the README's configuration table. Per-environment defaults
make `taskly serve` work with nothing configured in development; `validate()` makes production
refuse unsafe values, naming the setting that is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "test", "production")
# The secret used when none is configured outside production. Production refuses it.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - a known, refused default
MIN_SECRET_LENGTH = 32
DEFAULT_DATA_DIR = Path("~/.local/share/taskly").expanduser()


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    database_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    secret_key: str = DEV_SECRET_KEY
    base_url: str = "http://127.0.0.1:8000"
    debug: bool = False
    log_format: str = "text"
    log_level: str = "INFO"
    trusted_proxy_header: str | None = None
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_acquire_timeout: float = 5.0
    db_command_timeout: float = 10.0
    db_connect_timeout: float = 5.0
    session_idle_timeout: int = 14 * 24 * 3600
    session_absolute_timeout: int = 30 * 24 * 3600
    max_body_bytes: int = 1024 * 1024
    rate_limits_enabled: bool = True
    smtp_url: str | None = None
    mail_from: str = "Taskly <taskly@localhost>"
    smtp_timeout: float = 15.0
    reminder_interval: float = 5.0
    reminder_batch: int = 200
    reminder_lease: int = 120
    link_max_age: int = 7 * 24 * 3600
    scheduler_enabled: bool = True

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def cookie_secure(self) -> bool:
        """Secure (and `__Host-` prefixed) cookies whenever the site is served over https."""
        return self.production or self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        name = env.get("TASKLY_ENV", "development").strip().lower()
        if name not in ENVIRONMENTS:
            raise SettingsError(
                f"TASKLY_ENV must be one of {', '.join(ENVIRONMENTS)}, not {name!r}"
            )
        production = name == "production"
        defaults = cls()
        data_root = env.get("XDG_DATA_HOME")
        data_dir = env.get("TASKLY_DATA_DIR") or (
            str(Path(data_root) / "taskly") if data_root else str(defaults.data_dir)
        )
        settings = cls(
            env=name,
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(data_dir).expanduser(),
            secret_key=env.get("SECRET_KEY", "" if production else DEV_SECRET_KEY),
            base_url=env.get("BASE_URL", defaults.base_url).rstrip("/"),
            debug=_flag(env, "TASKLY_DEBUG", False),
            log_format=env.get("LOG_FORMAT", "json" if production else "text"),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            trusted_proxy_header=env.get("TRUSTED_PROXY_HEADER") or None,
            db_pool_min=_int(env, "DB_POOL_MIN", defaults.db_pool_min),
            db_pool_max=_int(env, "DB_POOL_MAX", defaults.db_pool_max),
            db_acquire_timeout=_float(env, "DB_ACQUIRE_TIMEOUT", defaults.db_acquire_timeout),
            db_command_timeout=_float(env, "DB_COMMAND_TIMEOUT", defaults.db_command_timeout),
            db_connect_timeout=_float(env, "DB_CONNECT_TIMEOUT", defaults.db_connect_timeout),
            session_idle_timeout=_int(env, "SESSION_IDLE_TIMEOUT", defaults.session_idle_timeout),
            session_absolute_timeout=_int(
                env, "SESSION_ABSOLUTE_TIMEOUT", defaults.session_absolute_timeout
            ),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes),
            rate_limits_enabled=_flag(env, "RATE_LIMITS_ENABLED", True),
            smtp_url=env.get("SMTP_URL") or None,
            mail_from=env.get("MAIL_FROM") or defaults.mail_from,
            smtp_timeout=_float(env, "SMTP_TIMEOUT", defaults.smtp_timeout),
            reminder_interval=_float(env, "REMINDER_INTERVAL", defaults.reminder_interval),
            reminder_batch=_int(env, "REMINDER_BATCH", defaults.reminder_batch),
            reminder_lease=_int(env, "REMINDER_LEASE", defaults.reminder_lease),
            link_max_age=_int(env, "LINK_MAX_AGE", defaults.link_max_age),
            scheduler_enabled=_flag(env, "SCHEDULER_ENABLED", True),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise SettingsError for values that are wrong anywhere, or unsafe in production."""
        if self.log_format not in ("text", "json"):
            raise SettingsError("LOG_FORMAT must be 'text' or 'json'")
        if not 1 <= self.db_pool_min <= self.db_pool_max:
            raise SettingsError("DB_POOL_MIN must be at least 1 and at most DB_POOL_MAX")
        if self.session_idle_timeout <= 0 or self.session_absolute_timeout <= 0:
            raise SettingsError(
                "SESSION_IDLE_TIMEOUT and SESSION_ABSOLUTE_TIMEOUT must be positive"
            )
        if self.smtp_url:
            from taskly.mail import MailConfigError, SmtpConfig

            try:
                SmtpConfig.from_url(self.smtp_url)
            except MailConfigError as exc:
                raise SettingsError(str(exc)) from None
        if self.reminder_interval <= 0 or self.reminder_batch < 1:
            raise SettingsError("REMINDER_INTERVAL must be positive and REMINDER_BATCH at least 1")
        if self.reminder_lease < 2 * self.smtp_timeout:
            raise SettingsError("REMINDER_LEASE must be at least twice SMTP_TIMEOUT")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(
                "BASE_URL must be an absolute http(s) URL, e.g. https://tasks.example"
            )
        if not self.production:
            return
        if not self.secret_key:
            raise SettingsError(
                "SECRET_KEY is required in production (e.g. `openssl rand -hex 32`)"
            )
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "SECRET_KEY is unsafe: use a random value of at least "
                f"{MIN_SECRET_LENGTH} characters"
            )
        if self.debug:
            raise SettingsError("TASKLY_DEBUG must be off in production")
        if not self.database_url:
            raise SettingsError("DATABASE_URL is required in production (no embedded database)")
        if parts.scheme != "https":
            raise SettingsError("BASE_URL must use https in production")
        if not self.smtp_url:
            raise SettingsError("SMTP_URL is required in production (reminders are email)")
        if "localhost" in self.mail_from:
            raise SettingsError(
                "MAIL_FROM must be set in production, e.g. Taskly <tasks@example.com>"
            )


def _flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, not {raw!r}") from None


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number, not {raw!r}") from None
