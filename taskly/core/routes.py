"""Health checks for the platform: liveness and readiness."""

from __future__ import annotations

import asyncio

from quart import Blueprint
from quart.typing import ResponseReturnValue

from taskly.db import connection, queries

blueprint = Blueprint("core", __name__)


@blueprint.route("/healthz")
async def healthz() -> ResponseReturnValue:
    """The process is alive and serving; says nothing about the database."""
    return {"status": "ok"}


@blueprint.route("/readyz")
async def readyz() -> ResponseReturnValue:
    """The database answers; a load balancer should send traffic only while this is 200."""
    try:
        async with connection() as conn:
            await asyncio.wait_for(queries.ping(conn), timeout=2)
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        return {"status": "unavailable", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}
