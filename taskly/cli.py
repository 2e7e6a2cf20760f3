"""The `taskly` command: `taskly serve` and `taskly migrate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

import asyncpg

from taskly.db import describe_dsn
from taskly.logs import configure_logging
from taskly.migrations import MigrationError, migrate, pending_migrations
from taskly.settings import Settings, SettingsError


class CommandError(Exception):
    """Ends the command with a one-line message and exit status 1."""


async def _connect(settings: Settings, dsn: str) -> asyncpg.Connection:
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            dsn, timeout=settings.db_connect_timeout, command_timeout=settings.db_command_timeout
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise CommandError(
            f"cannot connect to the database at {describe_dsn(dsn)}: {reason}"
        ) from exc
    return conn


async def _prepare_database(settings: Settings, dsn: str, *, apply: bool) -> list[str]:
    """Apply pending migrations (apply=True) or check that none are pending, over
    DATABASE_DIRECT_URL when set: migrations hold a session-level advisory lock."""
    conn = await _connect(settings, settings.database_direct_url or dsn)
    try:
        if apply:
            return await migrate(conn)
        pending = await pending_migrations(conn)
        if pending:
            raise CommandError(
                f"the database has {len(pending)} pending migration(s); run `taskly migrate` first"
            )
        return []
    except MigrationError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await conn.close()


def _database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from taskly.devservices import start_embedded_postgres

    dsn = start_embedded_postgres(settings.data_dir)
    print(f"taskly: embedded PostgreSQL, data in {settings.data_dir / 'pgdata'}", flush=True)
    return dsn


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from hypercorn.config import Config

    from taskly.serving import run  # Hypercorn's, ending live streams as a stop begins

    dsn = _database_url(settings)
    os.environ["DATABASE_URL"] = dsn  # the workers read their settings from the environment
    if "BASE_URL" not in os.environ and not settings.production:
        # Links in mail point at the server actually running, not at the default port.
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
        os.environ["BASE_URL"] = f"http://{host}:{args.port}"
    applied = asyncio.run(_prepare_database(settings, dsn, apply=not settings.production))
    for name in applied:
        print(f"taskly: applied migration {name}", flush=True)
    if not settings.smtp_url and settings.env == "development":
        from taskly.devservices import start_mail_sink

        os.environ["SMTP_URL"] = start_mail_sink(dsn)
        print("taskly: development mail sink running; caught mail at /dev/mail", flush=True)

    config = Config()
    config.application_path = "taskly.asgi:app"
    config.bind = [f"{args.host}:{args.port}"]
    # One worker runs in this process; more are spawned processes sharing the socket.
    config.workers = 0 if args.workers == 1 else args.workers
    config.worker_class = "uvloop" if sys.platform != "win32" else "asyncio"
    config.accesslog = None  # taskly.request logs one line per request
    config.errorlog = logging.getLogger("hypercorn.error")  # formatted like ours (JSON in prod)
    config.graceful_timeout = settings.graceful_timeout
    # After the requests, the reminder engine finishes the message it is sending (at most
    # SMTP_TIMEOUT) and records it before the process exits.
    config.shutdown_timeout = settings.smtp_timeout + settings.db_command_timeout + 10
    config.keep_alive_timeout = 30
    print(f"taskly: serving on http://{args.host}:{args.port} ({settings.env})", flush=True)
    return int(run(config))


def migrate_command(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url and settings.production:
        raise CommandError("DATABASE_URL is required")
    dsn = _database_url(settings)
    applied = asyncio.run(_prepare_database(settings, dsn, apply=True))
    for name in applied:
        print(f"taskly: applied migration {name}")
    print("taskly: the database is up to date")
    return 0


def send_reminders(settings: Settings, args: argparse.Namespace) -> int:
    """Run the reminder engine without the web app: once until nothing is due, or forever."""
    from taskly.db import create_pool
    from taskly.mail import SmtpConfig
    from taskly.reminders.engine import ReminderEngine

    if not settings.smtp_url:
        raise CommandError("SMTP_URL is required to send reminders")
    dsn = settings.database_url
    if not dsn:
        raise CommandError("DATABASE_URL is required to send reminders")

    async def run() -> int:
        pool = await create_pool(settings, dsn)
        engine = ReminderEngine(settings, pool, SmtpConfig.from_url(settings.smtp_url or ""))
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):  # a deploy: finish, record, hand back
            loop.add_signal_handler(signum, stopping.set)
        try:
            if args.once:
                return await engine.tick()
            signalled = asyncio.create_task(stopping.wait())
            while not stopping.is_set():
                tick = asyncio.create_task(engine.run_once())
                await asyncio.wait((tick, signalled), return_when=asyncio.FIRST_COMPLETED)
                if not stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            asyncio.shield(signalled), settings.reminder_interval
                        )
            return 0
        finally:
            await engine.stop()
            await pool.close()

    sent = asyncio.run(run())
    print(f"taskly: sent {sent} message(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taskly", description="Taskly task manager")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the web app (migrates first in development)")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    run.set_defaults(handler=serve)
    mig = commands.add_parser("migrate", help="apply pending database migrations")
    mig.set_defaults(handler=migrate_command)
    rem = commands.add_parser("send-reminders", help="send due reminders without the web app")
    rem.add_argument("--once", action="store_true", help="send what is due now, then exit")
    rem.set_defaults(handler=send_reminders)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings)
        if getattr(args, "workers", 1) < 1:
            raise CommandError("--workers must be at least 1")
        code: int = args.handler(settings, args)
    except (SettingsError, CommandError) as exc:
        print(f"taskly: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
