"""Sending one message to one user's Apprise URL (issue #12): ntfy, Telegram, Gotify, ...

``send_apprise(url, title=, body=, settings=)`` is the only way Taskly talks to Apprise. It
returns an ``AppriseResult``: delivered; retry (no answer within NOTIFY_TIMEOUT, a connection
error, HTTP 429 or 5xx); failed (any other answer, a URL Apprise cannot read); refused (the URL
failed ``taskly.outbound.check_apprise_url`` now, or a connection was refused by the guard below;
nothing was sent). ``detail`` is safe to store, show and log: it never holds the URL, nor text
from the service's answer or from Apprise's log lines (which name topics and tokens).

What taskly/outbound.py asks of a sender, and how it is met:

- **Checked before every send**, with the operator's policy of the moment (a scheme dropped from
  NOTIFY_SCHEMES stops stored URLs too).
- **Connect only to vetted addresses.** Apprise's plugins call ``requests.post`` themselves, so
  no session can be handed in (as ``taskly.pinned`` does for Web Push). Instead urllib3's
  ``create_connection`` is wrapped once, process-wide; the wrapper acts only in a context that
  ``guarded(policy)`` marks (a ContextVar, which Apprise copies into its own worker threads) and
  passes through untouched everywhere else. Marked, it resolves the name, refuses the connection
  if ANY address fails ``refusal`` (as the check does), and connects to the vetted address
  literals, so Apprise's own lookup cannot be steered elsewhere after the check (DNS rebinding):
  the address connected to is the one judged at that moment. It covers every host a plugin
  reaches, fixed services included. What remains: a plugin that opened sockets without urllib3
  would go unguarded (none of the schemes in KNOWN_SCHEMES does), and an HTTP(S)_PROXY in the
  environment would make the proxy, not the guard, resolve the target; do not set one for
  Taskly's process.
- **No redirects**: ``AppriseAsset(http_redirects=False)`` and each plugin's ``redirects`` off;
  URLs asking for ``redirect=yes`` are refused by the check.
- **Deadline**: connect and read timeouts (Apprise's cto/rto) are NOTIFY_TIMEOUT, and the whole
  send, check included, runs under an overall NOTIFY_TIMEOUT. Apprise's notify() blocks, so it
  runs in this module's own thread pool: a hanging service never stalls the event loop, nor the
  loop's default executor (the check's DNS lookup uses it). The deadline frees the caller; the
  thread, which cannot be killed, ends at the next socket timeout: at most WORKERS run at once.
  Time waiting for a free worker counts against the deadline (a send not started by then is
  never started). A service that accepts the message just after the deadline is reported as
  retry, so a retry may deliver it twice: at least once, not exactly once, past the deadline.
- **Never logged**: Apprise logs URLs, topics, request bodies (logger ``apprise``), and
  urllib3 logs request paths at DEBUG. A filter on the ``apprise`` logger drops its records
  below WARNING and rewrites the rest to a fixed sentence with at most an HTTP status, before any
  handler sees them (Taskly's, a test's, Apprise's own capture into its result, from which the
  outcome is judged); urllib3's records are dropped while a send is guarded. Nothing is written
  to disk (Apprise's persistent storage is memory-only here).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import ipaddress
import logging
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import apprise
import urllib3.util.connection

from taskly.outbound import OutboundRefused, Policy, check_apprise_url, refusal

if TYPE_CHECKING:
    from taskly.settings import Settings

Outcome = Literal["delivered", "retry", "failed", "refused"]
WORKERS = 8
_EXECUTOR = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="taskly-apprise")
_STATUS = re.compile(r"error=(\d{3})\d*\.?\s*$")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppriseResult:
    """What became of one send. ``status`` is the service's HTTP status when one was read;
    ``detail`` is short, and never holds the URL or anything the service wrote."""

    outcome: Outcome
    detail: str = ""
    status: int | None = None


@dataclass(slots=True)
class _Guard:
    allow_private: bool
    refused: list[str] = field(default_factory=list)  # address classes refused at connect time


_GUARD: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar(
    "taskly_apprise_guard", default=None
)
_unguarded_create_connection = urllib3.util.connection.create_connection


def _guarded_create_connection(
    address: tuple[str, int], *args: Any, **kwargs: Any
) -> socket.socket:
    """urllib3's create_connection, refusing addresses ``refusal`` refuses while a guard is
    set; unchanged otherwise (pywebpush, anything else in the process)."""
    guard = _GUARD.get()
    if guard is None:
        return _unguarded_create_connection(address, *args, **kwargs)
    host, port = address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OSError(f"cannot resolve the service's host ({type(exc).__name__})") from None
    found = dict.fromkeys(
        ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        for info in infos
        if info[0] in (socket.AF_INET, socket.AF_INET6)
    )
    reasons = [r for ip in found if (r := refusal(ip, allow_private=guard.allow_private))]
    if reasons or not found:
        guard.refused.append(reasons[0] if reasons else "dns")
        raise OSError("refused: the service's address is not one Taskly sends to")
    error: OSError | None = None
    for ip in found:
        try:
            return _unguarded_create_connection((str(ip), port), *args, **kwargs)
        except OSError as exc:
            error = exc
    raise error or OSError("cannot connect")


urllib3.util.connection.create_connection = _guarded_create_connection


@contextlib.contextmanager
def guarded(policy: Policy) -> Iterator[_Guard]:
    """Within this block (and the threads Apprise starts from it), urllib3 connects only to
    addresses ``refusal`` allows under ``policy``."""
    guard = _Guard(policy.allow_private)
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)


class _NotWhileGuarded(logging.Filter):
    """Drops urllib3's records made during an Apprise send: its debug lines carry the path and
    query (``"POST /topic?token=… HTTP/1.1"``), which are the service's credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _GUARD.get() is None


