"""Settings: one frozen dataclass, read from the environment and nowhere else.

Every variable is documented in the README's configuration table. Per-environment defaults
make `taskly serve` work with nothing configured in development; `validate()` makes production
refuse unsafe values, naming the setting that is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from taskly.notify.config import DEFAULT_NOTIFY_SCHEMES
from taskly.secret_key import (
    DEV_SECRET_KEY,
    MIN_SECRET_LENGTH,
    development_secret,
    unsafe_secret,
)

__all__ = ["DEV_SECRET_KEY", "Settings", "SettingsError", "unsafe_secret"]

ENVIRONMENTS = ("development", "test", "production")
DEFAULT_DATA_DIR = Path("~/.local/share/taskly").expanduser()


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    database_url: str | None = None
    database_direct_url: str | None = None
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
    db_pgbouncer: bool = False
    session_idle_timeout: int = 14 * 24 * 3600
    session_absolute_timeout: int = 30 * 24 * 3600
    max_body_bytes: int = 1024 * 1024
    body_timeout: float = 10.0
    graceful_timeout: float = 10.0  # a stop waits this long for open requests
    rate_limits_enabled: bool = True
    smtp_url: str | None = None
    mail_from: str = "Taskly <taskly@localhost>"
    smtp_timeout: float = 15.0
    reminder_interval: float = 5.0
    reminder_batch: int = 200
    reminder_lease: int = 120
    mail_daily_limit: int = 100
    confirmation_delay: float = 60.0
    link_max_age: int = 7 * 24 * 3600
    scheduler_enabled: bool = True
    notify_schemes: tuple[str, ...] = DEFAULT_NOTIFY_SCHEMES
    notify_allow_private: bool = False
    notify_timeout: float = 10.0
    vapid_private_key: str | None = field(default=None, repr=False)
    vapid_subject: str = ""
    notify_ca_file: str | None = None  # extra CA bundle for services behind a private CA
    notify_key: str | None = field(default=None, repr=False)  # seals Apprise URLs (else SECRET_KEY)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def base_host(self) -> str:
        """The Host header requests must carry in production (BASE_URL's host[:port])."""
        return urlsplit(self.base_url).netloc.lower()

    @property
    def cookie_secure(self) -> bool:
        """Secure (and `__Host-` prefixed) cookies whenever the site is served over https."""
        return self.production or self.base_url.startswith("https://")

    @property
    def vapid_contact(self) -> str:
        """The VAPID ``sub`` claim: VAPID_SUBJECT, else ``mailto:`` + MAIL_FROM's address."""
        return self.vapid_subject or "mailto:" + parseaddr(self.mail_from)[1]

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
        from taskly.notify import config as notify_config

        data_root = env.get("XDG_DATA_HOME")
        data_dir = env.get("TASKLY_DATA_DIR") or (
            str(Path(data_root) / "taskly") if data_root else str(defaults.data_dir)
        )
        secret_key = env.get("SECRET_KEY", "")
        if not secret_key and not production:
            secret_key = development_secret(Path(data_dir).expanduser())
        settings = cls(
            env=name,
            database_url=env.get("DATABASE_URL") or None,
            database_direct_url=env.get("DATABASE_DIRECT_URL") or None,
            data_dir=Path(data_dir).expanduser(),
            secret_key=secret_key,
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
            db_pgbouncer=_flag(env, "DB_PGBOUNCER", False),
            session_idle_timeout=_int(env, "SESSION_IDLE_TIMEOUT", defaults.session_idle_timeout),
            session_absolute_timeout=_int(
                env, "SESSION_ABSOLUTE_TIMEOUT", defaults.session_absolute_timeout
            ),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes),
            body_timeout=_float(env, "BODY_TIMEOUT", defaults.body_timeout),
            graceful_timeout=_float(env, "GRACEFUL_TIMEOUT", defaults.graceful_timeout),
            rate_limits_enabled=_flag(env, "RATE_LIMITS_ENABLED", True),
            smtp_url=env.get("SMTP_URL") or None,
            mail_from=env.get("MAIL_FROM") or defaults.mail_from,
            smtp_timeout=_float(env, "SMTP_TIMEOUT", defaults.smtp_timeout),
            reminder_interval=_float(env, "REMINDER_INTERVAL", defaults.reminder_interval),
            reminder_batch=_int(env, "REMINDER_BATCH", defaults.reminder_batch),
            reminder_lease=_int(env, "REMINDER_LEASE", defaults.reminder_lease),
            mail_daily_limit=_int(env, "MAIL_DAILY_LIMIT", defaults.mail_daily_limit),
            confirmation_delay=_float(env, "CONFIRMATION_DELAY", defaults.confirmation_delay),
            link_max_age=_int(env, "LINK_MAX_AGE", defaults.link_max_age),
            scheduler_enabled=_flag(env, "SCHEDULER_ENABLED", True),
            **notify_config.from_env(env, defaults),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise SettingsError for values that are wrong anywhere, or unsafe in production."""
        if self.log_format not in ("text", "json"):
            raise SettingsError("LOG_FORMAT must be 'text' or 'json'")
        if not 1 <= self.db_pool_min <= self.db_pool_max:
            raise SettingsError("DB_POOL_MIN must be at least 1 and at most DB_POOL_MAX")
        if self.db_pgbouncer and not self.database_direct_url:
            # Migrations hold a session-level advisory lock across statements; through
            # transaction pooling it would stay on whichever server connection took it.
            raise SettingsError(
                "DB_PGBOUNCER=true needs DATABASE_DIRECT_URL: a DSN that reaches PostgreSQL "
                "itself (or a session-mode pool), for migrations"
            )
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
        if self.smtp_timeout <= 0 or self.db_command_timeout <= 0 or self.body_timeout <= 0:
            raise SettingsError(
                "SMTP_TIMEOUT, DB_COMMAND_TIMEOUT and BODY_TIMEOUT must be positive"
            )
        from taskly.notify import config as notify_config

        notify_config.validate(self)  # first: the lease below is judged on sound timeouts
        # The engine takes a new message from its batch only while the lease still covers one
        # whole send and its record: the window left must hold at least one send, by mail
        # (SMTP_TIMEOUT) and by push or Apprise (NOTIFY_TIMEOUT, whose lanes take a connection
        # for each record: DB_ACQUIRE_TIMEOUT more) alike.
        mail = (2 * self.smtp_timeout + self.db_command_timeout, "2 * SMTP_TIMEOUT")
        notify = (
            2 * self.notify_timeout + self.db_command_timeout + self.db_acquire_timeout,
            "2 * NOTIFY_TIMEOUT + DB_ACQUIRE_TIMEOUT",
        )
        needed, which = max(mail, notify)
        if self.reminder_lease < needed:
            raise SettingsError(
                f"REMINDER_LEASE must be at least {which} + DB_COMMAND_TIMEOUT "
                f"({needed:g} s with these values), or no reminder could be sent in time"
            )
        if self.mail_daily_limit < 0:
            raise SettingsError("MAIL_DAILY_LIMIT must be 0 (no limit) or more")
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
        if unsafe_secret(self.secret_key):
            raise SettingsError(
                "SECRET_KEY is unsafe: use a random value of at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. `openssl rand -hex 32`"
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
