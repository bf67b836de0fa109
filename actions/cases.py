"""Following cases ("Suivre les dossiers", the portal's "Mes listes"): the three lists, the status of one case
with the latest entries of its activity stream, and a comment added to a case.

- `action_list_cases` (single turn): which list comes from the user's words — "action requise / à traiter"
  (action_required), "tous / all" (all), "mes tickets / my cases" (mine); when the words name none of them
  ("la liste des dossiers"), the three lists are offered as buttons rather than guessed, because "Mes tickets"
  (created by me) and "Tous les tickets" (every case I am associated with) differ a lot for a `user` whose
  cases are opened by an administrator. Up to 5 lines (or the number asked, at most 20), newest first, then
  buttons to the other lists.
- `action_case_status` (single turn, usable as a digression inside any form): the case number from the
  message (CS0032498, "cs 0032498", "CS-32498", or a bare 5–7 digit number), or "my last ticket" (the newest
  case I created). If the number is missing and no other form is active it sets `case_status_ask` and the rules
  start `case_status_form` (one question with buttons); inside another form it only offers buttons.
- `case_comment_form` + `action_submit_case_comment`: which case (number, "last", or buttons of my open cases),
  the comment (5–4000 characters), a summary with yes/no, then POST /cases/{number}/comments with the form's
  Idempotency-Key.

The backend decides visibility: a `user` sees only the cases they are associated with, so another account's
case (or one they are not associated with) answers 404 and the user is told the case was not found among theirs.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendClient, BackendError, BackendRejected
from actions.forms import (
    DEFECT_WORDS, NOT_AN_ANSWER, OpeningMessage, PortalFormValidation, answered_by_button, asked, entity, hand_over,
    intent_of, is_payload, latest_user_message, opening_message, opening_turn, slot_set_in, text_of, turn_message,
    yes_no_answer,
)
from actions.text import escape_markdown, fold_accents, shortened, spelled_references
from actions.session import backend, language, report_backend_error
from actions.submission import SubmitAction, form_slots

log = logging.getLogger(__name__)

STATUS_FORM = "case_status_form"
COMMENT_FORM = "case_comment_form"
COMMENT_EXTRA_SLOTS = ("case_comment_case",)

LISTS = ("action_required", "mine", "all")
LIST_LABELS = {
    "action_required": {"fr": "Action requise", "en": "Action required"},
    "mine": {"fr": "Mes tickets", "en": "My cases"},
    "all": {"fr": "Tous les tickets", "en": "All cases"},
}
STATE_LABELS = {"open": {"fr": "ouverts", "en": "open"}, "closed": {"fr": "clos", "en": "closed"}}
LIST_SHOWN = 5        # lines shown by default
LIST_NARROWED_SHOWN = 10  # lines shown by default when the words narrow the list (open / closed / one device)
LIST_MAX_SHOWN = 50   # "show my last 30 tickets" shows 30; more than this is said plainly
LIST_FETCHED = 51     # fetched to tell whether there are more than shown
BUTTON_CASES = 5      # case buttons offered when asking which case
ACTIVITIES_SHOWN = 3
REPLY_BUTTONS = 3     # "Reply on CS…" buttons under a list, for the cases waiting for the user's answer
REPLY_TITLE = {"fr": "Répondre sur", "en": "Reply on"}
# under a case waiting for the customer in a list: what is awaited (the latest message on it)
AWAITED = {"fr": "{author} demande : « {body} »", "en": "{author} asks: \"{body}\""}
AWAITED_CHARS = 160
ACTIVITY_CHARS = 280
DESCRIPTION_CHARS = 200
MIN_COMMENT_CHARS = 5
MAX_COMMENT_CHARS = 4000  # CommentCreate.body in backend/schemas.py
SHORT_ANSWER_WORDS = 4    # "CS0032499", "c'est le 32499": an answer whatever intent the NLU gave it
COMMENT_DIGRESSION_WORDS = 8  # a longer message is a comment even if the NLU saw a greeting or a question
# Intents that, in a short message, are not a comment: the rules answer them and the question is asked again.
COMMENT_NOT_AN_ANSWER = {"cancel", "help", "greet", "case_status", "list_cases"}
OPEN_STATUSES = ("awaiting_customer", "new", "in_progress")  # buttons: the ones waiting for me first

CASE_NUMBER = re.compile(r"^CS\d{7}$")
# "CS0032498", "cs 0032498", "CS-32498", "cs32498": the CS prefix makes the number unambiguous.
PREFIXED_NUMBER = re.compile(r"(?<![A-Za-z0-9])c\s?s[\s\-_.#:]*(\d{5,7})(?!\d)", re.I)
# A bare 5–7 digit number ("32498", "n° 0032498"); 8 digits would be an asset number, so never taken.
BARE_NUMBER = re.compile(r"(?<![\w.,/])(\d{5,7})(?![.,/]?\w)")
LAST_CASE = re.compile(
    r"\b(derni[eè]re?s?|plus r[ée]cente?s?|last|latest|newest|most recent|recent)\b", re.I)
MY_LISTS = re.compile(r"\b(mes listes|my lists)\b", re.I)
# "my printer", "ma photocopieuse": the user's device, not the cases she opened
MY_DEVICE = re.compile(r"\b(my|mon|ma|our|notre)\s+(printer|copier|photocopier|machine|device|mfp|imprimante|"
                       r"photocopieuse|copieur|appareil|multifonctions?)\b", re.I)
WANTS_ACTION_REQUIRED = re.compile(
    r"(action[s]? requise?s?|action required|[àa] traiter|n[ée]cessit\w* (une |mon |ma )?action|"
    r"attend\w* (une |ma |notre )?(r[ée]ponse|action)|en attente de (ma|notre|mon)|"
    r"need\w* (my |an |our )?(action|answer|reply|input)|waiting (for|on) (me|us|my|our)|awaiting (me|us|my|our)|"
    r"requir\w* (my |an |our )?action|attend\w* (qq?ch|quelque chose)|anything from (me|us))", re.I)
WANTS_ALL = re.compile(r"\b(tou[st]e?s?|all|every|everything|ensemble|associ\w*|involved|on the account|"
                       r"du compte|sur le compte|of the company|de la soci[ée]t[ée])\b", re.I)
# "list all our open cases, and tell me which one is waiting on us": a list asked first, then which one is waiting
REQUESTS_JOINED = re.compile(r"[,?.;]|\s[-\u2013\u2014]\s|\band\b|\bet\b|\bthen\b|\bpuis\b", re.I)
WHICH_ONE = re.compile(r"\b(tell|show|dire|dis|dites|montre\w*|indique\w*|which|lequel|lesquels|quel|s'il y en a|"
                       r"y en a-t-il|if any|whether|is there|are there)\b", re.I)
LIST_WORDS = re.compile(r"\b(list\w*|liste\w*|cases|tickets|dossiers|demandes|requests)\b", re.I)


def asks_list_then_which(text: str) -> bool:
    """The message asks for a list of cases (every / our cases) and, after it, which ones are waiting."""
    for joint in REQUESTS_JOINED.finditer(text):
        head, tail = text[:joint.start()], text[joint.end():]
        if (WANTS_ALL.search(head) or WANTS_OURS.search(head)) and LIST_WORDS.search(head) and WHICH_ONE.search(tail):
            return True
    return False
# "our tickets", "nos dossiers": every case, unless "my / mes" says otherwise ("my cases on our printer")
WANTS_OURS = re.compile(r"\b(our|nos|notre)\b", re.I)
WANTS_MINE = re.compile(
    r"\b(mes|my|mine|j'ai (cr[ée]{1,2}\w*|ouvert\w*|fait|d[ée]clar[ée]\w*)|i (created|opened|raised|logged|made)|"
    r"moi-m[êe]me|myself)\b", re.I)
# "the cases I opened" is about who opened them, not about their state
OPENED_BY_ME = re.compile(r"\b(j'ai ouvert\w*|que j'ai ouvert\w*|i opened|i've opened|opened by me)\b", re.I)
WANTS_OPEN = re.compile(
    r"\b(ouvert\w*|en cours|non (r[ée]solu|termin[ée]|clos|ferm[ée])\w*|pas (encore )?(r[ée]solu|termin[ée]|"
    r"clos|ferm[ée]|r[ée]gl[ée])\w*|toujours actifs?|actifs?|open|ongoing|active|pending|unresolved|in progress|"
    r"not (yet )?(closed|resolved|fixed|done))\b", re.I)
WANTS_CLOSED = re.compile(
    r"\b(ferm[ée]\w*|clos|cl[ôo]tur[ée]\w*|r[ée]solu\w*|termin[ée]\w*|r[ée]gl[ée]\w*|archiv\w*|closed|resolved|"
    r"finished|completed|fixed|done|old)\b", re.I)
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
COLON_COMMENT = re.compile(r"[:：](?!//|\d)\s*(.+)$", re.S)  # not "https://", not "10:30"
QUOTED_COMMENT = re.compile(r"[«\"“]\s*(.+?)\s*[»\"”]", re.S)


# --- reading the user's words -------------------------------------------------------------------------------------
def normalize_case_number(value: Optional[str]) -> Optional[str]:
    """"cs 0032498" / "CS-32498" / "32498" -> "CS0032498"; None when it is not a case number."""
    if not value:
        return None
    text = str(value).strip()
    compact = text.upper().replace(" ", "")
    if CASE_NUMBER.match(compact):
        return compact
    match = PREFIXED_NUMBER.search(text)
    if match:
        return f"CS{int(match.group(1)):07d}"
    bare = set(BARE_NUMBER.findall(text))
    if len(bare) == 1:
        return f"CS{int(bare.pop()):07d}"
    return None


def case_number_in(message: OpeningMessage, text: Optional[str] = None) -> Optional[str]:
    """The case number of a user message: the entity first (buttons, regex), else its text (or `text`, a part
    of it)."""
    number = normalize_case_number(message.entity("case_number"))
    if number:
        return number
    text = message.text if text is None else text
    return None if is_payload(text) else normalize_case_number(spelled_references(text))


# --- a case already open that the words point at ------------------------------------------------------------------
FAULT_INTENT = "report_fault"
# A fault back after its case was closed: "le bruit est revenu", "ça recommence", "it's happening again", "reopen"
FAULT_AGAIN = re.compile(r"\b(revenue?s?|revient|recommenc\w*|de nouveau|a nouveau|rouvr\w*|re-?ouvr\w*|again|back|"
                         r"returned|reopen\w*|re-open\w*)\b")
CASE_OFFER = "case_offered"  # {"number", "pending"}: the open case offered instead of a new request (once per case)
# Forms that write something new: their opening turn first looks for an open case the words point at.
CASE_AWARE_FORMS = ("fault_report_form", "request_form", "order_enquiry_form", "order_consumables_form")
# Words that point at a case already opened: "pour le ticket des traînées", "the streaks ticket", "my noise
# complaint", "Canon asked me for a test page", "can you chase it?", "on l'a retrouvé", "déjà signalé".
CASE_REFERENCE = re.compile(
    r"\b(?:(?:le|la|ce|cette|mon|ma|notre|du|au|leur)\s+(?:ticket|dossier|reclamation|signalement|incident)"
    r"|(?:the|my|our|that|this)\s+(?:[\w'-]+\s+){0,3}?(?:ticket|case|claim|complaint)"
    r"|relanc\w*|toujours (?:rien|pas de (?:nouvelles|reponse))|chase|chasing|still (?:nothing|waiting|no news)"
    r"|deja (?:signale|demande|declare|ouvert)|already (?:reported|asked|logged|open)"
    r"|canon (?:nous |m')?(?:a |avait )?demande|canon (?:has )?(?:asked|wants|needs)|vous (?:nous |m')?avez demande"
    r"|you asked (?:us|me)|page de test|test page|on l'a retrouve|we(?:'ve| have)? found it"
    r"|refaire une demande|redemander|(?:ask|order|request|report) (?:it |for it )?again)\b")
OFFER_TITLES = {
    "fr": ("Ajouter mon message au {number}", "Où en est le {number} ?", "Non, c'est une nouvelle demande"),
    "en": ("Add my message to {number}", "Status of {number}", "No, it's something new"),
}


async def existing_case_offer(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """On the opening turn of a form that would write something new: when the words point at a case still open and
    one case stands out (its number, or its subject: `case_by_topic`), offer to add the message to it, to hear its
    status, or to go on with a new request. The form then ends and its submit action writes nothing (it sees the
    pending offer). Each case is offered once in a conversation: "no, it's new" goes on with the new request."""
    opening = opening_message(tracker)
    text = opening.text
    if not text or is_payload(text) or not opening.intent:
        return None
    number = normalize_case_number(opening.entity("case_number"))
    if number is None:
        prefixed = PREFIXED_NUMBER.search(text)
        number = f"CS{int(prefixed.group(1)):07d}" if prefixed else None
    if number is None and not CASE_REFERENCE.search(fold_accents(text).lower()):
        return None
    client = backend(tracker)
    try:
        if number is None:
            best, cases = await case_by_topic(client, text)
            case = next((c for c in cases if c["number"] == best), None)
        else:
            case = await client.case(number)
    except BackendError:
        return None  # not found, not visible or unreachable: the new request goes on
    from actions.orders import order_number_in  # local: orders builds on this module

    named_order = order_number_in(text, whole_answer=False)
    if case and named_order and case.get("order_number") != named_order:
        return None  # the words name another order than the case's: a claim of its own
    return offer_open_case(dispatcher, tracker, case, opening.intent)


def offer_open_case(dispatcher: CollectingDispatcher, tracker: Tracker, case: Optional[Dict[str, Any]], intent: str,
                    response: str = "utter_existing_case_offer", **fields: Any) -> Optional[List[EventType]]:
    """Offer a case still open instead of writing a new one (once per case in a conversation): add the message to
    it, hear its status, or go on with the new request (`intent`). None when there is nothing to offer."""
    if not case or case.get("status") not in OPEN_STATUSES:
        return None
    offered = tracker.get_slot(CASE_OFFER) or {}
    if offered.get("number") == case["number"]:
        return None
    lang = language(tracker)
    comment, status, new = (t.format(number=case["number"]) for t in OFFER_TITLES[lang])
    dispatcher.utter_message(response=response, case=case_label(case), **fields, buttons=[
        {"title": comment, "payload": f'/add_case_comment{{"case_number":"{case["number"]}"}}'},
        {"title": status, "payload": f'/case_status{{"case_number":"{case["number"]}"}}'},
        {"title": new, "payload": f"/{intent}"},
    ])
    return [SlotSet("requested_slot", None), SlotSet(CASE_OFFER, {"number": case["number"], "pending": True})]


async def open_case_about_order(client: BackendClient, order_number: str) -> Optional[Dict[str, Any]]:
    """The newest case still open about this order (an order enquiry already made), or None."""
    try:
        cases = await client.cases("all", state="open")
    except BackendError as error:
        log.warning("cases unavailable to look for one about %s: %s", order_number, error)
        return None
    return next((c for c in cases if c.get("order_number") == order_number and c.get("status") in OPEN_STATUSES),
                None)


# Training requests are not cases (TRN numbers): "on avait pas déjà demandé une formation ?" lists them.
TRAINING_WORDS = re.compile(r"\b(formations?|former|training|trainings|course)\b")


async def utter_training_requests(dispatcher: CollectingDispatcher, client: BackendClient, lang: str) -> None:
    from actions.orders import training_lines  # local: orders builds on this module's helpers

    requests = await client.training_requests()
    if requests:
        dispatcher.utter_message(response="utter_training_requests_list", requests=training_lines(requests, lang))
    else:
        dispatcher.utter_message(response="utter_training_requests_none")


def asks_for_last(tracker: Tracker) -> bool:
    text = text_of(tracker)
    return not is_payload(text) and bool(LAST_CASE.search(text))


def list_in(tracker: Tracker) -> Optional[str]:
    """Which of the three lists the message asks for, or None when the words do not say."""
    chosen = entity(tracker, "case_list")
    if chosen in LISTS:
        return chosen
    text = MY_DEVICE.sub(" ", MY_LISTS.sub(" ", text_of(tracker)))
    if is_payload(text):
        return None
    if WANTS_ACTION_REQUIRED.search(text):
        # "list all our open cases, and tell me which one is waiting on us": every case, each one waiting for the
        # customer shown with what is awaited (the two requests answered by one list)
        if asks_list_then_which(text):
            return "all"
        return "action_required"
    if WANTS_ALL.search(text):
        return "all"
    if WANTS_MINE.search(text):
        return "mine"
    if WANTS_OURS.search(text):
        return "all"
    return None


def state_in(tracker: Tracker) -> Optional[str]:
    """open | closed when the words ask only for open or only for closed cases, else None."""
    text = text_of(tracker)
    if is_payload(text):
        return None
    text = OPENED_BY_ME.sub(" ", MY_LISTS.sub(" ", text))
    wants_open, wants_closed = bool(WANTS_OPEN.search(text)), bool(WANTS_CLOSED.search(text))
    if wants_open and WANTS_CLOSED.search(WANTS_OPEN.sub(" ", text)) is None:
        return "open"  # "not yet resolved" says closed words, but asks for the open ones
    if wants_closed and not wants_open:
        return "closed"
    return None


_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "ten": 10, "deux": 2, "trois": 3, "quatre": 4,
                "cinq": 5, "dix": 10}
_COUNT = r"(\d{1,3}|" + "|".join(_COUNT_WORDS) + r")"
LAST_COUNT = re.compile(rf"\b(?:last|latest|derni\w*|most recent|recent\w*)\s+{_COUNT}\b|"
                        rf"\b{_COUNT}\s+(?:last|latest|derni\w*|most recent|recent\w*|plus r[ée]cent\w*)\b", re.I)


def count_said(tracker: Tracker) -> Optional[str]:
    """The number of cases asked for: the NLU's quantity, else "the 3 latest" / "les 5 derniers" in the words."""
    value = entity(tracker, "quantity")
    if value is not None:
        return str(value)
    text = text_of(tracker)
    found = None if is_payload(text) else LAST_COUNT.search(text)
    if not found:
        return None
    word = (found.group(1) or found.group(2)).lower()
    return str(_COUNT_WORDS.get(word, word))


