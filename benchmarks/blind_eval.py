"""Conversation-level evaluation on blind conversations: a simulated user plays each conversation of a batch
(benchmarks/blind_conversations/*.yml, written from the portal guide by someone who never saw the training
data) against the whole stack, then the outcome is checked through the portal's backend, never on the bot's
words alone. benchmarks/README.md ("Conversations: blind batches end to end") describes the rules in full.

    .venv-app/bin/python benchmarks/blind_eval.py benchmarks/blind_conversations/batch1.yml [--only ID ...]
        [--out results/blind_eval] [--no-reset] [--verbose]

Starts its own stack (scripts/stack.py: the Procfile on free ports, a fresh seeded SQLite database). Before each
conversation the database is put back to its freshly seeded state (SQLite backup API), so every conversation
meets the seeded demo data, whatever the previous ones wrote.

The simulated user (one fresh `sender` per conversation, the demo administrator or user by `role`) sends the
`opening`, then, turn after turn, reads the bot's messages and the conversation's tracker (Rasa's HTTP API:
active form, requested slot, names of the responses just sent) and answers what is asked from the
conversation's `facts`: the requested slot is mapped to a fact concept (benchmarks/blind_eval_concepts.py,
written from the domain's slot names); a button whose title names the fact is clicked (its payload sent), else
the fact is typed as written, and the next fact that could answer is tried when the bot asks again; summaries are
confirmed (or cancelled when `confirm: false`); "did the article help?" follows `knowledge_helped`; the `detour`
is sent once `detour_after_turn` user turns were made, or at the goal's summary if it was not sent by then (a
detour is said mid-conversation; an assistant that needs fewer turns than the writer counted gets it before the
summary is confirmed, not as a new request after). It stops when the assistant has nothing more to ask, when
it asks again and the facts hold no other answer, or at `max_user_turns + 6` turns.

Then the portal's state is compared with the state before the conversation (backend API as the demo
administrator; training requests and password-reset links, which the API does not list, from the stack's
database, read only): the expected object (case, order, meter readings, request, comment, invitation, user change,
profile change) must exist exactly once with `expected.fields` matching, and nothing may be written for
`answer_only`, `refused` or `confirm: false`; `answer_must_mention` words must appear in the bot's text (case,
accents and digit grouping ignored).

Verdict per conversation: success (right outcome, right fields, within `max_user_turns`), partial (right outcome,
but more turns or a field wrong), failure; not scored: gap (the runner could not answer a question a person with
the facts could have answered — to fix here — or the facts lack what the goal's own path needs — to fix in the
batch) and data (every problem follows from a demo-data assumption of the batch that the seeded data contradicts).

Writes results/blind_eval/<batch>.md (rates per language, role and outcome, every non-success with its reason
and an excerpt of the transcript, the conversations not scored) and <batch>.json (everything: full transcripts
with tracker states and the runner's reason for each answer, objects written, field checks).
Not a test, and the batch must never be used to change the assistant's data.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from stack import ADMIN, USER, Stack, running_stack  # noqa: E402

from blind_eval_concepts import (  # noqa: E402
    CREATING_OUTCOMES, HIGH_READING_RESPONSES, NO, NON_CREATING_OUTCOMES, OUTCOME_FORMS,
    OUTCOME_INTENTS, OUTCOMES, PROPOSAL_RESPONSES, RETRY_RESPONSES, SLOT_CONCEPTS, SUGGESTION_RESPONSES,
    SWITCH_RESPONSES, YES, BotTurn, Button, Concept, best_match, candidates, conditional_answers, contains_folded,
    fold, lookup, meter_of_key, normalise_key, overlap, tokens,
)

ROLES = {"admin": ADMIN, "user": USER}
EXTRA_TURNS = 6  # the turn cap is max_user_turns + this
DEFAULT_MAX_TURNS = 8

# =============================================================================================================
# The REST channel contract, in one place (README "Contract for integrations and tests"). If the token moves
# (a header instead of metadata, ...) or the conversation id the channel binds changes, only this changes.
# =============================================================================================================


def chat(stack: Stack, sender: str, text: str, email: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Sends one user message over the REST channel; returns (the bot's messages, the tracker ids under which
    Rasa may keep this conversation, most likely first)."""
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text, "metadata": {"token": stack.token(email)}},
        timeout=120,
    )
    response.raise_for_status()
    user_id = _user_id(stack, email)
    # bot/channels.py binds the conversation to the verified user: u{user_id}:{sender}
    return response.json(), [f"u{user_id}:{sender}", sender]


_USER_IDS: Dict[str, int] = {}


def _user_id(stack: Stack, email: str) -> int:
    if email not in _USER_IDS:
        _USER_IDS[email] = stack.api(email, "/users/me").json()["id"]
    return _USER_IDS[email]


# --- Rasa's tracker (HTTP API, the stack's API token) ----------------------------------------------------------


def rasa_api_token(stack: Stack) -> Optional[str]:
    """The stack's Rasa API token: `Stack.rasa_api_token` (scripts/stack.py), else, for revisions that
    passed it on Rasa's command line (--auth-token), from the command line of the Rasa process this run started."""
    if getattr(stack, "rasa_api_token", ""):
        return stack.rasa_api_token
    for pid, _ in stack.processes().get("rasa", []):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--auth-token" in args:
            return args[args.index(b"--auth-token") + 1].decode()
    return None


def read_tracker(stack: Stack, token: Optional[str], ids: List[str]) -> Optional[Dict[str, Any]]:
    if not token:
        return None
    for conversation_id in ids:
        try:
            response = httpx.get(f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                                 params={"token": token}, timeout=30)
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            tracker = response.json()
            if any(e.get("event") == "user" for e in tracker.get("events") or []):
                return tracker
    return None


def bot_turn(messages: List[Dict[str, Any]], tracker: Optional[Dict[str, Any]]) -> BotTurn:
    turn = BotTurn()
    for message in messages:
        if message.get("text"):
            turn.texts.append(message["text"])
        for button in message.get("buttons") or []:
            turn.buttons.append(Button(str(button.get("title", "")), str(button.get("payload", ""))))
        if message.get("custom") is not None:
            turn.texts.append(json.dumps(message["custom"], ensure_ascii=False))
    if tracker is None:
        return turn
    turn.tracker_read = True
    slots = tracker.get("slots") or {}
    turn.slots = slots
    turn.requested_slot = slots.get("requested_slot")
    turn.active_loop = (tracker.get("active_loop") or {}).get("name")
    turn.intent = ((tracker.get("latest_message") or {}).get("intent") or {}).get("name")
    events = tracker.get("events") or []
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    for event in events[last_user + 1:]:
        if event.get("event") == "bot":
            name = (event.get("metadata") or {}).get("utter_action")
            if name:
                turn.responses.append(name)
        elif event.get("event") == "action" and event.get("name") not in (None, "action_listen"):
            turn.actions.append(event["name"])
    return turn


# --- the batch ---------------------------------------------------------------------------------------------


@dataclass
class Conversation:
    id: str
    lang: str
    role: str
    goal: str
    opening: str
    facts: Dict[str, Any]
    expected: Dict[str, Any]
    detour: Optional[str] = None
    detour_after_turn: Optional[int] = None
    confirm: bool = True
    notes: str = ""
    problems: List[str] = field(default_factory=list)  # schema problems found while loading

    @property
    def outcome(self) -> str:
        return str(self.expected.get("outcome") or "")

    @property
    def max_turns(self) -> int:
        value = self.expected.get("max_user_turns")
        return int(value) if isinstance(value, int) or str(value).isdigit() else DEFAULT_MAX_TURNS

    @property
    def email(self) -> str:
        return ROLES.get(self.role, USER)


def load_batch(path: Path) -> List[Conversation]:
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if isinstance(items, dict):  # tolerate {"conversations": [...]}
        items = next((v for v in items.values() if isinstance(v, list)), [])
    conversations = []
    for index, item in enumerate(items):
        problems = []
        expected = item.get("expected") or {}
        if expected.get("outcome") not in OUTCOMES:
            problems.append(f"unknown expected.outcome {expected.get('outcome')!r}")
        if item.get("role") not in ROLES:
            problems.append(f"unknown role {item.get('role')!r}")
        if not item.get("opening"):
            problems.append("no opening")
        conversations.append(Conversation(
            id=str(item.get("id") or f"item-{index + 1}"), lang=str(item.get("lang") or "en"),
            role=str(item.get("role") or "user"), goal=str(item.get("goal") or ""),
            opening=str(item.get("opening") or ""), facts=item.get("facts") or {}, expected=expected,
            detour=item.get("detour") or None, detour_after_turn=item.get("detour_after_turn"),
            confirm=item.get("confirm", True) is not False, notes=str(item.get("notes") or ""), problems=problems))
    return conversations


# --- the simulated user --------------------------------------------------------------------------------------


@dataclass
class Move:
    text: str
    kind: str  # opening | typed | button | detour | conditional
    note: str = ""
    question: Optional[str] = None  # the form question this move answers (to see a rejected answer)
    from_fact: bool = True          # False: a default a person would give when the facts are silent


@dataclass
class Stop:
    reason: str
    # "done": the assistant has nothing more to ask; "stuck": it asked the same again and the facts hold no
    # other answer; "assistant": it asked what a person with this goal cannot answer (off the goal's path) or
    # did not understand; "runner_gap": a question a person with the facts could answer but the runner cannot;
    # "batch_gap": the goal's own path needs a fact the batch does not give; "cap": turn cap reached
    kind: str


@dataclass
class Memory:
    user_turns: int = 0
    detour_sent: bool = False
    detour_turn: Optional[int] = None    # index of the exchange whose user message was the detour
    detour_followed: bool = False        # a question the detour's answer asked was answered
    also_followed: bool = False          # the other request of the opening message, offered after a form, taken
    confirm_reached: bool = False        # a summary of the goal's own form was shown
    forms_seen: List[str] = field(default_factory=list)
    off_path_forms: List[str] = field(default_factory=list)
    pending: Optional[Tuple[str, str]] = None  # (question, answer) sent and not yet followed by another question
    tried: Dict[str, List[str]] = field(default_factory=dict)     # question -> answers sent, in order
    rejected: Dict[str, List[str]] = field(default_factory=dict)  # question -> answers asked again after
    items_done: List[str] = field(default_factory=list)  # consumables already chosen (several items)
    guessed: List[str] = field(default_factory=list)  # concepts the runner chose without a fact (order picked)
    known_cases: List[str] = field(default_factory=list)  # the cases that existed before the conversation
    used_conditions: List[str] = field(default_factory=list)
    clicked: List[str] = field(default_factory=list)  # payloads clicked outside forms
    notes: List[str] = field(default_factory=list)
    gaps: List[str] = field(default_factory=list)  # runner gaps met on the way (the conversation went on)


def _button_with_payload(turn: BotTurn, *prefixes: str) -> Optional[Button]:
    return next((b for b in turn.buttons if any(b.payload.startswith(p) for p in prefixes)), None)


def _yes_no(turn: BotTurn, yes: bool, lang: str, note: str, question: Optional[str] = None,
            from_fact: bool = True) -> Move:
    button = _button_with_payload(turn, "/affirm" if yes else "/deny")
    if button:
        return Move(button.payload, "button", f"{note} -> {button.title!r}", question, from_fact)
    return Move((YES if yes else NO).get(lang, "yes" if yes else "no"), "typed", note, question, from_fact)


