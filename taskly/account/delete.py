"""Deleting the account: the password, a page that says exactly what goes, then every row of
the account in one transaction, a goodbye mail (sent after the account is gone, from a row that
names no account), and a goodbye page. The address can sign up again at once."""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import logout_user

from taskly.auth.emails import email_digest
from taskly.auth.model import check_user_password
from taskly.db import connection, queries, transaction
from taskly.outbox import queue_mail
from taskly.ratelimit import password_limits, rate_limited
from taskly.web import login_required, render, settings

blueprint = Blueprint("delete", __name__)


@blueprint.route("/account/delete", methods=["GET", "POST"])
@login_required
@rate_limited(*password_limits(5, 20, timedelta(minutes=15)))
async def confirm() -> ResponseReturnValue:
    user = g.user
    error = None
    if request.method == "POST":
        password = (await request.form).get("password", "")
        async with transaction() as conn:
            if not password or not await check_user_password(conn, user.id, password):
                error = "That is not your password. Nothing was deleted."
            else:
                gone = await queries.delete_account(
                    conn, user_id=user.id, email=user.email, email_digest=email_digest(user.email)
                )
                if gone is not None:  # None: deleted meanwhile, by a second click
                    await queue_mail(
                        conn,
                        user_id=None,
                        template="goodbye",
                        recipient=gone["email"],
                        first_name=gone["first_name"] if user.email_verified else "",
                        subject="Your Taskly account is deleted",
                        signup_url=f"{settings().base_url}{url_for('auth.signup')}",
                    )
        if error is None:
            logout_user()
            session.clear()
            session["goodbye"] = True
            return redirect(url_for("delete.goodbye"))
    async with connection() as conn:
        summary = await queries.select_account_summary(conn, user_id=user.id)
    return await render(
        "pages/delete_account.html", summary=summary, error=error, status=422 if error else 200
    )


@blueprint.route("/goodbye")
async def goodbye() -> ResponseReturnValue:
    if not session.pop("goodbye", False):
        return redirect(url_for("auth.login"))
    return await render("pages/goodbye.html")
