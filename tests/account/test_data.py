"""Export (JSON and CSV, streamed a page at a time) and import (CSV with a preview, then all
valid rows in one transaction): the round trip, the 50,000-row file, Todoist's columns, and
every hostile file the accounts issue lists."""

from __future__ import annotations

import csv
import io
import json
import re

from werkzeug.datastructures import FileStorage

from taskly.account.csvfile import COLUMNS
from tests.helpers import page_token, sign_up

IMPORT_ID = re.compile(r'action="/account/import/([0-9a-f-]{36})"')


async def upload(client, content: bytes, name: str = "tasks.csv"):
    token = await page_token(client, "/account/data")
    return await client.post(
        "/account/import",
        form={"csrf_token": token},
        files={"file": FileStorage(io.BytesIO(content), filename=name)},
    )


async def import_file(client, content: bytes) -> tuple[int, str]:
    preview = await upload(client, content)
    html = await preview.get_data(as_text=True)
    assert preview.status_code == 200, html
    token = await page_token(client, "/account/data")
    done = await client.post(
        f"/account/import/{IMPORT_ID.search(html)[1]}", form={"csrf_token": token}
    )
    return done.status_code, html


async def seed(db, user_email: str = "ada@example.com") -> int:
    user_id = await db.fetchval("SELECT id FROM users WHERE email = $1", user_email)
    rows = [
        ("Pay rent", "Bank transfer\nbefore the 3rd", "todo", 1, "2026-12-24T09:00+01:00", False),
        ("=SUM(A1:A9)", "", "doing", None, None, False),
        ("-5 kg by spring", "@home +motivation", "done", 3, "2026-12-31", True),
        ("Ünïcode ✓ 日本語", "", "todo", 2, None, False),
    ]
    for i, (title, notes, status, priority, due, all_day) in enumerate(rows):
        await db.execute(
            "INSERT INTO tasks (user_id, title, notes, status, priority, due_at, due_all_day,"
            " position, completed_at) VALUES ($1, $2, $3, $4, $5, $6::text::timestamptz, $7, $8,"
            " CASE WHEN $4 = 'done' THEN now() END)",
            user_id,
            title,
            notes,
            status,
            priority,
            None if due is None else (due if "T" in due else f"{due}T23:59+01:00"),
            all_day,
            i,
        )
    await db.execute(
        "INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at)"
        " SELECT user_id, id, 'at', now() + interval '1 day', now() + interval '1 day'"
        " FROM tasks WHERE title = 'Pay rent'"
    )
    return user_id


async def test_the_json_export_has_everything_and_no_secrets(client, db):
    await sign_up(client, time_zone="Europe/Berlin")
    await seed(db)
    response = await client.get("/account/export.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert "attachment" in response.headers["Content-Disposition"]
    raw = await response.get_data(as_text=True)
    data = json.loads(raw)
    assert data["profile"]["email"] == "ada@example.com"
    assert (data["profile"]["time_zone"], data["profile"]["locale"]) == ("Europe/Berlin", "en-GB")
    assert data["settings"] == {
        "reminders_enabled": True,
        "remind_by_email": True,
        "remind_all_devices": False,
    }
    assert data["tasks"][0]["title"] == "Pay rent"
    reminder = data["tasks"][0]["reminders"][0]
    assert reminder["kind"] == "at"
    assert (reminder["by_email"], reminder["all_devices"]) == (True, False)
    assert (reminder["devices"], reminder["services"]) == ([], [])
    for secret in ("password", "token", "hash", "argon2", "claimed_by"):
        assert secret not in raw


async def test_the_export_says_where_each_reminder_goes_without_the_secret_urls(client, db):
    await sign_up(client)
    user_id = await seed(db)
    phone = await db.fetchval(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)"
        " VALUES ($1, 'https://push.example/send/abc', $2, $3, $4) RETURNING id",
        user_id,
        "B" * 87,
        "a" * 22,
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile",
    )
    service = await db.fetchval(
        "INSERT INTO notify_services (user_id, label, scheme, url_sealed, masked)"
        " VALUES ($1, 'Team chat', 'ntfys', 'sealed-bytes', 'ntfys://ntfy.sh/…') RETURNING id",
        user_id,
    )
    reminder = await db.fetchval("SELECT id FROM reminders")
    await db.execute(
        "UPDATE reminders SET by_email = false, all_devices = true WHERE id = $1", reminder
    )
    await db.execute(
        "INSERT INTO reminder_targets (reminder_id, push_subscription_id) VALUES ($1, $2)",
        reminder,
        phone,
    )
    await db.execute(
        "INSERT INTO reminder_targets (reminder_id, notify_service_id) VALUES ($1, $2)",
        reminder,
        service,
    )
    raw = await (await client.get("/account/export.json")).get_data(as_text=True)
    exported = json.loads(raw)["tasks"][0]["reminders"][0]
    assert (exported["by_email"], exported["all_devices"]) == (False, True)
    assert exported["devices"] == ["Chrome on Android"]
    assert exported["services"] == ["Team chat"]
    for secret in ("push.example", "sealed", "ntfy.sh", "p256dh", "BBBB"):
        assert secret not in raw


