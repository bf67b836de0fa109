"""The embeddable assistant widget (bot/web/widget.js) in a real headless Chromium, on the demo pages the backend
serves at /chat/ (a portal page with a login form, a second portal page, an unrelated intranet page), talking to
the real Rasa over socket.io. Every page comes with the backend's strict Content-Security-Policy (no inline script
or style), and the tests fail on any CSP violation or page error.

- a fault reported with the mouse up to a real case (checked through the backend API), across a page change
  and a reload in the middle of the form (the conversation is shown again), with the unread badge;
- the same flow with the keyboard only (Tab / Shift+Tab, Enter, Space), with an accessibility check (live region,
  an accessible name on every control, visible focus, text contrast) and Escape back to the launcher;
- the widget on the intranet page (its own look and colour, the host page's styles do not leak in);
- a phone-width (390x844) run, where the panel takes the whole screen;
- the connection cut with a message on its way to Rasa, or with its answer on its way back: shown and taken once;
- every string of the widget and of the demo pages in French and English.

Screenshots are written to results/widget/.
"""
from __future__ import annotations

import re
import shutil
from typing import Any, Iterator, Optional

import pytest

from conftest import ADMIN, PASSWORD, ROOT, USER, Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/test.sh installs it)")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
SHOTS = ROOT / "results" / "widget"
CASE_NUMBER = re.compile(r"\bCS\d{7}\b")
BOT_WAIT = 30_000  # ms: one assistant turn, at most

FAULT = "the copier keeps jamming in tray 2"
PROPOSED = "Paper jam › In the drawer or tray"
ARTICLES_QUESTION = "Did any of the articles above help"
SUMMARY = "I'm about to open this case"

# JS: the element that really has the focus, inside the widget's shadow root if need be.
DEEP_FOCUS = """() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  if (!a || a === document.body) return null;
  const s = getComputedStyle(a);
  return {testid: a.getAttribute('data-testid'), text: (a.textContent || '').trim(), tag: a.tagName.toLowerCase(),
          id: a.id, outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0,
          outlineColor: s.outlineColor};
}"""

# JS: WCAG contrast ratio of an element's text with its (first opaque) background, across the shadow boundary.
CONTRAST = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const fg = rgb(getComputedStyle(el).color);
  let n = el, bg = null;
  while (n && !bg) {
    if (n.nodeType === 1) { const c = rgb(getComputedStyle(n).backgroundColor); if (c.length === 3 || c[3] > 0.9) bg = c; }
    n = n.parentNode || n.host;
  }
  bg = bg || [255, 255, 255];
  const [x, y] = [lum(fg), lum(bg)];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}"""

CSP_WATCH = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"""


def goto(page, url: str):
    """Opens a page and checks the backend served it with a strict Content-Security-Policy (no inline script or
    style anywhere: the widget and the demo pages must work under it)."""
    response = page.goto(url)
    assert response.ok, url
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy, policy
    return response


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(stack: Stack, browser):
    """Opens pages in fresh browser contexts (empty storage); at the end, fails on any Content-Security-Policy
    violation or uncaught page error."""
    contexts, pages, errors = [], [], []

    def open_page(viewport: Optional[dict] = None):
        phone = bool(viewport and viewport["width"] < 500)
        context = browser.new_context(locale="en-GB", viewport=viewport or {"width": 1280, "height": 800},
                                      **({"is_mobile": True, "has_touch": True, "device_scale_factor": 2} if phone else {}))
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        contexts.append(context)
        pages.append(page)
        return page

    yield open_page
    violations = []
    for page in pages:
        try:
            violations += page.evaluate("window.__cspViolations || []")
        except playwright.Error:
            pass  # closed
    for context in contexts:
        context.close()
    assert not violations, f"Content-Security-Policy violations: {violations}"
    assert not errors, f"page errors: {errors}"


# ---------- helpers ----------

def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(250)  # let the last message's entrance animation finish
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def login(page, email: str = USER) -> None:
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).not_to_be_empty()


def bot_says(page, text: str):
    found = page.get_by_test_id("bot-message").filter(has_text=text)
    expect(found.last).to_be_visible(timeout=BOT_WAIT)
    return found


def reply_button(page, title: str):
    """The quick reply still on offer (enabled) with exactly this title."""
    return page.get_by_test_id("quick-reply").and_(page.locator(":not([disabled])")).filter(
        has_text=re.compile(f"^{re.escape(title)}$"))


