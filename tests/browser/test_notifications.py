"""Settings → Notifications in Chromium: with permission refused, and with permission given
but no push service reachable (this machine reaches only package registries, so Chromium's own
push service is offline here): each says what happened and what to do, and keeps nothing."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_auth_journey import sign_up, unique_email


def open_page(page: Page) -> None:
    sign_up(page, unique_email())
    page.goto("/account/settings")
    page.get_by_role("link", name="Notifications on your phone and computer").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.get_by_text("No device gets notifications yet.")).to_be_visible()


def test_refused_permission_is_explained(page: Page):
    open_page(page)
    page.get_by_role("button", name="Notify this device").click()
    status = page.locator("#push-status")
    expect(status).to_contain_text("Notifications are blocked for Taskly in this browser")
    expect(page.get_by_role("button", name="Notify this device")).to_be_enabled()
    expect(page.get_by_text("No device gets notifications yet.")).to_be_visible()


def test_an_unreachable_push_service_is_explained(browser: Browser, live_server: str):
    context = browser.new_context(base_url=live_server)
    context.grant_permissions(["notifications"], origin=live_server)
    page = context.new_page()
    open_page(page)
    page.evaluate("navigator.serviceWorker.ready")
    page.get_by_role("button", name="Notify this device").click()
    expect(page.locator("#push-status")).to_contain_text(
        "could not reach its push service", timeout=20_000
    )
    expect(page.get_by_role("button", name="Notify this device")).to_be_enabled()
    expect(page.get_by_text("No device gets notifications yet.")).to_be_visible()
    context.close()