def _payload_intent(payload: str) -> str:
    found = re.match(r"/([A-Za-z_]+)", payload)
    return found.group(1) if found else ""


# Words that name any device ("the copier", "la machine") and so never pick one device's button.
GENERIC_DEVICE_WORDS = {"copier", "printer", "machine", "device", "appareil", "one", "celle", "celui", "c",
                        "canon", "ir-adv", "multifonction", "mfp", "photocopy"}


def device_words(text: Any) -> str:
    return " ".join(w for w in tokens(text) if w not in GENERIC_DEVICE_WORDS)


def _choose_button(buttons: List[Button], value: Any, threshold: float = 0.5) -> Tuple[Optional[Button], str]:
    """The button whose title matches the fact: an identifier, the fact's words in the title, or the title's
    words in the fact ("In the drawer or tray" in "paper jams in the tray"); a single best, else None."""
    if not buttons or not str(value).strip():
        return None, "no buttons"
    ranged = _range_button(buttons, value)
    if ranged is not None:
        return ranged, "number in the button's range"
    button, score, why = best_match(value, [(b.title, b) for b in buttons], threshold)
    if button is not None:
        return button, f"{why} ({score:.2f})"
    reverse = sorted(((overlap(b.title, value), i) for i, b in enumerate(buttons)), reverse=True)
    if reverse[0][0] >= threshold and (len(reverse) == 1 or reverse[1][0] < reverse[0][0]):
        return buttons[reverse[0][1]], f"title words in the fact ({reverse[0][0]:.2f})"
    return None, why


def _range_button(buttons: List[Button], value: Any) -> Optional[Button]:
    """"juste une" / "about 10" against "1 à 5 produits" / "More than 5 products": the button whose range holds
    the number."""
    number = _number_in(str(value))
    if number is None:
        return None
    fits = []
    for button in buttons:
        title = fold(button.title)
        between = re.search(r"(\d+)\s*(?:a|to|-|–)\s*(\d+)", title)
        above = re.search(r"(?:plus de|more than|over|au-dela de)\s*(\d+)", title)
        if between and int(between.group(1)) <= number <= int(between.group(2)) \
                or above and number > int(above.group(1)):
            fits.append(button)
    return fits[0] if len(fits) == 1 else None


def _goal_sources(conv: Conversation) -> List[Tuple[str, str]]:
    """What a person knows of their own goal, most specific first."""
    sources = [("goal", conv.goal), ("facts.description", str(conv.facts.get("description") or "")),
               ("facts.request_details", str(conv.facts.get("request_details") or "")), ("opening", conv.opening)]
    return [(name, text) for name, text in sources if text.strip()]


# Words every option of a list may carry ("Other request", "Contract question"): they never tell options apart.
LIST_WORDS = {"question", "request", "demande", "demander", "other", "autre", "problem", "probleme", "type", "my",
              "mon", "mes", "sur", "about"}


def _button_from_goal(conv: Conversation, buttons: List[Button], threshold: float = 0.5,
                      ) -> Tuple[Optional[Button], str]:
    """The option a person picks from what they know of their goal: the single button most of whose
    distinctive words are in the goal (then the description, the details, the opening)."""
    for name, text in _goal_sources(conv):
        known = set(tokens(text))
        scored = []
        for button in buttons:
            words = [w for w in tokens(button.title) if w not in LIST_WORDS]
            scored.append((sum(w in known for w in words) / len(words) if words else 0.0, button))
        scored.sort(key=lambda x: -x[0])
        if scored and scored[0][0] >= threshold and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return scored[0][1], f"from the {name}'s words ({scored[0][0]:.2f})"
    return None, "no button fits the goal's words"


def _asked_meter(turn: BotTurn) -> Optional[str]:
    for text in reversed(turn.texts):
        found = re.search(r"(?:Meter|Compteur)\s+(1\d\d)\b", text)
        if found:
            return found.group(1)
    return None


def _forms_allowed_anywhere(conv: Conversation) -> bool:
    """answer_only after a cancelled flow (confirm: false) or an article that solved it (batch README): the
    flow's form is expected, then cancelled or ended without a write."""
    return conv.outcome == "answer_only" and (not conv.confirm or conv.facts.get("knowledge_helped") is True)


def path_forms(conv: Conversation) -> Tuple[str, ...]:
    if _forms_allowed_anywhere(conv):
        return tuple(sorted({f for forms in OUTCOME_FORMS.values() for f in forms}))
    return OUTCOME_FORMS.get(conv.outcome, ())


def decide(conv: Conversation, turn: BotTurn, memory: Memory) -> Any:
    lang = conv.lang
    expected = conv.outcome
    on_path = path_forms(conv)
    if turn.active_loop and turn.active_loop not in memory.forms_seen:
        memory.forms_seen.append(turn.active_loop)
        if turn.active_loop not in on_path:
            memory.off_path_forms.append(turn.active_loop)
    question = _question_key(turn)
    if memory.pending and question is not None:
        asked, answer = memory.pending
        if asked == question:  # asked again: the answer was not taken
            memory.rejected.setdefault(asked, []).append(answer)
        memory.pending = None
    responses = set(turn.responses)

    if responses & RETRY_RESPONSES:
        return _yes_no(turn, True, lang, "the portal did not answer: retry")
    if (conv.detour and not memory.detour_sent and conv.detour_after_turn is not None
            and memory.user_turns >= int(conv.detour_after_turn)):
        memory.detour_sent = True
        return Move(conv.detour, "detour")
    followup = _detour_followup(conv, turn, memory)
    if followup is not None:
        return followup
    conditional = _conditional(conv, turn, memory)
    if conditional is not None:
        return conditional
    if responses & SWITCH_RESPONSES:
        return _switch(conv, turn, on_path)
    if responses & PROPOSAL_RESPONSES:
        _, category = lookup(conv.facts, ("category",))
        proposed = next((t for t in reversed(turn.texts) if ":" in t), turn.text).split(":", 1)[-1]
        if category is None:
            return _yes_no(turn, True, lang, "proposed fault type accepted (no category fact)", "fault_proposal")
        fits = max(overlap(category, proposed), overlap(proposed, category)) >= 0.5
        return _yes_no(turn, fits, lang, f"proposed type vs category fact {category!r}: {'yes' if fits else 'no'}",
                       "fault_proposal")
    if responses & HIGH_READING_RESPONSES:
        return _yes_no(turn, True, lang, "high reading: the facts' value is right")
    if "utter_existing_case_offer" in responses:
        return _case_offer(conv, turn, memory)
    if "utter_also_asked" in responses and turn.buttons and not memory.also_followed:
        # "you also asked: …": the user's own second request, taken once (they asked for it)
        memory.also_followed = True
        return Move(turn.buttons[0].payload, "button", "the opening message's other request, offered after the form")
    if responses & SUGGESTION_RESPONSES:
        return _suggestion(conv, turn, memory)
    if turn.active_loop and turn.requested_slot:
        return _answer_slot(conv, turn, memory)
    if turn.active_loop:
        return Stop(f"form {turn.active_loop} open but no question asked", "assistant")
    return _no_form(conv, turn, memory)


def _question_key(turn: BotTurn) -> Optional[str]:
    if not (turn.active_loop and turn.requested_slot):
        return None
    if turn.requested_slot == "meter_current":
        return f"meter_current:{_asked_meter(turn)}"
    return turn.requested_slot


def _detour_followup(conv: Conversation, turn: BotTurn, memory: Memory) -> Optional[Move]:
    """The detour's answer asked a question of its own with buttons ("which case?"): the button the detour
    names, once."""
    if memory.detour_turn is None or memory.detour_followed or memory.user_turns != memory.detour_turn + 1:
        return None
    own = [b for b in turn.buttons
           if _payload_intent(b.payload) not in ("inform", "affirm", "deny", "change_language", "help")]
    if not own:
        return None
    button, why = _choose_button(own, conv.detour, threshold=0.3)
    if button is None:
        return None
    memory.detour_followed = True
    return Move(button.payload, "button", f"the detour's own question: {button.title!r} ({why})")


def _switch(conv: Conversation, turn: BotTurn, on_path: Tuple[str, ...]) -> Move:
    """"Drop X for Y?": yes when Y is what the goal is about and X is not."""
    wanted = turn.slots.get("switch_to")
    labels = re.findall(r"[«\"“]\s*([^»\"”]+?)\s*[»\"”]", turn.text)
    knowledge = " ".join([text for _, text in _goal_sources(conv)] + _fact_values(conv))
    if wanted in OUTCOME_INTENTS.get(conv.outcome, ()) and turn.active_loop not in on_path:
        return _yes_no(turn, True, conv.lang, f"switch to {wanted}: the goal's request")
    if len(labels) >= 2:
        current, target = overlap(labels[0], knowledge), overlap(labels[1], knowledge)
        if wanted in OUTCOME_INTENTS.get(conv.outcome, ()) and target > current:
            return _yes_no(turn, True, conv.lang,
                           f"switch to {labels[1]!r}: closer to the goal ({target:.2f} > {current:.2f})")
    return _yes_no(turn, False, conv.lang, f"switch offer to {wanted}: stay")


def _conditional(conv: Conversation, turn: BotTurn, memory: Memory) -> Optional[Move]:
    """facts.other entries that answer a situation: "if there is already a ticket" once the bot named an
    existing case, "if the reading is lower than the last one" once it refused a lower value."""
    for key, value in conditional_answers(conv.facts):
        if key in memory.used_conditions:
            continue
        words = set(tokens(key))
        about_case = words & {"ticket", "demande", "request", "dossier", "case"} and \
            words & {"deja", "already", "existe", "exist", "exists"}
        about_lower = words & {"reading", "meter"} and (words & {"lower", "bas", "below", "inferieur"})
        named = set(re.findall(r"\bCS\d{7}\b", turn.text)) & set(memory.known_cases)
        if about_case and named and memory.detour_sent and (turn.active_loop or memory.detour_turn is not None
                                                            and memory.user_turns == memory.detour_turn + 1):
            memory.used_conditions.append(key)
            return Move(str(value), "conditional", f"condition {key!r}: the bot named an existing case")
        if about_lower and "utter_meter_value_lower" in turn.responses:
            memory.used_conditions.append(key)
            return Move(str(value), "conditional", f"condition {key!r}: the bot refused a lower reading")
    return None


def _case_offer(conv: Conversation, turn: BotTurn, memory: Memory) -> Any:
    """"This looks like your open case CS…: add your message to it, its status, or something new?": the comment
    when the goal is one, the status when the goal only wants an answer, else the new request."""
    wanted = {"comment": "add_case_comment", "answer_only": "case_status"}.get(conv.outcome)
    chosen = next((b for b in turn.buttons if _payload_intent(b.payload) == wanted), None) if wanted else None
    if chosen is None:
        chosen = next((b for b in turn.buttons
                       if _payload_intent(b.payload) not in ("add_case_comment", "case_status")), None)
    if chosen is None:
        return Stop("an open case was offered and no button fits the goal", "assistant")
    memory.clicked.append(chosen.payload)
    return Move(chosen.payload, "button", f"open case offered: {chosen.title!r} (goal: {conv.outcome})")


