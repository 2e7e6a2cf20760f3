"""Taskly: a self-hosted personal task manager. `create_app` is the only place an app is built."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from quart import Quart
from quart_auth import QuartAuth

from taskly import templating, web
from taskly.db import (
    FAIR_SHARE_KEY,
    POOL_KEY,
    DatabaseUnavailable,
    FairShare,
    create_pool,
    release_connection,
)
from taskly.migrations import MigrationError, pending_migrations
from taskly.resources import STATIC, TEMPLATES
from taskly.settings import Settings

UPLOAD_MAX = 6 * 1024 * 1024  # a CSV import (5 MB) with its form


async def start_scheduler(app: Quart, settings: Settings, pool: asyncpg.Pool) -> None:
    """Every REMINDER_INTERVAL seconds, send what is due (APScheduler, in this process)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from taskly.core.housekeeping import sweep
    from taskly.mail import SmtpConfig
    from taskly.reminders.engine import ReminderEngine

    assert settings.smtp_url is not None
    engine = ReminderEngine(settings, pool, SmtpConfig.from_url(settings.smtp_url))
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        engine.run_once,
        "interval",
        seconds=settings.reminder_interval,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        sweep, "interval", args=(pool, settings), minutes=10, max_instances=1, coalesce=True
    )
    scheduler.start()
    app.extensions["taskly.scheduler"] = (scheduler, engine)


async def stop_scheduler(app: Quart) -> None:
    """Stop ticking, let the message being sent finish and be recorded, then release the
    claims never started. The scheduler cancels its job wrapper only: the tick itself runs in
    a task the engine owns (see ReminderEngine.run_once), which stop() waits for."""
    running = app.extensions.pop("taskly.scheduler", None)
    if running is None:
        return
    scheduler, engine = running
    scheduler.shutdown(wait=False)
    await engine.stop()


def create_app(settings: Settings | None = None) -> Quart:
    settings = Settings.from_env() if settings is None else settings
    app = Quart(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        static_url_path="/static",
    )
    secure = settings.cookie_secure
    prefix = "__Host-" if secure else ""
    app.config.update(
        SECRET_KEY=settings.secret_key,
        DEBUG=settings.debug,
        PROPAGATE_EXCEPTIONS=False,
        # The largest body any view takes (an upload); guard.py holds others to MAX_BODY_BYTES.
        MAX_CONTENT_LENGTH=max(settings.max_body_bytes, UPLOAD_MAX),
        MAX_FORM_MEMORY_SIZE=settings.max_body_bytes,
        MAX_FORM_PARTS=200,
        BODY_TIMEOUT=settings.body_timeout,
        SEND_FILE_MAX_AGE_DEFAULT=365 * 24 * 3600,  # URLs carry a content digest: see asset()
        SESSION_COOKIE_NAME=f"{prefix}taskly_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        QUART_AUTH_COOKIE_NAME=f"{prefix}taskly_auth",
        QUART_AUTH_COOKIE_SECURE=secure,
        QUART_AUTH_COOKIE_HTTP_ONLY=True,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_DURATION=settings.session_absolute_timeout,
        QUART_AUTH_SALT="taskly.auth",
        DB_ACQUIRE_TIMEOUT=settings.db_acquire_timeout,
    )
    app.extensions["taskly.settings"] = settings
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = True  # no blank lines where {% tags %} stood: smaller pages
    app.jinja_env.lstrip_blocks = True
    QuartAuth(app)
    web.init_app(app)
    templating.init_app(app)
    app.teardown_request(release_connection)
    app.extensions[FAIR_SHARE_KEY] = FairShare(max(1, settings.db_pool_max // 2))

    from taskly.account.data import blueprint as data
    from taskly.account.delete import blueprint as delete
    from taskly.account.devices import blueprint as devices
    from taskly.account.email import blueprint as email
    from taskly.account.notifications import blueprint as notifications
    from taskly.account.profile import blueprint as profile
    from taskly.account.recovery import blueprint as recovery
    from taskly.account.routes import blueprint as account
    from taskly.account.services import blueprint as notify_services
    from taskly.account.verify import blueprint as verify
    from taskly.auth.routes import blueprint as auth
    from taskly.core.routes import blueprint as core
    from taskly.reminders.choice import blueprint as channels
    from taskly.reminders.links import blueprint as links
    from taskly.reminders.routes import blueprint as reminders
    from taskly.tasks import routes as _task_routes  # noqa: F401  (registers the actions)
    from taskly.tasks.common import blueprint as tasks

    for blueprint in (
        *(core, auth, verify, recovery),
        *(account, profile, email, devices, notifications, notify_services, data, delete),
        *(tasks, reminders, links, channels),
    ):
        app.register_blueprint(blueprint)
    if settings.env == "development":  # the caught-mail viewer never exists in production
        from taskly.core.devmail import blueprint as devmail

        app.register_blueprint(devmail)

    from taskly.live.stream import init_app as init_live
    from taskly.push import vapid_keys

    init_live(app, settings)

    @app.before_serving
    async def open_pool() -> None:
        if not settings.database_url:
            raise DatabaseUnavailable("DATABASE_URL is not set; start Taskly with `taskly serve`")
        pool = await create_pool(settings, settings.database_url)
        try:
            async with pool.acquire() as conn:
                pending = await pending_migrations(conn)
                if not pending:
                    # The Web Push key pair is made on the first start (every instance finds
                    # the same one), so no page has to write it on a GET.
                    await vapid_keys(conn, settings)
        except BaseException:
            await pool.close()
            raise
        if pending:
            await pool.close()
            names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
            raise MigrationError(f"the database schema is behind ({names}); run `taskly migrate`")
        app.extensions[POOL_KEY] = pool
        if settings.scheduler_enabled and settings.smtp_url:
            await start_scheduler(app, settings, pool)

    @app.after_serving
    async def close_pool() -> None:
        await stop_scheduler(app)
        pool = app.extensions.pop(POOL_KEY, None)
        if pool is not None:
            await pool.close()

    return app
