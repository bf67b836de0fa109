"""The general part of the assistant: what it can do for this user's role (help), the low-confidence fallback
that offers the most likely intents, the portal's glossary, and the human handoff (a callback case that
carries the conversation transcript).

Help asks the backend what the user's role allows (GET /users/me/permissions) and lists only that; if the portal
cannot tell, the generic `utter_help` is shown. The handoff is a one-question form (yes/no) whose submit action
is a `SubmitAction`, so a portal outage keeps the request for a retry with the same idempotency key.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import escape_markdown, fold_accents
from actions.backend_client import BackendError
from actions.fault_report import describes_a_fault
from actions.meters import gives_guide_readings
from actions.forms import (
    PortalFormValidation, entities, intent_of, is_payload, opening_message, opening_turn, text_of, yes_no_answer,
)
from actions.roles import my_permissions
from actions.session import MAX_DESCRIPTION_CHARS, backend, channel_code, language, portal_user, transcript
from actions.submission import SubmitAction

log = logging.getLogger(__name__)

# --- the whole intent catalogue, as the user sees it on a button (FR, EN) -----------------------------------------
INTENT_LABELS: Dict[str, Dict[str, str]] = {
    "greet": {"fr": "Dire bonjour", "en": "Say hello"},
    "goodbye": {"fr": "Terminer la conversation", "en": "End the conversation"},
    "affirm": {"fr": "Oui", "en": "Yes"},
    "deny": {"fr": "Non", "en": "No"},
    "thank": {"fr": "Merci", "en": "Thanks"},
    "bot_challenge": {"fr": "Qui me répond ?", "en": "Who is answering?"},
    "help": {"fr": "Ce que je peux faire", "en": "What I can do"},
    "out_of_scope": {"fr": "Autre sujet", "en": "Another topic"},
    "human_handoff": {"fr": "Parler à un conseiller", "en": "Talk to an agent"},
    "cancel": {"fr": "Annuler", "en": "Cancel"},
    "inform": {"fr": "Donner une information", "en": "Give some information"},
    "report_fault": {"fr": "Signaler une panne", "en": "Report a fault"},
    "search_knowledge": {"fr": "Chercher dans la base de connaissances", "en": "Search the knowledge base"},
    "submit_meter_reading": {"fr": "Saisir un relevé de compteur", "en": "Submit a meter reading"},
    "query_meter_reading": {"fr": "Question sur un relevé de compteur", "en": "Question about a meter reading"},
    "order_consumables": {"fr": "Commander des consommables", "en": "Order consumables"},
    "order_enquiry": {"fr": "Problème avec une commande livrée", "en": "Problem with a delivered order"},
    "order_training": {"fr": "Demander une formation", "en": "Request training"},
    "view_orders": {"fr": "Voir mes dernières commandes", "en": "See my last orders"},
    "request_change": {"fr": "Demander une modification", "en": "Request a change"},
    "contract_question": {"fr": "Question sur mon contrat", "en": "Contract question"},
    "invoice_question": {"fr": "Question sur mes factures", "en": "Invoice question"},
    "general_enquiry": {"fr": "Demande générale", "en": "General enquiry"},
    "product_information": {"fr": "Informations sur un produit", "en": "Product information"},
    "product_move": {"fr": "Déplacer un appareil", "en": "Move a device"},
    "list_cases": {"fr": "Voir mes dossiers", "en": "See my cases"},
    "case_status": {"fr": "État d'un dossier", "en": "Status of a case"},
    "add_case_comment": {"fr": "Commenter un dossier", "en": "Comment on a case"},
    "list_assets": {"fr": "Voir mes appareils", "en": "See my devices"},
    "device_info": {"fr": "Contrat et couverture d'un appareil", "en": "A device's contract and coverage"},
    "set_asset_alias": {"fr": "Donner un nom d'alias à un appareil", "en": "Give a device an alias"},
    "manage_asset_contacts": {"fr": "Gérer les contacts d'un appareil", "en": "Manage a device's contacts"},
    "list_users": {"fr": "Voir les utilisateurs du compte", "en": "See the account's users"},
    "invite_user": {"fr": "Inviter un utilisateur", "en": "Invite a user"},
    "approve_access_request": {"fr": "Approuver une demande d'accès", "en": "Approve an access request"},
    "upgrade_user": {"fr": "Nommer un administrateur", "en": "Make a user an administrator"},
    "deactivate_user": {"fr": "Désactiver un utilisateur", "en": "Deactivate a user"},
    "reset_user_password": {"fr": "Réinitialiser le mot de passe d'un utilisateur", "en": "Reset a user's password"},
    "change_language": {"fr": "Changer de langue", "en": "Change language"},
    "set_notifications": {"fr": "Notifications par e-mail", "en": "E-mail notifications"},
    "change_password": {"fr": "Changer mon mot de passe", "en": "Change my password"},
    "set_voice_pin": {"fr": "Mon code vocal (téléphone)", "en": "My voice PIN (phone)"},
    "ask_glossary": {"fr": "Glossaire du portail", "en": "Portal glossary"},
}
SOMETHING_ELSE = {"fr": "Autre chose", "en": "Something else"}
# Never offered by the fallback: answers and small talk mean nothing without the question they answer.
NOT_SUGGESTED = {"nlu_fallback", "out_of_scope", "inform", "affirm", "deny", "greet", "goodbye", "thank", "cancel",
                 "help"}
SUGGESTIONS = 3  # the likeliest requests offered by the low-confidence menu (plus "something else")
# Below this the NLU does not see the request in the message at all ("oui" out of any question): not offered.
SUGGESTION_MIN_CONFIDENCE = 0.01

# --- what the assistant can do, by permission (backend/permissions.py codes) ----------------------------------------
# needs: any of these permissions; intent: the button's payload (None: no button, e.g. a question to type).
CAPABILITIES: List[Dict[str, Any]] = [
    {"needs": ("get_help",), "intent": "report_fault",
     "fr": "signaler une panne sur l'un de vos appareils (je vous montre d'abord les articles qui peuvent la "
           "résoudre)",
     "en": "report a fault on one of your devices (I first show you articles that may solve it)"},
    {"needs": ("search_knowledge",), "intent": None,
     "fr": "répondre à vos questions « comment … ? » avec la bibliothèque de savoir-faire",
     "en": "answer your \"how do I …?\" questions from the knowledge library"},
    {"needs": ("meter_readings",), "intent": "submit_meter_reading",
     "fr": "saisir vos relevés de compteurs, ou poser une question sur un relevé",
     "en": "record your meter readings, or ask a question about a reading"},
    {"needs": ("place_orders",), "intent": "order_consumables",
     "fr": "commander des consommables ou une formation, voir vos dernières commandes, signaler une erreur de "
           "livraison",
     "en": "order consumables or training, see your last orders, report a delivery problem"},
    {"needs": ("submit_requests",), "intent": "general_enquiry", "requests": True,
     "fr": "envoyer une demande : {kinds}", "en": "send a request: {kinds}"},
    {"needs": ("track_cases",), "intent": "list_cases",
     "fr": "suivre vos dossiers (action requise, les miens, tous), leur état et leurs mises à jour, et les commenter",
     "en": "follow your cases (action required, mine, all), their status and updates, and comment on them"},
    {"needs": ("view_assets",), "intent": "list_assets",
     "fr": "lister vos appareils, dire leur contrat (échéance, couverture, consommables automatiques) et leur "
           "donner un nom d'alias",
     "en": "list your devices, tell you their contract (end date, coverage, automatic consumables) and give them "
           "an alias name"},
    {"needs": ("approve_access_requests", "invite_users", "upgrade_users", "deactivate_users", "reset_passwords"),
     "intent": "list_users",
     "fr": "gérer les utilisateurs du compte : inviter, approuver les demandes d'accès, nommer administrateur, "
           "désactiver, réinitialiser un mot de passe",
     "en": "manage the account's users: invite, approve access requests, make administrator, deactivate, "
           "reset a password"},
    {"needs": ("add_asset_contacts",), "intent": "manage_asset_contacts",
     "fr": "ajouter ou retirer les contacts d'un appareil", "en": "add or remove the contacts of a device"},
    {"needs": ("email_notifications",), "intent": "set_notifications",
     "fr": "changer la langue de votre profil et vos notifications par e-mail",
     "en": "change your profile language and your e-mail notifications"},
    {"needs": ("change_password",), "intent": "change_password",
     "fr": "vous indiquer la page sécurisée pour changer votre mot de passe",
     "en": "show you the secure page to change your password"},
    {"needs": (), "intent": "ask_glossary",
     "fr": "expliquer les termes du portail (ressource, dossier, contact secondaire, …)",
     "en": "explain the portal's terms (asset, case, secondary contact, …)"},
    {"needs": (), "intent": "human_handoff",
     "fr": "demander qu'un conseiller vous rappelle", "en": "ask an agent to call you back"},
]
# Request types, with the taxonomy category a role may be refused (the seed's asterisk).
REQUEST_KINDS = [
    (None, "modification", "change"),
    (None, "question générale", "general enquiry"),
    (None, "information produit", "product information"),
    ("contract_question", "contrat", "contract"),
    ("invoice_question", "facture", "invoice"),
    ("product_move", "déplacement d'appareil", "device move"),
]
RESTRICTED_NOTE = {"fr": " (contrat, facture et déplacement : réservés aux administrateurs)",
                   "en": " (contract, invoice and move requests: administrators only)"}


def _button(intent: str, lang: str) -> Dict[str, str]:
    return {"title": INTENT_LABELS[intent][lang], "payload": f"/{intent}"}


def capabilities_for(permissions: set, restricted: set, lang: str) -> List[Dict[str, Any]]:
    """[{"text", "button"}] for what a role with these permissions (and refused request categories) may do."""
    allowed: List[Dict[str, Any]] = []
    for cap in CAPABILITIES:
        if cap["needs"] and not set(cap["needs"]) & permissions:
            continue
        text = cap[lang]
        if cap.get("requests"):
            kinds = [fr if lang == "fr" else en for category, fr, en in REQUEST_KINDS if category not in restricted]
            text = text.format(kinds=", ".join(kinds)) + (RESTRICTED_NOTE[lang] if restricted else "")
        allowed.append({"text": text, "button": _button(cap["intent"], lang) if cap["intent"] else None})
    return allowed


class ActionHelp(Action):
    """What the assistant can do — only what this user's role allows, each with a button."""

    def name(self) -> Text:
        return "action_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        mine = await my_permissions(tracker)
        if mine is None:  # the portal cannot say what the role allows: the generic list
            dispatcher.utter_message(response="utter_help")
            return []
        lang = language(tracker)
        allowed = capabilities_for(mine["permissions"], mine["restricted"], lang)
        lines = "\n".join(f"• {c['text'][0].upper()}{c['text'][1:]}" for c in allowed)
        buttons = [c["button"] for c in allowed if c["button"]]
        dispatcher.utter_message(response="utter_help_intro", capabilities=lines, buttons=buttons)
        return []


