"""Accounts in Chromium, keyboard first: a real picture uploaded on the profile page shows in
the header; a forgotten password is reset from the login page through the mailed link; and
axe finds nothing serious on any account page."""

from __future__ import annotations

import io
import re

from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_auth_journey import PASSWORD, sign_up, type_into, unique_email


def test_a_picture_uploaded_on_the_profile_shows_in_the_header(page: Page, tmp_path):
    sign_up(page, unique_email())
    header_link = page.get_by_role("link", name="Grace")
    header_link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url("/account/profile")
    expect(page.get_by_label("First name")).to_have_value("Grace")
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 140, 60)).save(out, "PNG")
    photo = tmp_path / "holiday.png"
    photo.write_bytes(out.getvalue())
    page.locator("#picture").set_input_files(str(photo))  # the browser's file chooser
    expect(page.get_by_role("img", name=re.compile("Preview of your new picture"))).to_be_visible()
    screenshot(page, "profile-preview")
    page.get_by_role("button", name="Save profile").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    avatar = page.locator(".site-header img.avatar")
    expect(avatar).to_have_attribute("src", re.compile(r"/account/avatar/[0-9a-f]{32}-64\.webp"))
    assert avatar.evaluate("img => img.complete && img.naturalWidth") == 64
    pixel = avatar.evaluate(
        "img => { const c = document.createElement('canvas'); c.width = c.height = 64;"
        " const x = c.getContext('2d'); x.drawImage(img, 0, 0);"
        " return Array.from(x.getImageData(32, 32, 1, 1).data); }"
    )
    assert pixel[1] > 100 and pixel[0] < 80  # green: our picture, served back
    screenshot(page, "profile-with-picture")
    page.get_by_role("button", name="Remove picture").click()
    expect(page.locator(".site-header .avatar--initials")).to_have_text("GH")


def test_forgot_password_from_the_login_page_through_the_mail(page: Page):
    email = unique_email()
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url("/login")
    link = page.get_by_role("link", name="Forgot password?")
    for _ in range(20):  # keyboard only: Tab to the link
        if link.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.get_by_role("link", name="Open the development mailbox").click()
    mail = page.locator("article", has_text="Reset your Taskly password").first
    for _ in range(40):
        if mail.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(mail).to_contain_text("Chrome on Linux")  # where the request came from
    page.goto(mail.locator('a[href*="/password/reset/"]').first.get_attribute("href") or "")
    expect(page.get_by_label("New password")).to_be_focused()
    page.keyboard.type("a new passphrase here")
    page.keyboard.press("Enter")
    expect(page).to_have_url("/")
    expect(page.get_by_text("Password changed.")).to_be_visible()
    screenshot(page, "after-password-reset")
    page.get_by_role("button", name="Log out").click()
    type_into(page, "Email", email)
    type_into(page, "Password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text("That email and password do not match an account.")).to_be_visible()


def serious_violations(page: Page, axe: Axe) -> list[tuple[str, str]]:
    results = axe.run(page)
    return [
        (v["id"], v["help"])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations_on_account_pages(page: Page, tmp_path):
    axe = Axe()
    for path in ("/password/forgot", "/password/reset/not-a-token", "/verify/not-a-token"):
        page.goto(path)
        assert serious_violations(page, axe) == [], path
    sign_up(page, unique_email())
    for path in (
        "/account/settings",
        "/account/profile",
        "/account/email",
        "/account/devices",
        "/account/data",
        "/account/delete",
    ):
        page.goto(path)
        assert serious_violations(page, axe) == [], path
        screenshot(page, "account" + path.replace("/", "-"))
    csv_file = tmp_path / "tasks.csv"
    csv_file.write_text("title,status,priority,due\nOne,todo,high,2026-12-24\n,todo,,\n")
    page.goto("/account/data")
    page.locator("#file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("button", name="Import 1 task")).to_be_visible()
    assert serious_violations(page, axe) == [], "import preview"
    screenshot(page, "account-import-preview")
    page.get_by_role("button", name="Import 1 task").click()
    expect(page.get_by_text("Imported 1 task")).to_be_visible()
    page.goto("/account/delete")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account is deleted")).to_be_visible()
    assert serious_violations(page, axe) == [], "goodbye"
