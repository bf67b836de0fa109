"""Issue 19 §3: user-written text the assistant repeats is never markup (tried as an attacker would).

A user writes a comment, an alias or a name holding a markdown link ("[Your session expired – sign in
again](https://evil.example/login)"); another user reads it through the assistant. Before the fix the web widget
rendered it as a clickable link with the attacker's wording. Each test renders the message like the widget does
(bot/web/widget.js: links, bold, bare URLs, backslash escapes) and checks that no link came out of it."""
from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest

from actions.admin import ActionAdminListUsers
from actions.cases import ActionCaseStatus
from actions.session import report_backend_error
from actions.backend_client import BackendRejected
from actions.text import escape_markdown, spelled_references, spoken_emails
from actions_fakes import message, run
from fakes_admin import ADMIN_PROFILE, ADMIN_TOKEN, AdminBackend
from fakes_cases import install_cases
from actions_fakes import USER_PROFILE

PHISHING = "[Your session expired – sign in again](https://evil.example/login)"
# bot/web/widget.js INLINE, in Python: an escape, a [label](url) link, **bold**, a bare URL
_WIDGET = re.compile(r"\\([!-/:-@\[-`{-~])|\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s)]+)\)|\*\*([^*\n]+?)\*\*|"
                     r"(https?://[^\s<>\"]+)")


def rendered(text: str) -> Dict[str, List[str]]:
    """What the widget makes of a message: the text shown, and the links and bold parts."""
    shown, links, bold = [], [], []
    last = 0
    for m in _WIDGET.finditer(text):
        shown.append(text[last:m.start()])
        if m.group(1):
            shown.append(m.group(1))
        elif m.group(2):
            links.append(m.group(3))
        elif m.group(4):
            bold.append(m.group(4))
        else:
            links.append(m.group(5))
        last = m.end()
    shown.append(text[last:])
    return {"text": "".join(shown), "links": links, "bold": bold}


def fill(domain: Dict[str, Any], response: str, values: Dict[str, Any], lang: str = "fr") -> str:
    """The response's text as Rasa fills it."""
    variants = domain["responses"][response]
    template = next(v for v in variants if (v.get("condition") or [{}])[0].get("value", "fr") == lang)
    return template["text"].format_map({k: v for k, v in values.items()})


@pytest.mark.parametrize("typed", [
    PHISHING, "**URGENT** _call_ `now`", "<a href='https://evil.example'>x</a>", "# Heading",
    "see https://evil.example",
    "mailto:boss@evil.example", "![img](https://evil.example/x.png)", "C:\\temp\\[1]", "~~struck~~",
])
def test_escaped_text_renders_as_typed_and_makes_no_link(typed):
    out = rendered(escape_markdown(typed))
    assert out["links"] == [] and out["bold"] == []
    assert out["text"] == typed


def test_plain_text_is_left_alone():
    for typed in ("Copieur 2e étage", "Alan Inactive_Stane", "toner (noir)", "N° 12 - bureau 3.4", "l'accueil !"):
        assert escape_markdown(typed) == typed


@pytest.mark.asyncio
async def test_a_comment_with_a_link_is_repeated_as_text(portal, make_tracker, domain):
    cases = install_cases(portal)
    case = next(c for c in cases.cases if c["number"] == "CS0032499")
    case["activities"].append({"author_name": "Mallory **Admin**", "body": PHISHING,
                               "created_at": "2026-02-04T09:00:00Z"})
    case["description"] = f"Traînées. {PHISHING}"
    tracker = make_tracker("où en est le CS0032499 ?", intent="case_status", entities=[("case_number", "CS0032499")],
                           slots={"language": "fr"}, portal_user=dict(USER_PROFILE, language="fr"), active_loop=None)
    dispatcher, _ = await run(ActionCaseStatus(), tracker, domain)
    newest = [m for m in dispatcher.messages if m.get("response") == "utter_case_activity"][0]
    shown = rendered(fill(domain, "utter_case_activity", newest))
    assert shown["links"] == [] and shown["bold"] == []
    assert PHISHING in shown["text"] and "Mallory **Admin**" in shown["text"]
    status = message(dispatcher, "utter_case_status")
    shown = rendered(fill(domain, "utter_case_status", status))
    assert shown["links"] == [] and PHISHING in shown["text"]