def click_reply(page, title: str) -> None:
    button = reply_button(page, title)
    expect(button.last).to_be_visible(timeout=BOT_WAIT)
    button.last.click()


def send(page, text: str) -> None:
    box = page.get_by_test_id("chat-input")
    expect(box).to_be_enabled(timeout=BOT_WAIT)
    box.fill(text)
    page.get_by_test_id("chat-send").click()


def focused(page) -> Optional[dict]:
    return page.evaluate(DEEP_FOCUS)


def case_number(page) -> str:
    created = page.get_by_test_id("bot-message").filter(has_text=CASE_NUMBER)
    expect(created.last).to_be_visible(timeout=BOT_WAIT)
    return CASE_NUMBER.search(created.last.inner_text()).group()


def check_case(stack: Stack, number: str) -> None:
    case = stack.api(USER, f"/cases/{number}").json()
    assert (case["category"], case["subcategory"]) == ("paper_jam", "drawer_tray")
    assert case["asset"]["asset_number"] == "53463252"
    assert case["requester"]["email"] == USER
    assert case["channel"] == "web"  # came through the socket.io channel
    assert "jamming" in case["transcript"]


def session_keys(page) -> dict:
    return page.evaluate("""() => Object.fromEntries(Object.keys(localStorage)
        .filter((k) => k.startsWith('portal-assistant.session.')).map((k) => [k, localStorage.getItem(k)]))""")


# Server-side parts of the contract (bot/channels/socketio.py), one helper each so they are easy to find.

def expect_article_cards(page) -> None:
    """`bot_uttered {text, article}` is shown as a card: title, summary and a link opening in a new tab."""
    cards = page.get_by_test_id("article-card")
    expect(cards.first).to_be_visible(timeout=BOT_WAIT)
    first = cards.first
    expect(first.locator("h3")).not_to_be_empty()
    expect(first.locator(".card-summary")).not_to_be_empty()
    link = first.get_by_role("link", name=re.compile("Open the article"))
    assert re.search(r"/kb/KB\d{7}(\?|$)", link.get_attribute("href"))
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")


def expect_history_shown(page) -> None:
    """After a page change or a reload: `history` shows the conversation again, only the last question's
    buttons can still be pressed and the button the user pressed shows its title."""
    bot_says(page, SUMMARY)
    expect(page.get_by_test_id("user-message").filter(has_text=FAULT)).to_be_visible()
    expect(page.get_by_test_id("user-message").filter(has_text=re.compile(r"^No$"))).to_be_visible()  # not "/deny"
    expect(reply_button(page, "No")).to_have_count(1)  # the summary's, not the articles question's
    expect(reply_button(page, "Yes, submit")).to_have_count(1)
    assert page.get_by_test_id("quick-reply").and_(page.locator("[disabled]")).count() >= 2  # the articles question's


def expect_typing_ends(page) -> None:
    """`turn_end` hides the typing indicator (the widget also hides it 30 s later without it)."""
    expect(page.get_by_test_id("typing")).to_be_hidden(timeout=5_000)


# ---------- tests ----------

