"""The seed's "Mon profil": language, e-mail notifications and password.

- Language: the conversation follows the user's language at once (the `language` slot: the language written in,
  bot/language.py, or asked for, action_change_language), in the new language already. Saving it in the portal
  profile (PATCH /users/me/profile) is offered as a question once the bot is about to listen outside a form
  (bot/policy.py predicts action_offer_language) and done only on "yes" (action_save_language).
- E-mail notifications: on/off from the buttons or the user's words, after checking the role may change them.
- Password: never asked in the chat; the user gets the link to the secure page (GET /account/password on the
  backend), where the current and new passwords go straight to POST /users/me/password.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import fold_accents
from actions.backend_client import BackendError, BackendRejected, NotAuthenticated, public_backend_url
from actions.forms import entity, is_payload, opening_message
from actions.roles import require_permission
from actions.session import LANGUAGES, backend, language, portal_user, report_backend_error

log = logging.getLogger(__name__)

PASSWORD_PAGE = "/account/password"
VOICE_PIN_PAGE = "/account/voice-pin"


def render_response(domain: DomainDict, name: str, lang: str, **values: Any) -> Optional[Dict[str, Any]]:
    """A domain response rendered in `lang` ({"text", "buttons"}), or None if the domain does not have it.

    Rasa renders a custom action's responses with the tracker as it was BEFORE the action's events, so a
    response named by the action would still come in the old language; this picks the variation itself."""
    variations = (domain.get("responses") or {}).get(name) or []
    chosen = None
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions and chosen is None:
            chosen = variation  # the default variation (French), unless a matching one is found
        if any(c.get("name") == "language" and c.get("value") == lang for c in conditions):
            chosen = variation
            break
    if chosen is None:
        return None

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text.replace("{{", "{").replace("}}", "}")

    message: Dict[str, Any] = {"text": fill(chosen.get("text") or "")}
    if chosen.get("buttons"):
        message["buttons"] = [{**b, "payload": fill(b.get("payload", ""))} for b in chosen["buttons"]]
    return message


def utter_in(dispatcher: CollectingDispatcher, domain: DomainDict, name: str, lang: str, **values: Any) -> None:
    message = render_response(domain, name, lang, **values)
    if message is None:
        dispatcher.utter_message(response=name, **values)
    else:
        dispatcher.utter_message(**message)


def said_text(tracker: Tracker) -> str:
    """The user's words: the latest message, or when it is a button the bot offered in reply to a typed message (the
    low-confidence menu), that typed message ("turn those e-mails off" → menu → "E-mail notifications")."""
    return opening_message(tracker).text


# --- language --------------------------------------------------------------------------------------------------
_LANGUAGE_WORDS = [
    ("en", re.compile(r"\b(anglais|english|inglish|angalis|eng|en anglais|in english)\b")),
    ("fr", re.compile(r"\b(francais|french|francai|en francais|in french)\b")),
]


# The portal itself (not only this conversation): "mon portail est en anglais", "my e-mails come in French".
_PORTAL_WORDS = re.compile(r"\b(portail|portal|profil|profile|site|interface|e-?mails?|mails?|ecrans?|screens?|"
                           r"menus?|compte|account)\b")


# A language named as the one not wanted: "he doesn't read French", "je ne parle pas anglais", "pas en anglais".
_NEGATED = re.compile(r"\b(?:doesn'?t|don'?t|does not|do not|can'?t|cannot|can not|not|no|never|pas|plus|jamais)"
                      r"(?:\s+[\w']+){0,3}\s*$")


def languages_named(text: str) -> List[str]:
    """The languages the words name as wanted, in the order they are named (one named under a negation counts only
    when no other is named)."""
    plain = fold_accents(text).lower()
    found = sorted((match.start(), code) for code, words in _LANGUAGE_WORDS for match in words.finditer(plain))
    wanted = [(start, code) for start, code in found if not _NEGATED.search(plain[max(0, start - 40):start])]
    if found and not wanted and len({code for _, code in found}) == 1:  # "pas en anglais": the other one
        return [next(code for code in LANGUAGES if code != found[0][1])]
    return [code for _, code in (wanted or found)]


def language_choice(tracker: Tracker) -> Optional[str]:
    """fr | en from the entity (a button or the NLU), else from the user's words; None if not said. Words naming
    both ("it's in French, switch it to English") mean the one named last: the one wanted."""
    text = said_text(tracker)
    named = [] if is_payload(text) else languages_named(text)
    if len(set(named)) > 1:
        return named[-1]
    value = entity(tracker, "language_choice")
    if value:
        plain = fold_accents(value).strip()
        if plain in LANGUAGES:
            return plain
        for code, words in _LANGUAGE_WORDS:
            if words.search(plain):
                return code
        if plain.startswith(("fr", "fran")):
            return "fr"
        if plain.startswith(("en", "ang", "eng")):
            return "en"
    return named[0] if named else None


def about_the_portal(tracker: Tracker) -> bool:
    """The words ask for the portal's language (the profile), not only this conversation's."""
    text = said_text(tracker)
    return not is_payload(text) and bool(_PORTAL_WORDS.search(fold_accents(text)))


class ActionChangeLanguage(Action):
    """Switches the conversation's language at once; the profile is not touched (see action_offer_language)."""

    def name(self) -> Text:
        return "action_change_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if language_choice(tracker) is None:
            dispatcher.utter_message(response="utter_ask_language")
            return []
        events = await change_language(dispatcher, tracker, domain)
        if asks_notifications_too(tracker):  # "switch my portal to French and turn off my e-mail notifications"
            await set_notifications(dispatcher, tracker)
        return events


