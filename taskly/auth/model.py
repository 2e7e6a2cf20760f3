"""Accounts, passwords and login sessions.

Passwords are hashed with argon2id at RFC 9106's "low memory" profile (t=3, m=64 MiB, p=4),
above OWASP ASVS 5.0 appendix C's floor (m=19 MiB, t=2, p=1). Hashes made with older parameters
are replaced on the next successful login. Hashing runs in a thread so it never blocks the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from taskly.auth.emails import email_key
from taskly.dates import DEFAULT_LOCALE
from taskly.db import queries

PASSWORD_MIN = 8
PASSWORD_MAX = 128
hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# Verified against when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    first_name: str
    last_name: str
    time_zone: str
    email_verified: bool = False
    mail_used_today: int = 0  # only the session query fills it in
    avatar_digest: str | None = None
    locale: str = DEFAULT_LOCALE  # dates' format (taskly.dates): a tag Babel knows
    change_seq: int = 0  # the live board's last change number (only the session query)

    @property
    def initials(self) -> str:
        return "".join(name[:1] for name in (self.first_name, self.last_name)).upper()

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(
            row["id"],
            row["email"],
            row["first_name"],
            row["last_name"],
            row["time_zone"],
            row["email_verified_at"] is not None,
            row.get("mail_used_today", 0),
            row.get("avatar_digest"),
            row["locale"],
            row.get("change_seq", 0),
        )


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The user a request is authenticated as, and when its session was last touched."""

    user: User
    last_seen_at: datetime
    created_at: datetime


def normalize_password(password: str) -> str:
    """NFC, so the same password typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFC", password)


def password_error(password: str) -> str | None:
    length = len(normalize_password(password))
    if length < PASSWORD_MIN:
        return f"Use at least {PASSWORD_MIN} characters."
    if length > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, normalize_password(password))


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return hasher.verify(password_hash, normalize_password(password))
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def insert_user(
    conn: asyncpg.Connection,
    *,
    email: str,
    first_name: str,
    last_name: str,
    password_hash: str,
    time_zone: str,
    locale: str,
) -> User | None:
    """Create the account; None if its canonical address is taken. The caller hashes the
    password first, either way (so both outcomes cost the same) and before it takes a pooled
    connection."""
    key = email_key(email)
    if key is None:
        return None
    row = await queries.insert_user(
        conn,
        email=email,
        email_key=key,
        first_name=first_name,
        last_name=last_name,
        password_hash=password_hash,
        time_zone=time_zone,
        locale=locale,
    )
    return None if row is None else User.from_row(row)


async def select_user_by_email(conn: asyncpg.Connection, email: str) -> User | None:
    key = email_key(email)
    row = None if key is None else await queries.select_user_by_email_key(conn, email_key=key)
    return None if row is None else User.from_row(row)


async def select_user(conn: asyncpg.Connection, user_id: int) -> User | None:
    row = await queries.select_user(conn, user_id=user_id)
    return None if row is None else User.from_row(row)


async def select_login(conn: asyncpg.Connection, email: str) -> Any:
    """The account row a login form names, or None. Any spelling of an address reaches one
    account (or none): see taskly.auth.emails."""
    key = email_key(email)
    return None if key is None else await queries.select_user_by_email_key(conn, email_key=key)


async def check_login(row: Any, password: str) -> User | None:
    """The user if the password is right. An unknown address costs as much as a wrong
    password. Run it holding no pooled connection: argon2 takes tens of milliseconds."""
    if row is None:
        await verify_password(_DUMMY_HASH, password)
        return None
    if not await verify_password(row["password_hash"], password):
        return None
    return User.from_row(row)


async def upgrade_password_hash(conn: asyncpg.Connection, row: Any, password: str) -> None:
    """Replace a hash made with older parameters, after a successful login."""
    if hasher.check_needs_rehash(row["password_hash"]):
        new_hash = await hash_password(password)
        await queries.update_password_hash(conn, user_id=row["id"], password_hash=new_hash)


async def check_user_password(conn: asyncpg.Connection, user_id: int, password: str) -> bool:
    password_hash = await queries.select_password_hash(conn, user_id=user_id)
    return password_hash is not None and await verify_password(password_hash, password)


async def update_user_password(
    conn: asyncpg.Connection, user_id: int, password: str, keep_token: str
) -> None:
    """Set a new password and revoke every other session of the user, in one transaction."""
    password_hash = await hash_password(password)
    async with conn.transaction():
        await queries.update_password(conn, user_id=user_id, password_hash=password_hash)
        await queries.delete_other_sessions(
            conn, user_id=user_id, token_hash=token_hash(keep_token)
        )


async def insert_session(conn: asyncpg.Connection, user_id: int, user_agent: str) -> str:
    """Start a session and return its token (the cookie's auth_id); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    await queries.insert_session(
        conn, token_hash=token_hash(token), user_id=user_id, user_agent=user_agent[:300]
    )
    return token


async def select_session_user(
    conn: asyncpg.Connection, token: str, idle_seconds: int, absolute_seconds: int
) -> SessionUser | None:
    row = await queries.select_session_user(
        conn,
        token_hash=token_hash(token),
        idle_seconds=float(idle_seconds),
        absolute_seconds=float(absolute_seconds),
    )
    if row is None:
        return None
    return SessionUser(User.from_row(row), row["last_seen_at"], row["created_at"])


async def touch_session(conn: asyncpg.Connection, token: str) -> None:
    await queries.touch_session(conn, token_hash=token_hash(token))


async def delete_session(conn: asyncpg.Connection, token: str) -> None:
    await queries.delete_session(conn, token_hash=token_hash(token))
