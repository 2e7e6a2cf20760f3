"""The `taskly` command as an operator meets it: clear one-line errors and exit status 1."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "taskly", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unreachable_database_url_is_a_one_line_error_without_fallback(tmp_path):
    result = run(
        "serve",
        "--port",
        "0",
        DATABASE_URL="postgresql://taskly:hunter2@127.0.0.1:1/x",
        TASKLY_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("taskly: cannot connect to the database at")
    assert "hunter2" not in result.stderr  # the password is masked
    assert not (tmp_path / "pgdata").exists()  # no silent fallback to the embedded server


def test_production_refuses_to_start_without_a_secret():
    result = run(
        "serve",
        TASKLY_ENV="production",
        DATABASE_URL="postgresql://x@127.0.0.1:1/x",
        BASE_URL="https://tasks.example",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "taskly: SECRET_KEY is required in production (e.g. `openssl rand -hex 32`)"
    )


def test_migrate_applies_and_reports(database_url):
    result = run("migrate", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    assert "the database is up to date" in result.stdout
