"""The signed-in user's account: changing the password."""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.auth.model import check_user_password, password_error, update_user_password
from taskly.db import connection, queries
from taskly.ratelimit import password_limits, rate_limited
from taskly.web import login_required, render

blueprint = Blueprint("account", __name__, url_prefix="/account")


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
@rate_limited(*password_limits(5, 20, timedelta(minutes=15)))
async def change_password() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    if request.method == "POST":
        posted = await request.form
        current = posted.get("current_password", "")
        new = posted.get("new_password", "")
        if problem := password_error(new):
            errors["new_password"] = problem
        async with connection() as conn:
            if not current or not await check_user_password(conn, g.user.id, current):
                errors["current_password"] = "That is not your current password."  # noqa: S105
            elif current == new:
                errors["new_password"] = "Choose a password different from the current one."  # noqa: S105
            if not errors:
                await update_user_password(conn, g.user.id, new, keep_token=g.session_token)
        if not errors:
            await flash("Password changed. Your other sessions have been logged out.", "success")
            return redirect(url_for("tasks.dashboard"))
    status = 422 if errors else 200
    return await render("pages/change_password.html", errors=errors, status=status)


@blueprint.route("/settings", methods=["GET", "POST"])
@login_required
async def preferences() -> ResponseReturnValue:
    """Notifications (the reminder-mail switch) and the way to everything about the account.
    The time zone is on the profile."""
    async with connection() as conn:
        enabled = bool(await queries.select_reminders_enabled(conn, user_id=g.user.id))
    if request.method == "POST":
        enabled = (await request.form).get("reminders_enabled") == "on"
        async with connection() as conn:
            await queries.update_reminders_enabled(conn, user_id=g.user.id, enabled=enabled)
        await flash("Settings saved.", "success")
        return redirect(url_for("account.preferences"))
    return await render("pages/settings.html", enabled=enabled)
