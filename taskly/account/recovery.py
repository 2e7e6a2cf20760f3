"""A forgotten password: "Forgot password?" mails a single-use link (one hour) to the address,
if it has an account. The page answers the same way, after the same work, whether it does or
not (one SQL statement either way: see request-password-reset). Following the link sets a new
password, which ends every session of the account and every mailed link issued before, and
logs this browser in fresh."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from quart import Blueprint, flash, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from taskly.account.agents import describe_agent
from taskly.account.tokens import LIFETIMES, RESET_PASSWORD, peek_token, use_token
from taskly.auth.emails import email_error, email_key
from taskly.auth.model import hash_password, password_error, token_hash
from taskly.db import connection, queries, transaction
from taskly.outbox import mail_domain
from taskly.ratelimit import password_limits, rate_limited
from taskly.web import render, settings

blueprint = Blueprint("recovery", __name__)


@blueprint.route("/password/forgot", methods=["GET", "POST"])
@rate_limited(*password_limits(3, 10, timedelta(hours=1)))
async def forgot() -> ResponseReturnValue:
    email = ""
    error = None
    if request.method == "POST":
        email = (await request.form).get("email", "").strip()
        error = email_error(email)  # about the address's form only, never its account
        if error is None:
            token = secrets.token_urlsafe(32)
            context = {
                "subject": "Reset your Taskly password",
                "link": f"{settings().base_url}{url_for('recovery.reset', token=token)}",
                "requested_at": datetime.now(UTC).isoformat(),
                "browser": describe_agent(request.headers.get("User-Agent", "")),
            }
            async with connection() as conn:
                await queries.request_password_reset(
                    conn,
                    email_key=email_key(email),
                    token_hash=token_hash(token),
                    ttl_seconds=LIFETIMES[RESET_PASSWORD].total_seconds(),
                    message_id=f"<reset-{secrets.token_hex(8)}@{mail_domain()}>",
                    context=json.dumps(context),
                )
            session["reset_email"] = email
            return redirect(url_for("recovery.forgot_sent"))
    return await render("pages/forgot.html", email=email, error=error, status=422 if error else 200)


@blueprint.route("/password/forgot/sent")
async def forgot_sent() -> ResponseReturnValue:
    email = session.get("reset_email")
    if not email:
        return redirect(url_for("recovery.forgot"))
    dev_mailbox = settings().env == "development"
    return await render("pages/forgot_sent.html", email=email, dev_mailbox=dev_mailbox)


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
async def reset(token: str) -> ResponseReturnValue:
    """GET shows the form and spends nothing (mail scanners fetch links); POST sets it."""
    async with connection() as conn:
        state = await peek_token(conn, token, RESET_PASSWORD)
    if state is None:
        problem = "This link is not valid. Ask for a new one from the login page."
        return await render("pages/reset.html", problem=problem, status=404)
    if state.problem is not None:
        return await render("pages/reset.html", problem=state.problem, status=410)
    error = None
    if request.method == "POST":
        password = (await request.form).get("new_password", "")
        error = password_error(password)
        if error is None:
            password_hash = await hash_password(password)
            async with transaction() as conn:
                if await use_token(conn, token, RESET_PASSWORD) is None:
                    problem = "This link was already used."
                    return await render("pages/reset.html", problem=problem, status=410)
                await queries.update_password(
                    conn, user_id=state.user_id, password_hash=password_hash
                )
                await queries.end_all_sessions(conn, user_id=state.user_id)
                await queries.verify_email_by_link(conn, user_id=state.user_id, email=state.email)
                await queries.release_held_mail(conn, user_id=state.user_id)
            g.session_token = None
            from taskly.auth.routes import start_session

            await start_session(state.user_id)
            await flash(
                "Password changed. You are logged in here; every other session was logged out.",
                "success",
            )
            return redirect(url_for("tasks.dashboard"))
    return await render(
        "pages/reset.html",
        email=state.email,
        token=token,
        error=error,
        status=422 if error else 200,
    )