async def test_the_export_is_read_a_page_at_a_time(client, db):
    await sign_up(client)
    user_id = await db.fetchval("SELECT id FROM users")
    await db.execute(
        "INSERT INTO tasks (user_id, title, position) SELECT $1, 'Task ' || g, g"
        " FROM generate_series(1, 2500) g",
        user_id,
    )
    body = await (await client.get("/account/export.csv")).get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert lines[0] == list(COLUMNS) and len(lines) == 2501
    assert [line[0] for line in lines[1:]] == [f"Task {g}" for g in range(1, 2501)]


async def test_exported_cells_cannot_run_in_a_spreadsheet(client, db):
    await sign_up(client)
    await seed(db)
    body = await (await client.get("/account/export.csv")).get_data(as_text=True)
    rows = {row[0]: row for row in csv.reader(io.StringIO(body.lstrip("\ufeff")))}
    assert "'=SUM(A1:A9)" in rows and "'-5 kg by spring" in rows
    assert rows["'-5 kg by spring"][1] == "'@home +motivation"
    for row in rows.values():
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


async def test_export_then_import_gives_the_same_tasks(client, app, db):
    """A backup restored into a new account on the same clock: the same tasks. (All-day due
    dates are local dates, so on another clock they fall on the same date there.)"""
    await sign_up(client, time_zone="Europe/Berlin")
    await seed(db)
    exported = await (await client.get("/account/export.csv")).get_data()
    other = app.test_client()
    await sign_up(other, email="bob@example.com", time_zone="Europe/Berlin")
    status, _ = await import_file(other, exported)
    assert status == 302
    query = (
        "SELECT title, notes, status, priority, due_at, due_all_day FROM tasks t"
        " JOIN users u ON u.id = t.user_id WHERE u.email = $1 ORDER BY t.position"
    )
    mine = [tuple(r) for r in await db.fetch(query, "ada@example.com")]
    theirs = [tuple(r) for r in await db.fetch(query, "bob@example.com")]
    assert theirs == mine


async def test_preview_writes_nothing_and_shows_row_errors(client, db):
    await sign_up(client)
    content = (
        b"title,status,priority,due\n"
        b"Good one,todo,high,2026-12-24\n"
        b",todo,,\n"
        b"=cmd|' /C calc'!A0,todo,,\n"
        b"Bad status,maybe,,\n"
        b"Bad date,todo,,next week\n"
        b"Another good,done,low,\n"
    )
    response = await upload(client, content)
    html = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 tasks</strong> can be imported" in html and "4 rows have errors" in html
    for line, words in ((3, "empty"), (4, "spreadsheet formula"), (5, "maybe"), (6, "next week")):
        assert re.search(rf"Line {line}: [^<]*{words}", html), (line, html)
    assert await db.fetchval("SELECT count(*) FROM tasks") == 0
    token = await page_token(client, "/account/data")
    await client.post(f"/account/import/{IMPORT_ID.search(html)[1]}", form={"csrf_token": token})
    assert sorted(r["title"] for r in await db.fetch("SELECT title FROM tasks")) == [
        "Another good",
        "Good one",
    ]


async def test_a_50000_row_file_imports_in_one_go(client, db):
    await sign_up(client)
    lines = ["title,notes,status,priority,due"] + [
        f"Task {i},note {i},{('todo', 'doing', 'done')[i % 3]},{('high', '', 'low')[i % 3]},"
        for i in range(50_000)
    ]
    content = "\n".join(lines).encode()
    assert len(content) < 5 * 1024 * 1024
    status, html = await import_file(client, content)
    assert status == 302 and "50,000 tasks</strong> can be imported" in html
    assert await db.fetchval("SELECT count(*) FROM tasks") == 50_000
    counts = await db.fetchrow("SELECT todo, doing, done FROM task_counts")
    assert tuple(counts) == (16_667, 16_667, 16_666)


