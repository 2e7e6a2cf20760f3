"""Where the account is logged in: each live session with its browser and system, when it was
last used (on the user's clock), "This device" marked; log out any one, or every other one.
Ending a session deletes its row, so its cookie stops working on its next request."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, g, redirect, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import logout_user

from taskly.account.agents import describe_agent
from taskly.auth.model import token_hash
from taskly.db import connection, queries
from taskly.web import login_required, render, settings

blueprint = Blueprint("devices", __name__, url_prefix="/account")


@blueprint.route("/devices")
@login_required
async def index() -> ResponseReturnValue:
    config = settings()
    mine = token_hash(g.session_token)
    async with connection() as conn:
        rows = [
            row
            async for row in queries.select_user_sessions(
                conn,
                user_id=g.user.id,
                idle_seconds=float(config.session_idle_timeout),
                absolute_seconds=float(config.session_absolute_timeout),
            )
        ]
    devices: list[dict[str, Any]] = [
        {
            "id": row["id"],
            "name": describe_agent(row["user_agent"]),
            "created_at": row["created_at"],
            "last_seen_at": row["last_seen_at"],
            "current": row["token_hash"] == mine,
        }
        for row in rows
    ]
    return await render("pages/devices.html", devices=devices)


@blueprint.route("/devices/<id:session_id>/logout", methods=["POST"])
@login_required
async def log_out(session_id: int) -> ResponseReturnValue:
    async with connection() as conn:
        ended = await queries.delete_user_session(conn, id=session_id, user_id=g.user.id)
    if ended is None:
        await flash("That session had already ended.", "info")
    elif ended == token_hash(g.session_token):  # this very device
        logout_user()
        session.clear()
        await flash("You have been logged out.", "info")
        return redirect(url_for("auth.login"))
    else:
        await flash("That device was logged out.", "success")
    return redirect(url_for("devices.index"))


@blueprint.route("/devices/logout-others", methods=["POST"])
@login_required
async def log_out_others() -> ResponseReturnValue:
    async with connection() as conn:
        await queries.delete_other_sessions(
            conn, user_id=g.user.id, token_hash=token_hash(g.session_token)
        )
    await flash("Every other device was logged out.", "success")
    return redirect(url_for("devices.index"))