def _suggestion(conv: Conversation, turn: BotTurn, memory: Memory) -> Any:
    """Low confidence: "did you mean A, B, or something else?". The goal's own request when offered (one
    intent for the outcome, or the one whose title fits the goal; a general enquiry for a request that fits
    none); for a question, the suggestion closest to the goal."""
    wanted = OUTCOME_INTENTS.get(conv.outcome, ())
    fitting = [b for b in turn.buttons if _payload_intent(b.payload) in wanted and b.payload not in memory.clicked]
    chosen, why = None, ""
    if len({_payload_intent(b.payload) for b in fitting}) == 1 and len(wanted) <= 2:
        chosen, why = fitting[0], "the goal's request"
    elif fitting:
        chosen, why = _button_from_goal(conv, fitting)
        if chosen is None:
            chosen = next((b for b in fitting if _payload_intent(b.payload) == "general_enquiry"), None)
            why = "a general enquiry (no other suggestion fits the goal)"
    elif conv.outcome in NON_CREATING_OUTCOMES:
        options = [b for b in turn.buttons if _payload_intent(b.payload) != "help" and b.payload not in memory.clicked]
        chosen, why = _button_from_goal(conv, options)
    if chosen is None:
        return Stop("the assistant did not understand and none of its suggestions fits the goal", "assistant")
    memory.clicked.append(chosen.payload)
    return Move(chosen.payload, "button", f"suggestion: {chosen.title!r} ({why})")


def _fact_values(conv: Conversation) -> List[str]:
    values = [str(v) for k, v in conv.facts.items() if k != "other" and isinstance(v, (str, int))
              and not isinstance(v, bool)]
    values += [str(v) for k, v in (conv.facts.get("other") or {}).items() if isinstance(v, (str, int))]
    return values


def _no_form(conv: Conversation, turn: BotTurn, memory: Memory) -> Any:
    expected = conv.outcome
    path_done = any(f in OUTCOME_FORMS.get(expected, ()) for f in memory.forms_seen)
    # the "save this language in your profile too?" offer is answered only for a goal about the profile
    offer = "utter_offer_language" in turn.responses and expected != "profile_changed"
    fresh = [b for b in turn.buttons if b.payload not in memory.clicked  # the channel's "save this language?"
             and (expected == "profile_changed" or _payload_intent(b.payload) != "change_language")
             and not (offer and b.payload in ("/affirm", "/deny"))]
    if fresh and not path_done:
        wanted = OUTCOME_INTENTS.get(expected, ())
        chosen, why = None, ""
        if expected == "profile_changed":
            found = candidates(conv.facts, ("language", "notifications", "email_notifications"),
                               ("langue", "language", "notification"))
            options = [b for b in fresh if _payload_intent(b.payload) in wanted]
            if "utter_offer_language" in turn.responses:  # "save <language> in your profile too?" (yes / no)
                offered = language_code(turn.text)
                if offered and any(language_code(v) == offered for _, v in found):
                    options += [b for b in fresh if b.payload == "/affirm"]
            for key, target in found:
                # the button's meaning is in its payload's value: "language_choice":"en", "notification_state":"off"
                code, state = language_code(target), notifications_wanted(target)
                wanted_values = ([f'"language_choice":"{code}"'] if code else []) + \
                    ([f'"notification_state":"{"on" if state else "off"}"'] if state is not None else [])
                chosen = next((b for b in options if any(v in b.payload for v in wanted_values)
                               or b.payload == "/affirm" and code), None)
                if chosen:
                    why = f"profile fact {key} = {target!r}"
                    break
        elif wanted and not (expected == "case" and conv.facts.get("knowledge_helped") is True):
            chosen = next((b for b in fresh if _payload_intent(b.payload) in wanted), None)
            why = "offered button fitting the goal"
        if chosen is None:
            # a list to pick from (which list of cases, which glossary term...): the button a fact names
            options = [b for b in fresh if _payload_intent(b.payload) != "help"]
            for value in _fact_values(conv):
                chosen, why = _choose_button(options, value)
                if chosen:
                    why = f"button named by the fact {value!r} ({why})"
                    break
        if chosen is None and expected in NON_CREATING_OUTCOMES:
            # the bot asks back instead of answering ("which list?"): the choice the goal's words point to
            choices = [b for b in fresh if _payload_intent(b.payload) in
                       ("list_cases", "ask_glossary", "case_status", "view_orders", "list_assets")]
            if choices and not any(t.startswith("utter_case_list") and t != "utter_case_list_hint" or
                                   t in ("utter_glossary_asset",) for t in turn.responses):
                chosen, why = _button_from_goal(conv, choices)
                if chosen is None and any(r.startswith("utter_ask_") for r in turn.responses):
                    return Stop(f"the bot asks to choose ({', '.join(b.title for b in choices)}); the goal's "
                                "words point to none", "runner_gap")
        if chosen is not None:
            memory.clicked.append(chosen.payload)
            return Move(chosen.payload, "button", f"{why}: {chosen.title!r}")
    return Stop("the assistant has nothing more to ask", "done")


def _render(turn: BotTurn, concept: Concept, key: str, value: Any) -> Move:
    text = _fact_text(value)
    match_on = device_words(text) if concept.kind == "device" else text
    # half the words of a device ("1er étage" against "Copieur 2e étage") is no match: a person types the words
    button, why = _choose_button(turn.buttons, match_on, threshold=0.6 if concept.kind == "device" else 0.5)
    if button is not None:
        return Move(button.payload, "button", f"{concept.name} = {text!r} ({key}): {button.title!r} ({why})")
    return Move(text, "typed", f"{concept.name} ({key})")


NUMBER_WORDS = {"one": 1, "un": 1, "une": 1, "two": 2, "deux": 2, "three": 3, "trois": 3, "four": 4,
                "quatre": 4, "five": 5, "cinq": 5}


