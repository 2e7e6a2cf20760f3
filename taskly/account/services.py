"""Settings → Notifications → Other services: a user's Apprise URLs (issue #12).

A URL is checked before it is kept (taskly/outbound.py: a scheme the operator allows, no private,
link-local or metadata target unless NOTIFY_ALLOW_PRIVATE; then Apprise must read it as one
service), kept sealed with its masked form beside it (taskly/notify/sealed.py), and never shown,
echoed into the form or logged. Each service can be sent a test (through the same sender the
reminder engine uses, which checks it again) and removed. Without JavaScript the forms post and
redirect; with htmx (boosted forms) the section is swapped in place with a toast.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quart import Blueprint, abort, flash, g, redirect, request, url_for
from quart.typing import ResponseReturnValue

from taskly.account.notifications import page
from taskly.db import connection, queries
from taskly.notify.apprise import AppriseResult, readable, send_apprise
from taskly.notify.sealed import Unreadable, mask, seal, unseal
from taskly.outbound import OutboundRefused, Policy, check_apprise_url
from taskly.ratelimit import Limit, by_account, rate_limited
from taskly.web import is_htmx, login_required, render, settings

blueprint = Blueprint("notify_services", __name__, url_prefix="/account/notifications/services")

MAX_SERVICES = 10
MAX_LABEL = 60
TEST_TITLE = "Taskly"
TEST_BODY = "Test: reminders will reach this service.\n{link}"


async def _section(
    status: int = 200, toast: tuple[str, str] | None = None, **context: Any
) -> ResponseReturnValue:
    """The section alone (htmx) with an out-of-band toast, or the whole page."""
    if not is_htmx():
        return await page(status=status, **context)
    async with connection() as conn:
        services = [row async for row in queries.select_notify_services(conn, user_id=g.user.id)]
    return await render(
        "pages/notifications.html",
        partial="partials/_notify_services_response.html",
        status=status,
        services=services,
        allowed_schemes=settings().notify_schemes,
        toast=toast,
        **context,
    )


async def _done(message: str, category: str) -> ResponseReturnValue:
    """After a change: redirect (no JavaScript), or the section with a toast (htmx)."""
    if is_htmx():
        return await _section(toast=(message, category))
    await flash(message, category)
    return redirect(url_for("notifications.index") + "#services")


def _label_error(label: str) -> str | None:
    if not label:
        return "Give it a name, e.g. “Phone (ntfy)”."
    if len(label) > MAX_LABEL or not label.isprintable():
        return f"At most {MAX_LABEL} characters, on one line."
    return None


async def _url_error(url: str) -> tuple[str | None, str]:
    """Why this URL cannot be kept (shown beside the field), else None and its masked form."""
    if not url:
        return "Paste the service's Apprise address, e.g. ntfys://ntfy.sh/your-topic.", ""
    policy = Policy.from_settings(settings())
    try:
        target = await check_apprise_url(url, policy)
    except OutboundRefused as exc:
        if exc.reason == "scheme":
            allowed = ", ".join(f"{s}://" for s in settings().notify_schemes)
            return f"{exc} This server sends to: {allowed or 'none'}.", ""
        return str(exc), ""
    if not await readable(url):
        return "Apprise cannot read this address: check it against the service's page.", ""
    return None, mask(url, host=target.host)


@blueprint.route("", methods=["POST"])
@login_required
@rate_limited(Limit(30, timedelta(hours=1), by_account))
async def add() -> ResponseReturnValue:
    form = await request.form
    label = " ".join(form.get("label", "").split())
    url = form.get("url", "").strip()
    errors = {"label": _label_error(label)}
    errors["url"], masked = await _url_error(url)
    if not any(errors.values()):
        async with connection() as conn, conn.transaction():
            if await queries.count_notify_services(conn, user_id=g.user.id) >= MAX_SERVICES:
                errors["url"] = f"At most {MAX_SERVICES} services: remove one first."
            else:
                added = await queries.insert_notify_service(
                    conn,
                    user_id=g.user.id,
                    label=label,
                    scheme=url.partition("://")[0].lower(),
                    url_sealed=seal(url, user_id=g.user.id, settings=settings()),
                    masked=masked,
                )
                if added is None:
                    errors["label"] = "You already have a service with this name."
    if any(errors.values()):
        # The URL is not put back into the form: it is a secret, and this page may be cached.
        return await _section(422, service_errors=errors, service_label=label)
    return await _done(f"Added {label}. Send it a test to check.", "success")


def _outcome(result: AppriseResult) -> tuple[str, str]:
    """What to tell the user about a test, and the toast category."""
    if result.outcome == "delivered":
        return "Sent. The message should arrive there now.", "success"
    if result.outcome == "retry":
        return f"The service did not take the message just now ({result.detail}).", "error"
    if result.outcome == "refused":
        return f"Taskly will not send there now: {result.detail}", "error"
    return f"The service refused the message ({result.detail}).", "error"


@blueprint.route("/<id:service_id>/test", methods=["POST"])
@login_required
@rate_limited(Limit(20, timedelta(hours=1), by_account))
async def test(service_id: int) -> ResponseReturnValue:
    config = settings()
    async with connection() as conn:
        row = await queries.select_notify_service(conn, id=service_id, user_id=g.user.id)
    if row is None:
        abort(404)
    try:
        url = unseal(row["url_sealed"], user_id=g.user.id, settings=config)
    except Unreadable:
        result = AppriseResult("failed", "its stored address cannot be read: add it again")
    else:
        link = config.base_url + url_for("notifications.index")
        body = TEST_BODY.format(link=link)
        result = await send_apprise(url, title=TEST_TITLE, body=body, settings=config)
    error = None if result.outcome == "delivered" else result.detail[:300]
    async with connection() as conn:
        await queries.record_notify_service_result(
            conn, id=service_id, user_id=g.user.id, error=error
        )
    return await _done(*_outcome(result))


@blueprint.route("/<id:service_id>/delete", methods=["POST"])
@login_required
async def remove(service_id: int) -> ResponseReturnValue:
    async with connection() as conn:
        removed = await queries.delete_notify_service(conn, id=service_id, user_id=g.user.id)
    if removed is None:
        abort(404)
    return await _done("Removed: that service gets no more reminders.", "success")
