"""Text responses go compressed to browsers that accept it (brotli, else gzip); small ones,
pictures and streamed downloads do not."""

from __future__ import annotations

import gzip
import re

import brotli

from tests.helpers import sign_up


async def test_pages_are_compressed_for_browsers_that_accept_it(client, db):
    await sign_up(client)
    user_id = await db.fetchval("SELECT id FROM users")
    await db.execute(
        "INSERT INTO tasks (user_id, title, position) SELECT $1, 'Task ' || g, g"
        " FROM generate_series(1, 200) g",
        user_id,
    )
    await client.get("/")  # the welcome toast, shown once
    plain = await (await client.get("/")).get_data()
    br = await client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in br.headers["Vary"] and "HX-Request" in br.headers["Vary"]
    packed = await br.get_data()
    unpacked = brotli.decompress(packed)
    # Same page (the CSRF token and request id aside), a fraction of the bytes.
    assert len(unpacked) == len(plain) and len(packed) * 5 < len(plain)
    gz = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert len(gzip.decompress(await gz.get_data())) == len(plain)
    none = await client.get("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in none.headers


async def test_small_answers_and_downloads_are_left_alone(client):
    await sign_up(client)
    export = await client.get("/account/export.csv", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in export.headers  # streamed a page at a time, as it is
    health = await client.get("/healthz", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in health.headers  # a few bytes


async def test_static_files_are_compressed_once_per_version(client):
    html = await (await client.get("/login")).get_data(as_text=True)
    script = next(u for u in re.findall(r'src="(/static/[^"]+)"', html) if "htmx" in u)
    plain = await (await client.get(script)).get_data()
    br = await client.get(script, headers={"Accept-Encoding": "br"})
    assert br.headers["Content-Encoding"] == "br" and "Accept-Encoding" in br.headers["Vary"]
    assert brotli.decompress(await br.get_data()) == plain
    assert len(await br.get_data()) * 3 < len(plain)
    assert br.headers["ETag"].endswith('-br"') or br.headers["ETag"].endswith("-br")
    gz = await client.get(script, headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(await gz.get_data()) == plain
    # A range request, and pictures, are left as they are.
    part = await client.get(script, headers={"Accept-Encoding": "br", "Range": "bytes=0-9"})
    assert "Content-Encoding" not in part.headers
    icon = await client.get("/static/favicon.svg", headers={"Accept-Encoding": "br"})
    assert icon.status_code == 200
