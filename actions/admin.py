"""User administration ("Gérer les utilisateurs du portail"), for an account's administrators only: list the
users with their status, invite a new user, approve or reject an access request, make a user an administrator,
deactivate a user, send a user a password reset link.

Every conversation starts after `action_check_role` (actions/roles.py) allowed it; the backend still enforces
every rule (self-deactivation, last administrator, ...) and its refusal is shown as it is.

Two forms:
- `admin_invite_form`: e-mail, full name, optional phone, confirmation → POST /users/invitations.
- `admin_user_form`: which operation (taken from the intent), which person (e-mail, name or a button of the
  eligible users only), approve or reject (access requests only), confirmation → POST /users/{id}/{action}.
The bot never asks for, nor shows, a password: a reset sends the user a one-time link by e-mail.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import escape_markdown, fold_accents, spoken_emails
from actions.backend_client import BackendError
from actions.forms import (
    MAX_BUTTONS, PortalFormValidation, asked, entity, intent_of, is_payload, not_an_answer,
    opening_message, opening_turn, text_of, turn_message, yes_no_answer,
)
from actions.session import backend, language, portal_user, report_backend_error
from actions.submission import SubmitAction, reset_events

log = logging.getLogger(__name__)

USER_FORM = "admin_user_form"
INVITE_FORM = "admin_invite_form"
# admin_user_refused: the person the request named cannot be its target (already deactivated, no access request
# from them, ...): said, and the form ends instead of asking for someone else
USER_EXTRA_SLOTS = ("admin_user_candidates", "admin_user_refused")

# The intent that opened the user form -> the operation; "approve" is then approved or rejected.
OPERATIONS = {
    "approve_access_request": "approve",
    "upgrade_user": "upgrade",
    "deactivate_user": "deactivate",
    "reset_user_password": "password-reset",
}
OPERATION_CODES = tuple(OPERATIONS.values())
DECISIONS = ("approve", "reject")


ROLE_LABELS = {"admin": {"fr": "Administrateur", "en": "Administrator"},
               "user": {"fr": "Utilisateur", "en": "User"}}
ORIGIN_LABELS = {"access_request": {"fr": "demande d'accès à approuver", "en": "access request to approve"},
                 "invitation": {"fr": "invitation envoyée, pas encore acceptée",
                                "en": "invitation sent, not accepted yet"}}
STATUS_ORDER = {"pending": 0, "active": 1, "inactive": 2}
NO_PHONE = {"fr": "—", "en": "—"}

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"(?<![\w@.])\+?\(?\d[\d .()/-]{4,}\d(?![\w@])")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS, MAX_PHONE_CHARS = 6, 15, 50
MIN_NAME_CHARS, MAX_NAME_CHARS = 2, 200
NO_PHONE_WORDS = re.compile(
    r"\b(aucun|pas de (tel|telephone|numero)|sans( (tel|telephone|numero))?|non|passer|ignorer|skip|none|"
    r"no( phone| number)?|nope|n a)\b")
APPROVE_WORDS = re.compile(r"\b(approuv\w*|accept\w*|valid\w*|autoris\w*|approv\w*|grant\w*|allow\w*)\b")
REJECT_WORDS = re.compile(r"\b(refus\w*|rejet\w*|reject\w*|declin\w*|deny|denie\w*|turn down)\b")
# Words of the requests themselves: never taken as part of a person's name.
STOP_WORDS = {
    "a", "au", "aux", "de", "des", "du", "d", "l", "la", "le", "les", "un", "une", "et", "ou", "en", "pour", "par",
    "sur", "son", "sa", "ses", "mon", "ma", "mes", "c", "est", "ce", "the", "of", "to", "for", "and", "or", "an",
    "his", "her", "their", "is", "it", "its", "my", "me", "moi", "je", "i", "please", "svp", "stp", "merci",
    "mr", "mrs", "ms", "m", "mme", "monsieur", "madame", "admin", "administrateur", "administrator", "user",
    "users", "utilisateur", "utilisateurs", "compte", "account", "acces", "access", "mot", "passe", "password",
}


# --- helpers ------------------------------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lower case, accents removed, everything but letters and digits turned into spaces."""
    return re.sub(r"[^a-z0-9]+", " ", fold_accents(text)).strip()


