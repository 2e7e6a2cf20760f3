"""Web Push (issue #12): the VAPID key pair, and sending one message to one subscription.

``vapid_keys(conn, settings)`` is the pair that signs every push (VAPID, RFC 8292):
VAPID_PRIVATE_KEY when set, else the one kept in PostgreSQL, made by whichever process needs it
first. ``VapidKeys.application_server_key()`` is what the browser's ``pushManager.subscribe``
takes. ``send_push`` encrypts a JSON payload to a subscription (aes128gcm, RFC 8291) and posts it
with pywebpush, whose ``webpush()`` blocks (requests): it runs in a thread of this module's own
pool under an overall deadline of NOTIFY_TIMEOUT, so a hanging push service never stalls the
event loop, nor the loop's default executor (which the endpoint check's DNS lookup uses). The
answer becomes a ``PushResult``: delivered (2xx), gone (404/410: delete the subscription), retry
(429, 5xx, network errors, the deadline; ``retry_after`` from Retry-After), failed (any other
answer, a payload that cannot be encrypted), or refused (the endpoint failed
``taskly.outbound.check_push_endpoint``; nothing was sent).

What taskly/outbound.py asks of a sender: the endpoint is checked before every send, and the
request goes through ``taskly.pinned.pinned_session``: only to the addresses that check vetted
(no second DNS lookup: DNS rebinding cannot steer it), no redirects (a 3xx is an answer: failed),
no proxy from the environment. Connect and read each get the time left before the deadline; the
deadline frees the caller even from a server that trickles bytes, while the thread, which cannot
be killed, ends at requests' next read timeout: at most ``WORKERS`` sends run at once.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from http_ece import ECEException
from py_vapid import Vapid02, VapidException
from pywebpush import WebPushException, webpush

from taskly.db import queries
from taskly.outbound import OutboundRefused, Policy, check_push_endpoint
from taskly.pinned import pinned_session

if TYPE_CHECKING:
    import asyncpg

    from taskly.settings import Settings

Outcome = Literal["delivered", "gone", "retry", "failed", "refused"]
URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 section 5.3
# One 4096-byte aes128gcm record: minus the header (salt 16, rs 4, id length 1, key 65), the tag
# (16) and the padding delimiter (1).
MAX_PAYLOAD = 4096 - 86 - 16 - 1
WORKERS = 16
_EXECUTOR = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="taskly-push")
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")  # RFC 8030 section 5.4
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class VapidKeys:
    """The VAPID key pair; ``created_at`` is None for a key given as VAPID_PRIVATE_KEY."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    created_at: datetime | None = None

    def application_server_key(self) -> str:
        """The public key as ``pushManager.subscribe({applicationServerKey})`` takes it: the
        uncompressed P-256 point (65 bytes), base64url without padding."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64url(point)


@dataclass(frozen=True, slots=True)
class PushResult:
    """What became of one send. ``retry_after`` (seconds) is the push service's Retry-After, if
    any; ``detail`` is safe to store and log (never the endpoint, which is a capability)."""

    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None
    detail: str = ""


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM (PKCS #8 or SEC 1) or base64url: the raw 32-byte key (what
    ``npx web-push generate-vapid-keys`` prints) or DER. ValueError says what is wrong."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_private_key(text.encode(), password=None)
        elif _B64URL.fullmatch(text):
            raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
        else:
            raise ValueError("neither PEM nor base64url")
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("is not a private key (PEM, or base64url raw or DER)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("must be a P-256 (prime256v1) EC key")
    return key


async def vapid_keys(conn: asyncpg.Connection, settings: Settings) -> VapidKeys:
    """VAPID_PRIVATE_KEY if set; else the stored pair, made now if there is none. Processes
    starting together all insert-if-absent, then read: they end up with the one that won."""
    if settings.vapid_private_key:
        return VapidKeys(load_private_key(settings.vapid_private_key))
    row = await queries.select_vapid_keys(conn)
    if row is None:
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        await queries.insert_vapid_keys(conn, private_key=pem.decode())
        row = await queries.select_vapid_keys(conn)
    return VapidKeys(load_private_key(row["private_key"]), row["created_at"])


async def send_push(
    subscription: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    keys: VapidKeys,
    settings: Settings,
    ttl: int,
    urgency: str = "normal",
    topic: str | None = None,
    ca_file: str | None = None,
) -> PushResult:
    """Send ``payload`` (as JSON) to a browser's subscription ``{endpoint, keys: {p256dh,
    auth}}``. ``ttl``: seconds the push service may hold it for an offline device; ``urgency``:
    one of URGENCIES; ``topic``: a newer message with the same topic replaces an undelivered
    one. Raises ValueError for a payload over MAX_PAYLOAD bytes or a bad ttl/urgency/topic."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if len(data.encode()) > MAX_PAYLOAD:
        raise ValueError(f"a push payload is at most {MAX_PAYLOAD} bytes of JSON")
    if not isinstance(ttl, int) or ttl < 0 or urgency not in URGENCIES:
        raise ValueError(f"ttl must be whole seconds >= 0, urgency one of {URGENCIES}")
    if topic is not None and not _TOPIC.fullmatch(topic):
        raise ValueError("a topic is 1 to 32 characters of base64url")
    headers = {"Urgency": urgency} | ({"Topic": topic} if topic else {})
    policy = Policy.from_settings(settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.timeout
    try:
        async with asyncio.timeout_at(deadline):
            target = await check_push_endpoint(str(subscription.get("endpoint", "")), policy)
            post = functools.partial(
                _post, subscription, data, keys, settings.vapid_contact, ttl, headers
            )
            timeout = max(deadline - loop.time(), 0.01)
            pinned = functools.partial(
                pinned_session, target, allow_private=policy.allow_private, ca_file=ca_file
            )
            return await loop.run_in_executor(_EXECUTOR, post, pinned, timeout)
    except OutboundRefused as exc:
        return PushResult("refused", detail=f"{exc.reason}: {exc}")
    except TimeoutError:
        return PushResult("retry", detail=f"no answer within {policy.timeout:g} s")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After (RFC 9110 section 10.2.3) in seconds from ``now``: delay-seconds or an
    HTTP-date (a date in the past is 0). None when absent or unreadable."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _post(
    subscription: Mapping[str, Any],
    data: str,
    keys: VapidKeys,
    subject: str,
    ttl: int,
    headers: dict[str, str],
    pinned: functools.partial[requests.Session],
    timeout: float,
) -> PushResult:
    """The blocking part, in a worker thread: encrypt, sign, post, read the answer."""
    session = pinned()
    try:
        response = webpush(
            dict(subscription),
            data,
            vapid_private_key=Vapid02(keys.private_key),
            vapid_claims={"sub": subject},
            ttl=ttl,
            headers=dict(headers),
            timeout=timeout,
            requests_session=session,
        )
    except WebPushException as exc:
        if exc.response is None:
            return PushResult("failed", detail=f"cannot send: {exc.message}")
        response = exc.response
    except requests.RequestException as exc:  # the messages name the endpoint: class only
        return PushResult("retry", detail=type(exc).__name__)
    except (ValueError, TypeError, ECEException, VapidException) as exc:
        return PushResult("failed", detail=f"cannot encrypt or sign: {type(exc).__name__}")
    finally:
        session.close()
    status: int = response.status_code
    reason = str(response.reason or "")[:80]
    detail = f"{status} {reason if reason.isprintable() else ''}".strip()
    if 200 <= status < 300:
        return PushResult("delivered", status, detail=detail)
    if status in (404, 410):
        return PushResult("gone", status, detail=detail)
    if status == 429 or status >= 500:
        after = parse_retry_after(response.headers.get("Retry-After"))
        return PushResult("retry", status, after, detail)
    return PushResult("failed", status, detail=detail)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
