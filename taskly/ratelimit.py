"""Rate limits for the password endpoints, per client address and per account.

The limiter's state lives in PostgreSQL (table rate_limits) so every instance and worker
shares it; a process-local store would multiply the allowance by the number of processes.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta

from quart import g, request
from quart_rate_limiter import RateLimit
from quart_rate_limiter.store import RateLimiterStoreABC
from werkzeug.exceptions import HTTPException

from taskly.db import connection, queries
from taskly.web import client_ip


class PostgresStore(RateLimiterStoreABC):
    async def before_serving(self) -> None:
        return None

    async def after_serving(self) -> None:
        return None

    async def get(self, key: str, default: datetime) -> datetime:
        async with connection() as conn:
            tat: datetime | None = await queries.select_rate_limit(conn, key=key)
        return default if tat is None else tat

    async def set(self, key: str, tat: datetime) -> None:
        async with connection() as conn:
            await queries.upsert_rate_limit(conn, key=key, tat=tat)
            if random.random() < 0.01:  # keep the table small without a separate job
                await queries.delete_stale_rate_limits(conn)


async def by_address() -> str:
    return f"ip:{client_ip()}"


async def by_account() -> str:
    """The account being tried: the logged-in user, else the email the form names."""
    if g.get("user") is not None:
        return f"user:{g.user.id}"
    try:
        form = await request.form
    except HTTPException:  # an unreadable body (e.g. too large) is limited by address
        return f"ip:{client_ip()}"
    email = form.get("email", "").strip().lower()
    if not email:
        return f"ip:{client_ip()}"
    # Hashed: the key is stored, and the form's email is whatever a client sent (any length,
    # even a NUL, which PostgreSQL text cannot hold).
    return "email:" + hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()


async def only_posts() -> bool:
    """Skip function: showing a form is free, submitting it counts."""
    return request.method != "POST"


def password_limits(per_account: int, per_address: int, period: timedelta) -> list[RateLimit]:
    return [
        RateLimit(per_account, period, key_function=by_account, skip_function=only_posts),
        RateLimit(per_address, period, key_function=by_address, skip_function=only_posts),
    ]