FAULT_ENTITIES = ("asset_ref", "fault_category", "fault_subcategory")


async def sounds_like_a_fault(tracker: Tracker) -> bool:
    """The message names a device or a symptom: an entity the NLU found, or words the backend's classifier reads as
    a fault (`describes_a_fault`, as the fault form's opening turn does)."""
    latest = tracker.latest_message or {}
    if any(e.get("entity") in FAULT_ENTITIES for e in latest.get("entities") or []):
        return True
    text = text_of(tracker)
    if not text or is_payload(text):
        return False
    try:
        proposal = await backend(tracker).classify_fault(text, language(tracker))
    except BackendError:
        return False
    return describes_a_fault(proposal)


# A person asked for in so many words ("je veux parler à une vraie personne", "can I speak to a human"), accents folded
PERSON_WANTED = re.compile(
    r"\b(parler|discuter|avoir|joindre|passer)\b.{0,30}\b(humain|personne|conseill\w*|quelqu'un|interlocut\w*|"
    r"technicien|agent|operat\w*)\b|\b(speak|talk|chat)\b.{0,30}\b(human|person|someone|somebody|advis\w*|agent|"
    r"representative|operator)\b|\b(vraie personne|real person|actual person|etre humain|human being)\b")


def asks_for_a_person(text: str) -> bool:
    return not is_payload(text) and bool(PERSON_WANTED.search(fold_accents(text).lower()))