def test_fault_report_with_the_mouse_across_pages_and_a_reload(stack: Stack, new_page):
    page = new_page()
    base = f"{stack.backend_url}/chat/"
    goto(page, base)
    launcher, panel = page.get_by_test_id("widget-launcher"), page.get_by_test_id("widget-panel")
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_test_id("widget-badge")).to_be_hidden()

    # Logged out: the widget says so, in the page's language, and Escape closes it back to the launcher.
    launcher.click()
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("widget-login-required")).to_contain_text("Please log in to the portal")
    expect(page.get_by_test_id("chat-input")).to_be_hidden()
    page.get_by_role("button", name="Français").click()
    expect(page.get_by_test_id("widget-login-required")).to_contain_text("Veuillez vous connecter au portail")
    expect(launcher).to_have_attribute("aria-label", re.compile("^Discuter avec l'assistant"))
    page.get_by_role("button", name="English").click()
    expect(page.get_by_test_id("widget-login-required")).to_contain_text("Please log in to the portal")
    shot(page, "desktop-logged-out")
    page.get_by_test_id("widget-close").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert focused(page)["testid"] == "widget-launcher"

    # The host page logs in (the password goes to /auth/token only) and hands the token to the widget.
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-email").fill(USER)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()
    login(page)
    expect(page.get_by_test_id("user-name")).to_have_text("SNTestDM DemoPortal")
    assert page.get_by_test_id("login-password").input_value() == ""
    stored = page.evaluate("() => JSON.stringify({...sessionStorage}) + JSON.stringify({...localStorage})")
    assert PASSWORD not in stored  # only the token is kept

    launcher.click()
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("widget-login-required")).to_be_hidden()
    expect(page.get_by_test_id("welcome-message")).to_contain_text("Hello SNTestDM")
    box = page.get_by_test_id("chat-input")
    expect(box).to_have_attribute("maxlength", "1000")
    box.fill("x" * 950)  # the counter shows near the limit
    expect(page.get_by_test_id("chat-counter")).to_have_text("950 / 1000 characters")
    box.fill("")
    expect(page.get_by_test_id("chat-counter")).to_be_hidden()

    send(page, FAULT)
    expect(page.get_by_test_id("user-message").last).to_have_text(FAULT)
    expect(page.get_by_test_id("typing")).to_be_visible()
    bot_says(page, PROPOSED)  # the type the words name, shown with its articles (no question about it)
    bot_says(page, ARTICLES_QUESTION)
    expect_article_cards(page)
    expect_typing_ends(page)
    shot(page, "desktop-articles")
    session = session_keys(page)
    assert len(session) == 1
    click_reply(page, "No")
    bot_says(page, SUMMARY)

    # Another portal page: same user, same conversation, the panel still open.
    page.get_by_role("link", name="My cases", exact=True).click()
    expect(page).to_have_url(re.compile(r"portal-cases\.html$"))
    expect(page.get_by_test_id("cases-table")).to_be_visible()
    expect(panel).to_be_visible()
    expect_history_shown(page)
    shot(page, "desktop-other-page-history")

    # A reload in the middle of the form, then the form is finished.
    page.reload()
    expect(panel).to_be_visible()
    expect_history_shown(page)
    assert session_keys(page) == session

    # The answer comes while the panel is closed: the badge counts it, across a reload too.
    click_reply(page, "Yes, submit")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    badge = page.get_by_test_id("widget-badge")
    expect(badge).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=BOT_WAIT)
    page.wait_for_timeout(2_000)  # the rest of the turn's messages
    expect(launcher).to_have_attribute("aria-label", re.compile(r"Chat with the assistant \(\d+ new messages?\)"))
    count = badge.inner_text()
    shot(page, "desktop-unread-badge")
    page.reload()
    expect(badge).to_have_text(count)
    launcher.click()
    expect(badge).to_be_hidden()
    number = case_number(page)
    shot(page, "desktop-case-created")
    check_case(stack, number)

    # Logging out empties the widget; another user on this browser gets a conversation of their own.
    goto(page, base)
    page.get_by_test_id("logout").click()
    expect(panel).to_be_hidden()  # closed by the logout, so it hides nothing of the login form
    launcher.click()
    expect(page.get_by_test_id("widget-login-required")).to_be_visible()
    expect(page.get_by_test_id("user-message")).to_have_count(0)
    page.keyboard.press("Escape")
    login(page, ADMIN)
    launcher.click()
    expect(page.get_by_test_id("welcome-message")).to_contain_text("SNTest")
    expect(page.get_by_test_id("chat-input")).to_be_enabled(timeout=BOT_WAIT)
    page.wait_for_timeout(1_000)  # time for a (wrong) history to arrive, if any
    expect(page.get_by_test_id("user-message")).to_have_count(0)
    keys = session_keys(page)
    assert len(keys) == 2 and len(set(keys.values())) == 2


