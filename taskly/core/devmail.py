"""Development only: the mail the local sink caught for the logged-in user, at /dev/mail."""

from __future__ import annotations

import email
from email import policy
from typing import Any

from quart import Blueprint, g
from quart.typing import ResponseReturnValue

from taskly.db import connection, queries
from taskly.web import login_required, render

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
@login_required
async def caught_mail() -> ResponseReturnValue:
    async with connection() as conn:
        messages = [
            summarize(row) async for row in queries.select_dev_mail(conn, email=g.user.email)
        ]
    return await render("pages/dev_mail.html", messages=messages)