class ActionSuggestIntents(Action):
    """Low NLU confidence: offer the most likely intents as buttons, plus "something else" (help). A message that
    names a device or a symptom always gets "report a fault" among them, one that asks for a person "talk to an
    advisor"; the form chosen then reads the message (actions/forms.py opening_message), so nothing the user said is
    asked again."""

    def name(self) -> Text:
        return "action_suggest_intents"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        best: List[str] = []
        for candidate in ranking:
            name = candidate.get("name")
            if not name or name in NOT_SUGGESTED or name not in INTENT_LABELS or name in best:
                continue
            if (candidate.get("confidence") or 0) < SUGGESTION_MIN_CONFIDENCE:
                break  # the ranking is sorted: the rest are lower still
            best.append(name)
            if len(best) == SUGGESTIONS:
                break
        if "submit_meter_reading" not in best[:1] and gives_guide_readings(text_of(tracker), lang):
            best = ["submit_meter_reading", *[b for b in best if b != "submit_meter_reading"]][:SUGGESTIONS]
        elif "report_fault" not in best and await sounds_like_a_fault(tracker):
            best = ["report_fault", *best][:SUGGESTIONS]
        if "human_handoff" not in best and asks_for_a_person(text_of(tracker)):
            best = ["human_handoff", *best][:SUGGESTIONS]
        if not best:
            dispatcher.utter_message(response="utter_default")
            return [FollowupAction("action_listen")]
        buttons = [_button(name, lang) for name in best]
        buttons.append({"title": SOMETHING_ELSE[lang], "payload": "/help"})
        dispatcher.utter_message(response="utter_suggest_intents", buttons=buttons)
        # then wait for the user: as the core fallback (no rule for what comes next) nothing else may be predicted
        return [FollowupAction("action_listen")]