def user_label(user: Dict[str, Any]) -> str:
    return f"{user['full_name']} ({user['email']})"


def named(user: Dict[str, Any]) -> Dict[str, str]:
    """A person's name and e-mail address as a message shows them (user-written: escaped)."""
    return {"name": escape_markdown(user.get("full_name", "")), "email": escape_markdown(user.get("email", ""))}


def user_buttons(users: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [{"title": user_label(u), "payload": f'/inform{{"email":"{u["email"]}"}}'} for u in users[:MAX_BUTTONS]]


def target_of(user: Dict[str, Any]) -> Dict[str, Any]:
    """What the form keeps of the chosen person."""
    return {k: user.get(k) for k in ("id", "email", "full_name", "role", "status", "origin")}


def status_text(user: Dict[str, Any], lang: str) -> str:
    label = user.get("status_label") or {}
    return label.get(lang) or user.get("status", "")


def is_me(user: Dict[str, Any], tracker: Tracker) -> bool:
    me = portal_user(tracker) or {}
    return (me.get("id") is not None and me.get("id") == user.get("id")) or \
        (bool(me.get("email")) and str(me["email"]).lower() == str(user.get("email", "")).lower())


def ineligibility(operation: str, user: Dict[str, Any], tracker: Tracker) -> Optional[str]:
    """The response explaining why `operation` cannot be done for `user`, or None when it can."""
    status, role = user.get("status"), user.get("role")
    if operation == "approve":
        return None if status == "pending" else "utter_admin_user_not_pending"
    if operation == "deactivate":
        if is_me(user, tracker):
            return "utter_admin_cannot_deactivate_self"
        if status == "inactive":
            return "utter_admin_user_already_inactive"
        return "utter_admin_user_is_pending" if status == "pending" else None
    if status == "pending":
        return "utter_admin_user_is_pending"
    if status != "active":
        return "utter_admin_user_not_active"
    if operation == "upgrade" and role == "admin":
        return "utter_admin_user_already_admin"
    return None


def eligible_users(operation: str, users: List[Dict[str, Any]], tracker: Tracker) -> List[Dict[str, Any]]:
    return [u for u in users if ineligibility(operation, u, tracker) is None]


def find_users(users: List[Dict[str, Any]], text: str, emails: List[str], person: Optional[str],
               partial: bool) -> List[Dict[str, Any]]:
    """The users a message names: by e-mail (exact), else by name — accents and case ignored, a first or last
    name alone is enough ("Priya"), and with `partial` the beginning of a name too ("pri")."""
    if emails:
        wanted = {e.lower() for e in emails}
        return [u for u in users if u["email"].lower() in wanted]
    said = normalize(" ".join(filter(None, [person, text])))
    words = {w for w in said.split() if w not in STOP_WORDS}
    scored: List[Tuple[int, Dict[str, Any]]] = []
    for user in users:
        name = normalize(user["full_name"])
        if name and f" {name} " in f" {said} ":
            score = 100
        else:
            tokens = [t for t in name.split() if len(t) >= 2 and t not in STOP_WORDS]
            score = sum(10 for t in tokens if t in words)
            if partial:
                score += sum(1 for t in tokens for w in words if len(w) >= 3 and w != t and t.startswith(w))
        if score:
            scored.append((score, user))
    best = max((s for s, _ in scored), default=0)
    return [u for s, u in scored if s == best]


# --- a message that asks for two things ("make Anna an administrator and deactivate Tom"): each person goes with
# the operation named next to them -------------------------------------------------------------------------------------
OPERATION_WORDS = {
    "approve": APPROVE_WORDS,
    "upgrade": re.compile(r"\b(admin\w*|upgrad\w*|promo\w*|promouv\w*|nomm\w*)\b"),
    "deactivate": re.compile(r"\b(desactiv\w*|deactivat\w*|disabl\w*|supprim\w*|remove\w*|retir\w*|bloqu\w*|"
                             r"block\w*|revoqu\w*|revok\w*|left|parti\w*|quitt\w*)\b"),
    "password-reset": re.compile(r"\b(mot de passe|password|reinitialis\w*|reset\w*)\b"),
}
CLAUSE_BREAK = re.compile(r"\s*(?:[,;.!?]+\s|\s-+\s|\b(?:and|et|puis|then|also|aussi|while|pendant que)\b)\s*",
                          re.I)


def operation_clause(text: str, operation: str) -> str:
    """The words about this operation: the whole message, unless it also names another operation; then only the
    parts that name this one (so a person is never taken for the wrong operation)."""
    norm = normalize(text)
    others = [op for op, words in OPERATION_WORDS.items() if op != operation and words.search(norm)]
    own = OPERATION_WORDS.get(operation)
    if not others or own is None:
        return text
    parts = [part for part in CLAUSE_BREAK.split(text) if part and own.search(normalize(part))]
    return " ".join(parts)


NAME_WORD = r"[A-ZÀ-Ý][\w'’-]*"


def full_name(person: str, text: str, emails: List[str]) -> str:
    """The person's whole name when the NLU took only its first word: the capitalised words that follow it in the
    message ("Marc" -> "Marc Lefebvre"), else the name the e-mail address spells (marc.lefebvre@ -> Marc Lefebvre)."""
    person = person.strip()
    match = re.search(rf"(?<!\w){re.escape(person)}((?:\s+{NAME_WORD}){{1,3}})", text) if person else None
    if match and " " not in person:
        return person + match.group(1)
    for email in emails:
        parts = [p for p in re.split(r"[._-]", email.split("@")[0]) if p.isalpha()]
        if len(parts) >= 2 and " " not in person and parts[0].lower() == fold_accents(person).lower():
            return " ".join([person.capitalize() if person.islower() else person,
                             *(p.capitalize() for p in parts[1:])])
    return person


def decision_in(text: str) -> Optional[str]:
    """"approuver" / "refuser" said in words (both or neither: None)."""
    said = normalize(text)
    approve, reject = bool(APPROVE_WORDS.search(said)), bool(REJECT_WORDS.search(said))
    if approve == reject:
        return None
    return "approve" if approve else "reject"


def not_a_name(tracker: Tracker) -> bool:
    """A digression or another conversation's request (actions/forms.py not_an_answer); an unrecognised
    message (nlu_fallback) may still be a name, an e-mail address or a phone number."""
    return intent_of(tracker) != "nlu_fallback" and not_an_answer(tracker)


def question_instead(text: str) -> bool:
    """A question asked in place of an e-mail address or a phone number ("what's Jane's number again?"): no digit
    and no @ in it, so it answers nothing; the rules answer it, then the question is asked again."""
    return not is_payload(text) and "?" in text and not re.search(r"[\d@]", text)


def operation_of(tracker: Tracker) -> Optional[str]:
    """The form's operation: the slot, or on the opening turn the intent of the request that opened the form
    (also when it was started by a "yes" to a switch offered inside another form)."""
    value = tracker.get_slot("admin_user_operation")
    if value:
        return value
    if opening_turn(tracker):
        return OPERATIONS.get(opening_message(tracker).intent or "")
    return None


def response_suffix(action: str) -> str:
    return action.replace("-", "_")


# A name set apart at the end of a request: "please add a new starter to the portal - Oliver Grant", "nouvel
# utilisateur : Marc Lefèvre."
NAME_AT_THE_END = re.compile(r"(?:\s[-\u2013\u2014]|:)\s*(?P<name>[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){1,2})\s*[.!]?\s*$")
# ... but not a sign-off, a team or a company ("- Finance Department", ": Canon UK", "Thanks - John")
NOT_A_PERSON = re.compile(r"\b(regards|thanks|thank|cheers|merci|cordialement|journee|service|department|team|equipe|"
                          r"uk|ltd|limited|sas|sarl|inc|street|road|avenue|rue)\b", re.I)


# Words that say an e-mail address given earlier is being corrected ("sorry, typo in the email: it's …")
EMAIL_CORRECTION = re.compile(r"\b(typo|sorry|pardon|plutot|correct\w*|wrong|mistake|erreur|tromp\w*|actually|en fait|"
                              r"i meant|je voulais dire|faute|coquille|misspel\w*|the e-?mail is|l'adresse (?:c'est|est)|"
                              r"(?:son|her|his|the) (?:e-?mail|mail|adresse|address) (?:is|c'est|est))\b")


def name_at_the_end(text: str) -> Optional[str]:
    if not text or is_payload(text):
        return None
    match = NAME_AT_THE_END.search(text)
    if not match:
        return None
    before = fold_accents(text[:match.start()]).split()  # "Thanks - John Smith": the word before says sign-off
    if NOT_A_PERSON.search(fold_accents(match.group("name"))) or (before and NOT_A_PERSON.search(before[-1])):
        return None
    return match.group("name")


def without_emails(text: str) -> str:
    return EMAIL_RE.sub(" ", text)


def phone_in(text: str) -> Optional[str]:
    for match in PHONE_RE.finditer(without_emails(text)):
        candidate = re.sub(r"\s+", " ", match.group(0)).strip()
        digits = sum(ch.isdigit() for ch in candidate)
        if MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS and len(candidate) <= MAX_PHONE_CHARS:
            return candidate
    return None


# --- list the users -----------------------------------------------------------------------------------------------
class ActionAdminListUsers(Action):
    """"Gestion des utilisateurs": every user of the account with e-mail, role and status; pending access
    requests first, each with a button to handle it."""

    def name(self) -> Text:
        return "action_admin_list_users"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        try:
            users = await backend(tracker).users()
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        users = sorted(users, key=lambda u: (STATUS_ORDER.get(u.get("status"), 3), normalize(u["full_name"])))
        lines = []
        for user in users:
            role = ROLE_LABELS.get(user.get("role"), {}).get(lang, user.get("role", ""))
            person = named(user)
            line = f"• {person['name']} — {person['email']} — {role} — {status_text(user, lang)}"
            if user.get("status") == "pending":
                origin = ORIGIN_LABELS.get(user.get("origin") or "access_request", ORIGIN_LABELS["access_request"])
                line += f" ({origin[lang]})"
            lines.append(line)
        dispatcher.utter_message(response="utter_admin_users_list", count=len(users), users="\n".join(lines))
        requests = [u for u in users if u.get("status") == "pending" and u.get("origin") != "invitation"]
        if requests:
            title = "Traiter la demande de {}" if lang == "fr" else "Handle the request of {}"
            buttons = [{"title": title.format(u["full_name"]),
                        "payload": f'/approve_access_request{{"email":"{u["email"]}"}}'}
                       for u in requests[:MAX_BUTTONS]]
            dispatcher.utter_message(response="utter_admin_users_pending_hint", count=len(requests), buttons=buttons)
        return []


# --- approve / reject, upgrade, deactivate, reset password ----------------------------------------------------------
class ValidateAdminUserForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_admin_user_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        # approve or reject: only for an access request
        if operation_of(tracker) != "approve":
            return [slot for slot in domain_slots if slot != "admin_user_decision"]
        return domain_slots

    # --- which operation (normally the intent that opened the form) --------------------------------------------
    async def extract_admin_user_operation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("admin_user_operation"):
            return {}
        if opening_turn(tracker):
            operation = operation_of(tracker)
            return {"admin_user_operation": operation} if operation else {}
        intent = intent_of(tracker) or ""
        if not asked(tracker, "admin_user_operation") or not_an_answer(tracker):
            return {}
        chosen = entity(tracker, "admin_operation") or OPERATIONS.get(intent)
        if chosen:
            return {"admin_user_operation": chosen}
        dispatcher.utter_message(response="utter_choose_an_option")
        return {"admin_user_operation": None}

    async def validate_admin_user_operation(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value not in OPERATION_CODES:
            if value is not None:
                dispatcher.utter_message(response="utter_choose_an_option")
            return {"admin_user_operation": None}
        return {"admin_user_operation": value}

    # --- which person --------------------------------------------------------------------------------------------
    async def extract_admin_user_target(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("admin_user_target"):
            return {}
        opening, operation = opening_turn(tracker), operation_of(tracker)
        if operation is None or not (opening or asked(tracker, "admin_user_target")):
            return {}
        if not opening and not_a_name(tracker):
            return {}
        message = turn_message(tracker)  # on the opening turn, the words that asked for the operation
        text = message.text if is_payload(message.text) else operation_clause(message.text, operation)
        emails = [e for e in message.entity_values("email") if e in text] or (
            [] if is_payload(text) else EMAIL_RE.findall(text))
        person = next((p for p in message.entity_values("person") if p in text), None)
        said = "" if is_payload(text) else text
        try:
            users = await backend(tracker).users()
        except BackendError as error:
            if opening:  # the question will report it
                return {}
            report_backend_error(dispatcher, error)
            return {"admin_user_target": None}
        matches = find_users(users, said, emails, person, partial=not opening) if (emails or person or said) else []
        reference = escape_markdown(emails[0] if emails else (person or said)[:60])  # only ever shown
        if not matches:
            if opening and operation == "approve" and not emails and not person:
                pending = eligible_users("approve", users, tracker)
                if len(pending) == 1:  # exactly one request waiting and none named: that one
                    return {"admin_user_target": target_of(pending[0]), "admin_user_candidates": None}
            if opening and not emails and not person:
                return {}  # nobody named: the question will be asked
            if operation == "approve":  # "approve Tom Baker" with no request from him: who is waiting, and an invitation
                waiting = eligible_users("approve", users, tracker)
                dispatcher.utter_message(
                    response="utter_admin_no_access_request_from" if waiting else "utter_admin_no_access_request_at_all",
                    reference=reference,
                    waiting=", ".join(escape_markdown(f"{u['full_name']} ({u['email']})") for u in waiting))
                return {"admin_user_target": None, "admin_user_refused": True if opening else None}
            dispatcher.utter_message(response="utter_admin_user_not_found", reference=reference)
            return {"admin_user_target": None}
        eligible = eligible_users(operation, matches, tracker)
        if len(eligible) == 1:
            return {"admin_user_target": target_of(eligible[0]), "admin_user_candidates": None}
        if not eligible:
            user = matches[0]
            dispatcher.utter_message(response=ineligibility(operation, user, tracker), name=named(user)["name"],
                                     status=status_text(user, language(tracker)))
            return {"admin_user_target": None, "admin_user_candidates": None,
                    "admin_user_refused": True if opening else None}
        dispatcher.utter_message(response="utter_admin_user_ambiguous", reference=reference)
        return {"admin_user_target": None, "admin_user_candidates": [u["email"] for u in eligible]}

    async def validate_admin_user_target(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not isinstance(value, dict) or not value.get("id") or not value.get("email"):
            return {"admin_user_target": None}
        return {"admin_user_target": value}

    # --- approve or reject (access requests) ---------------------------------------------------------------------
    async def extract_admin_user_decision(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("admin_user_decision") or operation_of(tracker) != "approve":
            return {}
        opening = opening_turn(tracker)
        if not (opening or asked(tracker, "admin_user_decision")):
            return {}
        message = turn_message(tracker)
        chosen, intent, text = message.entity("admin_decision"), message.intent, message.text
        if chosen in DECISIONS:
            return {"admin_user_decision": chosen}
        said = decision_in(text) if not is_payload(text) else None
        if opening:
            return {"admin_user_decision": said} if said else {}
        if not_an_answer(tracker):
            return {}
        if said:
            return {"admin_user_decision": said}
        if intent in ("affirm", "deny"):
            return {"admin_user_decision": "approve" if intent == "affirm" else "reject"}
        dispatcher.utter_message(response="utter_admin_user_choose_decision")
        return {"admin_user_decision": None}

    async def validate_admin_user_decision(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value not in DECISIONS:
            if value is not None:
                dispatcher.utter_message(response="utter_admin_user_choose_decision")
            return {"admin_user_decision": None}
        return {"admin_user_decision": value}

    # --- confirmation --------------------------------------------------------------------------------------------
    async def extract_admin_user_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "admin_user_confirm")


class ActionAskAdminUserOperation(Action):
    def name(self) -> Text:
        return "action_ask_admin_user_operation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_admin_user_operation")
        return []


NOBODY_TO = {"approve": "utter_admin_no_pending_requests", "upgrade": "utter_admin_no_user_to_upgrade",
             "deactivate": "utter_admin_no_user_to_deactivate", "password-reset": "utter_admin_no_user_to_reset"}


class ActionAskAdminUserTarget(Action):
    """Who? One button per eligible user (pending ones to approve, active non-administrators to upgrade,
    active others to deactivate, active ones for a reset); the form ends when there is nobody, or when the request
    named someone it cannot be done for (the reason was given)."""

    def name(self) -> Text:
        return "action_ask_admin_user_target"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        operation = tracker.get_slot("admin_user_operation") or "approve"
        ended = [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events(domain, USER_FORM)]
        if tracker.get_slot("admin_user_refused"):  # the person asked for cannot be: said already, nothing to ask
            return ended
        try:
            users = await backend(tracker).users()
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return ended
        choices = eligible_users(operation, users, tracker)
        if not choices:
            dispatcher.utter_message(response=NOBODY_TO[operation])
            return ended
        candidates = tracker.get_slot("admin_user_candidates") or []
        narrowed = [u for u in choices if u["email"] in candidates]
        dispatcher.utter_message(response=f"utter_ask_admin_user_target_{response_suffix(operation)}",
                                 buttons=user_buttons(narrowed or choices))
        return []


class ActionAskAdminUserDecision(Action):
    def name(self) -> Text:
        return "action_ask_admin_user_decision"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        target = tracker.get_slot("admin_user_target") or {}
        dispatcher.utter_message(response="utter_ask_admin_user_decision", **named(target))
        return []


class ActionAskAdminUserConfirm(Action):
    def name(self) -> Text:
        return "action_ask_admin_user_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        target = tracker.get_slot("admin_user_target") or {}
        action = backend_action(tracker)
        dispatcher.utter_message(response=f"utter_ask_admin_user_confirm_{response_suffix(action)}", **named(target))
        return []


def backend_action(tracker: Tracker) -> str:
    """approve | reject | upgrade | deactivate | password-reset (the backend's path segment)."""
    operation = tracker.get_slot("admin_user_operation") or "approve"
    if operation == "approve":
        return tracker.get_slot("admin_user_decision") or "approve"
    return operation


class ActionAdminSubmitUserChange(SubmitAction):
    """POST /users/{id}/{action} once confirmed; the backend's refusal (last administrator, ...) is shown as is."""

    action_name = "action_admin_submit_user_change"
    form = USER_FORM
    extra_slots = USER_EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        target = tracker.get_slot("admin_user_target") or {}
        confirmed = tracker.get_slot("admin_user_confirm")
        if confirmed is True and target.get("id"):
            action = backend_action(tracker)
            await backend(tracker).user_action(int(target["id"]), action, idempotency_key=key)
            dispatcher.utter_message(response=f"utter_admin_user_done_{response_suffix(action)}", **named(target))
        elif confirmed is False:
            dispatcher.utter_message(response="utter_admin_user_not_changed")
        return []


# --- invite a new user ------------------------------------------------------------------------------------------
class ValidateAdminInviteForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_admin_invite_form"

    async def extract_admin_invite_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        current = tracker.get_slot("admin_invite_email")
        if current:  # another address typed at a later question corrects it ("sorry, typo in the email: it's …")
            text = text_of(tracker)
            found = [] if opening_turn(tracker) or is_payload(text) else EMAIL_RE.findall(spoken_emails(text))
            corrected = found[0].strip().lower() if len(found) == 1 else None
            if corrected and corrected != current and EMAIL_CORRECTION.search(fold_accents(text)):
                dispatcher.utter_message(response="utter_admin_invite_email_changed", email=corrected)
                return {"admin_invite_email": corrected}
            return {}
        opening = opening_turn(tracker)
        if not (opening or asked(tracker, "admin_invite_email")) or (not opening and not_a_name(tracker)):
            return {}
        message = turn_message(tracker)
        text = message.text
        found = message.entity_values("email") or EMAIL_RE.findall(spoken_emails(text))  # also said in words
        if found:
            return {"admin_invite_email": found[0].strip().lower()}
        if opening or question_instead(text):
            return {}
        dispatcher.utter_message(response="utter_admin_invite_email_invalid")
        return {"admin_invite_email": None}

    async def validate_admin_invite_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        email = str(value or "").strip().lower()
        if not EMAIL_RE.fullmatch(email) or len(email) > 254:
            if value is not None:
                dispatcher.utter_message(response="utter_admin_invite_email_invalid")
            return {"admin_invite_email": None}
        try:
            users = await backend(tracker).users()
        except BackendError as error:  # the portal checks it again when inviting
            log.warning("users unavailable, e-mail not checked: %s", error)
            users = []
        known = next((u for u in users if u["email"].lower() == email), None)
        if known:
            dispatcher.utter_message(response="utter_admin_invite_already_user", **named(known),
                                     status=status_text(known, language(tracker)))
            return {"admin_invite_email": None}
        return {"admin_invite_email": email}

    async def extract_admin_invite_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("admin_invite_name"):
            return {}
        message = turn_message(tracker)
        person = message.entity("person")
        if person and not is_payload(message.text):
            person = full_name(person, message.text, EMAIL_RE.findall(message.text))
        if opening_turn(tracker):
            person = person or name_at_the_end(message.text)
            return {"admin_invite_name": person.strip()} if person else {}
        if not asked(tracker, "admin_invite_name") or not_a_name(tracker):
            return {}
        text = text_of(tracker)
        if is_payload(text) and not person:
            dispatcher.utter_message(response="utter_admin_invite_name_invalid")
            return {"admin_invite_name": None}
        return {"admin_invite_name": (person or without_emails(text)).strip(" ,;.")}

    async def validate_admin_invite_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        name = re.sub(r"\s+", " ", str(value or "")).strip(" ,;.")
        letters = sum(ch.isalpha() for ch in name)
        if not MIN_NAME_CHARS <= len(name) <= MAX_NAME_CHARS or letters < 2 or "@" in name \
                or any(ch.isdigit() for ch in name):
            if value is not None:
                dispatcher.utter_message(response="utter_admin_invite_name_invalid")
            return {"admin_invite_name": None}
        return {"admin_invite_name": name}

    async def extract_admin_invite_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("admin_invite_phone") is not None:
            return {}
        message = turn_message(tracker)
        text, intent = message.text, message.intent
        if opening_turn(tracker):
            phone = None if is_payload(text) else phone_in(text)
            return {"admin_invite_phone": phone} if phone else {}
        if not asked(tracker, "admin_invite_phone") or not_a_name(tracker):
            return {}
        phone = None if is_payload(text) else phone_in(text)
        if phone:
            return {"admin_invite_phone": phone}
        if EMAIL_RE.search(text):  # an e-mail address corrected (extract_admin_invite_email): the phone is asked again
            return {}
        if intent == "deny" or NO_PHONE_WORDS.search(normalize(text)):
            return {"admin_invite_phone": ""}  # no phone: optional
        if question_instead(text):
            return {}
        dispatcher.utter_message(response="utter_admin_invite_phone_invalid")
        return {"admin_invite_phone": None}

    async def validate_admin_invite_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"admin_invite_phone": None}
        phone = str(value).strip()
        if phone and phone_in(phone) != phone:
            dispatcher.utter_message(response="utter_admin_invite_phone_invalid")
            return {"admin_invite_phone": None}
        return {"admin_invite_phone": phone}

    async def extract_admin_invite_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "admin_invite_confirm")


class ActionAskAdminInviteConfirm(Action):
    def name(self) -> Text:
        return "action_ask_admin_invite_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        slot = tracker.get_slot
        dispatcher.utter_message(response="utter_ask_admin_invite_confirm",
                                 **named({"full_name": slot("admin_invite_name"), "email": slot("admin_invite_email")}),
                                 phone=slot("admin_invite_phone") or NO_PHONE[language(tracker)])
        return []


class ActionAdminSubmitInvite(SubmitAction):
    """POST /users/invitations with the form's idempotency key: a retry never invites twice."""

    action_name = "action_admin_submit_invite"
    form = INVITE_FORM

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        confirmed = slot("admin_invite_confirm")
        if confirmed is True:
            invited = await backend(tracker).invite_user(slot("admin_invite_email"), slot("admin_invite_name"),
                                                         idempotency_key=key, phone=slot("admin_invite_phone") or "")
            dispatcher.utter_message(response="utter_admin_invite_sent", **named(
                {"full_name": invited.get("full_name") or slot("admin_invite_name"),
                 "email": invited.get("email") or slot("admin_invite_email")}))
        elif confirmed is False:
            dispatcher.utter_message(response="utter_admin_invite_not_sent")
        return []
