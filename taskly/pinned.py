"""A requests session that connects only where ``taskly.outbound`` said it may (issue #12).

``taskly/outbound.py`` checks a user-given target and returns the vetted addresses; a name
checked now may resolve elsewhere a second later (DNS rebinding). ``pinned_session(target, ...)``
gives requests (and so pywebpush) a session that never resolves the name again:

- its only adapter (https) builds urllib3 connections that connect to ``Target.addresses``
  themselves, passing each through ``refusal`` once more, while TLS SNI, the certificate check
  and ``Host`` still use the target's name; a connection to any other host or port is refused;
- redirects are never followed, whatever the caller asks (pywebpush asks nothing, and requests
  follows by default): a 3xx is returned as it is. Not ``max_redirects = 0``: with that,
  requests raises even with redirects off, while merely preparing ``response.next``;
- no proxy or CA bundle from the environment (``trust_env`` off): a proxy would connect for us,
  around the pin. Certificates are checked against certifi's CAs, or ``ca_file`` (the tests').
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from taskly.outbound import Target, refusal


class _PinnedConnection(HTTPSConnection):
    """Connects only to ``target.addresses`` (set on a subclass per send), never resolving."""

    target: Target
    allow_private: bool

    def _new_conn(self) -> socket.socket:
        same_host = self.host.rstrip(".").lower() == self.target.host.rstrip(".").lower()
        if not same_host or self.port != self.target.port:
            raise NewConnectionError(self, "refused: not the endpoint that was checked")
        error: OSError | None = None
        for ip in self.target.addresses:
            if refusal(ip, allow_private=self.allow_private):
                continue
            try:
                return create_connection(
                    (str(ip), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, "connecting timed out") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"cannot connect: {error or 'no address allowed'}")


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, pool: type[HTTPSConnectionPool]) -> None:
        self._pool = pool  # before super().__init__, which makes the pool manager
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"https": self._pool}  # a new dict, not shared


class _NoRedirects(requests.Session):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def pinned_session(
    target: Target, *, allow_private: bool, ca_file: str | None = None
) -> requests.Session:
    """A session for https requests to ``target`` only; close it when done."""
    pinned = {"target": target, "allow_private": allow_private}
    connection = type("PinnedConnection", (_PinnedConnection,), pinned)
    pool = type("PinnedPool", (HTTPSConnectionPool,), {"ConnectionCls": connection})
    session = _NoRedirects()
    session.trust_env = False
    session.verify = ca_file or True
    session.adapters.clear()
    session.mount("https://", _PinnedAdapter(pool))
    return session
