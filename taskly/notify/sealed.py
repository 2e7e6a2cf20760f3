"""A user's Apprise URL at rest: sealed with authenticated encryption, shown masked.

An Apprise URL usually carries a credential (a bot token, an ntfy topic that is its own
password), so ``notify_services.url_sealed`` holds it sealed with AES-256-GCM (cryptography's
AESGCM) under a key derived by HKDF-SHA256 from NOTIFY_KEY when it is set, else from SECRET_KEY.
The sealed value is ``version (1 byte) | nonce (12) | ciphertext+tag``; the version says which
secret it was sealed under (1: SECRET_KEY, 2: NOTIFY_KEY), so setting NOTIFY_KEY later keeps
the rows sealed before readable (new ones use NOTIFY_KEY). The owner's user id is the associated
data: a sealed URL copied onto another user's row does not open.

Changing SECRET_KEY (or NOTIFY_KEY) makes the rows sealed under it unreadable: ``unseal``
raises ``Unreadable`` and the user adds the service again. ``mask`` is the only form of the URL
a page, a log line or an error message ever shows.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from taskly.settings import Settings

FROM_SECRET_KEY, FROM_NOTIFY_KEY = 1, 2
_NONCE = 12
_INFO = b"taskly notify_services url v1"


class Unreadable(ValueError):
    """A sealed URL that does not open: another key, another owner, or damaged bytes."""


def _key(secret: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(secret.encode()))


def _secret(version: int, settings: Settings) -> str:
    if version == FROM_NOTIFY_KEY and settings.notify_key:
        return settings.notify_key
    if version == FROM_SECRET_KEY:
        return settings.secret_key
    raise Unreadable("sealed under NOTIFY_KEY, which is not set")


def _owner(user_id: int) -> bytes:
    return f"notify_services user {user_id}".encode()


def seal(url: str, *, user_id: int, settings: Settings) -> bytes:
    """The URL sealed for ``user_id``'s row, under NOTIFY_KEY if set, else SECRET_KEY."""
    version = FROM_NOTIFY_KEY if settings.notify_key else FROM_SECRET_KEY
    nonce = os.urandom(_NONCE)
    sealed = _key(_secret(version, settings)).encrypt(nonce, url.encode(), _owner(user_id))
    return bytes([version]) + nonce + sealed


def unseal(sealed: bytes, *, user_id: int, settings: Settings) -> str:
    """The URL back from ``notify_services.url_sealed`` of ``user_id``'s row. Raises
    ``Unreadable`` (never with the URL in its text) when it does not open."""
    if len(sealed) < 1 + _NONCE + 16:
        raise Unreadable("too short to be a sealed URL")
    version, nonce, body = sealed[0], sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
    try:
        plain = _key(_secret(version, settings)).decrypt(nonce, body, _owner(user_id))
    except InvalidTag:
        raise Unreadable("does not open with this server's key (was SECRET_KEY changed?)") from None
    return plain.decode()


_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9]*)://(?:[^@/?#]*@)?(?P<host>[^/?#]*)(?P<rest>.*)", re.I)
_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[^:]*)(?P<port>:\d{1,5})?", re.I)


def mask(url: str, *, host: str) -> str:
    """What the user sees of a stored URL: the scheme and the host, the rest reduced to its
    first three characters and an ellipsis (``ntfys://ntfy.sh/my-…``). ``host`` is the host
    the URL reaches (``taskly.outbound.Target.host``): when the URL's host part is something
    else, a token (``tgram://<bot token>/<chat>``) or an ntfy.sh topic (``ntfy://topic``), only
    the scheme is kept (``tgram://…``). A user name or password is never shown."""
    found = _URL.fullmatch(url.strip())
    if not found:
        return "…"
    scheme = found["scheme"].lower()
    written = _HOST.fullmatch(found["host"].lower())
    if not written or _bare(written["name"]) != _bare(host):
        return f"{scheme}://…"
    shown = written["name"] + (written["port"] or "")
    rest = found["rest"].lstrip("/")
    return f"{scheme}://{shown}/{rest[:3]}…" if rest else f"{scheme}://{shown}"


def _bare(host: str) -> str:
    return host.lower().strip("[]").rstrip(".")
