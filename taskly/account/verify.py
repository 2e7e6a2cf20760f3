"""Verifying an email address. Sign-up mails a link (single use, 7 days); until it is
followed, Taskly sends that address nothing but account mail, and the board says so.

The link's page asks for the account's password unless this browser is already logged in as
that account: confirming an address someone else signed up with must not hand that stranger
an account the owner of the inbox then fills with tasks (account pre-hijacking). Confirming
logs the browser in, so the person who just signed up lands on their board.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from quart import Blueprint, flash, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from taskly.account.tokens import VERIFY_EMAIL, issue_token, peek_token, use_token
from taskly.auth.model import User, check_user_password
from taskly.db import connection, queries, transaction
from taskly.outbox import queue_mail
from taskly.ratelimit import Limit, by_address, check_limit, password_limits, rate_limited
from taskly.web import login_required, render, settings

blueprint = Blueprint("verify", __name__)


async def send_verification(conn: asyncpg.Connection, user: User) -> None:
    """A fresh link to the account's address; a pending one not yet sent is replaced."""
    token = await issue_token(conn, user.id, VERIFY_EMAIL, user.email)
    await queue_mail(
        conn,
        user_id=user.id,
        template="verify_email",
        coalesce_key="verify_email",
        recipient=user.email,  # the address the link confirms, even if it changes meanwhile
        subject="Confirm your email address for Taskly",
        link=f"{settings().base_url}{url_for('verify.confirm', token=token)}",
        email=user.email,
    )


async def _by_link_owner() -> str:
    return f"user:{g.link_owner}"


# A password is checked here as on the login page, so it is limited like login: per address,
# and per account (the account the link belongs to, not the email a form names).
CONFIRM_LIMITS = (
    Limit(30, timedelta(minutes=15), by_address),
    Limit(10, timedelta(minutes=15), _by_link_owner),
)


@blueprint.route("/verify/<token>", methods=["GET", "POST"])
async def confirm(token: str) -> ResponseReturnValue:
    """GET shows what the link does and changes nothing (mail scanners fetch links);
    POST spends it."""
    async with connection() as conn:
        state = await peek_token(conn, token, VERIFY_EMAIL)
    if state is None:
        message = "This link is not valid. Use the newest link we sent, or ask for a new one."
        return await render("pages/verify.html", problem=message, status=404)
    if state.problem is not None:
        return await render("pages/verify.html", problem=state.problem, status=410)
    same_user = g.user is not None and g.user.id == state.user_id
    error = None
    first_name = None
    if request.method == "POST":
        password = (await request.form).get("password", "")
        g.link_owner = state.user_id
        if not same_user:
            for limit in CONFIRM_LIMITS:
                await check_limit(limit, "verify.confirm")
        async with transaction() as conn:
            if not same_user and not await check_user_password(conn, state.user_id, password):
                error = "That is not the password of this account."
            elif await use_token(conn, token, VERIFY_EMAIL) is None:
                return await render(
                    "pages/verify.html", problem="This link was already used.", status=410
                )
            elif first_name := await queries.mark_email_verified(
                conn, user_id=state.user_id, email=state.email
            ):
                await queries.release_held_mail(conn, user_id=state.user_id)
            else:
                message = "This address is no longer the one on the account."
                return await render("pages/verify.html", problem=message, status=410)
        if error is None:
            if not same_user:
                from taskly.auth.routes import start_session

                await start_session(state.user_id)
            await flash(f"Address confirmed. Welcome to Taskly, {first_name}!", "success")
            session["focus_new_task"] = True  # a new user's first move: their first task
            return redirect(url_for("tasks.dashboard"))
    return await render(
        "pages/verify.html",
        email=state.email,
        needs_password=not same_user,
        error=error,
        token=token,
        status=422 if error else 200,
    )


@blueprint.route("/verify", methods=["POST"])
@login_required
@rate_limited(*password_limits(3, 10, timedelta(hours=1)))
async def resend() -> ResponseReturnValue:
    if g.user.email_verified:
        await flash("Your address is already confirmed.", "info")
    else:
        async with transaction() as conn:
            await send_verification(conn, g.user)
        await flash(f"We sent a new link to {g.user.email}.", "success")
    return redirect(url_for("tasks.dashboard"))