def test_fault_report_with_the_keyboard_only(stack: Stack, new_page):
    page = new_page()
    goto(page, f"{stack.backend_url}/chat/")

    def tab_to(predicate, back: bool = False, limit: int = 40) -> dict:
        for _ in range(limit):
            page.keyboard.press("Shift+Tab" if back else "Tab")
            now = focused(page)
            if now and predicate(now):
                return now
        raise AssertionError(f"never reached with {'Shift+' if back else ''}Tab; last focus: {focused(page)}")

    def choose(title: str, key: str) -> None:
        expect(reply_button(page, title).last).to_be_visible(timeout=BOT_WAIT)
        page.wait_for_timeout(300)  # the messages of the turn after the buttons, if any
        now = tab_to(lambda f: f["testid"] == "quick-reply" and f["text"] == title, back=True)
        assert now["outline"] != "none" and now["outlineWidth"] >= 2, now  # focus is visible
        page.keyboard.press(key)
        assert focused(page)["testid"] == "chat-input"  # back to the message field

    tab_to(lambda f: f["testid"] == "login-email")
    page.keyboard.type(USER)
    page.keyboard.press("Tab")
    assert focused(page)["testid"] == "login-password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-name")).to_have_text("SNTestDM DemoPortal")

    now = tab_to(lambda f: f["testid"] == "widget-launcher")
    assert now["outline"] != "none" and now["outlineWidth"] >= 2, now
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("widget-panel")).to_be_visible()
    expect(page.get_by_test_id("chat-input")).to_be_enabled(timeout=BOT_WAIT)
    expect(page.get_by_test_id("chat-input")).to_be_focused()
    page.keyboard.type(FAULT)
    page.keyboard.press("Enter")
    bot_says(page, PROPOSED)
    bot_says(page, ARTICLES_QUESTION)
    accessibility_check(page)
    choose("No", "Space")
    bot_says(page, SUMMARY)
    choose("Yes, submit", "Enter")
    number = case_number(page)
    shot(page, "desktop-keyboard-done")
    check_case(stack, number)

    # Escape closes the panel and gives the focus back to the launcher; Space opens it again.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("widget-panel")).to_be_hidden()
    assert focused(page)["testid"] == "widget-launcher"
    page.keyboard.press("Space")
    expect(page.get_by_test_id("widget-panel")).to_be_visible()
    assert focused(page)["testid"] == "chat-input"
    now = tab_to(lambda f: f["testid"] == "widget-close", back=True, limit=60)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("widget-panel")).to_be_hidden()
    assert focused(page)["testid"] == "widget-launcher"


def accessibility_check(page) -> None:
    """Live region for new messages, an accessible name on every control (Chromium's own accessibility tree,
    shadow DOM included), labelled dialog, and 4.5:1 contrast for the widget's text."""
    log = page.locator("[role=log]")
    expect(log).to_have_attribute("aria-live", "polite")
    assert page.get_by_test_id("bot-message").first.evaluate("(n) => !!n.closest('[role=log]')")
    expect(page.get_by_role("dialog", name="Assistant")).to_be_visible()
    expect(page.get_by_role("textbox", name="Your message")).to_be_visible()

    cdp = page.context.new_cdp_session(page)
    tree = cdp.send("Accessibility.getFullAXTree")["nodes"]
    controls = [n for n in tree if not n.get("ignored")
                and (n.get("role") or {}).get("value") in ("button", "textbox", "link", "combobox", "searchbox")]
    assert len(controls) > 10
    unnamed = [n["role"]["value"] for n in controls if not ((n.get("name") or {}).get("value") or "").strip()]
    assert not unnamed, f"controls without an accessible name: {unnamed}"
    cdp.detach()

    samples = {
        "header title": page.get_by_role("heading", name="Assistant", exact=True),
        "user message": page.get_by_test_id("user-message").last,
        "bot message": page.get_by_test_id("bot-message").last,
        "quick reply": reply_button(page, "No").last,
        "send button": page.get_by_test_id("chat-send"),
        "input": page.get_by_test_id("chat-input"),
        "launcher": page.get_by_test_id("widget-launcher"),
    }
    if page.get_by_test_id("article-card").count():
        samples["article link"] = page.get_by_test_id("article-card").first.get_by_role("link")
    for name, element in samples.items():
        ratio = element.evaluate(CONTRAST)
        assert ratio >= 4.5, f"{name}: contrast {ratio:.2f}:1"