@pytest.mark.asyncio
async def test_a_name_with_a_link_in_the_users_list_is_text(portal, make_tracker, domain):
    admin = AdminBackend(portal)
    admin.users[2]["full_name"] = PHISHING
    tracker = make_tracker("liste des utilisateurs", intent="list_users", slots={"language": "fr"},
                           token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, active_loop=None)
    dispatcher, _ = await run(ActionAdminListUsers(), tracker, domain)
    listing = message(dispatcher, "utter_admin_users_list")
    shown = rendered(fill(domain, "utter_admin_users_list", listing))
    assert shown["links"] == [] and PHISHING in shown["text"]


def test_a_backend_refusal_quoting_the_users_words_is_text(domain):
    class Dispatcher:
        def __init__(self) -> None:
            self.messages: List[Dict[str, Any]] = []

        def utter_message(self, **kwargs: Any) -> None:
            self.messages.append(kwargs)

    dispatcher = Dispatcher()
    report_backend_error(dispatcher, BackendRejected(422, "invalid_case_number",
                                                     f"« {PHISHING} » n'est pas un numéro de dossier valide."))
    shown = rendered(fill(domain, "utter_portal_refused", dispatcher.messages[0]))
    assert shown["links"] == [] and PHISHING in shown["text"]


@pytest.mark.parametrize(("said", "written"), [
    ("W H J zéro un quatre huit un.", "WHJ01481."),
    ("serial w h j zero one four eight one please", "serial WHJ01481 please"),
    ("c'est W-H-J-0-1-4-8-1 !", "c'est WHJ01481 !"),
    ("WHJ 0 1 4 8 1", "WHJ01481"),
    ("case C S zero zero three two four nine eight", "case CS0032498"),
    ("ord 0 0 0 1 2 2 9", "ORD0001229"),
    ("the asset number is five three four six three two five two", "the asset number is 53463252"),
    # nothing that only looks like one
    ("le 112 c est 15940", "le 112 c est 15940"),
    ("relevés de ma machine : 112 = 15 390 / 113 = 89 002", "relevés de ma machine : 112 = 15 390 / 113 = 89 002"),
    ("112 15,480 113 88,960", "112 15,480 113 88,960"),
    ("5 3 4 6 3 2 5 2", "53463252"),
    ("tel: 0 1 2 3 4 5 6 7 8 9", "tel: 0 1 2 3 4 5 6 7 8 9"),  # a phone number said digit by digit
    ("un problème sur la 2e machine, deux trois fois", "un problème sur la 2e machine, deux trois fois"),
    ("A B C", "A B C"),
    ("", ""),
])
def test_references_said_character_by_character_are_written_as_one(said, written):
    assert spelled_references(said) == written


@pytest.mark.parametrize(("said", "written"), [
    ("son mail c'est marc point lefevre arobase canon-uk-demo point example",
     "son mail c'est marc.lefevre@canon-uk-demo.example"),
    ("jane dot smith at example dot com please", "jane.smith@example.com please"),
    ("meet me at the office at noon", "meet me at the office at noon"),
    ("We're at the point where we need a new user", "We're at the point where we need a new user"),
    ("she starts at the point of sale desk", "she starts at the point of sale desk"),
    ("marc tiret lefevre arobase example point com", "marc-lefevre@example.com"),
    ("jane underscore smith at example dot com", "jane_smith@example.com"),
    ("marc.lefevre arobase example.fr", "marc.lefevre@example.fr"),
    ("sarah.oconnor@example.com", "sarah.oconnor@example.com"),
])
def test_email_addresses_said_in_words_are_written_as_addresses(said, written):
    assert spoken_emails(said) == written
