"""Settings → Notifications → Other services in Chromium, with a real Apprise receiver on
127.0.0.1 (the browser tests' server allows private targets): add a service, see it masked,
send it a test, remove it; with JavaScript (boosted forms, toasts) and without."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_auth_journey import sign_up, unique_email
from tests.support.apprise_receiver import (  # noqa: F401
    AppriseReceiver,
    apprise_receiver_fixture,
)

SECRET = "topic-d41d8cd9"


def open_services(page: Page) -> None:
    sign_up(page, unique_email())
    page.goto("/account/notifications")
    expect(page.get_by_role("heading", name="Other services")).to_be_visible()
    expect(page.get_by_text("No other service gets notifications yet.")).to_be_visible()


def add_test_remove(page: Page, receiver: AppriseReceiver, shots: str | None = None) -> None:
    page.get_by_label("Name").fill("Phone (ntfy)")
    page.get_by_label("Apprise address").fill(receiver.url("ntfy", SECRET))
    page.get_by_role("button", name="Add service").click()
    services = page.get_by_role("list", name="Other services that get notifications")
    expect(services).to_contain_text("Phone (ntfy)")
    expect(services).to_contain_text(f"ntfy://127.0.0.1:{receiver.port}/top…")
    expect(page.get_by_label("Apprise address")).to_have_value("")
    assert SECRET not in page.content()

    page.get_by_role("button", name="Send a test to Phone (ntfy)").click()
    expect(page.locator("#toasts")).to_contain_text("Sent. The message should arrive")
    expect(services).to_contain_text("last delivered")
    (message,) = receiver.received
    assert message.body["topic"] == SECRET and message.body["title"] == "Taskly"
    if shots:
        take_shots(page, shots)
    page.get_by_role("button", name="Remove Phone (ntfy)").click()
    expect(page.get_by_text("No other service gets notifications yet.")).to_be_visible()
    assert len(receiver.received) == 1


def take_shots(page: Page, name: str) -> None:
    """The section at 1280x800 and 390x844 (touch), light and dark, in a context of its own
    with the same session (the page under test keeps its viewport)."""
    assert page.context.browser is not None
    for size, (width, height), touch in (
        ("desktop", (1280, 800), False),
        ("phone", (390, 844), True),
    ):
        for scheme in ("light", "dark"):
            context = page.context.browser.new_context(
                base_url=page.url.split("/account")[0],
                storage_state=page.context.storage_state(),
                viewport={"width": width, "height": height},
                has_touch=touch,
                is_mobile=touch,
                color_scheme=scheme,
            )
            shot = context.new_page()
            shot.goto("/account/notifications#services")
            shot.locator("#services").scroll_into_view_if_needed()
            screenshot(shot, f"{name}-{size}-{scheme}")
            context.close()


def test_a_service_is_added_tested_and_removed(page: Page, apprise_receiver: AppriseReceiver):
    open_services(page)
    page.get_by_label("Name").fill("Mine")
    page.get_by_label("Apprise address").fill("json://169.254.169.254/latest")
    page.get_by_role("button", name="Add service").click()
    expect(page.locator("#service-url-error")).to_contain_text("cloud metadata")
    expect(page.get_by_label("Apprise address")).to_have_attribute("aria-invalid", "true")
    add_test_remove(page, apprise_receiver, shots="services")


def test_it_works_without_javascript(
    browser: Browser, live_server: str, apprise_receiver: AppriseReceiver
):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    open_services(page)
    add_test_remove(page, apprise_receiver)
    context.close()
