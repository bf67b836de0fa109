"""End to end over Microsoft Teams: the running stack's Teams channel (/webhooks/teams/messages) receives activities
signed like the Bot Connector's (tests/microsoft_mock.py's test key) and answers through the mock connector, which
records every activity. Linking, a fault report by card clicks up to a case read back through the API, a meter
reading, a refusal, a group chat @mention, forged activities that reach nothing, an unlinked user's knowledge
questions (answered) and account requests (the sign-in card, nothing created), and unlinking in the chat."""
from __future__ import annotations

import hashlib
import re
import time
import uuid
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx
import pytest

from conftest import ADMIN, PASSWORD, USER, Stack
from microsoft_mock import APP_ID, TENANT, MicrosoftMock, new_key

CASE_NUMBER = re.compile(r"\bCS\d{7}\b")
METER_CODE = re.compile(r"\b(112|113|122|123)\b")
BOT = {"id": f"28:{APP_ID}", "name": "Print assistant"}
MENTION = {"type": "mention", "text": "<at>Print assistant</at>", "mentioned": BOT}


def text_of(activity: Dict[str, Any]) -> str:
    """What a Teams user reads in an activity: its text, or its card's text blocks and facts."""
    if activity.get("text"):
        return activity["text"]
    parts = []
    for attachment in activity.get("attachments") or []:
        for block in attachment["content"].get("body", []):
            if block["type"] == "TextBlock":
                parts.append(block["text"])
            elif block["type"] == "FactSet":
                parts.extend(f"{fact['title']}: {fact['value']}" for fact in block["facts"])
    return "\n".join(parts)


