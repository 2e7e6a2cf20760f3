"""Single-use links mailed for account actions (verify an address; later: reset a password,
confirm a new address). The token is random and travels only in the mail; the database keeps
its SHA-256 with a purpose, an expiry and when it was used. A token works only for its own
purpose, once, before it expires, and not after the password has changed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from taskly.auth.model import token_hash
from taskly.db import queries

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a secret
CHANGE_EMAIL = "change_email"
LIFETIMES = {
    VERIFY_EMAIL: timedelta(days=7),
    RESET_PASSWORD: timedelta(hours=1),
    CHANGE_EMAIL: timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class TokenUse:
    user_id: int
    email: str


@dataclass(frozen=True, slots=True)
class TokenState:
    user_id: int
    email: str
    problem: str | None  # why the link cannot be used, or None


async def issue_token(conn: asyncpg.Connection, user_id: int, purpose: str, email: str) -> str:
    token = secrets.token_urlsafe(32)
    await queries.insert_account_token(
        conn,
        token_hash=token_hash(token),
        user_id=user_id,
        purpose=purpose,
        email=email,
        ttl_seconds=LIFETIMES[purpose].total_seconds(),
    )
    return token


async def peek_token(conn: asyncpg.Connection, token: str, purpose: str) -> TokenState | None:
    """What a link is, for the page a GET shows (which must never spend it)."""
    row = await queries.peek_account_token(conn, token_hash=token_hash(token), purpose=purpose)
    if row is None:
        return None
    problem = None
    if row["used"]:
        problem = "This link was already used."
    elif row["expired"] or row["superseded"]:
        problem = "This link has expired."
    return TokenState(row["user_id"], row["email"], problem)


async def use_token(conn: asyncpg.Connection, token: str, purpose: str) -> TokenUse | None:
    """Spend a token (atomically); None if it is unknown, used, expired or superseded."""
    row = await queries.use_account_token(conn, token_hash=token_hash(token), purpose=purpose)
    return None if row is None else TokenUse(row["user_id"], row["email"])
