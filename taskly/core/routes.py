"""Health checks for the platform (liveness and readiness), and what makes Taskly installable
as an app: the web app manifest and the service worker, both from the site root."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Blueprint, send_file
from quart.typing import ResponseReturnValue

from taskly.db import connection, queries
from taskly.resources import STATIC
from taskly.templating import asset

blueprint = Blueprint("core", __name__)

# static/css/app.css's light tokens: --bg behind the splash screen, --surface (the header) for
# the title bar. templates/base.html's theme-color tags give the dark one.
BACKGROUND_COLOR = "#f5f6f8"
THEME_COLOR = "#ffffff"


@blueprint.route("/healthz")
async def healthz() -> ResponseReturnValue:
    """The process is alive and serving; says nothing about the database."""
    return {"status": "ok"}


@blueprint.route("/readyz")
async def readyz() -> ResponseReturnValue:
    """The database answers; a load balancer should send traffic only while this is 200."""
    try:
        async with connection() as conn:
            await asyncio.wait_for(queries.ping(conn), timeout=2)
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        return {"status": "unavailable", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}


@blueprint.route("/manifest.webmanifest")
async def manifest() -> ResponseReturnValue:
    """The web app manifest. Icon URLs carry their content digest, like every static file."""
    icons: list[dict[str, Any]] = [
        {"src": asset("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": asset("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": asset("icons/maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    body = {
        "id": "/",
        "name": "Taskly",
        "short_name": "Taskly",
        "description": "Your tasks, on your server: a fast, keyboard-driven task manager"
        " with reminders.",
        "lang": "en",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": BACKGROUND_COLOR,
        "theme_color": THEME_COLOR,
        "icons": icons,
    }
    headers = {"Content-Type": "application/manifest+json", "Cache-Control": "no-cache"}
    return json.dumps(body), 200, headers


@blueprint.route("/sw.js")
async def service_worker() -> ResponseReturnValue:
    """static/js/sw.js from the root, so its scope is the whole site. Revalidated on every
    update check (no-cache), so a deploy's new worker is found at once."""
    response = await send_file(
        STATIC / "js" / "sw.js", mimetype="text/javascript", conditional=True
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
