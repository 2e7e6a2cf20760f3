"""Shared plumbing: security headers, caching, error pages and fragments, health, request logs."""

from __future__ import annotations

import hashlib
import json
import logging
import re

from quart import abort

from taskly import create_app
from taskly.db import POOL_KEY
from taskly.logs import JsonFormatter
from taskly.resources import STATIC
from tests.helpers import sign_up

SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
)


def assert_secure(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_security_headers_on_pages_fragments_errors_and_static(client):
    await sign_up(client)
    for path, headers in (
        ("/", {}),
        ("/login", {}),
        ("/nowhere", {"HX-Request": "true"}),
        ("/nowhere", {}),
        ("/static/css/app.css", {}),
        ("/healthz", {}),
    ):
        response = await client.get(path, headers=headers)
        assert_secure(response)
        assert "Strict-Transport-Security" not in response.headers  # not in development/test


async def test_security_headers_go_out_once_each_and_a_views_own_defaults_stay(settings):
    app = create_app(settings)

    @app.route("/own-headers")
    async def own_headers() -> tuple[str, int, dict[str, str]]:
        mine = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "off"}
        mine |= {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "max-age=60"}
        return "own", 200, mine | {"X-Request-ID": "forged-by-view"}

    async with app.test_app() as test_app:
        client = test_app.test_client()
        for path in ("/own-headers", "/login"):
            response = await client.get(path, headers={"X-Request-ID": "req-1"})
            for name in (*SECURITY_HEADERS, "Cross-Origin-Opener-Policy", "Permissions-Policy"):
                assert len(response.headers.getlist(name)) == 1, (path, name)
            assert len(response.headers.getlist("Cache-Control")) == 1
            assert response.headers.getlist("X-Request-ID") == ["req-1"]
            # Forced whatever the view said; defaults a view may narrow.
            assert response.headers["Referrer-Policy"] == "same-origin"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"  # /login: the default
        own = await client.get("/own-headers")
        assert own.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert own.headers["Cache-Control"] == "max-age=60"


async def test_hsts_in_production(make_app):
    app = await make_app(
        env="production", base_url="https://tasks.example", scheduler_enabled=False
    )
    response = await app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")


async def test_private_pages_are_never_stored(client):
    await sign_up(client)
    page = await client.get("/")
    assert page.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in page.headers["Vary"]
    static = await client.get("/static/css/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")


async def test_static_urls_carry_a_content_digest_and_are_cached_long(client):
    html = await (await client.get("/login")).get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    # favicon, apple-touch-icon, stylesheet, htmx, app.js, board.js, keys.js, dates.js, pwa.js
    assert len(urls) == 9
    for url in urls:
        path, _, query = url.partition("?")
        digest = hashlib.sha256((STATIC / path.removeprefix("/static/")).read_bytes())
        assert query == f"v={digest.hexdigest()[:12]}", url
        response = await client.get(url)
        assert response.status_code == 200
        assert "max-age=31536000" in response.headers["Cache-Control"]


async def test_htmx_history_cache_is_disabled(client):
    html = await (await client.get("/login")).get_data(as_text=True)
    assert '"historyCacheSize":0' in html
    assert '"allowEval":false' in html
    assert "<script>" not in html and " on" + "click=" not in html  # no inline script


async def test_not_found_page_and_fragment(client):
    page = await client.get("/no/such/page")
    html = await page.get_data(as_text=True)
    assert page.status_code == 404
    assert "Page not found" in html and "<html" in html
    fragment = await client.get("/no/such/page", headers={"HX-Request": "true"})
    body = await fragment.get_data(as_text=True)
    assert fragment.status_code == 404
    assert "<html" not in body and 'class="toast toast--error"' in body
    assert fragment.headers["HX-Retarget"] == "#toasts"


async def test_method_not_allowed_is_a_friendly_page(client):
    response = await client.open("/healthz", method="DELETE")
    assert response.status_code in (403, 405)
    response = await client.open("/logout", method="GET")
    assert response.status_code == 405
    assert "Method not allowed" in await response.get_data(as_text=True)


