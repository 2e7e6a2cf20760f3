"""Sign-up never tells whether an address has an account, and one canonical address key
decides uniqueness, lookup and rate limits (Hardening #2 and #9)."""

from __future__ import annotations

import re

from taskly.auth.emails import email_digest, email_key
from taskly.db import POOL_KEY
from tests.helpers import PASSWORD, log_in, mailed_link, post_form, sign_up

FORM = {"first_name": "Eve", "last_name": "Else", "password": "another passphrase", "time_zone": ""}


def _normalised(html: str) -> str:
    """The page without what differs between any two requests (CSRF token, request id)."""
    return re.sub(r"[0-9a-f]{64}", "TOKEN", html)


async def test_every_signup_gets_the_same_answer_and_the_owner_gets_a_note(client, app, db):
    await sign_up(client, email="ada@example.com")
    await db.execute("DELETE FROM outbox")
    answers = []
    for email in ("ada@example.com", "new@example.com"):
        stranger = app.test_client()
        response = await post_form(stranger, "/signup", {**FORM, "email": email})
        page = await stranger.get(response.headers["Location"])
        html = (await page.get_data(as_text=True)).replace(email, "EMAIL")
        answers.append((response.status_code, response.headers["Location"], _normalised(html)))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (302, "/signup/sent")
    assert "Check your inbox" in answers[0][2]
    mail = await db.fetch(
        "SELECT u.email, o.template FROM outbox o JOIN users u ON u.id = o.user_id ORDER BY o.id"
    )
    assert [tuple(r) for r in mail] == [
        ("ada@example.com", "signup_attempt"),
        ("new@example.com", "verify_email"),
    ]
    # The existing account is untouched: its password still works, the stranger's does not.
    assert (await log_in(app.test_client(), "ada@example.com", PASSWORD)).status_code == 302
    wrong = await log_in(app.test_client(), "ada@example.com", FORM["password"])
    assert wrong.status_code == 422


async def test_both_signup_paths_run_the_same_kind_of_work(make_app, db):
    """No enumeration by timing: a taken address costs what a new one does (one password hash,
    the same number of statements), compared by code path, not by a stopwatch."""
    app = await make_app(db_pool_min=1, db_pool_max=1)
    await sign_up(app.test_client(), email="ada@example.com")
    statements: list[str] = []
    async with app.extensions[POOL_KEY].acquire() as conn:
        conn.add_query_logger(lambda query: statements.append(query.query.split()[0]))
    runs = []
    for email in ("ada@example.com", "new@example.com"):
        stranger = app.test_client()
        token_page = await stranger.get("/signup")
        token = re.search(
            r'name="csrf_token" value="([0-9a-f]{64})"', await token_page.get_data(as_text=True)
        )[1]
        statements.clear()
        await stranger.post("/signup", form={**FORM, "email": email, "csrf_token": token})
        runs.append(len(statements))
    assert abs(runs[0] - runs[1]) <= 1, runs


async def test_an_unverified_owner_gets_a_fresh_link_not_a_note(client, app, db):
    await sign_up(client, email="ada@example.com", verify=False)
    first = await mailed_link(client, "ada@example.com", "verify_email")
    await post_form(app.test_client(), "/signup", {**FORM, "email": "ADA@example.com"})
    second = await mailed_link(client, "ada@example.com", "verify_email")
    assert first != second
    templates = await db.fetch("SELECT template FROM outbox WHERE state = 'pending'")
    assert [r["template"] for r in templates] == ["verify_email"]  # the first was replaced


def test_one_canonical_key_per_address_and_none_outside_ascii():
    assert email_key(" Ada@Example.COM ") == "ada@example.com"
    # Python and PostgreSQL fold these to ASCII differently: no account can have them.
    for spelling in ("adİ@example.com", "ada@examplé.com", "\u212aim@example.com", "\uff41da@x.io"):
        assert email_key(spelling) is None, spelling


async def test_unicode_spellings_neither_log_in_nor_escape_the_account_limit(client, app, db):
    """'İ' lower-cases to 'i' in PostgreSQL and to 'i̇' in Python: eight spellings of one
    address once gave eight login limits, and the right password logged in through them."""
    await sign_up(client, email="ida@example.com")
    spellings = ["İda@example.com", "\u0131da@example.com", "\u0130DA@example.com"]
    for spelling in spellings:
        right = await log_in(app.test_client(), spelling, PASSWORD)
        assert right.status_code == 422, spelling
    await db.execute("DELETE FROM rate_limits")
    statuses = []
    for i in range(12):
        attacker = app.test_client()
        email = "IDA@example.com" if i % 2 else "ida@EXAMPLE.com"
        statuses.append(
            (
                await post_form(
                    attacker,
                    "/login",
                    {"email": email, "password": "wrong guess"},
                    scope_base={"client": (f"198.51.100.{i + 1}", 1)},
                )
            ).status_code
        )
    assert statuses[:10] == [422] * 10  # the per-account limit is 10 per 15 minutes
    assert statuses[10:] == [429, 429]
    keys = await db.fetch("SELECT key FROM rate_limits WHERE key LIKE 'auth.login:email:%'")
    assert [r["key"] for r in keys] == ["auth.login:email:" + email_digest("ida@example.com")]
