"""Installing Taskly as an app (issue #12, first slice): the web app manifest, its icons, the
theme colours and the service worker's headers. The browser side is tests/browser/test_pwa.py."""

from __future__ import annotations

import io
import json
import math
import re

from PIL import Image

from taskly.resources import STATIC
from tests.helpers import sign_up


def css_tokens(dark: bool) -> dict[str, str]:
    """static/css/app.css's colour tokens, light (the first :root) or dark."""
    css = (STATIC / "css" / "app.css").read_text()
    start = css.index("@media (prefers-color-scheme: dark)") if dark else css.index(":root {")
    block = css[start : css.index("}", start)]
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-f]{6})", block))


def effective(csp: str, *chain: str) -> str:
    """The first directive of a CSP fallback chain that the policy sets (CSP 3: worker-src
    falls back to child-src, then script-src, then default-src)."""
    directives = {}
    for part in csp.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    for name in chain:
        if name in directives:
            return directives[name]
    raise AssertionError(f"none of {chain} in {csp!r}")


async def decode(client, url: str) -> Image.Image:
    response = await client.get(url)
    assert response.status_code == 200, url
    assert response.mimetype == "image/png", url
    assert "max-age=31536000" in response.headers["Cache-Control"]  # a digest URL, like all
    image = Image.open(io.BytesIO(await response.get_data()))
    assert image.format == "PNG"
    return image


async def test_manifest(client):
    response = await client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/manifest+json"
    assert response.headers["Cache-Control"] == "no-cache"
    manifest = json.loads(await response.get_data(as_text=True))
    assert manifest["name"] == "Taskly"
    assert manifest["short_name"] == "Taskly"
    assert manifest["description"]
    assert (manifest["start_url"], manifest["scope"], manifest["id"]) == ("/", "/", "/")
    assert manifest["display"] == "standalone"
    light = css_tokens(dark=False)
    assert manifest["background_color"] == light["--bg"]
    assert manifest["theme_color"] == light["--surface"]  # the header's colour

    sizes = {}
    for icon in manifest["icons"]:
        image = await decode(client, icon["src"])
        width, height = (int(n) for n in icon["sizes"].split("x"))
        assert image.size == (width, height), icon
        sizes[icon.get("purpose", "any"), width] = image
    assert set(sizes) == {("any", 192), ("any", 512), ("maskable", 512)}

    # Maskable: opaque to the edges, and the tick inside the safe zone (a centred circle of
    # radius 0.4): every pixel outside it is the plain background.
    maskable = sizes["maskable", 512].convert("RGBA")
    background = maskable.getpixel((0, 0))
    assert background[3] == 255
    outside = [
        maskable.getpixel((x, y))
        for x in range(0, 512, 4)
        for y in range(0, 512, 4)
        if math.hypot(x + 0.5 - 256, y + 0.5 - 256) > 0.4 * 512
    ]
    assert set(outside) == {background}
    assert len(maskable.getcolors(512 * 512) or []) > 2  # and the tick is drawn, with smooth edges


async def test_pages_link_the_manifest_icons_and_theme_colours(client):
    for path in ("/login", "/"):  # anonymous, then the board
        if path == "/":
            await sign_up(client)
        html = await (await client.get(path)).get_data(as_text=True)
        assert '<link rel="manifest" href="/manifest.webmanifest">' in html
        assert re.search(r'<script src="/static/js/pwa\.js\?v=\w+" defer>', html)
        touch = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', html)
        assert touch, path
        image = await decode(client, touch[1])
        assert image.size == (180, 180)
        assert image.mode == "RGB"  # iOS shows transparent corners black: none
        themes = dict(
            re.findall(
                r'<meta name="theme-color" media="\(prefers-color-scheme: (\w+)\)"'
                r' content="(#[0-9a-f]{6})">',
                html,
            )
        )
        assert themes == {
            "light": css_tokens(dark=False)["--surface"],
            "dark": css_tokens(dark=True)["--surface"],
        }


async def test_service_worker_is_served_from_the_root(client):
    await sign_up(client)  # the same for anyone: no session is looked up for it
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = await response.get_data(as_text=True)
    assert body == (STATIC / "js" / "sw.js").read_text()
    assert "Set-Cookie" not in response.headers

    again = await client.get("/sw.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == "no-cache"


async def test_csp_allows_the_worker_and_the_manifest_from_this_origin_only(client):
    for path in ("/login", "/sw.js", "/manifest.webmanifest"):
        csp = (await client.get(path)).headers["Content-Security-Policy"]
        worker = effective(csp, "worker-src", "child-src", "script-src", "default-src")
        assert worker.split() == ["'self'"], path
        assert effective(csp, "manifest-src", "default-src").split() == ["'self'"], path
        # The worker's own fetches (caching static files) are same-origin.
        assert effective(csp, "connect-src", "default-src").split() == ["'self'"], path