def wanted_count(tracker: Tracker, default: int = LIST_SHOWN) -> int:
    """How many lines the user asked for ("my last 30 cases"), the default otherwise; at least one."""
    value = count_said(tracker)
    try:
        count = int(str(value).strip()) if value is not None else default
    except ValueError:
        return default
    return max(1, count)


async def device_in(tracker: Tracker, client: Any) -> Optional[Dict[str, Any]]:
    """The one device the message names ("the cases of the printer at reception"; "my printer" when the user has
    exactly one), else None."""
    text = text_of(tracker)
    reference = entity(tracker, "asset_ref") or text
    if not reference or is_payload(reference):
        return None
    matches = (await client.resolve_assets(reference)).get("matches") or []
    if not matches and MY_DEVICE.search(text):
        matches = await client.assets()
    return matches[0] if len(matches) == 1 else None


def other_loop_active(tracker: Tracker) -> bool:
    """Another form is active: this turn is a digression and must not start a form of its own."""
    name = (tracker.active_loop or {}).get("name")
    return bool(name) and name not in (STATUS_FORM, "should_not_be_set")


def end_form(domain: DomainDict, form: str, *extra: str) -> List[EventType]:
    """Ends one of these forms before its first answer, forgetting only its own slots (not the idempotency key
    nor a pending retry, which may belong to another conversation the user left unfinished)."""
    return [ActiveLoop(None), SlotSet("requested_slot", None),
            *(SlotSet(name, None) for name in form_slots(domain, form)),
            *(SlotSet(name, False if name == "case_status_ask" else None) for name in extra)]