def actions(replies: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [action for reply in replies for attachment in reply.get("attachments") or []
            for action in attachment["content"].get("actions", [])]


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(text_of(reply) for reply in replies)


def is_sign_in_card(activity: Dict[str, Any]) -> bool:
    return any(action["type"] == "Action.OpenUrl" and "/chat/teams-link.html#code=" in action["url"]
               for action in actions([activity]))


def sign_in_card(replies: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The one sign-in card among the replies, last."""
    cards = [reply for reply in replies if is_sign_in_card(reply)]
    assert len(cards) == 1 and replies[-1] is cards[0], texts(replies)
    return cards[0]


class TeamsChat:
    """One Teams user in one conversation, talking to the stack as the Bot Connector would."""

    def __init__(self, stack: Stack, microsoft: MicrosoftMock, email: str, locale: str = "en-GB",
                 kind: str = "personal") -> None:
        self.stack, self.microsoft, self.email, self.locale, self.kind = stack, microsoft, email, locale, kind
        self.aad = str(uuid.uuid4())
        self.conversation = f"a:{uuid.uuid4().hex}" if kind == "personal" else f"19:{uuid.uuid4().hex}@thread.v2"
        self.user_id: Optional[int] = None  # once linked
        self.turns = 0
        self.unlinked_turns = 0  # messages that reached the assistant while not linked (the anonymous identity)

    def activity(self, text: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        body = {"type": "message", "id": uuid.uuid4().hex, "channelId": "msteams",
                "serviceUrl": self.microsoft.service_url, "locale": self.locale, "recipient": BOT,
                "from": {"id": f"29:{self.aad}", "name": "Teams user", "aadObjectId": self.aad},
                "conversation": {"id": self.conversation, "conversationType": self.kind, "tenantId": TENANT},
                "channelData": {"tenant": {"id": TENANT}}}
        if text is not None:
            body["text"] = text
        body.update(extra)
        return body

    def post(self, body: Dict[str, Any], token: Optional[str] = "sign") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.microsoft.sign() if token == 'sign' else token}"} if token else {}
        return httpx.post(f"{self.stack.rasa_url}/webhooks/teams/messages", json=body, headers=headers, timeout=30)

    def received(self) -> List[Dict[str, Any]]:
        return [a["body"] for a in list(self.microsoft.activities) if a["conversation"] == self.conversation]

    @property
    def sender_id(self) -> str:
        return f"u{self.user_id}:teams:{hashlib.sha256(self.conversation.encode()).hexdigest()[:32]}"

    @property
    def unlinked_sender_id(self) -> str:
        """This Teams user's own conversation with the assistant while not linked (bot/channels/teams.py)."""
        who = hashlib.sha256(f"{TENANT}:{self.aad}".encode()).hexdigest()[:16]
        return f"unverified:teams:{hashlib.sha256(self.conversation.encode()).hexdigest()[:32]}:{who}"

    def tracker(self, sender_id: Optional[str] = None) -> Dict[str, Any]:
        sender_id = sender_id or self.sender_id
        return httpx.get(f"{self.stack.rasa_url}/conversations/{quote(sender_id, safe=':')}/tracker",
                         params={"token": self.stack.rasa_api_token}, timeout=30).json()

    def _turn_done(self, sender_id: str, turns: int) -> bool:
        self.last_tracker = self.tracker(sender_id)
        events = self.last_tracker.get("events") or []
        users = [e for e in events if e["event"] == "user"]
        return len(users) >= turns and bool(events) and events[-1].get("name") == "action_listen"

    def say(self, text: Optional[str] = None, to_assistant: bool = True, timeout: float = 60, unlinked: bool = False,
            card: bool = False, **extra: Any) -> List[Dict[str, Any]]:
        """Sends a message (or a card click: value=...) and returns the messages the bot posted in reply.
        `to_assistant`: the message reaches the assistant, so the turn ends when the tracker has listened again
        (`unlinked`: the anonymous conversation of a user who is not linked, then `card`: the sign-in card follows
        the assistant's answer); otherwise when the channel's own answer has come."""
        before = len(self.received())
        response = self.post(self.activity(text, **extra))
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + timeout
        if to_assistant:
            if unlinked:
                self.unlinked_turns += 1
                sender_id, turns = self.unlinked_sender_id, self.unlinked_turns
            else:
                self.turns += 1
                sender_id, turns = self.sender_id, self.turns
            while not self._turn_done(sender_id, turns):
                assert time.monotonic() < deadline, f"the turn did not end: {str(self.last_tracker)[-3000:]}"
                time.sleep(0.05)
            while card and not [a for a in self.received()[before:] if is_sign_in_card(a)]:
                assert time.monotonic() < deadline, f"no sign-in card: {texts(self.received()[before:])}"
                time.sleep(0.05)
        else:
            while not [a for a in self.received()[before:] if a.get("type") == "message"]:
                assert time.monotonic() < deadline, "no answer"
                time.sleep(0.05)
        time.sleep(0.1)  # the background task posts its last reply before it lets go of the conversation
        return [a for a in self.received()[before:] if a.get("type") == "message"]

    def click(self, replies: List[Dict[str, Any]], title_part: str = "", payload: str = "") -> List[Dict[str, Any]]:
        """Clicks the card button whose title contains `title_part` (or whose payload is `payload`)."""
        for action in actions(replies):
            data = action.get("data") or {}
            if action["type"] == "Action.Submit" and (
                    (payload and data.get("payload") == payload) or (title_part and title_part in action["title"])):
                return self.say(value=data)
        raise AssertionError(f"no button {title_part or payload!r} in {[a['title'] for a in actions(replies)]}")

    def first_contact(self) -> Dict[str, Any]:
        """An unlinked user's first message: the assistant's answer, then the sign-in card."""
        return sign_in_card(self.say("hello", unlinked=True, card=True))

    def link(self) -> List[Dict[str, Any]]:
        """The whole linking flow: the sign-in card, the portal page's claim (as the page does it), the number
        typed in Teams."""
        card = self.first_contact()
        (button,) = actions([card])
        assert button["type"] == "Action.OpenUrl" and "/chat/teams-link.html#code=" in button["url"]
        code = button["url"].split("#code=", 1)[1]
        claimed = self.stack.api(self.email, "/teams/links", "POST", json={"code": code})
        assert claimed.status_code == 202, claimed.text
        done = self.say(claimed.json()["confirmation_number"], to_assistant=False)
        self.user_id = self.stack.api(self.email, "/users/me").json()["id"]
        return done


@pytest.fixture
def chat(stack: Stack, microsoft: MicrosoftMock):
    def make(email: str, locale: str = "en-GB", kind: str = "personal") -> TeamsChat:
        return TeamsChat(stack, microsoft, email, locale, kind)
    return make


def test_linking_then_a_fault_report_by_card_clicks_in_french(chat, stack: Stack):
    teams = chat(ADMIN, "fr-FR")
    added = teams.activity(None, type="conversationUpdate", membersAdded=[BOT])
    assert teams.post(added).status_code == 200
    deadline = time.monotonic() + 30
    while not teams.received():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert text_of(teams.received()[0]).startswith("Bonjour ! Je suis l'assistant")

    (done,) = teams.link()
    assert text_of(done).startswith("C'est fait : votre compte Teams est relié au compte du portail de SNTest")

    replies = teams.say("ça sent le brûlé quand j'imprime")
    assert "Quel appareil est concerné" in texts(replies)
    replies = teams.click(replies, "WHJ01481")
    assert "Dysfonctionnement ou défaillance › Odeur inhabituelle" in texts(replies)
    article_cards = [r for r in replies if any(a["title"] == "Ouvrir l'article" for a in actions([r]))]
    assert article_cards, texts(replies)
    replies = teams.click(replies, payload="/deny")  # "Non": none of the articles helped
    confirm = [a for a in actions(replies) if a.get("style") == "positive"]
    assert "Je vais ouvrir ce dossier" in texts(replies) and confirm, texts(replies)
    replies = teams.say(value=confirm[0]["data"])
    (number,) = set(CASE_NUMBER.findall(texts(replies)))
    case = stack.api(ADMIN, f"/cases/{number}").json()
    assert case["channel"] == "teams"
    assert (case["category"], case["subcategory"]) == ("malfunction", "unusual_smell")
    assert case["asset"]["asset_number"] == "77996101" and case["kb_feedback"] == "no"
    assert "ça sent le brûlé quand j'imprime" in case["transcript"]
    # every reply went through the connector with the app's token, addressed back to the user
    for activity in teams.microsoft.activities:
        assert activity["auth"].startswith("Bearer connector-token-")


def test_a_user_enters_meter_readings_in_english(chat, stack: Stack):
    meters = {m["code"]: m for m in stack.api(USER, "/assets/53463252/meters").json()}
    wanted = {code: (m["last_reading"] or 0) + 300 for code, m in meters.items()}
    teams = chat(USER)
    teams.link()
    replies = teams.say("I'd like to enter my meter readings")
    for _ in meters:
        code = METER_CODE.findall(texts(replies))[-1]
        replies = teams.say(str(wanted[code]))
    replies = teams.say("yes")
    after = {m["code"]: m["last_reading"] for m in stack.api(USER, "/assets/53463252/meters").json()}
    assert after == wanted, texts(replies)


def test_a_user_asking_for_a_contract_request_is_refused_politely(chat, stack: Stack):
    teams = chat(USER)
    teams.link()
    before = len(stack.api(USER, "/cases?list=mine").json())
    refusal = texts(teams.say("I've got a question about our contract"))
    assert "administrator" in refusal and "sntestportaldemo@outlook.com" in refusal, refusal
    assert len(stack.api(USER, "/cases?list=mine").json()) == before


def test_group_chat_answers_only_when_mentioned(chat, stack: Stack):
    personal = chat(USER)
    personal.link()  # linking happens in the personal chat; the group chat is the same Teams user
    group = chat(USER, kind="groupChat")
    group.aad, group.user_id = personal.aad, personal.user_id
    assert group.post(group.activity("lunch at noon?")).status_code == 200
    replies = group.say("<at>Print assistant</at> show my cases", entities=[MENTION])
    assert replies, "no answer to the mention"
    user_texts = [e["text"] for e in group.tracker()["events"] if e["event"] == "user"]
    assert user_texts == ["show my cases"]  # the mention stripped; the unmentioned message never reached it


def test_another_accounts_user_cannot_link_from_this_tenant(chat, stack: Stack):
    teams = chat(USER)
    teams.link()  # binds the tenant to the demo account (already bound by the earlier tests)
    stranger = chat("admin@northwind-imprimerie.fr")
    card = stranger.first_contact()
    code = actions([card])[0]["url"].split("#code=", 1)[1]
    refused = stack.api("admin@northwind-imprimerie.fr", "/teams/links", "POST", json={"code": code})
    assert refused.status_code == 409 and refused.json()["code"] == "teams_tenant_other_account"


def test_forged_activities_get_401_and_reach_nothing(chat, stack: Stack, microsoft: MicrosoftMock):
    teams = chat(USER)
    teams.link()
    now = int(time.time())
    forged = {
        "no token": None,
        "wrong signature": microsoft.sign(key=new_key()),
        "unknown kid": microsoft.sign(key=new_key(), kid="attacker"),
        "wrong issuer": microsoft.sign({"iss": "https://attacker.example"}),
        "wrong audience": microsoft.sign({"aud": "another-app"}),
        "expired": microsoft.sign({"exp": now - 3600, "nbf": now - 7200}),
        "serviceUrl mismatch": microsoft.sign(service_url="https://attacker.example/teams/"),
    }
    for case, token in forged.items():
        response = teams.post(teams.activity("show my cases"), token=token)
        assert response.status_code == 401, case
    time.sleep(0.5)
    assert teams.received()[-1]["text"].startswith("Done: your Teams account is linked")  # nothing after it
    assert not [e for e in teams.tracker().get("events") or [] if e["event"] == "user"]


def test_an_unlinked_user_gets_knowledge_answers_and_the_sign_in_card_for_the_rest(chat, stack: Stack):
    teams = chat(USER)
    cases_before = {c["number"] for c in stack.api(ADMIN, "/cases?list=all").json()}
    replies = teams.say("how do I replace the toner cartridge?", unlinked=True, card=True)
    assert [r for r in replies if any(a["title"] == "Open the article" for a in actions([r]))], texts(replies)
    card = sign_in_card(replies)  # first contact: after the answer, saying what works until then
    assert "Until then, I can answer your how-to questions" in text_of(card)
    for request in ("the printer on the second floor is jammed in tray 2", "show me my open cases",
                    "I'd like to enter my meter readings"):
        replies = teams.say(request, unlinked=True, card=True)
        said = texts(replies)
        assert text_of(sign_in_card(replies)).startswith("For that I need to know who you are in the portal"), said
        assert not CASE_NUMBER.search(said) and "WHJ01481" not in said and "session" not in said, said
    assert {c["number"] for c in stack.api(ADMIN, "/cases?list=all").json()} == cases_before  # nothing created
    identities = [e["metadata"]["verified_identity"] for e in teams.tracker(teams.unlinked_sender_id)["events"]
                  if e["event"] == "user"]
    assert len(identities) == 4 and all(i["id"] is None and i["anonymous"] is True and "account" not in i
                                        for i in identities)


def test_a_linked_user_unlinks_in_the_chat_and_the_next_message_gets_the_sign_in_card(chat, stack: Stack):
    teams = chat(ADMIN, "fr-FR")
    teams.link()
    replies = teams.say("je voudrais délier mon compte Teams du portail")
    assert "Je délie votre compte Microsoft Teams" in texts(replies), texts(replies)
    assert "C'est fait" not in texts(teams.click(replies, "Non, le garder"))
    assert stack.api(ADMIN, "/teams/links/me").status_code == 200  # "no" keeps the link
    replies = teams.say("déconnecte Teams de mon compte portail")
    replies = teams.click(replies, "Oui, délier Teams")
    assert "C'est fait : votre compte Microsoft Teams n'est plus relié" in texts(replies), texts(replies)
    assert stack.api(ADMIN, "/teams/links/me").status_code == 404
    # the next message: the sign-in card, nothing of the account
    replies = teams.say("montre-moi mes dossiers en cours", unlinked=True, card=True)
    said = texts(replies)
    assert text_of(sign_in_card(replies)).startswith("Pour cela, je dois savoir qui vous êtes dans le portail"), said
    assert not CASE_NUMBER.search(said), said
    linked_turns = [e["text"] for e in teams.tracker()["events"] if e["event"] == "user"]
    assert linked_turns[-1] == "/affirm"  # nothing reached the linked conversation after the unlink
    # from the web chat, the same request is answered: nothing is linked any more
    answer = " ".join(r.get("text", "") for r in stack.say(f"web-{uuid.uuid4().hex}", "délie mon compte Teams",
                                                              ADMIN))
    assert "Aucun compte Microsoft Teams n'est relié à votre compte du portail" in answer, answer


def test_linking_through_the_portal_page_in_a_browser(chat, stack: Stack):
    """The sign-in card's link opened in Chromium: the code leaves the address bar, the user signs in, the page
    shows the number, typed in Teams it links; the page runs under its strict CSP without errors."""
    from test_e2e_widget import CHROMIUM, CHROMIUM_ARGS, CSP_WATCH, goto, playwright

    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (scripts/test.sh installs it)")
    teams = chat(USER)
    card = teams.first_contact()
    url = actions([card])[0]["url"]
    assert url.startswith(f"{stack.backend_url}/chat/teams-link.html#code=")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="en-GB")
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        errors: List[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        goto(page, url)
        playwright.expect(page.get_by_role("heading", name="Link Microsoft Teams to my account")).to_be_visible()
        assert "code=" not in page.url  # the single-use code is not left in the address bar or history
        page.get_by_test_id("tl-email").fill(USER)
        page.get_by_test_id("tl-password").fill("wrong password")
        page.get_by_test_id("tl-submit").click()
        playwright.expect(page.get_by_test_id("tl-error")).to_have_text("Incorrect e-mail address or password.")
        page.get_by_test_id("tl-password").fill(PASSWORD)
        page.get_by_test_id("tl-submit").click()
        number = page.get_by_test_id("tl-number")
        playwright.expect(number).to_have_text(re.compile(r"^\d{6}$"))
        shown = number.text_content()
        assert page.evaluate("window.__cspViolations") == [] and errors == []
        browser.close()
    (done,) = teams.say(shown, to_assistant=False)
    assert text_of(done).startswith("Done: your Teams account is linked to SNTestDM")
