"""A real Web Push service (the receiving side of RFC 8030) on a free port, over TLS, in the
test's event loop: the `push_service` fixture (import ``push_service_fixture``).

`subscribe(application_server_key)` does what a browser does in ``pushManager.subscribe``: a new
P-256 key pair and 16 random auth bytes, bound to the application server's public key, and
returns the subscription as the browser's ``toJSON()`` gives it. A message posted to it must
carry ``Authorization: vapid t=<JWT>, k=<key>`` (RFC 8292) with that key, an ES256 signature
that verifies, ``aud`` = this service's origin (under the name it was reached by: 127.0.0.1 or
localhost), ``exp`` in the next 24 hours and a ``sub``, and a ``TTL``; its aes128gcm body
(RFC 8188/8291) is decrypted with the subscription's private key and auth secret and recorded
with its TTL, Urgency and Topic. `answer()` and `hang()` script the next requests, as a push
service that forgot a subscription, throttles, fails or goes silent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import h11
import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.tls import LocalCA

MAX_BODY = 4096  # RFC 8291 section 4: push services may refuse anything longer (413)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One subscription, with the secrets only the browser knows."""

    token: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str
    subscription: dict[str, Any]


@dataclass
class Received:
    """A message the service accepted, as the browser's service worker would read it."""

    token: str
    payload: Any
    ttl: int
    urgency: str | None
    topic: str | None
    claims: dict[str, Any]


class PushService:
    def __init__(self, ca: LocalCA) -> None:
        self.ca_file = ca.ca_file
        self._context = ca.server_context()
        self.requests = 0  # every request that reached the service, answered or not
        self.received: list[Received] = []
        self.rejected: list[tuple[int, str]] = []  # (status, why) for requests it refused
        self._browsers: dict[str, Browser] = {}
        self._script: list[tuple[int, dict[str, str]] | None] = []  # None: hang
        self._release = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def hosts(self) -> tuple[str, ...]:
        """The names it answers to (its certificate's too): ``aud`` must be the one used."""
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        private_key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        token = secrets.token_urlsafe(16)
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        subscription = {
            "endpoint": f"{self.origin}/push/{token}",
            "keys": {"p256dh": b64url(point), "auth": b64url(auth)},
        }
        self._browsers[token] = Browser(
            token, private_key, auth, application_server_key, subscription
        )
        return subscription

    def answer(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """The next ``times`` requests get ``status`` (with ``headers``), unchecked."""
        self._script += [(status, headers or {})] * times

    def hang(self, times: int = 1) -> None:
        """The next ``times`` requests are read, then never answered (until close)."""
        self._script += [None] * times

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            conn = h11.Connection(h11.SERVER)
            request, body = await self._read(conn, reader)
            if request is None:
                return
            self.requests += 1
            answer = await self._handle(request, body)
            if answer is None:
                return
            status, headers = answer
            fields = [("content-length", "0"), ("connection", "close"), *headers.items()]
            reason = HTTPStatus(status).phrase.encode()
            writer.write(conn.send(h11.Response(status_code=status, headers=fields, reason=reason)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
        except (ConnectionError, ssl.SSLError, h11.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _read(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request | None, bytes]:
        request, body = None, bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > 2 * MAX_BODY:
                    return request, bytes(body)
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            else:  # ConnectionClosed before a whole request
                return None, b""

    async def _handle(self, request: h11.Request, body: bytes) -> tuple[int, dict[str, str]] | None:
        if self._script:
            scripted = self._script.pop(0)
            if scripted is None:
                await self._release.wait()
                return None
            return scripted
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        match = re.fullmatch(r"/push/([\w-]+)", request.target.decode())
        browser = self._browsers.get(match[1]) if match else None
        if request.method != b"POST" or browser is None:
            return self._refuse(404, "no such subscription")
        try:
            claims = self._check_vapid(
                headers.get("authorization", ""), browser, headers.get("host", "")
            )
        except PermissionError as exc:
            return self._refuse(403, str(exc))
        except ValueError as exc:
            return self._refuse(401, str(exc))
        if not headers.get("ttl", "").isdigit():
            return self._refuse(400, "TTL missing")
        if len(body) > MAX_BODY:
            return self._refuse(413, "payload too large")
        if headers.get("content-encoding") != "aes128gcm":
            return self._refuse(415, "not aes128gcm")
        try:
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth,
                version="aes128gcm",
            )  # fmt: skip
        except Exception as exc:
            return self._refuse(400, f"cannot decrypt: {exc!r}")
        self.received.append(
            Received(
                browser.token, json.loads(plain), int(headers["ttl"]),
                headers.get("urgency"), headers.get("topic"), claims,
            )
        )  # fmt: skip
        return 201, {"location": f"/message/{secrets.token_urlsafe(8)}"}

    def _check_vapid(self, authorization: str, browser: Browser, host: str) -> dict[str, Any]:
        """RFC 8292: the claims, or ValueError (401) / PermissionError (403, another key)."""
        match = re.fullmatch(r"vapid\s+(.+)", authorization, re.IGNORECASE)
        if not match:
            raise ValueError("no vapid authorization")
        params = dict(part.strip().partition("=")[::2] for part in match[1].split(","))
        token, key = params.get("t", ""), params.get("k", "")
        if key != browser.server_key:
            raise PermissionError("not the key this subscription was made with")
        try:
            head, body, signature = token.split(".")
            jose, claims = json.loads(unb64url(head)), json.loads(unb64url(body))
            raw = unb64url(signature)
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        except ValueError as exc:
            raise ValueError(f"unreadable token: {exc}") from None
        if jose.get("alg") != "ES256" or len(raw) != 64:
            raise ValueError("not an ES256 JWT")
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        try:
            public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("bad signature") from None
        if claims.get("aud") != f"https://{host}" or host not in self.hosts:
            raise ValueError(f"aud {claims.get('aud')!r} is not this service's origin")
        if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
            raise ValueError("exp not within the next 24 hours")
        if not re.match(r"(mailto:.+@|https://)", str(claims.get("sub", ""))):
            raise ValueError("no sub contact")
        return claims

    def _refuse(self, status: int, why: str) -> tuple[int, dict[str, str]]:
        self.rejected.append((status, why))
        return status, {}


@pytest.fixture(name="push_service")
async def push_service_fixture(tmp_path) -> AsyncIterator[PushService]:
    directory = tmp_path / "push-tls"
    directory.mkdir()
    service = PushService(LocalCA(directory))
    await service.start()
    yield service
    await service.close()