def just_completed(tracker: Tracker, form: str) -> bool:
    """The last action executed was `form` (the rules run the action right after the form completes)."""
    for event in reversed(tracker.events):
        if event.get("event") == "action":
            return event.get("name") == form
        if event.get("event") == "user":
            return False
    return False


# --- showing cases --------------------------------------------------------------------------------------------------
def _parse(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def format_date(value: Optional[str], lang: str, with_time: bool = False) -> str:
    moment = _parse(value)
    if moment is None:
        return str(value or "—")
    if lang == "en":
        text = f"{moment.day} {MONTHS_EN[moment.month - 1]} {moment.year}"
    else:
        text = moment.strftime("%d/%m/%Y")
    return f"{text} {moment.strftime('%H:%M')}" if with_time else text


NO_DEVICE = {"fr": "sans appareil", "en": "no device"}


def device_label(case: Dict[str, Any], lang: str = "fr") -> str:
    asset = case.get("asset")
    if not asset:
        return NO_DEVICE[lang]
    name = escape_markdown(asset["alias"]) if asset.get("alias") and asset.get("alias") != asset.get("serial") \
        else asset["model"]
    return f"{name} ({asset['serial']})"


def type_label(case: Dict[str, Any]) -> str:
    category, subcategory = case.get("category_label") or case.get("category"), \
        case.get("subcategory_label") or case.get("subcategory")
    return category if not subcategory or subcategory == category else f"{category} › {subcategory}"


def case_line(case: Dict[str, Any], lang: str) -> str:
    return (f"• {case['number']} — {type_label(case)} — {device_label(case, lang)} — {case['status_label']} — "
            f"{format_date(case.get('created_at'), lang)}")


def awaited_line(case: Dict[str, Any], lang: str) -> Optional[str]:
    """For a case waiting for the customer, what is awaited: the latest message on it, quoted (escaped: written by
    a person), so that the list already says what to answer."""
    activities = case.get("activities") or []  # oldest first, as utter_case reads them
    if case.get("status") != "awaiting_customer" or not activities:
        return None
    latest = activities[-1]
    body = shortened(str(latest.get("body") or ""), AWAITED_CHARS)
    if not body:
        return None
    return "   ↳ " + AWAITED[lang].format(author=escape_markdown(latest.get("author_name") or "Canon"),
                                        body=escape_markdown(body))


def list_lines(cases: List[Dict[str, Any]], lang: str) -> str:
    """A list's lines, each case waiting for the customer followed by what is awaited."""
    lines: List[str] = []
    for case in cases:
        lines.append(case_line(case, lang))
        awaited = awaited_line(case, lang)
        if awaited:
            lines.append(awaited)
    return "\n".join(lines)


def case_label(case: Dict[str, Any]) -> str:
    """One line naming a case in a question or a summary."""
    parts = [case["number"], type_label(case)] + ([device_label(case)] if case.get("asset") else []) \
        + [case["status_label"]]
    return " — ".join(parts)


def case_buttons(cases: List[Dict[str, Any]], intent: str) -> List[Dict[str, str]]:
    return [{"title": f"{c['number']} — {type_label(c)} ({c['status_label']})",
             "payload": f'/{intent}{{"case_number":"{c["number"]}"}}'} for c in cases[:BUTTON_CASES]]


def list_buttons(lang: str, exclude: Optional[str] = None) -> List[Dict[str, str]]:
    return [{"title": LIST_LABELS[name][lang], "payload": f'/list_cases{{"case_list":"{name}"}}'}
            for name in LISTS if name != exclude]


def open_first(cases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Open cases, those waiting for the customer first (newest first within each status)."""
    open_cases = [c for c in cases if c.get("status") in OPEN_STATUSES]
    return sorted(open_cases, key=lambda c: OPEN_STATUSES.index(c["status"]))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def utter_case(dispatcher: CollectingDispatcher, case: Dict[str, Any], lang: str) -> None:
    """Status, type, device, dates, then the latest entries of the activity stream (newest first)."""
    dispatcher.utter_message(
        response="utter_case_status", case_number=case["number"], status=case["status_label"],
        case_type=type_label(case), device=device_label(case, lang), created=format_date(case.get("created_at"), lang),
        updated=format_date(case.get("updated_at"), lang),
        requester=escape_markdown((case.get("requester") or {}).get("full_name") or "—"),
        contact=escape_markdown(case.get("contact_name") or "—"),
        description=escape_markdown(shorten(" ".join(str(case.get("description") or "").split()), DESCRIPTION_CHARS)
                                    or "—"),
    )
    activities = list(reversed(case.get("activities") or []))[:ACTIVITIES_SHOWN]
    if activities:
        dispatcher.utter_message(response="utter_case_activity_intro")
    for activity in activities:
        body = escape_markdown(shorten(" ".join(str(activity.get("body") or "").split()), ACTIVITY_CHARS))
        dispatcher.utter_message(response="utter_case_activity",
                                 author=escape_markdown(activity.get("author_name") or "—"),
                                 date=format_date(activity.get("created_at"), lang, with_time=True), body=body)
    if case.get("status") == "awaiting_customer":
        dispatcher.utter_message(response="utter_case_awaiting_you", case_number=case["number"])


def report_case_error(dispatcher: CollectingDispatcher, error: BackendError, number: Optional[str]) -> None:
    """Reading a case: not found (another account's, one the user is not associated with, or unknown: the
    backend answers 404 for all three), a malformed number, or the portal's own reason (e.g. 403)."""
    if isinstance(error, BackendRejected) and error.status == 404 and number:
        dispatcher.utter_message(response="utter_case_not_found", case_number=number)
    elif isinstance(error, BackendRejected) and error.code == "invalid_case_number":
        dispatcher.utter_message(response="utter_case_number_invalid", reference=number or "")
    elif isinstance(error, BackendRejected):
        dispatcher.utter_message(response="utter_case_refused", reason=escape_markdown(error.message))
    else:
        report_backend_error(dispatcher, error)


async def newest_case(client: BackendClient, dispatcher: CollectingDispatcher) -> Optional[str]:
    """"My last ticket": the newest case I created; else the newest case I am associated with."""
    mine = await client.cases("mine", limit=1)
    if mine:
        return mine[0]["number"]
    visible = await client.cases("all", limit=1)
    if visible:
        dispatcher.utter_message(response="utter_case_last_not_mine")
        return visible[0]["number"]
    dispatcher.utter_message(response="utter_case_none")
    return None


# --- the lists ------------------------------------------------------------------------------------------------------
class ActionListCases(Action):
    """One of the portal's lists (action required, mine, all), narrowed to the open or closed cases and to one
    device when the words say so, as many lines as asked (up to LIST_MAX_SHOWN, said plainly beyond)."""

    def name(self) -> Text:
        return "action_list_cases"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang, which, state = language(tracker), list_in(tracker), state_in(tracker)
        client = backend(tracker)
        try:
            device = await device_in(tracker, client)
            # "the last 3 tickets" names no list: the widest one the user may see, without asking
            if which is None and state is None and device is None and count_said(tracker) is None:
                dispatcher.utter_message(response="utter_ask_case_list", buttons=list_buttons(lang))
                return []
            which = which or "all"
            cases = await client.cases(which, limit=LIST_FETCHED, state=state,
                                       asset=device["asset_number"] if device else None)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        label = " — ".join([LIST_LABELS[which][lang]] + ([STATE_LABELS[state][lang]] if state else [])
                           + ([device_label({"asset": device}, lang)] if device else []))
        if not cases:
            dispatcher.utter_message(response="utter_case_list_empty", list_label=label,
                                     buttons=list_buttons(lang, exclude=which))
            return []
        wanted = wanted_count(tracker, LIST_NARROWED_SHOWN if state or device else LIST_SHOWN)
        shown = cases[: min(wanted, LIST_MAX_SHOWN)]
        dispatcher.utter_message(response="utter_case_list", list_label=label, count=len(shown),
                                 lines=list_lines(shown, lang))
        if wanted > LIST_MAX_SHOWN and len(cases) > LIST_MAX_SHOWN:
            dispatcher.utter_message(response="utter_case_list_capped", max_shown=LIST_MAX_SHOWN)
        elif len(cases) > len(shown):
            more = len(cases) - len(shown)
            dispatcher.utter_message(response="utter_case_list_more",
                                     more=f"{more}+" if len(cases) >= LIST_FETCHED else str(more),
                                     max_shown=LIST_MAX_SHOWN)
        # a case waiting for the user's answer can be answered from the list at once
        awaiting = [c for c in shown if c.get("status") == "awaiting_customer"][:REPLY_BUTTONS]
        replies = [{"title": f"{REPLY_TITLE[lang]} {c['number']}",
                    "payload": f'/add_case_comment{{"case_number":"{c["number"]}"}}'} for c in awaiting]
        dispatcher.utter_message(response="utter_case_list_hint", example=shown[0]["number"],
                                 buttons=replies + list_buttons(lang, exclude=which))
        return []


# --- the status of one case -----------------------------------------------------------------------------------------
class ActionCaseStatus(Action):
    """Answers in one turn when the message names the case (or "my last ticket"); otherwise asks which case:
    through `case_status_form` (case_status_ask = true) or, inside another form, with buttons only."""

    def name(self) -> Text:
        return "action_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        done = [SlotSet("case_status_number", None), SlotSet("case_status_ask", False)]
        client, lang = backend(tracker), language(tracker)
        if just_completed(tracker, STATUS_FORM):
            number = tracker.get_slot("case_status_number")
            if number is None:  # the form ended without a case (the portal was down when asking): told already
                return done
        else:
            number = case_number_in(latest_user_message(tracker))
        try:
            if number is None and asks_for_last(tracker):
                number = await newest_case(client, dispatcher)
                if number is None:
                    return done
            described: List[Dict[str, Any]] = []
            if number is None and not is_payload(latest_user_message(tracker).text):
                number, described = await case_by_topic(client, latest_user_message(tracker).text)
            if number is None and TRAINING_WORDS.search(fold_accents(latest_user_message(tracker).text).lower()):
                await utter_training_requests(dispatcher, client, lang)  # "la formation déjà demandée, elle en est où ?"
                return done
            if number is None and len(described) > 1:  # the words describe a few cases: offer those
                dispatcher.utter_message(response="utter_ask_case_status_number",
                                         buttons=case_buttons(described, "case_status"))
                return done
            if number is None:
                cases = await client.cases("all", limit=BUTTON_CASES)
                if not cases:
                    dispatcher.utter_message(response="utter_case_none")
                    return done
                if len(cases) == 1:  # exactly one case: no need to ask which
                    number = cases[0]["number"]
                elif other_loop_active(tracker):  # a digression: offer buttons, the form goes on
                    dispatcher.utter_message(response="utter_ask_case_status_number",
                                             buttons=case_buttons(cases, "case_status"))
                    return done
                else:
                    return [SlotSet("case_status_ask", True)]
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return done
        try:
            case = await client.case(number)
        except BackendError as error:
            report_case_error(dispatcher, error, number)
            return done
        utter_case(dispatcher, case, lang)
        # the message that asked (not the answer to "which case?" when the status form asked it)
        comment = None if just_completed(tracker, STATUS_FORM) else comment_asked(latest_user_message(tracker).text)
        if comment and case.get("status") in OPEN_STATUSES and not other_loop_active(tracker):
            # "où en est notre demande … ? et ajoutez dessus qu'on en a besoin avant vendredi": the comment is
            # written out at once, only its confirmation is asked
            return [*done, SlotSet("case_comment_number", case["number"]), SlotSet("case_comment_text", comment),
                    FollowupAction(COMMENT_FORM)]
        return done


# A comment asked for in the same message as a case's status: "… ? Et ajoutez dessus qu'on en a besoin avant
# vendredi", "… and add to it that the engineer can come after 2pm", "please note on it: …"
COMMENT_ASKED = re.compile(
    r"(?:^|[.?!,;]\s*|\b(?:et|and|then|puis|also|aussi)\s+)(?:please\s+|pouvez-vous\s+|can you\s+|could you\s+)?"
    r"(?:ajoute[zr]?|rajoute[zr]?|note[zr]?|pr[ée]cise[zr]?|indique[zr]?|mentionne[zr]?|signale[zr]?|add|note|mention|"
    r"tell them|let them know)(?:-(?:y|le|la|leur))?\s+(?:(?:dessus|au dossier|sur le dossier|dans le dossier|"
    r"sur la demande|[àa] la demande|to it|on it|to the case|on the case|to the ticket|on the ticket|a note)\s*)?"
    r"(?:que\s+|qu['’]|that\s+|:\s*)(?P<comment>\S.{4,})$", re.I | re.S)


def comment_asked(text: str) -> Optional[str]:
    """The comment a message asks to add to the case it is about, or None."""
    if not text or is_payload(text):
        return None
    match = COMMENT_ASKED.search(text)
    if not match:
        return None
    comment = match.group("comment").strip()
    return comment[0].upper() + comment[1:] if len(comment) >= MIN_COMMENT_CHARS else None


class ActionAskCaseStatusNumber(Action):
    def name(self) -> Text:
        return "action_ask_case_status_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            cases = await backend(tracker).cases("all", limit=BUTTON_CASES)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return end_form(domain, STATUS_FORM, "case_status_ask")
        dispatcher.utter_message(response="utter_ask_case_status_number", buttons=case_buttons(cases, "inform"))
        return []


async def case_by_topic(client: BackendClient, text: str) -> Tuple[Optional[str], List[Dict[str, Any]]]:
    """The case the words describe ("my ticket about the noise on the 2nd floor copier": its type, description,
    device, order items), if one stands out, and the few cases they describe (backend POST /cases/match)."""
    answer = await client.match_cases(text)
    return answer.get("best"), answer.get("cases") or []


async def extract_case_number(tracker: Tracker, dispatcher: CollectingDispatcher, slot: str,
                              opening_intent: str) -> Dict[Text, Any]:
    """The "which case?" question of both forms: a number, "my last ticket", or a button. On the opening message
    the user's own words are reused. A short typed message holding a number answers, whatever its intent; a
    longer question ("what's the status of CS0032498?") is a digression the rules answer."""
    if tracker.get_slot(slot) or not (opening_turn(tracker) or asked(tracker, slot)):
        return {}
    message = turn_message(tracker)  # on the opening turn, the words that asked (also after a switch)
    text, intent = message.text, message.intent
    if opening_turn(tracker):
        if intent != opening_intent:
            return {}
        before_comment = COLON_COMMENT.split(text)[0] if not is_payload(text) else text
        number = case_number_in(message, before_comment)
        try:
            if number is None and LAST_CASE.search(before_comment):
                number = await newest_case(backend(tracker), dispatcher)
            elif number is None and not is_payload(before_comment):
                number, _ = await case_by_topic(backend(tracker), before_comment)
        except BackendError:
            return {}  # the question will simply be asked
        return {slot: number} if number else {}
    number = case_number_in(message)
    meant_as_answer = intent not in NOT_AN_ANSWER or intent == opening_intent
    if is_payload(text):  # a button: only one meant as an answer (inform / the form's own intent) answers
        answers = meant_as_answer
    else:
        answers = meant_as_answer or len(text.split()) <= SHORT_ANSWER_WORDS
    if number and answers:
        return {slot: number}
    if number is None and answers and asks_for_last(tracker):
        try:
            number = await newest_case(backend(tracker), dispatcher)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {slot: None}
        return {slot: number}
    if not meant_as_answer:
        return {}  # a question or a greeting: the rules answer it, then the form asks again
    dispatcher.utter_message(response="utter_case_number_missing")
    return {slot: None}


async def check_case(tracker: Tracker, dispatcher: CollectingDispatcher, value: Any) -> Optional[Dict[str, Any]]:
    """The case if the user may see it; otherwise the reason is told and None is returned."""
    number = normalize_case_number(value)
    if number is None:
        dispatcher.utter_message(response="utter_case_number_invalid", reference=str(value or "")[:40])
        return None
    try:
        return await backend(tracker).case(number)
    except BackendError as error:
        report_case_error(dispatcher, error, number)
        return None


class ValidateCaseStatusForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_case_status_form"

    async def extract_case_status_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return await extract_case_number(tracker, dispatcher, "case_status_number", "case_status")

    async def validate_case_status_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"case_status_number": None}
        case = await check_case(tracker, dispatcher, value)
        return {"case_status_number": case["number"] if case else None}


# --- adding a comment -----------------------------------------------------------------------------------------------
def inline_comment(text: str) -> Optional[str]:
    """The comment already written in the opening message: after a colon, or between quotes."""
    match = COLON_COMMENT.search(text) or QUOTED_COMMENT.search(text)
    if not match:
        return None
    comment = match.group(1).strip()
    return comment if len(comment) >= MIN_COMMENT_CHARS else None


class ValidateCaseCommentForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_case_comment_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        """A closed case named by words that tell the fault again ("le bruit est revenu, vous aviez fermé le ticket
        CS0032498, vous pouvez rouvrir ?"): a closed case takes no reopening here, so the fault is reported anew
        with those words (the fault form reads them), instead of asking for a comment on a closed case."""
        events = await super().run(dispatcher, tracker, domain)
        case = slot_set_in(events, "case_comment_case")
        if not case or case.get("status") in OPEN_STATUSES or not opening_turn(tracker):
            return events
        opening = opening_message(tracker)
        words = "" if not opening.text or is_payload(opening.text) else fold_accents(opening.text)
        if not (DEFECT_WORDS.search(words) and FAULT_AGAIN.search(words)):
            return events
        return hand_over(FAULT_INTENT, opening.text, opening.entities, "utter_case_closed_reported_again",
                         case_number=case["number"])

    async def extract_case_comment_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return await extract_case_number(tracker, dispatcher, "case_comment_number", "add_case_comment")

    async def validate_case_comment_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"case_comment_number": None}
        case = await check_case(tracker, dispatcher, value)
        if case is None:
            return {"case_comment_number": None, "case_comment_case": None}
        dispatcher.utter_message(response="utter_case_selected", case_label=case_label(case))
        return {"case_comment_number": case["number"],
                "case_comment_case": {"number": case["number"], "label": case_label(case), "status": case["status"]}}

    async def extract_case_comment_text(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        message = turn_message(tracker)  # on the opening turn, the words that asked (also after a switch)
        text = message.text
        if tracker.get_slot("case_comment_text") or is_payload(text):
            return {}
        if opening_turn(tracker):
            comment = inline_comment(text) if message.intent == "add_case_comment" else None
            typed = answered_by_button(tracker)
            if comment is None and typed is not None and entity(tracker, "case_number"):
                comment = typed.text  # "add my message to CS…" under what the user typed: that message
            return {"case_comment_text": comment} if comment else {}
        if not asked(tracker, "case_comment_text"):
            return {}
        # Free text: anything is a comment, except a short message that is plainly a request to the assistant.
        if intent_of(tracker) in COMMENT_NOT_AN_ANSWER and len(text.split()) <= COMMENT_DIGRESSION_WORDS:
            return {}
        return {"case_comment_text": text}

    async def validate_case_comment_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text) < MIN_COMMENT_CHARS or is_payload(text):
            dispatcher.utter_message(response="utter_case_comment_too_short", min_chars=MIN_COMMENT_CHARS)
            return {"case_comment_text": None}
        if len(text) > MAX_COMMENT_CHARS:
            dispatcher.utter_message(response="utter_case_comment_too_long", max_chars=MAX_COMMENT_CHARS,
                                     length=len(text))
            return {"case_comment_text": None}
        return {"case_comment_text": text}

    async def extract_case_comment_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "case_comment_confirm")