def _number_in(text: str) -> Optional[int]:
    numbers = re.findall(r"\b\d{1,3}\b", text)
    if len(numbers) == 1:
        return int(numbers[0])
    words = [NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", fold(text)) if w in NUMBER_WORDS]
    return words[0] if len(words) == 1 and not numbers else None


def _items(conv: Conversation) -> List[str]:
    """facts.item, split when it names several consumables ("magenta and yellow toner")."""
    _, item = lookup(conv.facts, ("item", "consumable"))
    if item is None:
        return []
    parts = [p.strip() for p in re.split(r"\s+(?:and|et|&|\+)\s+|,\s*", str(item)) if p.strip()]
    return parts if len(parts) > 1 else [str(item)]


def _concept_options(conv: Conversation, turn: BotTurn, memory: Memory, concept: Concept,
                     off_path: bool) -> List[Move]:
    lang = conv.lang
    slot = turn.requested_slot
    found = candidates(conv.facts, concept.facts, concept.other_keys)
    if concept.name == "item":
        items = _items(conv)
        remaining = [i for i in items if i not in memory.items_done]
        found = [("item", i) for i in (remaining or items[-1:])]
    if concept.name == "more_items":
        items = _items(conv)
        more = len(items) > 1 and len(memory.items_done) < len(items)
        return [_yes_no(turn, more, lang, f"more items: {more} ({len(memory.items_done)}/{len(items)} chosen)")]
    if concept.kind == "number":
        detour_number = _number_in(conv.detour or "") if memory.detour_sent else None
        if detour_number is not None:
            found = [("detour", str(detour_number))] + found  # "make it 3 instead" said in the detour
        found = [(k, str(_number_in(str(v)) or v)) for k, v in found]  # "one of each" -> 1
    if concept.kind == "yesno":
        if not found:
            return [_yes_no(turn, concept.default == "affirm", lang, f"{concept.name}: default", from_fact=False)]
        value = found[0][1]
        truthy = value is True or fold(value) in ("yes", "oui", "true", "1")
        return [_yes_no(turn, truthy, lang, f"{concept.name} = {value!r}")]
    options = [_render(turn, concept, key, value) for key, value in found]
    if concept.name in ("description", "request_details", "topic") and not off_path:
        options.append(Move(conv.opening, "typed", f"{concept.name}: the opening's words again"))
    default = concept.default
    if default in ("deny", "affirm"):
        options.append(_yes_no(turn, default == "affirm", lang, f"{concept.name}: default {default}",
                               from_fact=False))
    elif default and default.startswith("button:"):
        button = _button_with_payload(turn, default[len("button:"):])
        if button:
            options.append(Move(button.payload, "button", f"{concept.name}: default {button.title!r}",
                                from_fact=False))
    if turn.buttons and concept.name == "category":
        # the batch gives the type a person has in mind only in expected.fields: a person picks it among the
        # types offered (the bot's own proposals are still accepted or refused from the facts alone)
        button, why = _type_button(conv, turn)
        if button:
            options.append(Move(button.payload, "button", f"{why}: {button.title!r}", from_fact=False))
    if turn.buttons and concept.name in ("category", "operation", "decision", "contact_action", "order_problem",
                                         "meter"):
        button, why = _button_from_goal(conv, [b for b in turn.buttons if b.payload != "/deny"])
        if button:
            options.append(Move(button.payload, "button", f"{concept.name} {why}", from_fact=False))
    if concept.name == "category" and "utter_propose_fault_types" in turn.responses:
        other = _button_with_payload(turn, "/deny")  # "another type": none of the proposed ones fits
        if other:
            options.append(Move(other.payload, "button", f"none of the proposed types fits: {other.title!r}",
                                from_fact=False))
    if concept.name == "category" and turn.buttons:
        # a list of types to pick from: a person clicks the one they mean before typing words that name none
        options.sort(key=lambda m: m.kind != "button")
    if concept.name == "order_number" and turn.buttons:
        # no order number at hand: the most recent order offered (the list is newest first)
        options.append(Move(turn.buttons[0].payload, "button",
                            f"no order number at hand: the most recent order offered ({turn.buttons[0].title!r})",
                            from_fact=False))
    return options


def _payload_json(payload: str) -> Dict[str, Any]:
    try:
        return json.loads(payload[payload.index("{"):]) if "{" in payload else {}
    except ValueError:
        return {}


def _type_button(conv: Conversation, turn: BotTurn) -> Tuple[Optional[Button], str]:
    """The offered type button the batch's expected type hints name (matched on the taxonomy codes in the
    button's payload, not on its words)."""
    fields = {normalise_key(k): v for k, v in (conv.expected.get("fields") or {}).items()}
    cat_hint = fields.get("category_hint") or fields.get("request_type_hint")
    sub_hint = fields.get("subcategory_hint") or fields.get("request_subtype_hint") or fields.get("subtype_hint")
    cats = type_leaders(cat_hint, "category") if cat_hint else set()
    subs = type_leaders(sub_hint, "subcategory") if sub_hint else set()
    if not cats and not subs:
        return None, "no type hint"
    fits = []
    for button in turn.buttons:
        data = _payload_json(button.payload)
        cat = data.get("fault_category") or data.get("request_category") or turn.slots.get("fault_category") \
            or turn.slots.get("request_category")
        sub = data.get("fault_subcategory") or data.get("request_subcategory")
        if not (data.get("fault_category") or data.get("request_category") or sub):
            continue
        if cats and cat not in cats:
            continue
        if sub and subs and f"{cat}/{sub}" not in subs:
            continue
        if sub and not subs and not cats:
            continue
        fits.append(button)
    if len(fits) == 1:
        return fits[0], f"type from expected.fields ({cat_hint or ''} / {sub_hint or ''})"
    return None, f"{len(fits)} offered types fit the expected hints"


def _answer_slot(conv: Conversation, turn: BotTurn, memory: Memory) -> Any:
    slot, loop = turn.requested_slot, turn.active_loop
    lang = conv.lang
    concept = SLOT_CONCEPTS.get(slot)
    off_path = loop not in path_forms(conv)
    if concept is None:
        return Stop(f"no fact concept for the requested slot {slot!r} (form {loop})", "runner_gap")
    question = _question_key(turn) or slot
    options: List[Move] = []
    if concept.kind == "confirm":
        if off_path:
            options = [_yes_no(turn, False, lang, f"summary of {loop}, not what the goal asked for: cancel")]
        elif conv.detour and not memory.detour_sent:
            # the detour is said mid-conversation: when the assistant reaches the summary in fewer turns than the
            # writer counted, the customer says it before sending, not as a new request once it is sent
            memory.detour_sent = True
            return Move(conv.detour, "detour", "the detour before the summary is confirmed")
        else:
            memory.confirm_reached = True
            said = [v for k, v in conditional_answers(conv.facts)
                    if set(tokens(k)) & {"summary", "recapitulatif", "resume"}]
            options = [Move(str(v), "typed", "the facts' own words at the summary") for v in said]
            options.append(_yes_no(turn, conv.confirm, lang,
                                   "summary: " + ("confirm" if conv.confirm else "cancel (confirm: false)")))
    elif concept.kind == "kb_feedback":
        helped = conv.facts.get("knowledge_helped") is True
        options = [_yes_no(turn, helped, lang, f"knowledge_helped: {helped}")]
    elif concept.kind == "meter":
        found = _meter_options(conv, turn, memory, question.split(":", 1)[1] if ":" in question else None, off_path)
        if isinstance(found, Stop):
            return found
        options = found
    else:
        options = _concept_options(conv, turn, memory, concept, off_path)
    if not options:
        if off_path:
            return Stop(f"asked for {concept.name} ({slot}) in {loop}, off the goal's path", "assistant")
        if turn.buttons:
            return Stop(f"asked for {concept.name} ({slot}) with buttons; no fact names one and the goal's words "
                        "point to none (a person would pick one)", "runner_gap")
        return Stop(f"asked for {concept.name} ({slot}); the facts do not give it", "batch_gap")

    tried = memory.tried.setdefault(question, [])
    rejected = memory.rejected.get(question, [])
    untried = [m for m in options if m.text not in rejected]
    if not untried:
        if all(not m.from_fact for m in options) and turn.buttons:
            return Stop(f"asked {question} again after the default {rejected[-1]!r}; no fact names one of the "
                        "buttons (a person would pick one)", "runner_gap")
        return Stop(f"asked {question} again after {rejected[-1]!r}; the facts hold no other answer", "stuck")
    move = next((m for m in untried if tried and m.text == tried[-1]), untried[0])
    if rejected:
        move.note += " (an earlier answer was not taken)"
    tried.append(move.text)
    move.question = question
    if concept.name == "order_number" and not move.from_fact and "order_number" not in memory.guessed:
        memory.guessed.append("order_number")
    if concept.name == "item" and move.from_fact:
        remaining = [i for i in _items(conv) if i not in memory.items_done]
        if remaining and len(_items(conv)) > 1:
            memory.items_done.append(remaining[0])
    return move


def _meter_options(conv: Conversation, turn: BotTurn, memory: Memory, code: Optional[str], off_path: bool) -> Any:
    if code is None or code == "None":
        return Stop("meter question without a meter code in its text", "runner_gap")
    _, meters = lookup(conv.facts, ("meters",))
    if not isinstance(meters, dict):
        if off_path:
            return Stop(f"asked for meter values in {turn.active_loop}, off the goal's path", "assistant")
        if meters is None:
            return Stop("asked for meter values; the facts give none", "batch_gap")
        return Stop(f"facts.meters is not a name: value mapping ({meters!r})", "runner_gap")
    by_code: Dict[str, Any] = {}
    for name, value in meters.items():
        mapped = meter_of_key(name)
        if mapped is None:
            gap = f"meter name {name!r} matched to no meter"
            if gap not in memory.gaps:
                memory.gaps.append(gap)
        else:
            by_code[mapped] = value
    if code in by_code:
        return [Move(str(by_code[code]), "typed", f"meter {code}")]
    skip = _button_with_payload(turn, '/inform{"meter_choice":"skip"}')
    if skip:
        return [Move(skip.payload, "button", f"meter {code}: not in the facts, skipped", from_fact=False)]
    return [Move("skip" if conv.lang == "en" else "passer", "typed", f"meter {code}: not in the facts, skipped",
                 from_fact=False)]


def _fact_text(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


@dataclass
class Exchange:
    user: str
    kind: str
    note: str
    bot: List[Dict[str, Any]]
    state: Dict[str, Any]
    seconds: float


def play(stack: Stack, api_token: Optional[str], conv: Conversation, verbose: bool = False,
         known_cases: Optional[List[str]] = None) -> Tuple[List[Exchange], Memory, Stop, List[str]]:
    sender = f"blind-{conv.id}-{uuid.uuid4().hex[:8]}"
    memory = Memory(known_cases=list(known_cases or []))
    exchanges: List[Exchange] = []
    bot_texts: List[str] = []
    move: Any = Move(conv.opening, "opening")
    cap = conv.max_turns + EXTRA_TURNS
    stop: Optional[Stop] = None
    while stop is None:
        started = time.perf_counter()
        try:
            messages, ids = chat(stack, sender, move.text, conv.email)
        except httpx.HTTPError as exc:
            stop = Stop(f"channel error: {exc!r}", "assistant")
            break
        memory.user_turns += 1
        memory.pending = (move.question, move.text) if move.question else None
        if move.kind == "detour":
            memory.detour_turn = len(exchanges)
        tracker = read_tracker(stack, api_token, ids)
        turn = bot_turn(messages, tracker)
        bot_texts += turn.texts
        exchanges.append(Exchange(
            move.text, move.kind, move.note, messages,
            {"active_loop": turn.active_loop, "requested_slot": turn.requested_slot, "intent": turn.intent,
             "responses": turn.responses, "actions": turn.actions, "tracker_read": turn.tracker_read},
            round(time.perf_counter() - started, 3)))
        if verbose:
            print(f"  [{conv.id}] user({move.kind}): {move.text}   # {move.note}")
            for text in turn.texts:
                print(f"  [{conv.id}]   bot: {text[:300]}")
            if turn.buttons:
                print(f"  [{conv.id}]   buttons: {[b.title for b in turn.buttons]}")
            print(f"  [{conv.id}]   state: loop={turn.active_loop} slot={turn.requested_slot} "
                  f"intent={turn.intent} responses={turn.responses}")
        if not turn.tracker_read and memory.user_turns == 1:
            memory.gaps.append("tracker not readable: decisions from the messages only")
        if memory.user_turns >= cap:
            stop = Stop(f"turn cap {cap} reached", "cap")
            break
        decision = decide(conv, turn, memory)
        if isinstance(decision, Stop):
            stop = decision
        else:
            move = decision
    return exchanges, memory, stop, bot_texts


# --- the portal's state, before and after ---------------------------------------------------------------------


class Portal:
    """Reads the portal's state through the backend API as the demo administrator (and the demo user's own
    profile); what the API does not list (training requests, password-reset links) from the stack's
    database, read only."""

    def __init__(self, stack: Stack, db_path: Path) -> None:
        self.stack, self.db_path = stack, db_path
        self.taxonomy = yaml.safe_load((ROOT / "data" / "taxonomy" / "taxonomy.yml").read_text(encoding="utf-8"))
        self._catalogues: Dict[str, List[Dict[str, Any]]] = {}

    def get(self, path: str, email: str = ADMIN, lang: str = "en") -> Any:
        response = httpx.get(f"{self.stack.backend_url}{path}", timeout=30, headers={
            "Authorization": f"Bearer {self.stack.token(email)}", "X-Display-Language": lang})
        if response.status_code >= 400:
            return None
        return response.json()

    def snapshot(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {}
        state["users"] = {u["email"]: {k: u.get(k) for k in ("id", "full_name", "phone", "role", "status", "origin")}
                          for u in self.get("/users") or []}
        state["profiles"] = {email: self.get("/users/me/profile", email) for email in (ADMIN, USER)}
        cases = {}
        labels_fr = {c["number"]: c for c in self.get("/cases?list=all&limit=500", lang="fr") or []}
        for case in self.get("/cases?list=all&limit=500") or []:
            fr = labels_fr.get(case["number"], {})
            cases[case["number"]] = {
                "category": case["category"], "subcategory": case["subcategory"],
                "labels": [case["category_label"], case["subcategory_label"], fr.get("category_label", ""),
                           fr.get("subcategory_label", "")],
                "asset": (case.get("asset") or {}).get("asset_number"), "description": case["description"],
                "status": case["status"], "kb_feedback": case.get("kb_feedback"), "channel": case.get("channel"),
                "order_number": case.get("order_number"), "requester": (case.get("requester") or {}).get("email"),
                "activities": [(a["author_name"], a["body"]) for a in case.get("activities") or []],
                "transcript_chars": len(case.get("transcript") or ""),
            }
        state["cases"] = cases
        assets = {}
        for asset in self.get("/assets") or []:
            ref = asset["asset_number"]
            meters = {}
            for meter in self.get(f"/assets/{ref}/meters") or []:
                history = self.get(f"/assets/{ref}/meters/{meter['code']}/history") or []
                meters[meter["code"]] = [h["value"] for h in history]
            contacts = self.get(f"/assets/{ref}/contacts") or []
            orders = {o["number"]: o for o in self.get(f"/assets/{ref}/orders") or []}
            assets[ref] = {"serial": asset["serial"], "alias": asset.get("alias"), "location": asset.get("location"),
                           "emaintenance": asset.get("emaintenance"),
                           "model": asset.get("model"), "meters": meters, "orders": orders,
                           "contacts": sorted(json.dumps(c, sort_keys=True, ensure_ascii=False) for c in contacts)}
        state["assets"] = assets
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            state["trainings"] = {
                row[0]: {"topic": row[1], "attendees": row[2], "preferred_date": row[3], "asset": row[4],
                         "description": row[5]}
                for row in db.execute(
                    "SELECT t.number, t.topic, t.attendees, t.preferred_date, a.asset_number, t.description "
                    "FROM training_requests t LEFT JOIN assets a ON a.id = t.asset_id")}
            state["tokens"] = [list(row) for row in db.execute(
                "SELECT t.id, u.email, t.purpose FROM user_tokens t JOIN users u ON u.id = t.user_id")]
        return state

    def catalogue(self, asset: str) -> List[Dict[str, Any]]:
        if asset not in self._catalogues:
            self._catalogues[asset] = self.get(f"/assets/{asset}/consumables") or []
        return self._catalogues[asset]


def diff(before: Dict[str, Any], after: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The objects written during the conversation, each {"kind", ...}."""
    written: List[Dict[str, Any]] = []
    for number, case in after["cases"].items():
        old = before["cases"].get(number)
        if old is None:
            written.append({"kind": "case", "number": number, **case})
            continue
        new_activities = case["activities"][len(old["activities"]):]
        for author, body in new_activities:
            if author != "Canon":
                written.append({"kind": "comment", "case": number, "author": author, "body": body})
    for ref, asset in after["assets"].items():
        old = before["assets"].get(ref, {})
        for number, order in asset["orders"].items():
            if number not in old.get("orders", {}) and not any(
                    w.get("number") == number for w in written if w["kind"] == "order"):
                written.append({"kind": "order", "number": number, "asset": ref,
                                "lines": [(line["part_number"], line["quantity"], line["description"],
                                           line["category"]) for line in order["lines"]],
                                "contact_name": order.get("contact_name"), "contact_email": order.get("contact_email"),
                                "shipping_address": order.get("shipping_address"), "total": order.get("total")})
        readings = {}
        for code, values in asset["meters"].items():
            previous = old.get("meters", {}).get(code, [])
            added = list(values)
            for value in previous:  # multiset difference
                if value in added:
                    added.remove(value)
            if added:
                readings[code] = added
        if readings:
            written.append({"kind": "meter_reading", "asset": ref, "readings": readings})
        if asset.get("alias") != old.get("alias") or asset.get("contacts") != old.get("contacts"):
            written.append({"kind": "asset_changed", "asset": ref, "alias": [old.get("alias"), asset.get("alias")],
                            "contacts": [old.get("contacts"), asset.get("contacts")]})
    for number, training in after["trainings"].items():
        if number not in before["trainings"]:
            written.append({"kind": "training_request", "number": number, **training})
    for email, user in after["users"].items():
        old = before["users"].get(email)
        if old is None:
            written.append({"kind": "user_invited", "email": email, **user})
        elif old != user:
            written.append({"kind": "user_changed", "email": email,
                            "changes": {k: [old.get(k), v] for k, v in user.items() if old.get(k) != v}, **user})
    old_tokens = {row[0] for row in before["tokens"]}
    for token_id, email, purpose in after["tokens"]:
        if token_id not in old_tokens and purpose == "password_reset":
            # one user changed once: an approval that also sends the password link is one change, not two
            same = next((w for w in written if w["kind"] == "user_changed" and w["email"] == email), None)
            if same is not None:
                same["changes"]["password_reset"] = [None, True]
                continue
            written.append({"kind": "user_changed", "email": email, "changes": {"password_reset": [None, True]},
                            **after["users"].get(email, {})})
    for email, profile in after["profiles"].items():
        old = before["profiles"].get(email)
        if old is None or profile is None:  # unreadable (a deactivated user cannot log in): not a change
            continue
        if old != profile:
            written.append({"kind": "profile_changed", "email": email,
                            "changes": {k: [(old or {}).get(k), v] for k, v in (profile or {}).items()
                                        if (old or {}).get(k) != v}})
    return written


# --- checks -------------------------------------------------------------------------------------------------

# what each expected outcome accepts as the written object (batch README: an alias or a device contact set
# directly counts for a `request`; a meter-reading query is a `meter_reading` conversation's other form)
ACCEPTS = {
    "case": {"fault_case", "request", "meter_query", "order_enquiry", "other_case"},
    "request": {"request", "meter_query", "order_enquiry", "asset_changed", "other_case"},
    "order_enquiry": {"order_enquiry"},
    "handoff": {"handoff"},
    "meter_reading": {"meter_reading", "meter_query"},
}
NOTHING_WRITTEN_FIELDS = {"case_created", "request_created", "reading_recorded", "user_invited", "contact_added",
                          "order_created", "training_created"}
CONVERSATION_FIELDS = {"reply_language_after_detour", "must_not_mention", "max_orders_listed"}
NOT_IN_PORTAL_FIELDS = {"location_hint", "scenario_hint"}  # the guide's deeper fault levels: not in the taxonomy


def case_family(portal: Portal, category: str) -> str:
    if category == "assistant_handoff":
        return "handoff"
    if category == "order_enquiry":
        return "order_enquiry"
    if category == "meter_reading":
        return "meter_query"
    if category in (portal.taxonomy.get("requests") or {}):
        return "request"
    if category in (portal.taxonomy.get("faults") or {}):
        return "fault_case"
    return "other_case"


def object_kind(portal: Portal, written: Dict[str, Any]) -> str:
    return case_family(portal, written["category"]) if written["kind"] == "case" else written["kind"]


def accepted(outcome: str, kind: str) -> bool:
    return kind in ACCEPTS.get(outcome, {outcome})


def _label_words(entry: Dict[str, Any], code: str) -> str:
    return " ".join([code.replace("_", " "), str(entry.get("fr", "")), str(entry.get("en", ""))])


TAXONOMY = yaml.safe_load((ROOT / "data" / "taxonomy" / "taxonomy.yml").read_text(encoding="utf-8"))


def type_leaders(hint: Any, level: str) -> set:
    """The taxonomy entries a type hint's words fit best: category codes (level "category") or
    "category/sub-type" codes ("subcategory"); empty when the hint fits none."""
    scores: Dict[Tuple[str, str], float] = {}
    for section in ("faults", "requests", "other_cases"):
        for code, cat in (TAXONOMY.get(section) or {}).items():
            for sub_code, sub in (cat.get("subcategories") or {}).items():
                words = _label_words(cat, code) if level == "category" else _label_words(sub, sub_code)
                scores[(code, sub_code)] = overlap(hint, words)
    best = max(scores.values())
    if best == 0:
        return set()
    return {(c if level == "category" else f"{c}/{s}") for (c, s), v in scores.items() if v == best}


def check_type(portal: Portal, hint: Any, obj: Dict[str, Any], level: str) -> Tuple[Any, str]:
    """The case's category (level "category") or sub-type ("subcategory") must be among the taxonomy entries
    the hint's words fit best (ties all accepted; a hint that fits nothing is not checked)."""
    if obj.get("kind") != "case":
        return "na", f"not a case ({obj.get('kind')})"
    leaders = type_leaders(hint, level)
    if not leaders:
        return None, f"hint {hint!r} fits no {level} of the taxonomy: unchecked"
    mine = obj["category"] if level == "category" else f"{obj['category']}/{obj['subcategory']}"
    return mine in leaders, f"{mine} ({' / '.join(obj['labels'][:2])}); hint fits {', '.join(sorted(leaders)[:4])}"


def designate(words: Any, assets: Dict[str, Dict[str, Any]]) -> List[str]:
    """The devices a person's words name, among `assets` (asset number -> asset): by serial or asset number,
    else by the words of its alias, location and model (ordinals, floors and reception folded)."""
    if not words:
        return []
    folded = fold(words)
    exact = [ref for ref, a in assets.items() if ref in folded or fold(a.get("serial") or "-") in folded
             or (a.get("alias") and fold(a["alias"]) in folded)]
    if exact:
        return exact
    scores = {ref: overlap(device_words(words), " ".join(str(a.get(k) or "") for k in ("alias", "location", "model")))
              for ref, a in assets.items()}
    best = max(scores.values()) if scores else 0
    return [ref for ref, v in scores.items() if v == best] if best > 0 else []


def hint_device(hint: Any, assets: Dict[str, Dict[str, Any]]) -> Optional[str]:
    found = designate(hint, assets)
    return found[0] if len(found) == 1 else None


def check_device(hint: Any, obj: Dict[str, Any], ctx: "Context") -> Tuple[Any, str]:
    mine = obj.get("asset")
    if obj["kind"] in ("handoff",) or (obj["kind"] == "case" and obj.get("category") == "assistant_handoff"):
        return "na", "a callback case has no device"
    if obj["kind"] == "comment":
        return "na", "a comment's device is its case's"
    if obj.get("category") == "order_enquiry" and "order_number" in ctx.guessed:
        return "na", "the runner picked the order (the facts have no order number): its device is not the bot's doing"
    wanted = hint_device(hint, ctx.assets)
    if wanted is None:
        return None, f"hint {hint!r} names no single device: unchecked"
    if mine == wanted:
        return True, f"device {mine}"
    if mine and mine in ctx.words_device:
        return True, f"device {mine}: what the conversation's words name in the seeded data (hint {wanted})"
    return False, f"device {mine}, expected {wanted}" + (
        f" (the words name {', '.join(ctx.words_device)} in the seeded data)" if ctx.words_device else "")


def _int(value: Any) -> Optional[int]:
    try:
        return int(re.sub(r"[\s,.\u202f\xa0']", "", str(value)))
    except ValueError:
        return None


def check_quantity(value: Any, obj: Dict[str, Any]) -> Tuple[Any, str]:
    wanted = _int(value)
    if wanted is None:
        return None, f"quantity {value!r} not a number"
    if obj["kind"] == "order":
        quantities = [line[1] for line in obj["lines"]]
        return quantities == [wanted] if len(quantities) == 1 else wanted in quantities, f"lines {obj['lines']}"
    if obj["kind"] == "training_request":
        return obj.get("attendees") == wanted, f"attendees {obj.get('attendees')}"
    return "na", f"quantity on a {obj['kind']}"


def _catalogue_leaders(portal: Portal, asset: str, hint: Any) -> Tuple[List[str], float]:
    scores = {}
    for c in portal.catalogue(asset):
        part = str(c.get("part_number"))
        label = f"{part} {c.get('description')} {c.get('category')}"
        scores[part] = 2.0 if fold(part) in fold(hint) else overlap(hint, label)
    best = max(scores.values()) if scores else 0
    return ([p for p, v in scores.items() if v == best] if best > 0 else []), best


def check_items(portal: Portal, wanted: Dict[str, Any], obj: Dict[str, Any]) -> Tuple[Any, str]:
    """{item hint: quantity}: each hint's best catalogue item ordered in that quantity, nothing else."""
    if obj["kind"] != "order":
        return "na", f"items on a {obj['kind']}"
    ordered = {line[0]: line[1] for line in obj["lines"]}
    problems, matched = [], set()
    for hint, quantity in wanted.items():
        leaders, _ = _catalogue_leaders(portal, obj["asset"], hint)
        if not leaders:
            return None, f"item hint {hint!r} fits no consumable: unchecked"
        hit = [p for p in leaders if p in ordered]
        if not hit:
            problems.append(f"{hint}: none of {leaders} ordered")
        elif _int(quantity) is not None and ordered[hit[0]] != _int(quantity):
            problems.append(f"{hint}: {hit[0]} x{ordered[hit[0]]}, not {quantity}")
        matched.update(hit[:1])
    extra = [p for p in ordered if p not in matched]
    if extra:
        problems.append(f"also ordered {extra}")
    return not problems, "; ".join(problems) or f"lines {obj['lines']}"


def check_item(portal: Portal, hint: Any, obj: Dict[str, Any]) -> Tuple[Any, str]:
    if obj["kind"] != "order":
        return "na", f"item on a {obj['kind']}"
    leaders, _ = _catalogue_leaders(portal, obj["asset"], hint)
    ordered = [line[0] for line in obj["lines"]]
    if not leaders:
        return None, f"hint {hint!r} fits no consumable of {obj['asset']}: unchecked"
    return any(p in leaders for p in ordered), f"ordered {ordered}; hint fits {leaders}"


def check_meters(value: Any, obj: Dict[str, Any]) -> Tuple[Any, str]:
    if obj["kind"] != "meter_reading" or not isinstance(value, dict):
        return "na" if obj["kind"] == "meter_query" else False, f"no readings ({obj['kind']})"
    wrong = []
    for name, wanted in value.items():
        code = meter_of_key(name)
        got = obj["readings"].get(code or "", [])
        if got != [_int(wanted)]:
            wrong.append(f"{name}={wanted} -> {got}")
    return not wrong, "; ".join(wrong) or f"readings {obj['readings']}"


IDS_IN_HINT = re.compile(r"[A-Z]{1,4}\d{3,}(?:-\d+)*|\d[\d ]{3,}\d|\b\d{2,}\b")


def check_hint_text(hint: Any, text: Any, what: str) -> Tuple[Any, str]:
    """Numbers, codes and references in the hint must be in the text (strict); the other words are the batch
    writer's paraphrase: a fair share of them in the text passes, else left to a human (unchecked)."""
    if text is None:
        return False, f"no {what}"
    text = str(text)
    ids = [m.group(0).strip() for m in IDS_IN_HINT.finditer(str(hint))]
    missing = [i for i in ids if re.sub(r"\s", "", fold(i)) not in re.sub(r"\s", "", fold(text))]
    if missing:
        return False, f"{what} lacks {missing}: {text[:150]!r}"
    if ids or overlap(hint, text) >= 0.3:
        return True, f"{what}: {text[:150]!r}"
    return None, f"paraphrase, for a human to judge: hint {hint!r} vs {what} {text[:150]!r}"


def person_matches(value: Any, name: Any) -> bool:
    """Every word of the value starts a word of the name ("SNTestDM DemoPo" is "SNTestDM DemoPortal")."""
    wanted, words = tokens(value), tokens(name)
    return bool(wanted) and all(any(w.startswith(v) for w in words) for v in wanted)


def check_change(value: Any, obj: Dict[str, Any]) -> Tuple[Any, str]:
    changes = obj.get("changes") or {}
    text = fold(value)
    if "password" in text or "mot de passe" in text or "reinitialis" in text or "reset" in text:
        return "password_reset" in changes, f"changes {changes}"
    if "desactiv" in text or "deactivat" in text or "disable" in text:
        return (changes.get("status") or [None, None])[1] == "inactive", f"changes {changes}"
    if "admin" in text or "upgrad" in text:
        return (changes.get("role") or [None, None])[1] == "admin", f"changes {changes}"
    if "approv" in text or "approuv" in text or "accept" in text:
        return (changes.get("status") or [None, None])[1] == "active", f"changes {changes}"
    if "reject" in text or "rejet" in text or "refus" in text:
        return (changes.get("status") or [None, None])[1] in ("rejected", "inactive"), f"changes {changes}"
    return None, f"change {value!r} not understood: unchecked (changes {changes})"


LANGUAGE_CODES = {"en": ("en", "english", "anglais"), "fr": ("fr", "french", "francais")}


def language_code(value: Any) -> Optional[str]:
    """"fr" / "en" for a language named in the text ("anglais", "French"; a bare code only alone: "en" is also
    a French word)."""
    text = fold(value).strip()
    if text in LANGUAGE_CODES:
        return text
    words = re.findall(r"[a-z]+", text)
    found = [code for code, names in LANGUAGE_CODES.items() if any(n in words for n in names[1:])]
    return found[0] if len(found) == 1 else None


def notifications_wanted(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    text = fold(value)
    words = re.findall(r"[a-z]+", text)
    if any(w in text for w in ("desactiv", "coupe", "disable", "ne veux plus", "don't want", "dont want", "stop")) \
            or set(words) & {"off", "aucun", "aucune", "non", "no", "none", "never", "jamais"}:
        return False
    if "activ" in text or "enable" in text or set(words) & {"on", "oui", "yes", "all", "toutes"}:
        return True
    return None


def check_field(portal: Portal, key: str, value: Any, obj: Dict[str, Any], ctx: "Context") -> Tuple[Any, str]:
    """(True | False | None = could not check | "na" = does not apply, explanation) for one expected field
    on the written object."""
    k = normalise_key(key)
    kind = obj["kind"]
    if k in ("category_hint", "request_type_hint", "category", "type_hint", "request_type"):
        return check_type(portal, value, obj, "category")
    if k in ("subcategory_hint", "request_subtype_hint", "subtype_hint", "subcategory"):
        return check_type(portal, value, obj, "subcategory")
    if k in ("device_hint", "device", "asset"):
        return check_device(value, obj, ctx)
    if k in ("quantity", "attendees"):
        return check_quantity(value, obj)
    if k in ("item_hint", "item"):
        return check_item(portal, value, obj)
    if k == "items" and isinstance(value, list) and all(isinstance(i, dict) for i in value):
        # the list form of batch 4: [{item_hint, quantity}, ...]
        value = {str(i.get("item_hint") or i.get("item")): i.get("quantity") for i in value}
    if k == "items" and isinstance(value, dict):
        return check_items(portal, value, obj)
    if k == "meters":
        return check_meters(value, obj)
    if k == "meter_hint":
        code = meter_of_key(value)
        if kind == "meter_query" or (kind == "case" and obj.get("category") == "meter_reading"):
            return code is not None and code in obj.get("description", ""), f"description {obj.get('description')!r}"
        if kind == "meter_reading":
            return code in obj["readings"], f"readings {obj['readings']}"
        return "na", f"meter on a {kind}"
    if k == "service":
        query = any(w in fold(value) for w in ("question", "query", "interroger", "demande sur", "existant",
                                               "existing"))
        is_query = kind == "case" and obj.get("category") == "meter_reading"
        return is_query == query, f"{'a meter-reading query case' if is_query else kind}"
    if k in ("case", "case_number"):
        if kind == "comment":
            return obj.get("case") == str(value), f"comment on {obj.get('case')}"
        return "na", f"case on a {kind}"
    if k in ("comment_hint", "comment"):
        return check_hint_text(value, obj.get("body"), "comment") if kind == "comment" else ("na", kind)
    if k in ("description_hint", "details_hint", "description", "details"):
        text = " ".join(str(obj.get(f) or "") for f in ("description", "topic"))
        return check_hint_text(value, text, "description")
    if k == "user":
        return person_matches(value, obj.get("full_name")), f"user {obj.get('full_name')}"
    if k == "change":
        return check_change(value, obj)
    if k == "language":
        got = ((obj.get("changes") or {}).get("language") or [None, None])[1]
        return got == language_code(value), f"profile language {got}"
    if k in ("email_notifications", "notifications"):
        got = ((obj.get("changes") or {}).get("email_notifications") or [None, None])[1]
        return got is notifications_wanted(value), f"e-mail notifications {got}"
    if k == "alias":
        got = (obj.get("alias") or [None, None])[1]
        if kind != "asset_changed":
            return check_hint_text(value, obj.get("description"), "request") if kind == "case" else (False, kind)
        return fold(got or "") == fold(value), f"alias {got!r}"
    if k == "contact":
        if kind == "asset_changed":
            added = set((obj.get("contacts") or [[], []])[1]) - set((obj.get("contacts") or [[], []])[0])
            return any(person_matches(value, c) for c in added), f"contacts added {sorted(added)}"
        if kind == "case":
            return check_hint_text(value, obj.get("description"), "request")
        return check_hint_text(value, obj.get("contact_name"), "order contact")
    if k == "name":
        return person_matches(value, obj.get("full_name") or obj.get("contact_name")), \
            f"name {obj.get('full_name') or obj.get('contact_name')}"
    if k == "email":
        got = obj.get("email") or obj.get("contact_email")
        return fold(got or "") == fold(value), f"e-mail {got}"
    if k in NOT_IN_PORTAL_FIELDS:
        return None, "the portal's fault types have no such level: unchecked"
    return None, f"unknown field {key!r}: unchecked"


def _language_of(text: str) -> Optional[str]:
    words = re.findall(r"[a-zà-ÿ']+", text.lower())
    fr = sum(w in {"le", "la", "les", "vous", "votre", "vos", "est", "de", "des", "un", "une", "et", "pour", "je",
                   "dossier", "appareil", "sur", "du", "à", "ce", "pas"} for w in words)
    en = sum(w in {"the", "you", "your", "is", "of", "a", "and", "for", "i", "case", "device", "on", "to", "it",
                   "this", "not", "what", "which"} for w in words)
    if fr + en < 2 or fr == en:
        return None
    return "fr" if fr > en else "en"


def check_conversation_field(key: str, value: Any, exchanges: List[Exchange], memory: Memory,
                             written: List[Dict[str, Any]], bot_text: str, ctx: "Context") -> Tuple[Any, str]:
    k = normalise_key(key)
    if k in NOTHING_WRITTEN_FIELDS:
        wanted_nothing = fold(value) in ("non", "no", "false", "0")
        return (not written) == wanted_nothing, f"{len(written)} objects written"
    if k == "reply_language_after_detour":
        if memory.detour_turn is None:
            return False, "the detour was never sent"
        replies = [m.get("text") or "" for ex in exchanges[memory.detour_turn:] for m in ex.bot if m.get("text")]
        found = [(_language_of(t), t) for t in replies]
        wrong = [t[:60] for lang, t in found if lang and lang != fold(value)[:2]]
        return not wrong, (f"replies in another language: {wrong}" if wrong else f"{len(replies)} replies")
    if k == "must_not_mention":
        items = value if isinstance(value, list) else [value]
        said = [str(i) for i in items if contains_folded(bot_text, str(i))]
        return not said, f"mentioned {said}" if said else "not mentioned"
    if k == "max_orders_listed":
        listed = sorted(set(re.findall(r"\bORD\d{7}\b", bot_text)))
        return 0 < len(listed) <= int(value), f"{len(listed)} orders listed"
    if k in ("device_hint", "device"):
        wanted = hint_device(value, ctx.assets)
        names = [wanted] + [r for r in ctx.words_device if r != wanted] if wanted else ctx.words_device
        for ref in names:
            asset = ctx.assets.get(ref or "", {})
            if any(x and contains_folded(bot_text, x) for x in (ref, asset.get("serial"), asset.get("alias"))):
                return True, f"the answer names {ref}"
        return False, f"the answer names none of {names}"
    if k in ("case", "case_number"):
        return contains_folded(bot_text, str(value)), f"case {value} {'named' if contains_folded(bot_text, str(value)) else 'not named'}"
    return None, f"field {key!r} without a written object: unchecked"


@dataclass
class Context:
    """What the checks know about the seeded portal for one conversation."""
    assets: Dict[str, Dict[str, Any]]        # every device of the account (asset number -> asset)
    visible: Dict[str, Dict[str, Any]]       # the devices the conversation's role sees
    words_device: List[str]                  # the devices facts.device names in the seeded data
    # the batch's demo-data assumptions that the seeded data contradicts: (tag, explanation)
    conflicts: List[Tuple[str, str]]
    guessed: List[str] = field(default_factory=list)  # what the runner picked without a fact (Memory.guessed)
    before: Dict[str, Any] = field(default_factory=dict)  # the portal's state before / after the conversation
    after: Dict[str, Any] = field(default_factory=dict)

    def tags(self) -> set:
        return {tag for tag, _ in self.conflicts}


DEVICE_SLOTS = {slot for slot, concept in SLOT_CONCEPTS.items() if concept.kind == "device"}


def assumption_conflicts(conv: Conversation, seed: Dict[str, Any], visible: Dict[str, Dict[str, Any]]) -> Context:
    assets = {ref: {k: a.get(k) for k in ("serial", "alias", "location", "model")} for ref, a in seed["assets"].items()}
    fields = conv.expected.get("fields") or {}
    device_fact = candidates(conv.facts, ("device",))
    words = str(device_fact[0][1]) if device_fact else ""
    words_device = designate(words, visible) if words else []
    conflicts: List[Tuple[str, str]] = []
    hint = fields.get("device_hint")
    wanted = hint_device(hint, assets) if hint else None
    if wanted and wanted not in visible:
        conflicts.append(("device_invisible", f"device {hint} is not among the {conv.role}'s devices in the seeded "
                                              f"data ({', '.join(visible) or 'none'})"))
    if wanted and words_device and wanted not in words_device:
        conflicts.append(("device_words_other", f"facts.device {words!r} names {', '.join(words_device)} in the "
                                                f"seeded data, not {wanted} ({hint})"))
    if words and not designate(words, assets):
        conflicts.append(("device_words_unknown", f"facts.device {words!r} names no device of the seeded data"))
    _, meters = lookup(conv.facts, ("meters",))
    if conv.outcome == "meter_reading" and isinstance(meters, dict):
        for ref in sorted({r for r in [wanted, *words_device] if r}):
            history = seed["assets"][ref]["meters"]
            for name, value in meters.items():
                code, number = meter_of_key(name), _int(value)
                if code in history and history[code] and number is not None and number < max(history[code]):
                    conflicts.append(("meter_lower", f"meter {code} value {number} is below {ref}'s last reading "
                                                     f"{max(history[code])} in the seeded data"))
    if wanted and conv.outcome == "order" and seed["assets"][wanted].get("emaintenance"):
        conflicts.append(("order_refused", f"device {hint} is under eMaintenance in the seeded data: its consumables "
                                           "are not ordered on the portal"))
    if wanted and conv.outcome == "order_enquiry" and not seed["assets"][wanted]["orders"]:
        conflicts.append(("order_missing", f"device {hint} has no consumables order in the seeded data"))
    if conv.outcome == "user_changed":
        target = fields.get("user") or conv.facts.get("name")
        if target and not any(person_matches(target, u.get("full_name")) for u in seed["users"].values()):
            conflicts.append(("user_missing", f"no user {target!r} in the seeded account"))
    for mention in conv.expected.get("answer_must_mention") or []:
        for ref, asset in assets.items():
            if ref not in visible and fold(mention) in (fold(ref), fold(asset.get("serial") or "")):
                conflicts.append(("mention_invisible", f"the answer must name {mention}, a device the {conv.role} "
                                                       "does not have in the seeded data"))
    return Context(assets, visible, words_device, conflicts)


@dataclass
class Verdict:
    status: str  # success | partial | failure | gap | data
    reasons: List[str]
    outcome_ok: bool
    fields: List[Dict[str, Any]]
    missing_mentions: List[str]
    gaps: List[str]
    status_ignoring_data: str = ""
    excused_turns: int = 0


def _explained_by_data(reasons: List[str], missing: List[str], creating: bool, ctx: Context) -> bool:
    """Every problem of the conversation follows from a demo-data assumption the seeded data contradicts (a
    meter already higher, a device the user does not have, a user or an order that does not exist...)."""
    tags = ctx.tags()
    invisible = {text.split("must name ", 1)[1].split(",", 1)[0] for tag, text in ctx.conflicts
                 if tag == "mention_invisible"}
    problems = [r for r in reasons if not r.startswith("stopped:")]
    if not problems:
        return False
    for reason in problems:
        if reason.startswith("no ") and " written" in reason:
            explained = bool(tags & {"meter_lower", "user_missing", "order_refused", "order_missing"}
                             or creating and "device_invisible" in tags)
        elif reason.startswith(("field device_hint", "field device=")):
            explained = bool(tags & {"device_invisible", "device_words_other"})
        elif "not mention" in reason:
            explained = all(m in invisible or re.fullmatch(r"[\d\s.,]+", m) and "device_words_other" in tags
                            for m in missing)
        else:
            explained = False
        if not explained:
            return False
    return True


def _profile_target(conv: Conversation, ctx: Context) -> Dict[str, Any]:
    """The conversation user's profile at the end (a profile already as asked counts: "turn them on" when on)."""
    before = (ctx.before.get("profiles") or {}).get(conv.email) or {}
    after = (ctx.after.get("profiles") or {}).get(conv.email) or {}
    return {"kind": "profile_changed", "email": conv.email,
            "changes": {k: [before.get(k), v] for k, v in after.items()},
            "changed": {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}}


def judge(portal: Portal, conv: Conversation, memory: Memory, stop: Stop, bot_texts: List[str],
          exchanges: List[Exchange], written: List[Dict[str, Any]], ctx: Context) -> Verdict:
    expected = conv.outcome
    ctx.guessed = memory.guessed
    reasons: List[str] = []
    kinds = [object_kind(portal, w) for w in written]
    hint = str((conv.expected.get("fields") or {}).get("request_type_hint") or "")
    if expected == "request" and re.search(r"callback|call back|rappel", hint, re.I):
        kinds = ["request" if k == "handoff" else k for k in kinds]  # the callback request is the handoff's case
    targets = [w for w, k in zip(written, kinds) if accepted(expected, k)]

    def name(w: Dict[str, Any], k: str) -> str:
        return f"{k} {w.get('number') or w.get('case') or w.get('email') or w.get('asset') or ''}".strip()

    others = [name(w, k) for w, k in zip(written, kinds) if not accepted(expected, k)]
    everything = "\n".join(bot_texts)
    mentions = [str(m) for m in conv.expected.get("answer_must_mention") or []]
    missing = [m for m in mentions if not contains_folded(everything, m)]
    gaps = list(memory.gaps)
    fields: List[Dict[str, Any]] = []
    creating = expected in CREATING_OUTCOMES and conv.confirm
    field_ok = True

    if not creating:
        outcome_ok = not written
        if written:
            reasons.append("written although nothing should be: " + ", ".join(name(w, k) for w, k in zip(written, kinds)))
        if expected in CREATING_OUTCOMES and not memory.confirm_reached:
            outcome_ok = False
            reasons.append("the summary of the goal's request was never shown (nothing to cancel)")
        if expected == "answer_only" and memory.off_path_forms and not _forms_allowed_anywhere(conv):
            outcome_ok = False
            reasons.append(f"started {', '.join(memory.off_path_forms)} instead of answering")
        if missing:
            outcome_ok = False
            reasons.append(f"the answers do not mention {missing}")
        target = None
    elif expected == "profile_changed":
        target = _profile_target(conv, ctx)
        profile_fields = [k for k in (conv.expected.get("fields") or {}) if normalise_key(k) in
                          ("language", "email_notifications", "notifications")]
        outcome_ok = not others and (bool(profile_fields) or bool(target["changed"]))
        if others:
            reasons.append(f"also written: {', '.join(others)}")
        if not profile_fields and not target["changed"]:
            reasons.append("the profile did not change")
    else:
        target = targets[0] if len(targets) == 1 else None
        outcome_ok = len(targets) == 1 and not others
        if not targets:
            reasons.append(f"no {expected} written" + (f" (written: {', '.join(others)})" if others else ""))
        elif len(targets) > 1:
            reasons.append(f"{len(targets)} objects fit {expected}, not one: "
                           + ", ".join(name(w, object_kind(portal, w)) for w in targets))
        elif others:
            reasons.append(f"also written: {', '.join(others)}")
        if target and target["kind"] == "meter_reading":
            duplicated = {c: v for c, v in target["readings"].items() if len(v) != 1}
            if duplicated:
                outcome_ok = False
                reasons.append(f"readings not stored exactly once: {duplicated}")
        if missing:
            field_ok = False
            reasons.append(f"the detour's answer does not mention {missing}")
    device_field_wrong = False
    for key, value in (conv.expected.get("fields") or {}).items():
        k = normalise_key(key)
        if creating and target is None and k not in CONVERSATION_FIELDS | NOTHING_WRITTEN_FIELDS:
            fields.append({"field": key, "expected": value, "ok": "na", "detail": "nothing to check: no object written"})
            continue
        if k in NOTHING_WRITTEN_FIELDS or k in CONVERSATION_FIELDS or target is None:
            ok, detail = check_conversation_field(key, value, exchanges, memory, written, everything, ctx)
        else:
            ok, detail = check_field(portal, key, value, target, ctx)
        fields.append({"field": key, "expected": value, "ok": ok, "detail": detail})
        if ok is False:
            field_ok = False
            device_field_wrong |= k in ("device_hint", "device", "asset")
            reasons.append(f"field {key}={value!r}: {detail}")
            if expected == "profile_changed" and k in ("language", "email_notifications", "notifications") \
                    and not target["changed"]:
                outcome_ok = False
        elif ok is None:
            gaps.append(f"field {key}={value!r}: {detail}")
    if not creating and not field_ok:
        outcome_ok = False
    # a device named in words the seeded data does not know (the batch's own assumption): the bot asking again
    # is not counted against it
    excused = 0
    if "device_words_unknown" in ctx.tags():
        words = str((candidates(conv.facts, ("device",)) or [("", "")])[0][1])
        excused = sum(answer == words for q, answers in memory.rejected.items() if q in DEVICE_SLOTS for answer in answers)
    turns_ok = memory.user_turns - excused <= conv.max_turns
    if not turns_ok:
        reasons.append(f"{memory.user_turns} user turns > {conv.max_turns}"
                       + (f" ({excused} excused: device words unknown to the seeded data)" if excused else ""))
    if conv.detour and not memory.detour_sent:
        gaps.append("detour never sent (the conversation ended before its turn)")
    if stop.kind in ("runner_gap", "batch_gap"):
        gaps.append(f"{stop.kind}: {stop.reason}")

    blocking = [g for g in memory.gaps if not g.startswith("tracker not readable")]
    if outcome_ok and field_ok and turns_ok:
        status = "success"
    elif stop.kind in ("runner_gap", "batch_gap") and not outcome_ok or blocking:
        status = "gap"  # the runner could not play the facts as written: not the assistant's doing
    elif outcome_ok:
        status = "partial"
    else:
        status = "failure"
    if status in ("failure", "partial", "gap") and stop.kind != "done":
        reasons.append(f"stopped: {stop.reason}")
    verdict = Verdict(status, reasons, outcome_ok, fields, missing, gaps, status, excused)
    if status in ("partial", "failure") and _explained_by_data(reasons, missing, creating, ctx):
        verdict.status = "data"
    return verdict


# --- reset between conversations -----------------------------------------------------------------------------


def save_seed(db_path: Path, copy_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(db_path)) as source, contextlib.closing(sqlite3.connect(copy_path)) as dest:
        source.backup(dest)


def restore_seed(copy_path: Path, db_path: Path) -> None:
    """Puts the live database back to the seeded copy, pages and all, under SQLite's locks (the backend's
    connections see the restored content at their next transaction)."""
    with contextlib.closing(sqlite3.connect(copy_path)) as source, \
            contextlib.closing(sqlite3.connect(db_path, timeout=30)) as dest:
        source.backup(dest)


# --- the report ---------------------------------------------------------------------------------------------


def excerpt(exchanges: List[Exchange], last: int = 4, width: int = 160) -> str:
    lines = []
    start = max(0, len(exchanges) - last)
    for index in range(start, len(exchanges)):
        ex = exchanges[index]
        user = ex.user
        if ex.kind == "button" and index > 0:
            titles = [b.get("title") for m in exchanges[index - 1].bot for b in m.get("buttons") or []
                      if b.get("payload") == ex.user]
            user = f"[{titles[0] if titles else ex.user}]"
        lines.append(f"U: {user[:width]}")
        bot = " / ".join((m.get("text") or "").replace("\n", " ") for m in ex.bot if m.get("text"))
        lines.append(f"B: {bot[:width]}")
    return "<br>".join(_cell(line) for line in lines)


SCORED = ("success", "partial", "failure")


def rate(rows: List[Dict[str, Any]]) -> str:
    scored = [r for r in rows if r["status"] in SCORED]
    if not scored:
        return "–"
    ok = sum(r["status"] == "success" for r in scored)
    partial = sum(r["status"] == "partial" for r in scored)
    return f"{ok}/{len(scored)} = {ok / len(scored):.2f} (partial {partial}, failure {len(scored) - ok - partial})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(batch: Path, rows: List[Dict[str, Any]], out_dir: Path, meta: Dict[str, Any]) -> Tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = batch.stem
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps({"meta": meta, "conversations": rows}, ensure_ascii=False, indent=1,
                                    default=str), encoding="utf-8")
    count = {status: sum(r["status"] == status for r in rows) for status in (*SCORED, "gap", "data")}
    lines = [f"# Blind conversation evaluation: {batch.name}", "",
             f"{meta['date']}, commit {meta['commit']}, model of {meta['model']} "
             f"({'trained from this commit' if meta.get('model_matches_code') else 'NOT trained from this commit'}), "
             f"{len(rows)} conversations: "
             f"{count['success']} success, {count['partial']} partial, {count['failure']} failure, "
             f"{count['data']} not scored (the batch's demo-data assumptions contradict the seeded data), "
             f"{count['gap']} not scored (runner or batch gap); {meta['seconds']:.0f} s. "
             "Generated by `benchmarks/blind_eval.py`: outcomes read back from the portal's backend, not from the "
             "bot's words.", "",
             "| | success rate (scored) | not scored: data / gap | success over all |", "|---|---|---|---|"]

    def line(label: str, sub: List[Dict[str, Any]]) -> str:
        data = sum(r["status"] == "data" for r in sub)
        gap = sum(r["status"] == "gap" for r in sub)
        ok = sum(r["status"] == "success" for r in sub)
        return f"| {label} | {rate(sub)} | {data} / {gap} | {ok}/{len(sub)} |"

    lines.append(line("**all**", rows))
    for label, key in (("lang", "lang"), ("role", "role")):
        for value in sorted({r[key] for r in rows}):
            lines.append(line(f"{label} {value}", [r for r in rows if r[key] == value]))
    for outcome in sorted({r["expected"]["outcome"] for r in rows}):
        lines.append(line(f"outcome {outcome}", [r for r in rows if r["expected"]["outcome"] == outcome]))
    lines.append("")
    fault_cases = [r for r in rows if r["expected"]["outcome"] == "case" and r["confirm"] and r["outcome_ok"]
                   and any(w.get("family") == "fault_case" for w in r["written"])]
    if fault_cases:
        turns = [r["user_turns"] for r in fault_cases]
        lines.append(f"Average user turns to a fault case (expected `case`, exactly one fault case written): "
                     f"**{sum(turns) / len(turns):.2f}** over {len(turns)} conversations (min {min(turns)}, max "
                     f"{max(turns)}; the batch's own maxima average "
                     f"{sum(r['max_user_turns'] for r in fault_cases) / len(fault_cases):.2f}).")
    scored = [r for r in rows if r["status"] in SCORED]
    if scored:
        lines.append(f"Average user turns over the scored conversations: "
                     f"{sum(r['user_turns'] for r in scored) / len(scored):.2f}.")
    lines += ["", "Verdicts: success = right outcome, right fields, within `max_user_turns`; partial = right outcome, "
              "a field wrong or more turns; failure = wrong or no outcome, or something written that should not "
              "be. Transcript excerpts show the last exchanges; `[...]` is a button click.", "",
              "## Partial and failed conversations", "",
              "| id | role | expected | verdict | turns | reason | transcript (end) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] in ("partial", "failure"):
            lines.append(f"| {r['id']} | {r['role']} | {r['expected']['outcome']}{'' if r['confirm'] else ' (cancel)'}"
                         f" | {r['status']} | {r['user_turns']}/{r['max_user_turns']}"
                         f"{' (' + str(r['excused_turns']) + ' excused)' if r.get('excused_turns') else ''} | "
                         f"{_cell('; '.join(r['reasons']))} | {r['excerpt']} |")
    data_rows = [r for r in rows if r["status"] == "data"]
    lines += ["", "## Not scored: demo-data assumptions the seeded data contradicts", "",
              "The batch was written from the guide alone and assumes device locations, assignments, readings or "
              "users that `backend/seed.py` does not have. These conversations did not succeed and rest on such an "
              "assumption, so their verdict (in brackets) is not counted against the assistant.", ""]
    if data_rows:
        lines += ["| id | role | expected | assumption contradicted | [verdict] reason | transcript (end) |",
                  "|---|---|---|---|---|---|"]
        for r in data_rows:
            lines.append(f"| {r['id']} | {r['role']} | {r['expected']['outcome']} | {_cell('; '.join(r['data_conflicts']))}"
                         f" | [{r['status_ignoring_data']}] {_cell('; '.join(r['reasons']))} | {r['excerpt']} |")
    else:
        lines.append("None.")
    gap_rows = [r for r in rows if r["status"] == "gap"]
    lines += ["", "## Runner and batch gaps", "",
              "Questions the runner could not answer from the facts (conversation not scored), and checks it could "
              "not make (field unchecked, conversation scored on the rest). To fix in the runner or the batch.", ""]
    listed = [(r["id"], r["status"] == "gap", g) for r in rows for g in r["gaps"]]
    if listed:
        lines += [f"- **{cid}**{' (not scored)' if unscored else ''}: {_cell(g)}" for cid, unscored, g in listed]
    else:
        lines.append("None.")
    if gap_rows:
        lines += ["", "| id | not scored because | transcript (end) |", "|---|---|---|"]
        lines += [f"| {r['id']} | {_cell(r['stop']['reason'])} | {r['excerpt']} |" for r in gap_rows]
    problems = [(r["id"], p) for r in rows for p in r.get("problems") or []]
    if problems:
        lines += ["", "## Batch schema problems", ""] + [f"- {cid}: {p}" for cid, p in problems]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md_path, json_path


# --- main ---------------------------------------------------------------------------------------------------


def run(batch_path: Path, only: List[str], out_dir: Path, reset: bool, verbose: bool) -> int:
    conversations = load_batch(batch_path)
    if only:
        conversations = [c for c in conversations if c.id in set(only)]
        if not conversations:
            print(f"no conversation with id in {only}", file=sys.stderr)
            return 2
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    model = ROOT / "models" / "portal.tar.gz"
    # does the model come from this checkout's training inputs? (scripts/train_if_stale.py's fingerprint)
    wanted = subprocess.run([str(ROOT / ".venv-rasa" / "bin" / "python"), "-c",
                             "import sys; sys.path.insert(0, 'scripts'); import train_if_stale; "
                             "print(train_if_stale.fingerprint())"], cwd=ROOT, capture_output=True, text=True)
    stored = ROOT / "models" / "portal.fingerprint"
    matches = wanted.returncode == 0 and stored.exists() and stored.read_text().strip() == wanted.stdout.strip()
    meta = {"batch": str(batch_path), "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "model_matches_code": matches,
            "commit": commit + ("+changes" if dirty else ""),
            "model": dt.datetime.fromtimestamp(model.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            if model.exists() else "missing", "only": only, "reset_between_conversations": reset}
    started = time.perf_counter()
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="blind-eval-") as tmp:
        workdir = Path(tmp)
        print(f"starting the stack in {workdir} ...", flush=True)
        with running_stack(workdir) as stack:
            api_token = rasa_api_token(stack)
            if not api_token:
                print("warning: Rasa API token not found: decisions from the messages only", file=sys.stderr)
            db_path, seed_copy = workdir / "portal.db", workdir / "seed-copy.db"
            portal = Portal(stack, db_path)
            save_seed(db_path, seed_copy)
            visible = {role: {a["asset_number"]: a for a in portal.get("/assets", email) or []}
                       for role, email in ROLES.items()}
            for number, conv in enumerate(conversations, 1):
                if reset:
                    restore_seed(seed_copy, db_path)
                before = portal.snapshot()
                ctx = assumption_conflicts(conv, before, visible.get(conv.role, {}))
                exchanges, memory, stop, bot_texts = play(stack, api_token, conv, verbose, list(before["cases"]))
                after = portal.snapshot()
                ctx.before, ctx.after = before, after
                written = diff(before, after)
                for w in written:
                    if w["kind"] == "case":
                        w["family"] = case_family(portal, w["category"])
                verdict = judge(portal, conv, memory, stop, bot_texts, exchanges, written, ctx)
                row = {
                    "id": conv.id, "lang": conv.lang, "role": conv.role, "goal": conv.goal, "opening": conv.opening,
                    "facts": conv.facts, "detour": conv.detour, "detour_after_turn": conv.detour_after_turn,
                    "confirm": conv.confirm, "expected": conv.expected, "notes": conv.notes,
                    "problems": conv.problems, "status": verdict.status,
                    "status_ignoring_data": verdict.status_ignoring_data, "outcome_ok": verdict.outcome_ok,
                    "reasons": verdict.reasons, "fields": verdict.fields, "written": written,
                    "missing_mentions": verdict.missing_mentions, "gaps": verdict.gaps,
                    "data_conflicts": [text for _, text in ctx.conflicts], "words_device": ctx.words_device,
                    "excused_turns": verdict.excused_turns,
                    "user_turns": memory.user_turns, "max_user_turns": conv.max_turns,
                    "stop": asdict(stop), "forms_seen": memory.forms_seen, "off_path_forms": memory.off_path_forms,
                    "detour_sent": memory.detour_sent, "transcript": [asdict(e) for e in exchanges],
                    "excerpt": excerpt(exchanges),
                }
                rows.append(row)
                print(f"[{number}/{len(conversations)}] {conv.id:<6} {verdict.status:<8} turns "
                      f"{memory.user_turns}/{conv.max_turns}  {'; '.join(verdict.reasons)[:300]}", flush=True)
    meta["seconds"] = time.perf_counter() - started
    md_path, json_path = write_report(batch_path, rows, out_dir, meta)
    print(f"\n{rate(rows)}\nwrote {md_path} and {json_path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("batch", type=Path, help="a YAML batch of blind conversations")
    parser.add_argument("--only", nargs="+", default=[], metavar="ID", help="run only these conversation ids")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "blind_eval", help="report directory")
    parser.add_argument("--no-reset", action="store_true",
                        help="do not restore the seeded database before each conversation")
    parser.add_argument("--verbose", action="store_true", help="print every turn")
    args = parser.parse_args()
    return run(args.batch, args.only, args.out, reset=not args.no_reset, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
