"""Sign up, log in, log out.

Sign-up answers every valid form the same way, "check your inbox", and never says whether an
address has an account: a new address gets a verification link; an address that has an
account gets a note for its owner instead (or a fresh link, if it was never verified). The
password is hashed on both paths, so they cost the same.
"""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, flash, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import AuthUser, login_user, logout_user

from taskly.account.verify import send_verification
from taskly.auth.emails import EMAIL_MAX, email_error
from taskly.auth.model import (
    check_login,
    delete_session,
    hash_password,
    insert_session,
    insert_user,
    password_error,
    select_login,
    select_user_by_email,
    upgrade_password_hash,
)
from taskly.dates import best_locale
from taskly.db import connection, release_connection, transaction
from taskly.outbox import queue_mail
from taskly.ratelimit import password_limits, rate_limited
from taskly.reminders.model import ZONES
from taskly.web import render, safe_next, settings

blueprint = Blueprint("auth", __name__)
NAME_MAX = 100
__all__ = ["EMAIL_MAX", "blueprint", "start_session"]


def name_errors(form: dict[str, str]) -> dict[str, str]:
    """First and last name: required, printable (no line breaks or control characters)."""
    errors: dict[str, str] = {}
    for field, label in (("first_name", "first name"), ("last_name", "last name")):
        if not form[field]:
            errors[field] = f"Enter your {label}."
        elif len(form[field]) > NAME_MAX:
            errors[field] = f"Use at most {NAME_MAX} characters."
        elif not form[field].isprintable():
            errors[field] = "Use letters, spaces and punctuation only."
    return errors


def signup_errors(form: dict[str, str]) -> dict[str, str]:
    errors = name_errors(form)
    if problem := email_error(form["email"]):
        errors["email"] = problem
    if problem := password_error(form["password"]):
        errors["password"] = problem
    return errors


async def start_session(user_id: int) -> None:
    """Issue a fresh session (never reuse one from before login) and a fresh CSRF seed."""
    async with connection() as conn:
        token = await insert_session(conn, user_id, request.headers.get("User-Agent", ""))
    session.pop("anon", None)
    g.pop("csrf_token", None)
    login_user(AuthUser(token))


@blueprint.route("/signup", methods=["GET", "POST"])
@rate_limited(*password_limits(5, 20, timedelta(hours=1)))
async def signup() -> ResponseReturnValue:
    if g.user is not None:
        return redirect(url_for("tasks.dashboard"))
    form = {
        "first_name": "",
        "last_name": "",
        "email": "",
        "password": "",
        "time_zone": "",
        "locale": "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        posted = await request.form
        form = {key: posted.get(key, "").strip() for key in form}
        form["password"] = posted.get("password", "")  # spaces are part of a password
        errors = signup_errors(form)
        time_zone = form["time_zone"] if form["time_zone"] in ZONES else "UTC"
        # The browser's language (dates.js fills it in), else what it asks pages in.
        locale = best_locale([form["locale"], *request.accept_languages.values()])
        if not errors:
            password_hash = await hash_password(form["password"])  # no connection held
            async with transaction() as conn:
                user = await insert_user(
                    conn,
                    email=form["email"],
                    first_name=form["first_name"],
                    last_name=form["last_name"],
                    password_hash=password_hash,
                    time_zone=time_zone,
                    locale=locale,
                )
                if user is None:  # the address has an account: tell its owner, not the form
                    user = await select_user_by_email(conn, form["email"])
                    assert user is not None
                    if user.email_verified:
                        await queue_mail(
                            conn,
                            user_id=user.id,
                            template="signup_attempt",
                            coalesce_key="signup_attempt",
                            subject="Someone tried to sign up with your address",
                            login_url=f"{settings().base_url}/login",
                        )
                    else:
                        await send_verification(conn, user)
                else:
                    await send_verification(conn, user)
            session["signup_email"] = form["email"]
            return redirect(url_for("auth.signup_sent"))
    form["password"] = ""  # never echo a password back
    status = 422 if errors else 200
    return await render("pages/signup.html", form=form, errors=errors, status=status)


@blueprint.route("/signup/sent")
async def signup_sent() -> ResponseReturnValue:
    email = session.get("signup_email")
    if not email or g.user is not None:
        return redirect(url_for("auth.signup"))
    dev_mailbox = settings().env == "development"  # the local sink's viewer exists
    return await render("pages/signup_sent.html", email=email, dev_mailbox=dev_mailbox)


@blueprint.route("/login", methods=["GET", "POST"])
@rate_limited(*password_limits(10, 30, timedelta(minutes=15)))
async def login() -> ResponseReturnValue:
    next_url = request.args.get("next")
    if g.user is not None:
        return redirect(safe_next(next_url))
    email = ""
    error = None
    if request.method == "POST":
        posted = await request.form
        email = posted.get("email", "").strip()
        password = posted.get("password", "")
        next_url = posted.get("next") or next_url
        async with connection() as conn:
            row = await select_login(conn, email) if email and password else None
        await release_connection()  # argon2 below holds no pooled connection
        user = await check_login(row, password) if email and password else None
        if user is not None:
            async with connection() as conn:
                await upgrade_password_hash(conn, row, password)
            await start_session(user.id)
            session.pop("signup_email", None)
            return redirect(safe_next(next_url))
        error = "That email and password do not match an account."
    status = 422 if error else 200
    return await render(
        "pages/login.html", email=email, error=error, next_url=next_url or "", status=status
    )


@blueprint.route("/logout", methods=["POST"])
async def logout() -> ResponseReturnValue:
    if g.session_token is not None:
        async with connection() as conn:
            await delete_session(conn, g.session_token)
    logout_user()
    session.clear()
    await flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
