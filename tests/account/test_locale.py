"""The date format (a locale, issue #11): guessed at sign-up from the browser, checked against
Babel, edited on the profile, and used on every page of the account whatever the browser asks."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime, timedelta

import pytest
from quart import g

from taskly.templating import local_time
from tests.helpers import page_token, sign_up

NNBSP = "\u202f"


async def save_profile(client, locale: str | None, **fields):
    form = {
        "csrf_token": await page_token(client, "/account/profile"),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "time_zone": "Europe/London",
        **({} if locale is None else {"locale": locale}),
        **fields,
    }
    return await client.post("/account/profile", form=form)


@pytest.mark.parametrize(
    ("field", "accept_language", "expected"),
    [
        ("de-AT", "en-US,en;q=0.9", "de-AT"),  # the browser's language, from dates.js
        ("en_us", None, "en-US"),  # canonical form
        (None, "fr-CA,fr;q=0.9,en;q=0.8", "fr-CA"),  # no JavaScript: Accept-Language
        ("", "xx-YY, de;q=0.5", "de"),  # the first one Babel knows
        ("klingon", "*", "en-GB"),  # nothing usable: the default
        (None, None, "en-GB"),
    ],
)
async def test_signup_seeds_the_locale_from_the_browser(
    client, db, field, accept_language, expected
):
    headers = {} if accept_language is None else {"Accept-Language": accept_language}
    await sign_up(client, locale=field, headers=headers)
    assert await db.fetchval("SELECT locale FROM users") == expected


async def test_the_signup_form_carries_a_field_for_the_browsers_guess(client):
    page = await (await client.get("/signup")).get_data(as_text=True)
    assert '<input type="hidden" name="locale" value="" data-guess-locale>' in page


async def test_the_profile_edits_the_format_with_a_live_example(client, db):
    await sign_up(client)
    page = await (await client.get("/account/profile")).get_data(as_text=True)
    assert '<label for="locale">Date and time format</label>' in page
    assert 'value="en-GB" list="locales"' in page
    assert '<option value="de-CH">German (Switzerland)</option>' in page
    assert ", 17:30</output>" in page  # the example, in the saved format
    response = await save_profile(client, "en-us")
    assert response.status_code == 302
    assert await db.fetchval("SELECT locale FROM users") == "en-US"
    page = await (await client.get("/account/profile")).get_data(as_text=True)
    assert 'value="en-US" list="locales"' in page and f", 5:30{NNBSP}PM</output>" in page
    # The example follows what is typed, before saving (htmx asks as the field changes).
    example = await client.get("/account/profile/date-example", query_string={"locale": "de"})
    assert (await example.get_data(as_text=True)).endswith(", 17:30")
    bad = await client.get("/account/profile/date-example", query_string={"locale": "<b>"})
    assert await bad.get_data(as_text=True) == "choose a format from the list"


@pytest.mark.parametrize("value", ["", "xx-YY", "de-DE-u-hc-h12", "en-GB<script>", "e" * 36])
async def test_a_bad_format_is_an_error_beside_the_field_and_nothing_is_saved(client, db, value):
    await sign_up(client)
    response = await save_profile(client, value, first_name="Augusta", time_zone="Asia/Tokyo")
    page = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="field-error" id="locale-error">Choose a format from the list' in page
    field = re.search(r'<input id="locale"[^>]*>', page)[0]
    assert 'aria-invalid="true"' in field and "autofocus" in field and "locale-error" in field
    assert f'value="{htmllib.escape(value)}" list="locales"' in page  # kept, to correct
    row = await db.fetchrow("SELECT first_name, time_zone, locale FROM users")
    assert tuple(row) == ("Ada", "Europe/London", "en-GB")


async def test_a_profile_form_from_before_the_field_keeps_the_format(client, db):
    await sign_up(client, locale="de")
    assert (await save_profile(client, None, first_name="Augusta")).status_code == 302
    assert tuple(await db.fetchrow("SELECT first_name, locale FROM users")) == ("Augusta", "de")


async def test_pages_use_the_accounts_format_whatever_the_browser_asks(client, db):
    await sign_up(client, locale="en-US", time_zone="Europe/Berlin")
    token = await page_token(client, "/")
    tomorrow_nine = {"X-CSRF-Token": token, "HX-Request": "true"}
    await client.post("/tasks", form={"title": "Call Ada due:tomorrow@9"}, headers=tomorrow_nine)
    for language in ("en-US", "de-DE", "en-GB"):
        board = await client.get("/", headers={"Accept-Language": language})
        html = await board.get_data(as_text=True)
        assert f"Tomorrow, 9:00{NNBSP}AM</time>" in html, language


async def test_anonymous_requests_use_accept_language(app):
    moment = datetime.now(UTC) + timedelta(days=1)
    async with app.test_request_context("/", headers={"Accept-Language": "en-US;q=0.5, de"}):
        g.user = None
        assert local_time(moment.replace(hour=9, minute=0)) == "Tomorrow, 09:00"
    async with app.test_request_context("/", headers={"Accept-Language": "en-US"}):
        g.user = None
        assert local_time(moment.replace(hour=9, minute=0)) == f"Tomorrow, 9:00{NNBSP}AM"
