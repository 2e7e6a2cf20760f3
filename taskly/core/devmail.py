"""Development only: the mail the local sink caught for the logged-in user, or for the
address this browser just signed up with (so the verification link can be followed), at
/dev/mail. The blueprint is never registered in production."""

from __future__ import annotations

import email
import ipaddress
from email import policy
from typing import Any

from quart import Blueprint, Response, abort, g, redirect, request, session, url_for
from quart.typing import ResponseReturnValue

from taskly.db import connection, queries
from taskly.web import is_htmx, render

blueprint = Blueprint("devmail", __name__)


def summarize(row: Any) -> dict[str, Any]:
    """Both parts of a message. The HTML part is shown in a sandboxed frame (no script, no
    forms, its own origin) that inherits the page's CSP, so remote images do not load."""
    message = email.message_from_string(row["message"], policy=policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "id": row["id"],
        "received_at": row["received_at"],
        "to": row["rcpt_to"],
        "subject": message.get("Subject", ""),
        "message_id": message.get("Message-ID", ""),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else None,
    }


# The HTML part, framed by the list: the mail's own inline styles apply, nothing else does
# (no script, no remote image, no form), and only the list may frame it.
MAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


def _viewer_address() -> str | None:
    """The logged-in user's address; before login, the address this browser just signed up
    with or asked a reset link for, but only for a browser on this machine: the address is
    whatever was typed, and a development server reachable from a network must not show a
    stranger someone else's reset link."""
    if g.user is not None:
        return str(g.user.email)
    if not _from_this_machine():
        return None
    address = session.get("reset_email") or session.get("signup_email")
    return str(address) if address else None


def _from_this_machine() -> bool:
    address = request.remote_addr or "<local>"
    if address == "<local>":  # no socket at all: called in-process (tests)
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@blueprint.route("/dev/mail/<int:mail_id>/html")
async def caught_html(mail_id: int) -> ResponseReturnValue:
    address = _viewer_address()
    async with connection() as conn:
        rows = (
            []
            if address is None
            else [row async for row in queries.select_dev_mail(conn, email=address)]
        )
    found = next((summarize(row) for row in rows if row["id"] == mail_id), None)
    if found is None or found["html"] is None:
        abort(404)
    response = Response(found["html"], mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@blueprint.route("/dev/mail")
async def caught_mail() -> ResponseReturnValue:
    address = _viewer_address()
    if not address:
        return redirect(url_for("auth.login", next="/dev/mail"))
    async with connection() as conn:
        messages = [summarize(row) async for row in queries.select_dev_mail(conn, email=address)]
    newest = messages[0]["id"] if messages else 0
    if is_htmx() and request.args.get("after") == str(newest):
        return "", 204  # nothing new: the list (and any part opened or closed) stays as it is
    return await render(
        "pages/dev_mail.html", partial="partials/_dev_mail.html", messages=messages, newest=newest
    )
