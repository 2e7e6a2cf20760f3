"""Queueing mail: every message Taskly sends other than a reminder occurrence is a row in the
outbox, written in the same transaction as the change that causes it (never lost, never sent
for a change that rolled back) and sent by the reminder engine.

- `coalesce_key`: a pending message about the same thing is replaced, and `delay` holds the
  new one back for a quiet period, so toggling reminders on, off and on in a minute sends one
  confirmation (the last state), not three.
- Essential templates (account security) go to unverified addresses too; everything else is
  held until the address is verified. Every message counts toward the daily ceiling, but only
  non-essential ones are held by it (the routes that send essential mail are rate limited).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from taskly.db import queries
from taskly.web import settings

# Account mail: sent to unverified addresses and never counted against (or held by) the
# reminders' daily ceiling, so nobody can use it up for someone else.
ESSENTIAL = frozenset(
    {
        "verify_email",
        "signup_attempt",
        "reset_password",
        "change_email",
        "email_taken",
        "email_changed",
        "goodbye",
    }
)
# Account mail a stranger can cause for someone else's address: at most this many a day per
# account (past it, dropped: a reset link a day late helps nobody). Security notices are not
# limited: they must arrive.
UNSOLICITED = frozenset({"reset_password", "signup_attempt", "email_taken", "verify_email"})
UNSOLICITED_DAILY = 10


def mail_domain() -> str:
    """The right-hand side of Message-IDs: the site's own host name."""
    return urlsplit(settings().base_url).hostname or "taskly.invalid"


async def queue_mail(
    conn: asyncpg.Connection,
    *,
    user_id: int | None,
    template: str,
    task_id: int | None = None,
    coalesce_key: str | None = None,
    delay: float = 0.0,
    recipient: str | None = None,
    first_name: str | None = None,
    undoes: str | None = None,
    **context: Any,
) -> None:
    """Queue a message. `undoes` names the template this one cancels out: if such a message
    is still pending under the same key (reminders on, then off within the quiet period),
    neither is sent. Mail that outlives its account (user_id None) names its recipient and
    the first name to greet."""
    if coalesce_key is not None and user_id is not None:
        replaced = [
            row["template"]
            async for row in queries.cancel_pending_outbox(
                conn, user_id=user_id, coalesce_key=coalesce_key
            )
        ]
        if undoes is not None and undoes in replaced:
            return
    mid = f"<{template}-{user_id or 0}-{secrets.token_hex(8)}@{mail_domain()}>"
    await queries.insert_outbox(
        conn,
        user_id=user_id,
        task_id=task_id,
        template=template,
        context=json.dumps(context),
        message_id=mid,
        coalesce_key=coalesce_key,
        recipient=recipient,
        first_name=first_name,
        delay_seconds=delay,
    )