# --- glossary ----------------------------------------------------------------------------------------------------
GLOSSARY_TERMS = ("asset", "case", "contact", "secondary_contact", "knowledge", "alias", "status", "visits",
                  "emaintenance", "meters", "action_required")
# Typed words -> term, when the NLU gave no entity (accents and case ignored; longest phrases first).
_GLOSSARY_WORDS = [
    ("secondary_contact", r"contacts? secondaires?|contenu secondaire|secondary contacts?|watchers?"),
    ("emaintenance", r"e[- ]?maintenance|ugw"),
    ("action_required", r"(?:(?:statut|etat|status|state) (?:« |\"|')?)?actions? (?:requises?|required|needed)"),
    ("meters", r"(?:codes?|types?|noms?|names?) (?:de |des |du )?(?:compteurs?|meters?)|"
               r"(?:compteurs?|meters?) (?:codes?|names?|types?)|compteurs?|meters?|counters?|"
               r"11[23]|12[23]"),
    ("alias", r"nom d'?alias|alias name|alias(es)?|surnom"),
    ("knowledge", r"savoir[- ]?faire|know[- ]?how|base de connaissances?|knowledge( base)?"),
    ("case", r"dossiers?|tickets?|cases?"),
    ("asset", r"ressources?|resources?|assets?|actifs?|appareils?|devices?"),
    ("status", r"etats?|statuts?|status|state"),
    ("visits", r"visites?|visits?|tours?"),
    ("contact", r"contacts?"),
]


def glossary_terms(tracker: Tracker) -> List[str]:
    """The glossary terms the user asked about, in order, from the entities or else from the words."""
    found: List[str] = []
    for value in entities(tracker, "glossary_term"):
        term = normalise_term(value)
        if term and term not in found:
            found.append(term)
    if found or is_payload(text_of(tracker)):
        return found
    text = fold_accents(text_of(tracker))
    hits = []
    for term, pattern in _GLOSSARY_WORDS:
        match = re.search(rf"\b(?:{pattern})\b", text)
        if match:
            hits.append((match.start(), term))
            text = text[:match.start()] + " " * (match.end() - match.start()) + text[match.end():]
    return [term for _, term in sorted(hits)]


def normalise_term(value: str) -> Optional[str]:
    plain = fold_accents(value).strip().replace(" ", "_")
    if plain in GLOSSARY_TERMS:
        return plain
    for term, pattern in _GLOSSARY_WORDS:
        if re.fullmatch(pattern, fold_accents(value).strip()):
            return term
    return None


