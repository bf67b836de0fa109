"""The web chat page in a real (headless) Chromium: log in, chat over socket.io with buttons, get a case."""
from __future__ import annotations

import re
import shutil

import pytest

from conftest import USER, PASSWORD, Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/test.sh installs it)")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


@pytest.fixture
def page():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-GB")
        yield context.new_page()
        browser.close()


def test_user_logs_in_and_reports_a_fault_from_the_page(stack: Stack, page):
    page.goto(f"{stack.backend_url}/chat/")
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-email").fill(USER)
    page.get_by_test_id("login-submit").click()
    playwright.expect(page.get_by_test_id("login-error")).to_be_visible()

    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    playwright.expect(page.get_by_test_id("user-name")).to_have_text("SNTestDM DemoPortal")

    page.get_by_test_id("chat-input").fill("the copier keeps jamming in tray 2")
    page.get_by_test_id("chat-send").click()
    bot = page.get_by_test_id("bot-message")
    playwright.expect(bot.filter(has_text="Paper jam › In the drawer or tray")).to_be_visible(timeout=30_000)

    def click_reply(title: str) -> None:
        page.get_by_test_id("quick-reply").and_(page.locator(":not([disabled])")).filter(
            has_text=re.compile(f"^{re.escape(title)}$")).last.click()

    click_reply("Yes")
    playwright.expect(bot.filter(has_text="Did any of the articles above help")).to_be_visible(timeout=30_000)
    assert page.locator("a[href*='/kb/KB']").count() >= 1  # article links are real links
    click_reply("No")
    playwright.expect(bot.filter(has_text="I'm about to open this case")).to_be_visible(timeout=30_000)
    click_reply("Yes, submit")
    created = bot.filter(has_text=re.compile(r"CS\d{7}"))
    playwright.expect(created).to_be_visible(timeout=30_000)
    number = re.search(r"CS\d{7}", created.last.inner_text()).group()

    case = stack.api(USER, f"/cases/{number}").json()
    assert (case["category"], case["subcategory"]) == ("paper_jam", "drawer_tray")
    assert case["asset"]["asset_number"] == "53463252"
    assert case["requester"]["email"] == USER
    assert case["channel"] == "web"  # came through the socket.io channel
