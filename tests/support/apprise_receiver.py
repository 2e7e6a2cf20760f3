"""A real HTTP receiver for Apprise's ``json://`` and ``ntfy://`` posts, on a free port of
127.0.0.1, in its own threads (so it serves a send from any thread or process): the
``apprise_receiver`` fixture (import ``apprise_receiver_fixture``).

``url(scheme, path)`` gives the Apprise URL that reaches it; ``received`` lists what arrived
(path, query, headers, the JSON body). ``answer(status)`` scripts the next answers, ``hang()``
makes the following requests wait without answering until the test ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: Any  # the JSON object posted


class AppriseReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.requests = 0  # every request that reached it, answered or not
        self._answers: list[int] = []
        self._hang = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests += 1
                    hang = receiver._hang
                    status = receiver._answers.pop(0) if receiver._answers else 200
                if hang:
                    receiver._released.wait(60)
                    return
                if 200 <= status < 300:
                    parts = urlsplit(self.path)
                    with receiver._lock:
                        receiver.received.append(
                            Received(parts.path, parts.query, dict(self.headers), json.loads(raw))
                        )
                body = b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self._answers.extend(statuses)

    def hang(self) -> None:
        with self._lock:
            self._hang = True

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="apprise_receiver")
def apprise_receiver_fixture() -> Iterator[AppriseReceiver]:
    receiver = AppriseReceiver()
    yield receiver
    receiver.close()