async def change_language(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
    """The conversation in the language the words ask for, and the portal profile too when they ask for it."""
    target = language_choice(tracker) or language(tracker)
    if about_the_portal(tracker):  # "can I have my portal in French?": the user asks for the profile itself
        for said in await save_profile_language(tracker, target):  # said in the new language already
            if "response" in said:
                utter_in(dispatcher, domain, said["response"], target)
            else:
                dispatcher.utter_message(**said)
        return [SlotSet("language", target), SlotSet("language_offered", target)]
    utter_in(dispatcher, domain, "utter_language_changed", target)
    return [SlotSet("language", target)]


def asks_language_too(tracker: Tracker) -> bool:
    """A message about notifications that also names a language to switch to."""
    text = said_text(tracker)
    return not is_payload(text) and bool(languages_named(text))


def profile_language(tracker: Tracker) -> Optional[str]:
    return (portal_user(tracker) or {}).get("language")


class ActionOfferLanguage(Action):
    """Asks once per language whether the conversation's language should become the portal profile's."""

    def name(self) -> Text:
        return "action_offer_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        current = language(tracker)
        dispatcher.utter_message(response="utter_offer_language")
        return [SlotSet("language_offered", current)]


class ActionSaveLanguage(Action):
    """The user said yes to the offer: the conversation's language is saved in the portal profile."""

    def name(self) -> Text:
        return "action_save_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        for said in await save_profile_language(tracker, language(tracker)):
            dispatcher.utter_message(**said)
        return []


async def save_profile_language(tracker: Tracker, target: str) -> List[Dict[str, str]]:
    """PATCH the profile's language; what to say, as [{"response": name} or {"text": the portal's reason}]."""
    if profile_language(tracker) != target:
        try:
            await backend(tracker).update_profile(language=target)
        except NotAuthenticated:
            return [{"response": "utter_login_required"}]
        except BackendRejected as error:  # e.g. the role may not change its profile: say why
            log.warning("language not saved: %s", error)
            return [{"response": "utter_language_not_saved"}, {"text": error.message}]
        except BackendError as error:
            log.warning("language not saved: %s", error)
            return [{"response": "utter_language_not_saved"}]
    return [{"response": "utter_language_saved"}]


# --- e-mail notifications --------------------------------------------------------------------------------------
_OFF = re.compile(
    r"\b(desactiv\w*|disable\w*|turn(ed)? (them |it )?off|switch(ed)? (them |it )?off|off|coupe\w*|stop\w*|"
    r"arret\w*|mute|unsubscribe\w*|plus de|ne veux plus|veux plus|n'en veux plus|don'?t want|no more|"
    r"sans notif\w*|supprime\w*)\b")
_ON = re.compile(
    r"\b(activ\w*|reactiv\w*|enable\w*|turn(ed)? (them |it )?on|switch(ed)? (them |it )?on|on|remet\w*|"
    r"recevoir|receive|get|rallume\w*)\b")
_QUESTION = re.compile(r"\b(sont|are|is|est[- ]ce qu\w*|status|etat)\b")
_REQUEST = re.compile(r"\b(peux|pouvez|can|could|please|pls|stp|svp|veux|voudrais|want|would)\b")


# Notifications named as such, or the e-mails the user wants stopped ("stop all these e-mails")
_NOTIFICATION_WORDS = re.compile(r"\bnotif\w*")
_EMAIL_WORDS = re.compile(r"\b(e-?mails?|mails?|courriels?)\b")


def asks_notifications_too(tracker: Tracker) -> bool:
    """A message about the language that also turns the e-mail notifications on or off."""
    text = said_text(tracker)
    if is_payload(text):
        return False
    plain = fold_accents(text)
    named = _NOTIFICATION_WORDS.search(plain) or (_EMAIL_WORDS.search(plain) and _OFF.search(plain))
    return bool(named) and notification_choice(tracker) is not None


def notification_choice(tracker: Tracker) -> Optional[bool]:
    """True (on) / False (off) from the button's entity or the user's words; None when not said (or asked)."""
    value = entity(tracker, "notification_state")
    if value in ("on", "off"):
        return value == "on"
    text = said_text(tracker)
    if is_payload(text):
        return None
    plain = fold_accents(text)
    if "?" in plain and _QUESTION.search(plain) and not _REQUEST.search(plain):
        return None  # "are my notifications on?": show the state and ask
    if _OFF.search(plain):
        return False
    if _ON.search(plain):
        return True
    return None


class ActionSetNotifications(Action):
    """E-mail notifications on/off (permission email_notifications), then the state the portal confirms."""

    def name(self) -> Text:
        return "action_set_notifications"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        await set_notifications(dispatcher, tracker)
        if asks_language_too(tracker):  # "mettre mon portail en anglais et arrêter ces mails de notification"
            return await change_language(dispatcher, tracker, domain)
        return []


async def set_notifications(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """On / off as the words say (the current state when they do not), if the role may change them."""
    if not await require_permission(dispatcher, tracker, "email_notifications",
                                    "activer ou désactiver les notifications par e-mail",
                                    "turn e-mail notifications on or off"):
        return
    wanted = notification_choice(tracker)
    client = backend(tracker)
    try:
        if wanted is None:
            profile = await client.profile()
            dispatcher.utter_message(response="utter_notifications_currently_on" if profile["email_notifications"]
                                     else "utter_notifications_currently_off")
            return
        profile = await client.update_profile(email_notifications=wanted)
    except BackendError as error:
        report_backend_error(dispatcher, error)
        return
    dispatcher.utter_message(response="utter_notifications_on" if profile["email_notifications"]
                             else "utter_notifications_off")


# --- password --------------------------------------------------------------------------------------------------
def password_page_url(lang: str) -> str:
    return f"{public_backend_url()}{PASSWORD_PAGE}?lang={lang}"


class ActionChangePassword(Action):
    """Never asks for a password: gives the link to the secure page (permission change_password)."""

    def name(self) -> Text:
        return "action_change_password"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not await require_permission(dispatcher, tracker, "change_password", "modifier le mot de passe",
                                        "change the password"):
            return []
        dispatcher.utter_message(response="utter_change_password", url=password_page_url(language(tracker)))
        return []


class ActionVoicePin(Action):
    """Never asks for the voice PIN: gives the link to its secure page (any user may set their own)."""

    def name(self) -> Text:
        return "action_voice_pin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        dispatcher.utter_message(response="utter_voice_pin", url=f"{public_backend_url()}{VOICE_PIN_PAGE}?lang={lang}")
        return []
