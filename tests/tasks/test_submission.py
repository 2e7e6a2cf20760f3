"""Creating a task is idempotent per form submission (Hardening #6): a create whose answer
was lost (a 503 after the row was written, a dropped connection) is sent again by the user,
and a double click or Back-and-resubmit sends the same form twice. Each makes one task."""

from __future__ import annotations

import re

from tests.helpers import page_token, sign_up

_SUBMISSION = re.compile(r'name="submission" value="([0-9a-f-]{36})"')


async def test_the_same_submission_twice_makes_one_task(client, db):
    await sign_up(client)
    page = await (await client.get("/")).get_data(as_text=True)
    submission = _SUBMISSION.search(page)[1]
    headers = {"X-CSRF-Token": await page_token(client, "/"), "HX-Request": "true"}
    form = {"title": "Pay rent", "submission": submission}
    first = await client.post("/tasks", form=form, headers=headers)
    again = await client.post("/tasks", form=form, headers=headers)
    assert first.status_code == again.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM tasks") == 1
    task_id = await db.fetchval("SELECT id FROM tasks")
    for response in (first, again):
        html = await response.get_data(as_text=True)
        assert f'id="task-{task_id}"' in html
        # The form gets a fresh id for the next task, out of band.
        fresh = _SUBMISSION.search(html)[1]
        assert fresh != submission
    # A new submission id makes a new task, even with the same title.
    form["submission"] = fresh
    await client.post("/tasks", form=form, headers=headers)
    assert await db.fetchval("SELECT count(*) FROM tasks") == 2


async def test_without_javascript_a_resubmitted_form_makes_one_task(client, db):
    await sign_up(client)
    page = await (await client.get("/")).get_data(as_text=True)
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)[1],
        "title": "Back and resubmit",
        "submission": _SUBMISSION.search(page)[1],
    }
    for _ in range(2):
        assert (await client.post("/tasks", form=form)).status_code == 302
    assert await db.fetchval("SELECT count(*) FROM tasks") == 1
    reloaded = await (await client.get("/")).get_data(as_text=True)
    assert _SUBMISSION.search(reloaded)[1] != form["submission"]


async def test_a_missing_or_malformed_submission_id_still_creates(client, db):
    await sign_up(client)
    headers = {"X-CSRF-Token": await page_token(client, "/"), "HX-Request": "true"}
    for value in (None, "", "not-a-uuid", "x" * 5000):
        form = {"title": "Old page"} | ({} if value is None else {"submission": value})
        assert (await client.post("/tasks", form=form, headers=headers)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM tasks") == 4


async def test_quick_add_preview_says_what_will_be_added(client):
    await sign_up(client, time_zone="Europe/Berlin")
    headers = {"HX-Request": "true"}
    answer = await client.get(
        "/tasks/preview", query_string={"title": "Pay rent !high due:2026-12-24@9"}, headers=headers
    )
    html = await answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Pay rent · Due Thu 24 Dec, 09:00 · High" in " ".join(html.split())
    plain = await client.get("/tasks/preview", query_string={"title": "just words"})
    assert "Due" not in await plain.get_data(as_text=True)  # nothing to explain: empty
    page = await (await client.get("/")).get_data(as_text=True)
    assert 'data-preview="/tasks/preview"' in page and 'id="quick-add-preview"' in page
    # After a create the preview is cleared out of band.
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page)[1]
    created = await client.post(
        "/tasks", form={"title": "x !high"}, headers={**headers, "X-CSRF-Token": token}
    )
    assert '<p id="quick-add-preview" hx-swap-oob="innerHTML"></p>' in (
        await created.get_data(as_text=True)
    )