class ActionAskCaseCommentNumber(Action):
    """Which case? One button per open case (those waiting for the user first); typing a number works too."""

    def name(self) -> Text:
        return "action_ask_case_comment_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            cases = await backend(tracker).cases("all", limit=LIST_FETCHED)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return end_form(domain, COMMENT_FORM, *COMMENT_EXTRA_SLOTS)
        if not cases:
            dispatcher.utter_message(response="utter_case_none")
            return end_form(domain, COMMENT_FORM, *COMMENT_EXTRA_SLOTS)
        dispatcher.utter_message(response="utter_ask_case_comment_number",
                                 buttons=case_buttons(open_first(cases) or cases, "inform"))
        return []


class ActionAskCaseCommentConfirm(Action):
    def name(self) -> Text:
        return "action_ask_case_comment_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        case = tracker.get_slot("case_comment_case") or {}
        dispatcher.utter_message(response="utter_ask_case_comment_confirm",
                                 case_label=case.get("label") or tracker.get_slot("case_comment_number"),
                                 comment=escape_markdown(tracker.get_slot("case_comment_text")))
        return []


class ActionSubmitCaseComment(SubmitAction):
    """Adds the confirmed comment to the case's activity stream (retry-safe: the form's Idempotency-Key)."""

    action_name = "action_submit_case_comment"
    form = COMMENT_FORM
    extra_slots = COMMENT_EXTRA_SLOTS

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("case_comment_confirm") is None:
            # The form ended before its summary (no case to comment on, or the portal was down when asking):
            # nothing to send, and a pending submission of another form must not be forgotten.
            return []
        return await super().run(dispatcher, tracker, domain)

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        number, confirmed = tracker.get_slot("case_comment_number"), tracker.get_slot("case_comment_confirm")
        if confirmed is False:
            dispatcher.utter_message(response="utter_case_comment_not_sent")
            return []
        if confirmed is not True:  # the form ended early (no case to comment on): the user was told why
            return []
        await backend(tracker).add_comment(number, tracker.get_slot("case_comment_text"), idempotency_key=key)
        dispatcher.utter_message(response="utter_case_comment_added", case_number=number)
        if (tracker.get_slot("case_comment_case") or {}).get("status") == "awaiting_customer":
            dispatcher.utter_message(response="utter_case_comment_back_to_canon", case_number=number)
        return []


__all__: Tuple[str, ...] = (
    "ActionListCases", "ActionCaseStatus", "ActionAskCaseStatusNumber", "ValidateCaseStatusForm",
    "ValidateCaseCommentForm", "ActionAskCaseCommentNumber", "ActionAskCaseCommentConfirm",
    "ActionSubmitCaseComment",
)
