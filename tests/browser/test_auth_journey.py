"""The account journey in Chromium, keyboard only: sign up, log out, Back shows nothing private,
log in, change password. Plus an axe-core scan of the login and signup pages."""

from __future__ import annotations

import secrets

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot

PASSWORD = "correct horse battery staple"


def unique_email() -> str:
    return f"grace.{secrets.token_hex(4)}@example.com"


def type_into(page: Page, label: str, text: str) -> None:
    """Tab to the field, as a keyboard user would, and type."""
    field = page.get_by_label(label, exact=True)
    for _ in range(30):
        if field.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError(f"could not reach {label!r} with Tab")
    page.keyboard.type(text)


def open_verification_link(page: Page) -> None:
    # Signing up hashes the password (argon2id) before this page: as slow as a login.
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible(timeout=15_000)
    page.get_by_role("link", name="Open the development mailbox").click()
    mail = page.locator("article", has_text="Confirm your email address for Taskly").first
    for _ in range(40):  # the engine sends it within a tick or two (REMINDER_INTERVAL=0.5)
        if mail.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    link = mail.locator('a[href*="/verify/"]').first
    page.goto(link.get_attribute("href") or "")


def follow_verification_mail(page: Page, password: str = PASSWORD) -> None:
    """From "Check your inbox": open the development mailbox, follow the link in the
    verification mail, confirm with the password; the board opens, logged in."""
    open_verification_link(page)
    expect(page.get_by_label("Your Taskly password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page).to_have_url("/", timeout=15_000)  # argon2 and a redirect, on a busy machine
    # The address changes before the page's deferred scripts run: keys typed in between would
    # submit "New task" as a plain form (it works, but the test is about the htmx path).
    page.wait_for_load_state()


def sign_up(page: Page, email: str) -> None:
    page.goto("/signup")
    expect(page.get_by_label("First name")).to_be_focused()
    page.keyboard.type("Grace")
    type_into(page, "Last name", "Hopper")
    type_into(page, "Email", email)
    type_into(page, "Password", PASSWORD)
    page.keyboard.press("Enter")
    follow_verification_mail(page)


def test_signup_logout_back_login_change_password(page: Page, live_server: str):
    email = unique_email()
    sign_up(page, email)
    expect(page.get_by_label("New task")).to_be_focused()  # the first thing a new user does
    expect(page.get_by_text("Welcome to Taskly, Grace!")).to_be_visible()
    screenshot(page, "dashboard-after-signup")

    page.get_by_role("button", name="Log out").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url("/login")
    expect(page.get_by_text("You have been logged out.")).to_be_visible()

    # The seed requirement: Back after logout shows no private page.
    page.go_back()
    expect(page).to_have_url("/login?next=/")
    expect(page.get_by_label("New task")).to_have_count(0)
    page.go_back()
    expect(page.get_by_label("New task")).to_have_count(0)

    page.goto("/login")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email.upper())  # emails are case-insensitive
    type_into(page, "Password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_label("New task")).to_be_visible()

    page.get_by_role("link", name="Change password").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Current password")).to_be_focused()
    page.keyboard.type("not my password")
    type_into(page, "New password", "an even better passphrase")
    page.keyboard.press("Enter")
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    expect(page.get_by_label("Current password")).to_be_focused()
    screenshot(page, "change-password-error")
    page.keyboard.type(PASSWORD)
    type_into(page, "New password", "an even better passphrase")
    page.keyboard.press("Enter")
    expect(page).to_have_url("/")
    expect(page.get_by_text("Password changed.")).to_be_visible()


def test_login_error_keeps_the_email(page: Page):
    page.goto("/login")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type("nobody@example.com")
    type_into(page, "Password", "whatever it is")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an account."
    )
    expect(page.get_by_label("Email")).to_have_value("nobody@example.com")
    expect(page.get_by_label("Password")).to_be_focused()
    screenshot(page, "login-error")


def test_signup_errors_are_beside_the_fields(page: Page):
    page.goto("/signup")
    expect(page.get_by_label("First name")).to_be_focused()
    page.keyboard.type("Grace")
    type_into(page, "Email", "not-an-email")
    type_into(page, "Password", "short")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Enter your last name.")).to_be_visible()
    expect(page.get_by_text("Enter an email address like name@example.com.")).to_be_visible()
    expect(page.get_by_text("Use at least 8 characters.")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("Grace")
    expect(page.get_by_label("Last name")).to_be_focused()
    screenshot(page, "signup-errors")


def test_no_serious_accessibility_violations_on_account_pages(page: Page):
    axe = Axe()
    for path in ("/login", "/signup"):
        page.goto(path)
        results = axe.run(page)
        serious = [
            v for v in results.response["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{path}: {[(v['id'], v['help']) for v in serious]}"
