"""Taskly: a self-hosted personal task manager. `create_app` is the only place an app is built."""

from __future__ import annotations

from quart import Quart
from quart_auth import QuartAuth
from quart_rate_limiter import RateLimiter

from taskly import templating, web
from taskly.db import POOL_KEY, DatabaseUnavailable, create_pool, release_connection
from taskly.migrations import MigrationError, pending_migrations
from taskly.resources import STATIC, TEMPLATES
from taskly.settings import Settings


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
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_body_bytes,
        MAX_FORM_PARTS=200,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
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
    # Registered after web.init_app, so limits keyed by account see the loaded user.
    from taskly.ratelimit import PostgresStore

    RateLimiter(app, store=PostgresStore(), enabled=settings.rate_limits_enabled)

    from taskly.account.routes import blueprint as account
    from taskly.auth.routes import blueprint as auth
    from taskly.core.routes import blueprint as core
    from taskly.tasks.routes import blueprint as tasks

    for blueprint in (core, auth, account, tasks):
        app.register_blueprint(blueprint)

    @app.before_serving
    async def open_pool() -> None:
        if not settings.database_url:
            raise DatabaseUnavailable("DATABASE_URL is not set; start Taskly with `taskly serve`")
        pool = await create_pool(settings, settings.database_url)
        try:
            async with pool.acquire() as conn:
                pending = await pending_migrations(conn)
        except BaseException:
            await pool.close()
            raise
        if pending:
            await pool.close()
            names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
            raise MigrationError(f"the database schema is behind ({names}); run `taskly migrate`")
        app.extensions[POOL_KEY] = pool

    @app.after_serving
    async def close_pool() -> None:
        pool = app.extensions.pop(POOL_KEY, None)
        if pool is not None:
            await pool.close()

    return app
