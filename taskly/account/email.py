"""Changing the address: it takes the current password, and happens only when the link mailed
to the new address is followed. The old address is told afterwards, with no link that could
silently undo a takeover: it is told to reset the password instead. Whether the new address
already has an account is never said on the page (its owner gets a note instead)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import asyncpg
from quart import Blueprint, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.account.tokens import CHANGE_EMAIL, LIFETIMES, peek_token, use_token
from taskly.auth.emails import email_error, email_key
from taskly.auth.model import check_user_password, token_hash
from taskly.db import connection, queries, transaction
from taskly.outbox import queue_mail
from taskly.ratelimit import password_limits, rate_limited
from taskly.web import login_required, render, settings

blueprint = Blueprint("email", __name__, url_prefix="/account")


@blueprint.route("/email", methods=["GET", "POST"])
@login_required
@rate_limited(*password_limits(3, 20, timedelta(hours=1)))
async def change() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    new_email = ""
    if request.method == "POST":
        posted = await request.form
        new_email = posted.get("new_email", "").strip()
        if not g.user.email_verified:
            # An unconfirmed account could otherwise mail any address it likes from Taskly.
            errors["new_email"] = "Confirm your current address first (see the banner above)."
        elif problem := email_error(new_email):
            errors["new_email"] = problem
        elif email_key(new_email) == email_key(g.user.email):
            errors["new_email"] = "That is already your address."
        async with transaction() as conn:
            if not await check_user_password(conn, g.user.id, posted.get("password", "")):
                errors["password"] = "That is not your current password."  # noqa: S105
            if not errors:
                await _send_change_link(conn, new_email)
        if not errors:
            await flash(
                f"We sent a link to {new_email}. Your address changes when you follow it.",
                "success",
            )
            return redirect(url_for("account.preferences"))
    return await render(
        "pages/change_email.html",
        new_email=new_email,
        errors=errors,
        status=422 if errors else 200,
    )


async def _send_change_link(conn: asyncpg.Connection, new_email: str) -> None:
    user = g.user
    if await queries.email_key_taken(conn, email_key=email_key(new_email)):
        await queue_mail(
            conn,
            user_id=user.id,
            template="email_taken",
            recipient=new_email,
            coalesce_key="change_email",
            subject="Someone tried to move a Taskly account to your address",
            login_url=f"{settings().base_url}/login",
        )
        return
    token = secrets.token_urlsafe(32)
    await queries.insert_change_email_token(
        conn,
        token_hash=token_hash(token),
        user_id=user.id,
        email=user.email,
        new_email=new_email,
        ttl_seconds=LIFETIMES[CHANGE_EMAIL].total_seconds(),
    )
    await queue_mail(
        conn,
        user_id=user.id,
        template="change_email",
        recipient=new_email,
        coalesce_key="change_email",
        subject="Confirm your new address for Taskly",
        link=f"{settings().base_url}{url_for('email.confirm', token=token)}",
        new_email=new_email,
    )


@blueprint.route("/email/confirm/<token>", methods=["GET", "POST"])
async def confirm(token: str) -> ResponseReturnValue:
    """GET shows what the link does (mail scanners fetch links); POST makes the change."""
    async with connection() as conn:
        state = await peek_token(conn, token, CHANGE_EMAIL)
        change = await queries.select_change_email_token(conn, token_hash=token_hash(token))
    if state is None or change is None:
        invalid = "This link is not valid. Ask for a new one from your account settings."
        return await render("pages/change_email_confirm.html", problem=invalid, status=404)
    if state.problem is not None:
        return await render("pages/change_email_confirm.html", problem=state.problem, status=410)
    if request.method == "POST":
        problem: str | None = None
        try:
            async with transaction() as conn:
                if await use_token(conn, token, CHANGE_EMAIL) is None:
                    problem = "This link was already used."
                elif not await queries.change_email(
                    conn,
                    user_id=change["user_id"],
                    old_email=change["email"],
                    new_email=change["new_email"],
                    new_email_key=email_key(change["new_email"]),
                ):
                    problem = "The account's address changed since this link was sent."
                else:
                    await queries.release_held_mail(conn, user_id=change["user_id"])
                    await queue_mail(
                        conn,
                        user_id=change["user_id"],
                        template="email_changed",
                        recipient=change["email"],
                        subject="Your Taskly address was changed",
                        new_email=change["new_email"],
                        reset_url=f"{settings().base_url}{url_for('recovery.forgot')}",
                    )
        except asyncpg.UniqueViolationError:
            problem = "Another account took that address meanwhile."
        if problem is not None:
            return await render("pages/change_email_confirm.html", problem=problem, status=409)
        await flash(f"Your address is now {change['new_email']}.", "success")
        return redirect(url_for("tasks.dashboard"))
    return await render(
        "pages/change_email_confirm.html",
        old_email=change["email"],
        new_email=change["new_email"],
        token=token,
    )
