"""Rate limits for endpoints that guess or send: per client address and per account.

The state lives in PostgreSQL (table rate_limits) so every instance and worker shares it, and
each attempt is checked and counted in one atomic statement (GCRA, see sql/queries/
rate_limits.sql): twenty simultaneous wrong passwords against a limit of ten get ten answers
and ten 429s. quart-rate-limiter, used before, reads and writes in two steps and let 17 of 20
through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from quart import g, request
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import TooManyRequests

from taskly.auth.emails import email_digest
from taskly.db import connection, queries
from taskly.web import client_ip, settings

F = TypeVar("F", bound=Callable[..., Awaitable[ResponseReturnValue]])
KeyFunction = Callable[[], Awaitable[str]]


async def by_address() -> str:
    return f"ip:{client_ip()}"


async def by_account() -> str:
    """The account being tried: the logged-in user, else the canonical form of the email the
    form names (so 'ADA@x' and 'ada@x' share one limit), else the client address."""
    if g.get("user") is not None:
        return f"user:{g.user.id}"
    email = (await request.form).get("email", "").strip()
    if not email:
        return f"ip:{client_ip()}"
    return "email:" + email_digest(email)


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    period: timedelta
    key: KeyFunction


async def check_limit(limit: Limit, scope: str) -> None:
    """Count one attempt against `limit`; raise 429 (with Retry-After) if it is used up."""
    if not settings().rate_limits_enabled:
        return
    interval = limit.period.total_seconds() / limit.count
    period = limit.period.total_seconds()
    key = f"{scope}:{await limit.key()}"
    async with connection() as conn:
        allowed = await queries.hit_rate_limit(
            conn, key=key, interval_seconds=interval, period_seconds=period
        )
        if allowed:
            return
        retry_after = await queries.rate_limit_retry_after(
            conn, key=key, interval_seconds=interval, period_seconds=period
        )
    raise TooManyRequests(retry_after=int(retry_after or interval))


def rate_limited(*limits: Limit, methods: frozenset[str] = frozenset({"POST"})) -> Callable[[F], F]:
    """Limit a view's submissions (showing a form is free); keys are scoped per endpoint."""

    def decorate(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if request.method in methods:
                for limit in limits:
                    await check_limit(limit, request.endpoint or view.__name__)
            return await view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def password_limits(per_account: int, per_address: int, period: timedelta) -> tuple[Limit, ...]:
    """The address limit first: a flood from one client does not use up an account's slots."""
    return (Limit(per_address, period, by_address), Limit(per_account, period, by_account))