async def test_todoist_exports_map_their_columns(client, db):
    await sign_up(client, time_zone="Europe/Berlin")
    content = (
        b"TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\n"
        b"section,Errands,,,,,,,,\n"
        b"task,Buy milk,2 litres,4,1,Ada (1),,2026-12-24,en,Europe/Berlin\n"
        b"task,Water plants,,1,1,Ada (1),,every day,en,Europe/Berlin\n"
        b"note,Remember the cat,,,,,,,,\n"
    )
    status, html = await import_file(client, content)
    assert status == 302 and "Todoist file" in html and "2 rows are not tasks" in html
    rows = {r["title"]: r for r in await db.fetch("SELECT * FROM tasks")}
    assert rows["Buy milk"]["priority"] == 1 and rows["Buy milk"]["notes"] == "2 litres"
    assert rows["Buy milk"]["due_all_day"] is True
    assert rows["Water plants"]["due_at"] is None
    assert rows["Water plants"]["notes"] == "Todoist date: every day"


async def test_hostile_files_are_refused_with_a_clear_message(client, db):
    await sign_up(client)
    cases = [
        ("Grüße,x\n".encode("latin-1"), "not UTF-8"),
        (b"title,notes\nhello\x00world,x\n", "NUL bytes"),
        ((",".join(f"c{i}" for i in range(10_000)) + "\nx\n").encode(), "10000 columns"),
        (b"", "empty"),
        (b"name,when\nx,y\n", "must name the columns"),
        (b'title\n"' + b"x" * 50_000 + b'"\n', "not valid CSV"),
    ]
    for content, message in cases:
        response = await upload(client, content)
        html = await response.get_data(as_text=True)
        assert response.status_code == 422, message
        assert re.search(rf'id="file-error">[^<]*{message}', html), message
    too_big = await upload(client, b"title\n" + b"x,\n" * (6 * 1024 * 1024 // 3))
    assert too_big.status_code == 413
    assert "larger than 5 MB" in await too_big.get_data(as_text=True)
    assert await db.fetchval("SELECT count(*) FROM pending_imports") == 0
    assert await db.fetchval("SELECT count(*) FROM tasks") == 0


async def test_a_pending_import_is_its_owners_only_and_imports_once(client, app, db):
    await sign_up(client)
    html = await (await upload(client, b"title\nOnly once\n")).get_data(as_text=True)
    import_id = IMPORT_ID.search(html)[1]
    bob = app.test_client()
    await sign_up(bob, email="bob@example.com")
    token = await page_token(bob, "/account/data")
    stolen = await bob.post(f"/account/import/{import_id}", form={"csrf_token": token})
    assert stolen.status_code == 404
    token = await page_token(client, "/account/data")
    assert (
        await client.post(f"/account/import/{import_id}", form={"csrf_token": token})
    ).status_code == 302
    again = await client.post(f"/account/import/{import_id}", form={"csrf_token": token})
    assert again.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM tasks") == 1


async def test_far_dates_nuls_and_repeated_uploads_are_handled(client, db):
    """Year 9999 once imported and then broke the board east of UTC; a NUL in the file name
    was a 500; every upload left a 5 MB pending row behind."""
    await sign_up(client, time_zone="America/New_York")
    far = await upload(
        client,
        b"title,due,status,completed\nx,9999-12-31,todo,\ny,2026-01-01,done,0001-01-01T00:00\n",
    )
    html = await far.get_data(as_text=True)
    assert far.status_code == 200
    assert re.search(r"Line 2: Due [^ ]*9999-12-31[^ ]* is not a date from 2000 to 2200", html)
    token = await page_token(client, "/account/data")
    named = await client.post(
        "/account/import",
        form={"csrf_token": token},
        files={"file": FileStorage(io.BytesIO(b"title\nok\n"), filename="a\x00b.csv")},
    )
    assert named.status_code == 200 and "ab.csv" in await named.get_data(as_text=True)
    for _ in range(3):
        await upload(client, b"title\nagain\n")
    assert await db.fetchval("SELECT count(*) FROM pending_imports") == 1


def test_formulas_are_caught_with_leading_spaces_and_plain_text_is_not():
    from taskly.account.csvfile import csv_lines

    line = csv_lines([[" =HYPERLINK(1)", "-5 kg (about)", "- call Mum (urgent)", "@home"]])
    assert line == "' =HYPERLINK(1),'-5 kg (about),'- call Mum (urgent),'@home\r\n"