class ActionGlossary(Action):
    """The seed guide's glossary: the definition of each term asked about, or the terms as buttons."""

    def name(self) -> Text:
        return "action_glossary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        terms = glossary_terms(tracker)
        if not terms:
            dispatcher.utter_message(response="utter_glossary_choose")
            return []
        for term in terms:
            dispatcher.utter_message(response=f"utter_glossary_{term}")
        return []


# --- human handoff -------------------------------------------------------------------------------------------------
HANDOFF_FORM = "handoff_form"
HANDOFF_EXTRA_SLOTS = ("handoff_reason",)
MAX_REASON_CHARS = 1000
SUMMARY = {
    "fr": {"default": "Demande à parler à un conseiller.",
           "summary": "Résumé : {who} a demandé à être rappelé(e) par un conseiller depuis l'assistant "
                      "(canal {channel}, {count} message(s) de l'utilisateur). La transcription de la "
                      "conversation est jointe au dossier.",
           "recent": "Derniers messages : {messages}."},
    "en": {"default": "Asked to talk to an agent.",
           "summary": "Summary: {who} asked the assistant for a call back by an agent (channel {channel}, "
                      "{count} message(s) from the user). The conversation transcript is attached to the "
                      "case.",
           "recent": "Last messages: {messages}."},
}


def handoff_description(tracker: Tracker, reason: str, lang: str) -> str:
    """The user's own words, then a short summary for the agent (the transcript itself is attached)."""
    texts = SUMMARY[lang]
    user = portal_user(tracker) or {}
    who = user.get("full_name") or user.get("email") or "?"
    if user.get("email") and user.get("full_name"):
        who = f"{user['full_name']} ({user['email']})"
    said = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")]
    earlier = [t for t in said if not is_payload(t) and t.strip() != reason][-3:]
    parts = [reason or texts["default"],
             texts["summary"].format(who=who, channel=channel_code(tracker), count=len(said))]
    if earlier:
        parts.append(texts["recent"].format(messages=" / ".join(f"« {t[:200]} »" for t in earlier)))
    return "\n\n".join(parts)[:MAX_DESCRIPTION_CHARS]


class ValidateHandoffForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_handoff_form"

    async def extract_handoff_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if opening_turn(tracker):
            # keep the user's own words asking for a person (not a button's payload) for the callback case, also
            # when they asked inside another form and left it with a "yes"
            opening = opening_message(tracker)
            if opening.intent != "human_handoff" or not opening.text or is_payload(opening.text):
                return {}
            return {"handoff_reason": opening.text[:MAX_REASON_CHARS]}
        if intent_of(tracker) == "human_handoff" and tracker.get_slot("requested_slot") == "handoff_confirm":
            return {"handoff_confirm": True}  # asked again for a person while asked to confirm: that is a yes
        return yes_no_answer(tracker, dispatcher, "handoff_confirm")


class ActionAskHandoffConfirm(Action):
    def name(self) -> Text:
        return "action_ask_handoff_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reason = tracker.get_slot("handoff_reason")
        if reason:
            dispatcher.utter_message(response="utter_ask_handoff_confirm", reason=escape_markdown(reason[:200]))
        else:
            dispatcher.utter_message(response="utter_ask_handoff_confirm_plain")
        return []


class ActionSubmitHandoff(SubmitAction):
    """Creates the callback case (assistant_handoff / callback) with the transcript and the channel."""

    action_name = "action_submit_handoff"
    form = HANDOFF_FORM
    extra_slots = HANDOFF_EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        if tracker.get_slot("handoff_confirm") is not True:
            dispatcher.utter_message(response="utter_handoff_not_sent")
            return []
        lang = language(tracker)
        case = await backend(tracker).create_case(
            {"category": "assistant_handoff", "subcategory": "callback",
             "description": handoff_description(tracker, tracker.get_slot("handoff_reason") or "", lang),
             "channel": channel_code(tracker), "transcript": transcript(tracker)},
            idempotency_key=key,
        )
        dispatcher.utter_message(response="utter_handoff_created", case_number=case["number"])
        return []
