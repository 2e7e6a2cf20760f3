"""Installing Taskly as an app, in Chromium (issue #12, first slice): the manifest and the
service worker register, Chromium finds nothing that stops installing, the worker answers
versioned static files from its cache and never a page, and Back after logout shows nothing
private."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Playwright, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_auth_journey import sign_up, unique_email

CACHE = "taskly-static-v1"  # static/js/sw.js
CACHED_URLS = f"caches.open('{CACHE}').then(c => c.keys()).then(k => k.map(r => r.url))"


@pytest.fixture
def profile_page(playwright: Playwright, live_server: str, tmp_path: Path) -> Iterator[Page]:
    """Like conftest's `page` (console errors fail the test), in a browser with a profile on
    disk. conftest's contexts are Playwright's usual ones, which Chromium opens off the record,
    and an incognito window can never install an app: there Page.getInstallabilityErrors
    answers exactly one error, `in-incognito`. A persistent profile is an ordinary window, so
    the check below can ask for no errors at all, headless or not."""
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile",
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        base_url=live_server,
        viewport={"width": 1280, "height": 900},
        locale="en-US",
    )
    context.set_default_timeout(10_000)
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.text} @ {page.url}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def test_installable_and_only_static_files_are_cached(profile_page: Page, live_server: str):
    page = profile_page
    sign_up(page, unique_email())
    expect(page.get_by_label("New task")).to_be_visible()
    worker = page.evaluate(
        "async () => { const r = await navigator.serviceWorker.ready;"
        " return [r.scope, r.active.scriptURL, r.active.state]; }"
    )
    assert worker == [f"{live_server}/", f"{live_server}/sw.js", "activated"]  # the whole site

    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"] == f"{live_server}/manifest.webmanifest"
    assert manifest["errors"] == []
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []

    # The board's own files were loaded before the worker controlled the page; pwa.js handed
    # their URLs over, so they are cached already (the worker stores them in the background).
    stylesheet = page.locator('link[rel="stylesheet"]').evaluate("link => link.href")
    assert "/static/css/app.css?v=" in stylesheet
    page.wait_for_function(f"{CACHED_URLS}.then(urls => urls.includes({stylesheet!r}))")

    # The second load: static files come from the worker's cache, the page from the server.
    sources: dict[str, Any] = {}
    cdp.on(
        "Network.responseReceived",
        lambda event: sources.setdefault(
            event["response"]["url"],
            (
                event["response"].get("fromServiceWorker"),
                event["response"].get("serviceWorkerResponseSource"),
                event["response"].get("serviceWorkerRouterInfo"),
            ),
        ),
    )
    cdp.send("Network.enable")
    page.reload()
    expect(page.get_by_label("New task")).to_be_visible()
    assert page.evaluate("Boolean(navigator.serviceWorker.controller)")
    assert sources[stylesheet][:2] == (True, "cache-storage")
    from_worker, _, route = sources[f"{live_server}/"]
    assert from_worker is False  # the board: straight from the network
    # Chromium's static routing API sent it there without even starting the worker.
    assert route["matchedSourceType"] == "network"

    # Nothing but versioned static files is ever stored, whatever was opened.
    page.goto("/settings")
    page.goto("/")
    cached = page.evaluate(CACHED_URLS)
    assert stylesheet in cached
    for url in cached:
        assert url.startswith(f"{live_server}/static/"), url
        assert "?v=" in url, url
    assert page.evaluate("caches.keys()") == [CACHE]

    # Back after logout shows no private page: the worker does not answer pages.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url("/login")
    page.go_back()
    expect(page).to_have_url("/login?next=/")
    expect(page.get_by_label("New task")).to_have_count(0)
    page.go_back()
    expect(page.get_by_label("New task")).to_have_count(0)
    for url in page.evaluate(CACHED_URLS):
        assert url.startswith(f"{live_server}/static/"), url
