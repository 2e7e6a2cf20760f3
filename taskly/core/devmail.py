"""Development only: the mail the local sink caught for the logged-in user, or for the
address this browser just signed up with (so the verification link can be followed), at
/dev/mail. The blueprint is never registered in production."""

from __future__ import annotations

import email
from email import policy
from typing import Any

from quart import Blueprint, g, redirect, session, url_for
from quart.typing import ResponseReturnValue

from taskly.db import connection, queries
from taskly.web import render

blueprint = Blueprint("devmail", __name__)


def summarize(row: Any) -> dict[str, Any]:
    message = email.message_from_string(row["message"], policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    return {
        "received_at": row["received_at"],
        "to": row["rcpt_to"],
        "subject": message.get("Subject", ""),
        "message_id": message.get("Message-ID", ""),
        "text": body.get_content() if body is not None else "",
    }


@blueprint.route("/dev/mail")
async def caught_mail() -> ResponseReturnValue:
    # Before login: the address this browser just signed up with or asked a reset link for.
    address = (
        g.user.email
        if g.user is not None
        else session.get("reset_email") or session.get("signup_email")
    )
    if not address:
        return redirect(url_for("auth.login", next="/dev/mail"))
    async with connection() as conn:
        messages = [summarize(row) async for row in queries.select_dev_mail(conn, email=address)]
    return await render("pages/dev_mail.html", messages=messages)