class _Redacted(logging.Filter):
    """Apprise's records, made safe before any handler sees them (Taskly's, pytest's, and
    Apprise's own capture into its result): below WARNING dropped (URLs, payloads, headers);
    a warning or error rewritten to what can be said without the URL or the service's words:
    its HTTP status (``error=403.``), a connection error, a timeout, or that it failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        try:
            text = record.getMessage().lower()
        except (TypeError, ValueError):
            text = ""
        if found := _STATUS.search(text):
            record.msg = f"Apprise: a send failed: the service answered error={found[1]}."
        elif "connection error" in text or "timed out" in text or "timeout" in text:
            record.msg = "Apprise: a send failed: connection error or timeout."
        else:
            record.msg = "Apprise: a problem (its text is withheld: it may hold the address)."
        record.args, record.exc_info, record.exc_text, record.stack_info = (), None, None, None
        return True


def quiet_apprise_logs() -> None:
    """Install the filters above (once): Apprise's records are redacted, urllib3's dropped
    while it sends for Apprise."""
    for name, kind in (
        ("apprise", _Redacted),
        ("urllib3.connectionpool", _NotWhileGuarded),
        ("urllib3.connection", _NotWhileGuarded),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


quiet_apprise_logs()


def _asset() -> apprise.AppriseAsset:
    return apprise.AppriseAsset(
        http_redirects=False,
        storage_mode="memory",
        pgp_autogen=False,
        pem_autogen=False,
        service_timeout=0,  # this module's deadline governs; 0: Apprise starts no thread
        default_service_retry=0,
    )


def _service(url: str, timeout: float) -> Any | None:
    """Apprise's plugin for exactly this URL, timeouts set and redirects off; None if Apprise
    cannot read it."""
    service = apprise.Apprise.instantiate(url, asset=_asset())
    if service is None:
        return None
    service.socket_connect_timeout = timeout
    service.socket_read_timeout = timeout
    service.redirects = False
    return service


async def readable(url: str) -> bool:
    """Whether Apprise makes one service of ``url`` (sends nothing). For the form: run it after
    ``check_apprise_url``, which refuses what Apprise would split into several."""
    # Not in _EXECUTOR: sends hanging on slow services must not hold up the form. Parsing
    # only (and, the first time, importing Apprise's plugins): the default executor will do.
    service = await asyncio.to_thread(_service, url, 1.0)
    return service is not None


async def send_apprise(url: str, *, title: str, body: str, settings: Settings) -> AppriseResult:
    """Send ``title`` and ``body`` (plain text; put the task's link in the body) to one Apprise
    URL, checked again now. Never raises for what the service does; see the module docstring."""
    policy = Policy.from_settings(settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.timeout
    try:
        async with asyncio.timeout_at(deadline):
            await check_apprise_url(url, policy)
            timeout = max(deadline - loop.time(), 0.01)
            notify = functools.partial(_notify, url, title, body, policy, timeout)
            result = await loop.run_in_executor(_EXECUTOR, notify)
    except OutboundRefused as exc:
        result = AppriseResult("refused", f"{exc.reason}: {exc}")
    except TimeoutError:
        result = AppriseResult("retry", f"no answer within {policy.timeout:g} s")
    log.info("apprise send: %s %s", result.outcome, result.detail)
    return result


def _notify(url: str, title: str, body: str, policy: Policy, timeout: float) -> AppriseResult:
    """The blocking part, in a worker thread: build the plugin, send, judge the outcome."""
    try:
        return _send(url, title, body, policy, timeout)
    except Exception as exc:  # a plugin's bug must not become the engine's: class name only
        return AppriseResult("failed", f"Apprise raised {type(exc).__name__}")


def _send(url: str, title: str, body: str, policy: Policy, timeout: float) -> AppriseResult:
    service = _service(url, timeout)
    if service is None:
        return AppriseResult("failed", "Apprise cannot read this address")
    box = apprise.Apprise(asset=service.asset)
    if not box.add(service) or len(box) != 1:
        return AppriseResult("failed", "Apprise cannot read this address")
    with guarded(policy) as guard:
        outcome = box.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
    if guard.refused:
        return AppriseResult("refused", f"{guard.refused[0]}: the service's address is refused")
    if outcome:
        return AppriseResult("delivered", f"{service.service_name} accepted it")
    return _failure(outcome)


def _failure(outcome: Any) -> AppriseResult:
    """A failed notify() judged from Apprise's captured warnings, as ``_Redacted`` rewrote
    them: an HTTP status (``error=403.``), or a connection error or timeout."""
    if outcome.status == apprise.AppriseResultStatus.TIMEOUT:
        return AppriseResult("retry", "the service did not answer in time")
    messages = [entry.message for entry in outcome.logs()]
    for message in messages:
        if found := _STATUS.search(message):
            status = int(found[1])
            if status == 429 or status >= 500:
                return AppriseResult("retry", f"the service answered {status}", status)
            return AppriseResult("failed", f"the service answered {status}", status)
    if any("connection error" in m for m in messages):
        return AppriseResult("retry", "could not connect to the service")
    return AppriseResult("failed", "the service did not accept it")
