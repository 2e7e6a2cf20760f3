"""The profile page: names, time zone and a picture, and every hostile upload the accounts
issue lists (a message beside the field, nothing stored, never a 500)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from tests.helpers import page_token, sign_up
from tests.test_images import picture, png_declaring

AVATAR_URL = re.compile(r'src="(/account/avatar/([0-9a-f]{32})-(64|256)\.webp)"')


async def save_profile(client, picture_bytes: bytes | None = None, name="me.png", **fields):
    form = {
        "csrf_token": await page_token(client, "/account/profile"),
        "first_name": "Ada",
        "last_name": "Lovelace",
        "time_zone": "Europe/London",
        **fields,
    }
    files = {}
    if picture_bytes is not None:
        files["picture"] = FileStorage(io.BytesIO(picture_bytes), filename=name)
    return await client.post("/account/profile", form=form, files=files)


async def test_names_and_time_zone_are_saved_and_shown_in_the_header(client, db):
    await sign_up(client)
    response = await save_profile(client, first_name="Augusta", time_zone="Asia/Tokyo")
    assert response.status_code == 302
    user = await db.fetchrow("SELECT first_name, time_zone FROM users")
    assert tuple(user) == ("Augusta", "Asia/Tokyo")
    header = await (await client.get("/")).get_data(as_text=True)
    assert 'href="/account/profile"' in header and "<span>Augusta</span>" in header
    # No picture yet: initials on a colour of the user's own.
    assert re.search(r'class="avatar avatar--initials avatar--c\d+ avatar--28"[^>]*>AL<', header)


async def test_a_picture_is_stored_in_postgres_and_served_only_to_its_owner(client, app, db):
    await sign_up(client)
    assert (await save_profile(client, picture("PNG"), name="../../x.png")).status_code == 302
    row = await db.fetchrow("SELECT digest, length(large) AS l, length(small) AS s FROM avatars")
    assert row["l"] > 0 and row["s"] > 0
    header = await (await client.get("/")).get_data(as_text=True)
    url, digest, size = AVATAR_URL.search(header).groups()
    assert (digest, size) == (row["digest"], "64")
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(await response.get_data()))
    assert (image.format, image.size) == ("WEBP", (64, 64))
    big = await client.get(url.replace("-64.", "-256."))
    assert Image.open(io.BytesIO(await big.get_data())).size == (256, 256)
    # Another user, or nobody, gets a 404 for the same URL.
    other = app.test_client()
    await sign_up(other, email="bob@example.com")
    assert (await other.get(url)).status_code == 404
    assert (await app.test_client().get(url)).status_code == 302  # to the login page
    # A new picture changes the URL; the old one is gone.
    await save_profile(client, picture("JPEG", color=(20, 200, 20)))
    assert (await client.get(url)).status_code == 404
    # Remove picture: initials again.
    token = await page_token(client, "/account/profile")
    await client.post("/account/profile/picture/delete", form={"csrf_token": token})
    assert await db.fetchval("SELECT count(*) FROM avatars") == 0
    assert (
        await db.fetchval("SELECT avatar_digest FROM users WHERE email = 'ada@example.com'") is None
    )


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"GIF89a\x01\x00\x01\x00<html><script>alert(1)</script>", "cat.png", "PNG, JPEG or WebP"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "me.svg", "PNG, JPEG"),
        (png_declaring(20000, 20000), "bomb.png", "too many pixels"),
        (picture("JPEG", size=(800, 600))[:900], "cut.jpg", "damaged or incomplete"),
    ],
    ids=["gif-html-polyglot", "svg", "decompression-bomb", "truncated-jpeg"],
)
async def test_hostile_uploads_get_a_message_beside_the_field_and_store_nothing(
    client, db, data, name, message
):
    await sign_up(client)
    response = await save_profile(client, data, name=name, first_name="Changed")
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="field-error" id="picture-error">[^<]*{message}', html)
    assert 'value="Changed"' in html  # what was typed stays
    assert await db.fetchval("SELECT count(*) FROM avatars") == 0
    assert await db.fetchval("SELECT first_name FROM users") == "Ada"  # nothing half-saved


async def test_a_17_mb_body_is_not_read_and_gets_the_field_error(client, db):
    await sign_up(client)
    response = await save_profile(client, b"\x89PNG\r\n\x1a\n" + b"\x00" * (17 * 1024 * 1024))
    html = await response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than 2 MB" in html and 'id="picture-error"' in html
    assert await db.fetchval("SELECT count(*) FROM avatars") == 0


async def test_an_animated_webp_is_stored_as_its_first_frame(client, db):
    await sign_up(client)
    frames = [Image.new("RGB", (80, 80), c) for c in ((220, 20, 20), (20, 20, 220))]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], loop=0)
    assert (await save_profile(client, out.getvalue(), name="anim.webp")).status_code == 302
    large = await db.fetchval("SELECT large FROM avatars")
    stored = Image.open(io.BytesIO(large))
    assert getattr(stored, "n_frames", 1) == 1
    assert stored.convert("RGB").getpixel((128, 128))[0] > 150


async def test_bad_names_and_zone_are_errors_beside_their_fields(client, db):
    await sign_up(client)
    response = await save_profile(
        client, picture("PNG"), first_name="", last_name="x" * 101, time_zone="Mars/Olympus"
    )
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("first_name", "last_name", "time_zone"):
        assert f'id="{field}-error"' in html
    assert await db.fetchval("SELECT count(*) FROM avatars") == 0