async def test_oversize_body_is_rejected(client, db):
    response = await client.post(
        "/signup",
        data="x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "too large" in (await response.get_data(as_text=True)).lower()
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_unexpected_error_is_a_500_page_without_a_trace(settings, caplog):
    app = create_app(settings)

    @app.route("/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals")

    @app.route("/teapot")
    async def teapot() -> str:
        abort(400, "Custom explanation.")
        return ""

    async with app.test_app() as test_app:
        client = test_app.test_client()
        response = await client.get("/boom")
        html = await response.get_data(as_text=True)
        assert response.status_code == 500
        assert "Something went wrong" in html
        assert "secret internals" not in html and "Traceback" not in html
        assert "secret internals" in caplog.text  # logged for the operator
        bad = await client.get("/teapot")
        assert bad.status_code == 400
        assert "Custom explanation." in await bad.get_data(as_text=True)


async def test_health_and_readiness(app, client):
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert (await ready.get_json())["database"] == "ok"
    await app.extensions[POOL_KEY].close()  # the database goes away
    down = await client.get("/readyz")
    assert down.status_code == 503
    assert (await client.get("/healthz")).status_code == 200


async def test_a_dead_database_is_a_503_page_not_a_hang(app, client):
    await sign_up(client)
    await app.extensions[POOL_KEY].close()
    response = await client.get("/")
    assert response.status_code == 503
    assert "database is not answering" in await response.get_data(as_text=True)


async def test_one_log_line_per_request_with_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="taskly.request")
    response = await client.get("/login", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    records = [r for r in caplog.records if r.name == "taskly.request"]
    assert len(records) == 1
    record = records[0]
    assert (record.method, record.path, record.status) == ("GET", "/login", 200)
    assert record.request_id == "abc-123"
    assert record.duration_ms >= 0
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/login" and line["status"] == 200 and line["request_id"] == "abc-123"
    text = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert re.fullmatch(r"INFO taskly.request: GET /login 200 [\d.]+ms abc-123", text)
    forged = await client.get("/login", headers={"X-Request-ID": "<script>" + "x" * 100})
    assert len(forged.headers["X-Request-ID"]) == 32  # replaced by a fresh id


async def test_production_cookies_are_host_prefixed_secure_httponly_lax(make_app):
    app = await make_app(env="production", base_url="https://localhost", scheduler_enabled=False)
    client = app.test_client()
    response = await sign_up(client)
    cookies = response.headers.get_all("Set-Cookie")
    auth = next(c for c in cookies if c.startswith("__Host-taskly_auth="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in auth
    assert "Domain=" not in auth


async def test_hostile_input_is_a_4xx_never_a_500(client, db):
    await sign_up(client)
    token_page = await (await client.get("/")).get_data(as_text=True)
    import re

    token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', token_page)[1]
    headers = {"X-CSRF-Token": token}
    nul = await client.post("/tasks", form={"title": "bad\x00title"}, headers=headers)
    assert nul.status_code == 400
    assert (await client.get("/?q=a%00b")).status_code == 400
    huge = await client.get("/tasks/99999999999999999999")
    assert huge.status_code == 404
    await client.post("/tasks", form={"title": "ok"}, headers=headers)
    task_id = await db.fetchval("SELECT id FROM tasks")
    big_version = await client.post(
        f"/tasks/{task_id}", form={"title": "x", "version": "9" * 30}, headers=headers
    )
    assert big_version.status_code == 400
    far = await client.post("/tasks", form={"title": "far due:9999-12-31"}, headers=headers)
    assert far.status_code == 302  # created (no HX-Request: redirect), the far date left as text
    assert await db.fetchval("SELECT due_at FROM tasks WHERE title = 'far due:9999-12-31'") is None
    odd = await client.post(
        f"/tasks/{task_id}/reminders",
        form={"lead": "²", "repeat": "daily", "repeat_day": "²"},
        headers=headers,
    )
    assert odd.status_code == 422