def test_widget_on_an_unrelated_page_keeps_its_look(stack: Stack, new_page):
    page = new_page()
    goto(page, f"{stack.backend_url}/chat/embed-demo.html")
    launcher = page.get_by_test_id("widget-launcher")
    expect(launcher).to_be_visible()
    assert launcher.evaluate("(n) => getComputedStyle(n).backgroundColor") == "rgb(15, 118, 110)"  # data-color
    launcher.click()
    login_box = page.get_by_test_id("widget-login-required")
    expect(login_box).to_contain_text("Please log in")
    shot(page, "intranet-logged-out")

    # The widget's "log in" link leads to the portal's form (the panel closes so as not to hide it); back on the
    # intranet page, the widget is signed in.
    login_box.get_by_role("link", name="Log in").click()
    expect(page.get_by_test_id("login-email")).to_be_focused()
    expect(page.get_by_test_id("widget-panel")).to_be_hidden()
    login(page)
    goto(page, f"{stack.backend_url}/chat/embed-demo.html")
    page.get_by_test_id("widget-launcher").click()
    send(page, "how do I replace the toner?")
    reply = page.get_by_test_id("bot-message").nth(0)
    expect(reply).to_be_visible(timeout=BOT_WAIT)
    expect(page.get_by_test_id("typing")).to_be_hidden(timeout=BOT_WAIT + 5_000)

    # None of the page's own rules (serif font, upper-case buttons, its colours) reach into the widget.
    page_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Georgia" in page_font
    widget_font = page.get_by_test_id("user-message").last.evaluate("(n) => getComputedStyle(n).fontFamily")
    assert "Georgia" not in widget_font
    assert page.get_by_test_id("chat-send").evaluate("(n) => getComputedStyle(n).textTransform") == "none"
    assert page.get_by_test_id("user-message").last.evaluate("(n) => getComputedStyle(n).backgroundColor") == \
        "rgb(15, 118, 110)"
    shot(page, "intranet-open")

    # The host page's API.
    page.evaluate("window.PortalAssistant.close()")
    expect(page.get_by_test_id("widget-panel")).to_be_hidden()
    page.evaluate("window.PortalAssistant.open()")
    expect(page.get_by_test_id("widget-panel")).to_be_visible()
    page.evaluate("window.PortalAssistant.setToken(null)")  # the host logs out
    expect(page.get_by_test_id("widget-panel")).to_be_hidden()
    page.get_by_test_id("widget-launcher").click()
    expect(page.get_by_test_id("widget-login-required")).to_be_visible()
    expect(page.get_by_test_id("user-message")).to_have_count(0)


def test_phone_width_panel_is_full_screen(stack: Stack, new_page):
    page = new_page({"width": 390, "height": 844})
    goto(page, f"{stack.backend_url}/chat/")
    login(page)
    shot(page, "phone-390x844-closed")
    page.get_by_test_id("widget-launcher").click()
    panel = page.get_by_test_id("widget-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}, box
    expect(page.get_by_test_id("widget-launcher")).to_be_hidden()  # the panel has its own close button
    send(page, FAULT)
    bot_says(page, PROPOSED)
    bot_says(page, ARTICLES_QUESTION)
    # nothing wider than the screen
    assert panel.evaluate("(n) => n.querySelector('.scroller').scrollWidth <= n.clientWidth")
    shot(page, "phone-390x844-open")
    page.get_by_test_id("widget-close").click()
    expect(panel).to_be_hidden()
    expect(page.get_by_test_id("widget-launcher")).to_be_visible()
    assert focused(page)["testid"] == "widget-launcher"


@pytest.mark.parametrize("name", ["widget.js", "demo.js"])
def test_every_string_is_in_french_and_english(name: str):
    script = (ROOT / "bot" / "web" / name).read_text(encoding="utf-8")
    start_fr, start_en = script.index("    fr: {"), script.index("    en: {")
    fr, en = script[start_fr:start_en], script[start_en:script.index("\n  };", start_en)]
    keys = lambda block: set(re.findall(r'[\s{,](\w+): "', block))  # noqa: E731
    assert keys(fr) == keys(en) and len(keys(fr)) > 20


def test_other_browsers_never_see_a_conversation_even_with_its_session_id(stack: Stack, new_page):
    """A second browser logged in as a user of another account, and a third with no login, both made to ask for the
    first user's session id, get nothing of her conversation."""
    victim = new_page()
    goto(victim, f"{stack.backend_url}/chat/")
    login(victim)
    victim.get_by_test_id("widget-launcher").click()
    send(victim, "show my devices")
    bot_says(victim, "GNM75498")
    (victim_key, session_id), = session_keys(victim).items()

    other = "admin@northwind-imprimerie.fr"
    other_id = stack.api(other, "/users/me").json()["id"]
    attacker = new_page()
    goto(attacker, f"{stack.backend_url}/chat/")
    login(attacker, other)
    attacker_key = re.sub(r"\.u\d+$", f".u{other_id}", victim_key)
    attacker.evaluate("([k, v]) => localStorage.setItem(k, v)", [attacker_key, session_id])
    attacker.reload()
    attacker.get_by_test_id("widget-launcher").click()
    send(attacker, "hello")
    expect(attacker.get_by_test_id("bot-message").last).to_be_visible(timeout=BOT_WAIT)
    attacker.wait_for_timeout(1000)
    assert session_keys(attacker)[attacker_key] != session_id  # refused: it got a session of its own
    seen = attacker.get_by_test_id("widget-panel").inner_text()
    assert "GNM75498" not in seen and "show my devices" not in seen

    anonymous = new_page()
    goto(anonymous, f"{stack.backend_url}/chat/")
    anonymous.evaluate("([k, v]) => localStorage.setItem(k, v)", [victim_key, session_id])
    anonymous.reload()
    anonymous.get_by_test_id("widget-launcher").click()
    anonymous.wait_for_timeout(1500)
    seen = anonymous.get_by_test_id("widget-panel").inner_text()
    assert "GNM75498" not in seen and "show my devices" not in seen
    assert anonymous.get_by_test_id("bot-message").count() == 0


class SocketCutter:
    """Stands between the widget and Rasa's socket.io (Playwright's WebSocket routing) and cuts the connection once,
    at one of the two bad moments of a message: `before` it reaches the server, or `after` the server took it but
    before the widget heard the answer (its acknowledgement and replies are dropped)."""

    def __init__(self, text: str, moment: str) -> None:
        self.text, self.moment = text, moment
        self.cut = False
        self.sent: list = []  # the widget's user_uttered frames carrying the text, on every connection
        self.dropping = False

    def route(self, ws) -> None:
        server = ws.connect_to_server()

        def from_page(message) -> None:
            if isinstance(message, str) and '"user_uttered"' in message and self.text in message:
                self.sent.append(message)
                if not self.cut and self.moment == "before":
                    self.cut = True
                    ws.close()
                    server.close()
                    return
                if not self.cut and self.moment == "after":
                    self.dropping = True
            server.send(message)

        def from_server(message) -> None:
            if self.dropping:
                if isinstance(message, str) and message.startswith("43"):  # socket.io ACK: the turn is over
                    self.dropping, self.cut = False, True
                    ws.close()
                    server.close()
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)


@pytest.mark.parametrize("moment", ["before", "after"])
def test_a_message_caught_in_a_dropped_connection_is_answered_once(stack: Stack, new_page, moment: str):
    """The connection drops with a message on its way (`before` the server took it: the widget sends it again after
    the reconnection, with the same id) or with its answer on its way (`after`: the history holds the message, so it
    is not sent again, and its answer is shown from the history). Either way the user sees her message once and
    the answer once: nothing lost, nothing taken twice."""
    text = "show my devices please"
    cutter = SocketCutter(text, moment)
    page = new_page()
    page.route_web_socket(re.compile(r"/socket\.io/"), cutter.route)
    goto(page, f"{stack.backend_url}/chat/")
    login(page)
    page.get_by_test_id("widget-launcher").click()
    send(page, text)
    bot_says(page, "GNM75498")
    expect_typing_ends(page)
    page.wait_for_timeout(1500)  # a second delivery, if any, would have been answered by now
    assert cutter.cut
    mine = page.get_by_test_id("user-message").filter(has_text=text)
    expect(mine).to_have_count(1)
    expect(page.get_by_test_id("bot-message").filter(has_text="GNM75498")).to_have_count(1)
    ids = {re.search(r'"message_id":"([^"]+)"', frame).group(1) for frame in cutter.sent}
    assert len(ids) == 1  # sent again (if at all) as the same message
    assert len(cutter.sent) == (2 if moment == "before" else 1)
    # the conversation on the server holds it once too: a reload shows it from the history
    page.reload()
    if page.get_by_test_id("widget-panel").is_hidden():
        page.get_by_test_id("widget-launcher").click()
    bot_says(page, "GNM75498")
    expect(page.get_by_test_id("user-message").filter(has_text=text)).to_have_count(1)
    shot(page, f"reconnect-{moment}")
