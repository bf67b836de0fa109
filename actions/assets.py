"""Assets ("Ressources"): my devices, a device's alias name, and (administrators) a device's contacts.

- `action_assets_list`: one line per visible device (alias, model, asset number / serial, location, eMaintenance)
  — a `user` sees the devices assigned to them, an admin every device of the account (the backend decides) —
  or the detail of the one device the message names (address, contract, coverage), then what else I can do.
- `assets_alias_form`: device → new alias name (or "remove") → confirmation → PATCH /assets/{ref}/alias.
  The portal lets both roles rename the devices they can see.
- `assets_contacts_form` (admin only: the rules run action_check_role first): device → add or remove →
  add: a portal user, an existing non-registered contact or a new contact (name, e-mail); remove: one of the
  current contacts → confirmation → POST / DELETE /assets/{ref}/contacts.

Extraction rule of every form: an `extract_*` acts only when its slot is the one asked (or on the message that
opened the form, to reuse what the user already said); a message that is not an answer extracts nothing, so the
rules answer it and the form asks again.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import escape_markdown, fold_accents
from actions.backend_client import BackendClient, BackendError, BackendRejected
from actions.forms import (
    MAX_BUTTONS, PortalFormValidation, asked, asset_buttons, asset_label, entity, extract_asset, intent_of,
    is_payload, not_an_answer, opening_message, opening_turn, text_of, turn_message, yes_no_answer,
)
from actions.meters import compact_meter, find_meter_code, meter_lines
from actions.orders import day_text
from actions.session import backend, language, portal_user, report_backend_error
from actions.submission import SubmitAction, reset_events

log = logging.getLogger(__name__)

ALIAS_FORM = "assets_alias_form"
CONTACTS_FORM = "assets_contacts_form"
# helper slots, forgotten with the form's answers
ALIAS_EXTRA_SLOTS = ("assets_alias_asset_label", "assets_alias_current")
CONTACT_EXTRA_SLOTS = ("assets_contact_asset_label", "assets_contact_person_label")

REMOVE = "-"      # assets_alias_value: remove the alias
NO_EMAIL = "-"    # assets_contact_email: the new contact has no e-mail address
NEW = "new"       # assets_contact_person: a new non-registered contact
MAX_ALIAS_CHARS = 100           # backend AliasUpdate
MIN_NAME_CHARS, MAX_NAME_CHARS = 2, 200   # backend ContactCreate.full_name
MAX_LISTED = 20

ASSET_REFERENCE = re.compile(r"(\d{8}|[A-Za-z]{3}\d{5})")  # the backend's asset number / serial shapes
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
QUOTED = re.compile(r"[«\"“]\s*([^«»\"“”]+?)\s*[»\"”]"
                    # 'single quotes' too, but not an apostrophe: the opening one starts a word, the closing one ends it
                    r"|(?:(?<=\s)|^)[‘']([^‘’'\n]+?)[’'](?=[\s,.;:!?)]|$)")
RENAME_TO = re.compile(r"\b(?:renomm\w*|rename\w*|appel\w*|nomm\w*|call|name)\b.*\s(?:en|to|as)\s+(.+)$", re.I)
CALLED = re.compile(r"(?:\bs'appell?e(?:ra|r)?|\bcalled|\bnamed)\s+(.+)$", re.I)
# the name given last, after a sentence that said what is wanted: "… something people recognise? Call it Finance 1st
# floor", "… un nom plus parlant ? Appelez-la Compta 1er"
CALL_IT = re.compile(r"\b(?:call it|name it|call her|appele[rz]?[- ]?(?:la|le)|appelle[sz]?[- ]?(?:la|le)|nomme[rz]?[- ]?"
                     r"(?:la|le)|l'appeler|le nommer|la nommer)\s+(.+)$", re.I)
NOT_AN_ALIAS = {"bas", "haut", "fait", "panne", "cours", "ce moment", "fact", "it", "a name", "an alias"}
POLITE_TAIL = re.compile(r"[\s,.!?]*(?:s'il vous pla[iî]t|s'il te pla[iî]t|svp|stp|please|pls|plz|merci|thanks|thx)?"
                         r"[\s,.!?]*$", re.I)
LEAD_IN = re.compile(
    r"^(?:(?:je veux |je voudrais |i want to |i'd like to )?(?:l'appeler|appelle[sz]?[- ]?(?:la|le)|nomme[sz]?[- ]?"
    r"(?:la|le)|call it|name it|rename it(?: to)?)|(?:le |son |the |its )?(?:nouveau |new )?(?:nom d'alias|alias|nom|"
    r"name)\s*(?::|=|sera|will be|is|est))\s*",
    re.I,
)
REMOVE_ANSWER = re.compile(
    r"^\s*(?:supprime[rz]?|retire[rz]?|enl[eè]ve[rz]?|efface[rz]?|aucun(?:e)?|pas d'alias|sans alias|pas de nom|"
    r"remove|delete|clear|none|no alias|no name)\b", re.I)
REMOVE_REQUEST = re.compile(r"\b(?:supprim\w*|retir\w*|enlev\w*|enlèv\w*|effac\w*|remove|delete|clear)\b", re.I)
ADD_WORDS = re.compile(r"\b(?:ajout\w*|rajout\w*|add(?:s|ed|ing)?|attribu\w*|assign\w*|affect\w*|associ\w*|link|"
                       r"donner|give)\b", re.I)
REMOVE_WORDS = re.compile(r"\b(?:retir\w*|supprim\w*|enlev\w*|enlèv\w*|d[ée]sassign\w*|d[ée]saffect\w*|remove\w*|"
                          r"delete|unassign\w*|unlink|take\b.*\boff)\b", re.I)
NEW_CONTACT = re.compile(r"^\s*(?:(?:un|une|a|an)\s+)?(?:nouveau|nouvelle|new|autre personne|someone else|"
                         r"quelqu'un d'autre|cr[ée]er)\b", re.I)
NO_EMAIL_ANSWER = re.compile(r"^\s*(?:non|no|aucune?|pas d'(?:adresse|e-?mail|mail)|sans|none|no e-?mail|skip|"
                             r"je ne sais pas|je sais pas|i don't know|dunno)\b", re.I)
NAME_LEAD_IN = re.compile(r"^(?:c'est|il s'appelle|elle s'appelle|son nom est|nom\s*:|it's|it is|his name is|"
                          r"her name is|their name is|name\s*:)\s+", re.I)

# A name typed as an answer may well be classified out_of_scope or fall below the NLU threshold: it is still
# taken as the answer.
NAMES_MAY_LOOK_LIKE = ("nlu_fallback", "out_of_scope")

WORDS = {
    "fr": {"no_alias": "(sans alias)", "asset_number": "n° d'actif", "serial": "série", "yes": "oui", "no": "non",
           "none": "aucun", "until": "jusqu'au", "emaintenance": "oui (consommables envoyés automatiquement)",
           "no_emaintenance": "non (les consommables se commandent sur le portail)",
           "user": "utilisateur du portail", "contact": "contact non inscrit", NEW: "nouveau contact non inscrit",
           "new_button": "Nouveau contact", "no_contract": "aucun contrat enregistré"},
    "en": {"no_alias": "(no alias)", "asset_number": "asset no.", "serial": "serial", "yes": "yes", "no": "no",
           "none": "none", "until": "until", "emaintenance": "yes (consumables are sent automatically)",
           "no_emaintenance": "no (consumables are ordered on the portal)",
           "user": "portal user", "contact": "non-registered contact", NEW: "new non-registered contact",
           "new_button": "New contact", "no_contract": "no contract recorded"},
}


def interrupts_free_text(tracker: Tracker) -> bool:
    """A digression or another conversation's request, when the question asks for a name (free text)."""
    return intent_of(tracker) not in NAMES_MAY_LOOK_LIKE and not_an_answer(tracker)


def words(tracker: Tracker) -> Dict[str, str]:
    return WORDS[language(tracker)]


def normalize(text: str) -> str:
    return " ".join(fold_accents(text).split())


# --- list and detail ------------------------------------------------------------------------------------------
def asset_line(asset: Dict[str, Any], w: Dict[str, str]) -> str:
    alias = escape_markdown(asset["alias"]) if asset.get("alias") and asset["alias"] != asset["serial"] \
        else w["no_alias"]
    line = (f"• {alias} — {asset['model']} · {w['asset_number']} {asset['asset_number']} · "
            f"{w['serial']} {asset['serial']}")
    if asset.get("location"):
        line += f" · {escape_markdown(asset['location'])}"
    if asset.get("emaintenance"):
        line += " · eMaintenance"
    return line


def detail_values(detail: Dict[str, Any], tracker: Tracker) -> Dict[str, str]:
    """The variables of utter_assets_detail for a GET /assets/{ref} answer."""
    w, lang = words(tracker), language(tracker)
    address = detail.get("address") or {}
    contract = detail.get("contract") or {}
    street = ", ".join(part for part in (address.get("street"), " ".join(
        p for p in (address.get("postcode"), address.get("city")) if p), address.get("country")) if part)
    if contract.get("number"):
        shown = contract["number"]
        if contract.get("end_date"):
            shown += f" ({w['until']} {day_text(contract['end_date'], lang)})"
    else:
        shown = w["no_contract"]
    return {
        "asset_label": asset_label(detail),
        "location": escape_markdown(address.get("location") or detail.get("location") or "—"),
        "address": street or "—", "contract": shown,
        "consumables": w["yes"] if contract.get("covers_consumables") else w["no"],
        "service": w["yes"] if contract.get("covers_service") else w["no"],
        "emaintenance": w["emaintenance"] if detail.get("emaintenance") else w["no_emaintenance"],
    }


def is_admin(tracker: Tracker) -> bool:
    return (portal_user(tracker) or {}).get("role") == "admin"


class ActionAssetsList(Action):
    """"Quels sont mes appareils ?" — the list; "infos sur la WHJ01481" — that device's detail."""

    def name(self) -> Text:
        return "action_assets_list"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        client = backend(tracker)
        try:
            assets = await client.assets()
            if not assets:
                dispatcher.utter_message(response="utter_assets_none")
                return []
            shown = await named_assets(dispatcher, client, tracker) or assets
            if len(shown) == 1:
                await utter_details(dispatcher, client, tracker, shown)
            else:
                utter_list(dispatcher, tracker, shown)
                if len(shown) > MAX_LISTED:
                    dispatcher.utter_message(response="utter_assets_list_more", more=len(shown) - MAX_LISTED)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        dispatcher.utter_message(response="utter_assets_hint_admin" if is_admin(tracker) else "utter_assets_hint")
        return []


# A question about the device's meter readings ("c'était combien le dernier relevé couleur ?", "last reading of 113")
READING_WORDS = re.compile(r"\b(?:releve\w*|compteurs?|index|meters?|readings?|counts?|counters?|clicks?)\b", re.I)

# "who's down as the contact on that machine?", "qui est le contact de la machine de l'accueil ?"
CONTACT_WORDS = re.compile(r"\b(contacts?|responsables?|referents?|who'?s down|qui s'en occupe|in charge|"
                           r"(?:personnes?|quelqu'un|qui(?: est)?) (?:rattachee?s?|associee?s?|affectee?s?|lie(?:e|s|es)?)|"
                           r"(?:person|people|someone|who(?:'s| is)?) (?:attached|linked|assigned|associated)|"
                           r"(?:point of contact|named person|looks after|s'occupe de))\b", re.I)

# The slots that hold the device a conversation is about (fault_asset, meter_asset, order_asset, ...).
DEVICE_SLOT = re.compile(r"^[a-z_]+_asset$")
MAX_DETAILED = 3  # a question about "our contract" with no device named: the detail of each device, up to this many


def _holds_a_device(name: Any, value: Any) -> bool:
    return bool(DEVICE_SLOT.match(name or "")) and isinstance(value, str) and bool(ASSET_REFERENCE.fullmatch(value))


def current_asset(tracker: Tracker) -> Optional[str]:
    """The device a form holds now (a form's slots are forgotten when it ends)."""
    return next((value for name, value in (tracker.slots or {}).items() if _holds_a_device(name, value)), None)


def context_asset(tracker: Tracker) -> Optional[str]:
    """The device the conversation is about ("that one", "celle-là"): the device a form holds now, else the last one
    a form held."""
    before = (e.get("value") for e in reversed(tracker.events)
              if e.get("event") == "slot" and _holds_a_device(e.get("name"), e.get("value")))
    return current_asset(tracker) or next(before, None)


class ActionDeviceInfo(Action):
    """A question about a device's contract, coverage, consumables supply or address ("jusqu'à quand elle est sous
    contrat ?", "do we order toner for it ourselves?"), or about its last meter readings ("c'était combien le dernier
    relevé couleur petit ?"), answered from the portal's data, in any conversation (inside a form the form then asks
    its question again). The device is the one named, else the one the conversation is about, else (no device in
    sight) each device."""

    def name(self) -> Text:
        return "action_assets_device_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        client = backend(tracker)
        try:
            assets = await client.assets()
            if not assets:
                dispatcher.utter_message(response="utter_assets_none")
                return []
            shown = await named_assets(dispatcher, client, tracker)
            if not shown:
                current = context_asset(tracker)
                shown = [a for a in assets if a["asset_number"] == current] or assets
            said = fold_accents(text_of(tracker))
            if len(shown) <= MAX_DETAILED and CONTACT_WORDS.search(said) and not READING_WORDS.search(said):
                await utter_contacts(dispatcher, client, tracker, shown)
            elif len(shown) <= MAX_DETAILED and READING_WORDS.search(said):
                await utter_readings(dispatcher, client, tracker, shown)
            elif len(shown) <= MAX_DETAILED:
                await utter_details(dispatcher, client, tracker, shown)
            else:
                utter_list(dispatcher, tracker, shown)
                dispatcher.utter_message(response="utter_assets_device_which")
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        if is_admin(tracker) and not (tracker.active_loop or {}).get("name"):
            dispatcher.utter_message(response="utter_assets_contract_more")
        return []


def utter_list(dispatcher: CollectingDispatcher, tracker: Tracker, shown: List[Dict[str, Any]]) -> None:
    """One line per device, the first MAX_LISTED."""
    w = words(tracker)
    dispatcher.utter_message(response="utter_assets_list", count=len(shown),
                             lines="\n".join(asset_line(a, w) for a in shown[:MAX_LISTED]))


async def named_assets(dispatcher: CollectingDispatcher, client: BackendClient,
                       tracker: Tracker) -> List[Dict[str, Any]]:
    """The devices the message names (by number, serial, alias, place or model); none named: []."""
    reference = entity(tracker, "asset_ref") or text_of(tracker)
    if not reference or is_payload(reference):
        return []
    resolution = await client.resolve_assets(reference)
    if not resolution["matches"] and resolution["unknown_references"]:
        dispatcher.utter_message(response="utter_asset_not_found", reference=resolution["unknown_references"][0])
    return resolution["matches"]


async def utter_contacts(dispatcher: CollectingDispatcher, client: BackendClient, tracker: Tracker,
                         shown: List[Dict[str, Any]]) -> None:
    """The contacts of these devices (the portal shows them to administrators only)."""
    if not is_admin(tracker):
        dispatcher.utter_message(response="utter_assets_contacts_admin_only")
        return
    for asset in shown:
        contacts = await client.asset_contacts(asset["asset_number"])
        dispatcher.utter_message(response="utter_assets_contacts_of", asset_label=asset_label(asset),
                                 contacts=contacts_text(contacts, words(tracker)))


async def utter_readings(dispatcher: CollectingDispatcher, client: BackendClient, tracker: Tracker,
                         shown: List[Dict[str, Any]]) -> None:
    """The last reading of each meter of these devices (only the meter named, when the words name one)."""
    lang = language(tracker)
    for asset in shown:
        meters = [compact_meter(m) for m in await client.meters(asset["asset_number"])]
        if not meters:
            dispatcher.utter_message(response="utter_assets_no_meters", asset_label=asset_label(asset))
            continue
        code = find_meter_code(text_of(tracker), meters)
        chosen = [m for m in meters if m["code"] == code] or meters
        dispatcher.utter_message(response="utter_assets_last_readings", asset_label=asset_label(asset),
                                 meters=meter_lines(chosen, lang))


async def utter_details(dispatcher: CollectingDispatcher, client: BackendClient, tracker: Tracker,
                        shown: List[Dict[str, Any]]) -> None:
    for asset in shown:
        dispatcher.utter_message(response="utter_assets_detail",
                                 **detail_values(await client.asset(asset["asset_number"]), tracker))


# --- asking which device (both forms) -------------------------------------------------------------------------
async def ask_device(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, response: str,
                     form: str) -> List[EventType]:
    """One button per visible device; with no device (or no portal) the form ends, its answers forgotten."""
    try:
        assets = await backend(tracker).assets()
    except BackendError as error:
        report_backend_error(dispatcher, error)
        assets = None
    if not assets:
        if assets is not None:
            dispatcher.utter_message(response="utter_assets_none")
        return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events(domain, form)]
    dispatcher.utter_message(response=response, buttons=asset_buttons(assets))
    return []


# --- alias ----------------------------------------------------------------------------------------------------
# What follows a name in the same sentence: ", personne ne sait laquelle c'est", "because nobody knows which"
AFTER_NAME = re.compile(r"\s*[,;]\s+.*$|\s+(?:car|parce que?|puisque|because|since)\s+.*$", re.I)


def quoted_name(text: str) -> Optional[str]:
    quoted = QUOTED.search(text)
    return (quoted.group(1) or quoted.group(2)).strip() if quoted else None


def clean_alias(text: str) -> str:
    text = " ".join(text.split())
    quoted = quoted_name(text)
    if quoted:
        return quoted
    text = AFTER_NAME.sub("", text)
    text = LEAD_IN.sub("", text)
    text = POLITE_TAIL.sub("", text)
    return text.strip(" \"'«»“”")


def alias_in_request(text: str) -> Optional[str]:
    """The new alias named in the message that opened the form: «quoted», "rename X to Y", or a removal."""
    quoted = quoted_name(text)
    if quoted:
        return quoted
    renamed = CALL_IT.search(text) or RENAME_TO.search(text) or CALLED.search(text)
    if renamed:
        candidate = clean_alias(renamed.group(1))
        if len(candidate) >= 2 and normalize(candidate) not in NOT_AN_ALIAS \
                and not ASSET_REFERENCE.fullmatch(candidate):
            return candidate
    if REMOVE_REQUEST.search(text):
        return REMOVE
    return None


def alias_problem(alias: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """Why a name cannot be an alias (response and its variables), or None."""
    if is_payload(alias):
        return "utter_choose_an_option", {}
    if len(alias) > MAX_ALIAS_CHARS:
        return "utter_assets_alias_too_long", {"max_chars": MAX_ALIAS_CHARS}
    if not any(ch.isalpha() for ch in alias):
        return "utter_assets_alias_not_a_name", {}
    if ASSET_REFERENCE.fullmatch(alias):
        return "utter_assets_alias_looks_like_reference", {"alias": escape_markdown(alias)}
    return None


class ValidateAssetsAliasForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_assets_alias_form"

    async def extract_assets_alias_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return await extract_asset(tracker, dispatcher, "assets_alias_asset", "assets_alias_asset_label")

    async def validate_assets_alias_asset(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not value:
            return {"assets_alias_asset": None}
        try:
            device = await backend(tracker).asset(str(value))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"assets_alias_asset": None, "assets_alias_asset_label": None}
        current = device.get("alias") or ""
        slots: Dict[Text, Any] = {"assets_alias_asset": device["asset_number"],
                                  "assets_alias_asset_label": asset_label(device), "assets_alias_current": current}
        pending = tracker.get_slot("assets_alias_value")
        # a name given before the device was known (opening message) is checked against the device now
        if pending and "assets_alias_value" not in tracker.slots_to_validate():
            if await self._device_problem(dispatcher, tracker, pending, device["asset_number"], current):
                slots["assets_alias_value"] = None
        return slots

    async def extract_assets_alias_value(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "assets_alias_value"
        if tracker.get_slot(slot):
            return {}
        if opening_turn(tracker):  # the words that asked for the alias (also after a switch from another form)
            opening = opening_message(tracker)
            text = opening.text
            found = alias_in_request(text) if opening.intent == "set_asset_alias" and not is_payload(text) else None
            return {slot: found} if found else {}
        text = text_of(tracker)
        if not asked(tracker, slot):
            return {}
        if entity(tracker, "assets_alias_action") == "remove" or REMOVE_ANSWER.match(text):
            return {slot: REMOVE}
        if interrupts_free_text(tracker):
            return {}
        if is_payload(text):  # a button of an earlier question
            dispatcher.utter_message(response="utter_choose_an_option")
            return {slot: None}
        return {slot: clean_alias(text)}

    async def validate_assets_alias_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # the extraction already said why
            return {"assets_alias_value": None}
        alias = str(value).strip()
        if alias != REMOVE:
            problem = alias_problem(alias)
            if problem:
                dispatcher.utter_message(response=problem[0], **problem[1])
                return {"assets_alias_value": None}
        asset, current = tracker.get_slot("assets_alias_asset"), tracker.get_slot("assets_alias_current")
        if asset and current is not None and await self._device_problem(dispatcher, tracker, alias, asset, current):
            return {"assets_alias_value": None}
        return {"assets_alias_value": alias}

    @staticmethod
    async def _device_problem(dispatcher: CollectingDispatcher, tracker: Tracker, alias: str, asset: str,
                              current: str) -> bool:
        """Checks against the device and the user's other devices (the backend checks the whole account again
        when saving). True when a reason was given."""
        if alias == REMOVE:
            if not current:
                dispatcher.utter_message(response="utter_assets_alias_nothing_to_remove")
                return True
            return False
        if current and alias.casefold() == current.casefold():
            dispatcher.utter_message(response="utter_assets_alias_unchanged", alias=alias)
            return True
        try:
            assets = await backend(tracker).assets()
        except BackendError as error:
            log.warning("alias pre-check skipped: %s", error)
            return False
        key = alias.casefold()
        for other in assets:
            if other["asset_number"] == asset:
                continue
            names = {other["asset_number"], other["serial"], other.get("alias") or ""}
            if key in {name.casefold() for name in names}:
                dispatcher.utter_message(response="utter_assets_alias_taken", alias=escape_markdown(alias),
                                         other=asset_label(other))
                return True
        return False

    async def extract_assets_alias_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "assets_alias_confirm")


class ActionAskAssetsAliasAsset(Action):
    def name(self) -> Text:
        return "action_ask_assets_alias_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        return await ask_device(dispatcher, tracker, domain, "utter_ask_assets_alias_asset", ALIAS_FORM)


class ActionAskAssetsAliasValue(Action):
    def name(self) -> Text:
        return "action_ask_assets_alias_value"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        current = tracker.get_slot("assets_alias_current")
        if current:
            dispatcher.utter_message(response="utter_ask_assets_alias_value", current=current)
        else:
            dispatcher.utter_message(response="utter_ask_assets_alias_value_first")
        return []


class ActionAskAssetsAliasConfirm(Action):
    def name(self) -> Text:
        return "action_ask_assets_alias_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        label, alias = tracker.get_slot("assets_alias_asset_label"), tracker.get_slot("assets_alias_value")
        if alias == REMOVE:
            dispatcher.utter_message(response="utter_ask_assets_alias_confirm_remove", asset_label=label,
                                     current=escape_markdown(tracker.get_slot("assets_alias_current")))
        else:
            dispatcher.utter_message(response="utter_ask_assets_alias_confirm", asset_label=label,
                                     alias=escape_markdown(alias))
        return []


class ActionAssetsSubmitAlias(SubmitAction):
    """PATCH /assets/{ref}/alias. Setting a value is idempotent: a retry after a failure sets the same name."""

    action_name = "action_assets_submit_alias"
    form = ALIAS_FORM
    extra_slots = ALIAS_EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        confirm, alias = tracker.get_slot("assets_alias_confirm"), tracker.get_slot("assets_alias_value")
        asset = tracker.get_slot("assets_alias_asset")
        if confirm is False:
            dispatcher.utter_message(response="utter_assets_alias_not_saved")
        elif confirm is True and asset and alias:
            device = await backend(tracker).set_alias(asset, None if alias == REMOVE else alias)
            dispatcher.utter_message(response="utter_assets_alias_removed" if alias == REMOVE
                                     else "utter_assets_alias_saved", asset_label=asset_label(device))
        return []


# --- contacts of a device (admin) ---------------------------------------------------------------------------
ASSET, LABEL, ACTION = "assets_contact_asset", "assets_contact_asset_label", "assets_contact_action"
PERSON, NAME, EMAIL_SLOT = "assets_contact_person", "assets_contact_name", "assets_contact_email"
LINK, PERSON_LABEL, CONFIRM = "assets_contact_link", "assets_contact_person_label", "assets_contact_confirm"


def person_label(person: Dict[str, Any], kind: str, w: Dict[str, str], markdown: bool = True) -> str:
    """A contact as a message names it (user-written: escaped), or as a button's plain title."""
    text = escape_markdown if markdown else str
    email = f" ({text(person['email'])})" if person.get("email") else ""
    return f"{text(person['full_name'])}{email} — {w[kind]}"


def contacts_text(contacts: List[Dict[str, Any]], w: Dict[str, str]) -> str:
    if not contacts:
        return w["none"]
    return ", ".join(escape_markdown(c["full_name"]) + (f" ({escape_markdown(c['email'])})" if c.get("email") else "")
                     for c in contacts)


def link_value(link: Dict[str, Any]) -> str:
    """The person of a device-contact link, as an assets_contact_person value."""
    return f"user:{link['user_id']}" if link["kind"] == "user" else f"contact:{link['contact_id']}"


async def add_candidates(client: BackendClient, asset: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(who can be added, who already is a contact): active portal users of the account and its non-registered
    contacts, each {"value", "kind", "full_name", "email"}."""
    users, contacts, linked = await client.users(), await client.contacts(), await client.asset_contacts(asset)
    already = {link_value(link) for link in linked}
    people = [{"value": f"user:{u['id']}", "kind": "user", "full_name": u["full_name"], "email": u.get("email", "")}
              for u in users if u.get("status", "active") == "active"]
    people += [{"value": f"contact:{c['id']}", "kind": "contact", "full_name": c["full_name"],
                "email": c.get("email", "")} for c in contacts]
    return ([p for p in people if p["value"] not in already],
            [{"value": link_value(link), "kind": link["kind"], "full_name": link["full_name"],
              "email": link.get("email", "")} for link in linked])


def match_people(query: str, people: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """People named by a typed answer: an exact e-mail, an exact full name, else every word of the answer."""
    q = normalize(query)
    if not q:
        return []
    if "@" in q:
        return [p for p in people if normalize(p.get("email") or "") == q]
    exact = [p for p in people if normalize(p["full_name"]) == q]
    if exact:
        return exact
    typed = q.replace(",", " ").split()
    return [p for p in people if all(any(word.startswith(t) for word in normalize(p["full_name"]).split())
                                     for t in typed)]


def action_keyword(text: str) -> Optional[str]:
    removing, adding = bool(REMOVE_WORDS.search(text)), bool(ADD_WORDS.search(text))
    if removing != adding:
        return "remove" if removing else "add"
    return None


def person_summary(tracker: Tracker) -> str:
    """Who is added or removed, as the summary and the final message name them."""
    if tracker.get_slot(ACTION) == "add" and tracker.get_slot(PERSON) == NEW:
        email = tracker.get_slot(EMAIL_SLOT)
        return person_label({"full_name": tracker.get_slot(NAME) or "",
                             "email": "" if email in (None, NO_EMAIL) else email}, NEW, words(tracker))
    return tracker.get_slot(PERSON_LABEL) or ""


class ValidateAssetsContactsForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_assets_contacts_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        action = tracker.get_slot(ACTION)
        slots = [ASSET, ACTION]
        if action != "remove":
            slots.append(PERSON)
            if tracker.get_slot(PERSON) == NEW:
                slots += [NAME, EMAIL_SLOT]
        if action != "add":
            slots.append(LINK)
        return [*slots, CONFIRM]

    # --- device -----------------------------------------------------------------------------------------------
    async def extract_assets_contact_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return await extract_asset(tracker, dispatcher, ASSET, LABEL)

    async def validate_assets_contact_asset(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not value:
            return {ASSET: None}
        slots: Dict[Text, Any] = {ASSET: value}
        # "remove a contact" said before the device was known: does this device have any?
        if tracker.get_slot(ACTION) == "remove" and ACTION not in tracker.slots_to_validate():
            if not await self._has_contacts(dispatcher, tracker, str(value)):
                slots[ACTION] = None
        return slots

    # --- add or remove ----------------------------------------------------------------------------------------
    async def extract_assets_contact_action(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(ACTION):
            return {}
        if opening_turn(tracker):  # the words that asked for the change (also after a switch from another form)
            opening = opening_message(tracker)
            found = action_keyword(opening.text) if opening.intent == "manage_asset_contacts" else None
            return {ACTION: found} if found else {}
        text = text_of(tracker)
        if not asked(tracker, ACTION):
            return {}
        chosen = entity(tracker, "assets_contact_action") or (None if is_payload(text) else action_keyword(text))
        if chosen:
            return {ACTION: chosen}
        if not_an_answer(tracker):
            return {}
        dispatcher.utter_message(response="utter_assets_contact_add_or_remove")
        return {ACTION: None}

    async def validate_assets_contact_action(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value not in ("add", "remove"):
            if value is not None:
                dispatcher.utter_message(response="utter_assets_contact_add_or_remove")
            return {ACTION: None}
        asset = tracker.get_slot(ASSET)
        if value == "remove" and asset and not await self._has_contacts(dispatcher, tracker, asset):
            return {ACTION: None}
        return {ACTION: value}

    @staticmethod
    async def _has_contacts(dispatcher: CollectingDispatcher, tracker: Tracker, asset: str) -> bool:
        try:
            contacts = await backend(tracker).asset_contacts(asset)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return False
        if not contacts:
            dispatcher.utter_message(response="utter_assets_contact_none_to_remove")
        return bool(contacts)

    # --- add: who ---------------------------------------------------------------------------------------------
    async def extract_assets_contact_person(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(PERSON) or tracker.get_slot(ACTION) == "remove":
            return {}
        message = turn_message(tracker)
        named = message.entity("email") or message.entity("person")
        if opening_turn(tracker):
            # "ajoute jane.doe@x.com sur la WHJ01481": reuse the person when the message names exactly one
            if not (named and tracker.get_slot(ASSET) and tracker.get_slot(ACTION) == "add"):
                return {}
            return await self._typed_person(dispatcher, tracker, named, quiet=True)
        if not asked(tracker, PERSON):
            return {}
        chosen = entity(tracker, "assets_contact_person")
        if chosen:
            return {PERSON: chosen}
        text = text_of(tracker)
        if NEW_CONTACT.match(text):
            return {PERSON: NEW}
        if interrupts_free_text(tracker):
            return {}
        if is_payload(text):
            dispatcher.utter_message(response="utter_choose_an_option")
            return {PERSON: None}
        return await self._typed_person(dispatcher, tracker, named or NAME_LEAD_IN.sub("", text), quiet=False)

    @staticmethod
    async def _typed_person(dispatcher: CollectingDispatcher, tracker: Tracker, typed: str,
                            quiet: bool) -> Dict[Text, Any]:
        try:
            candidates, already = await add_candidates(backend(tracker), tracker.get_slot(ASSET))
        except BackendError as error:
            if quiet:
                return {}
            report_backend_error(dispatcher, error)
            return {PERSON: None}
        found = match_people(typed, candidates)
        if len(found) == 1:
            return {PERSON: found[0]["value"], PERSON_LABEL: person_label(found[0], found[0]["kind"], words(tracker))}
        if quiet:
            return {}
        if found:
            dispatcher.utter_message(response="utter_assets_contact_person_ambiguous", name=escape_markdown(typed[:80]))
        elif match_people(typed, already):
            dispatcher.utter_message(response="utter_assets_contact_already",
                                     name=escape_markdown(match_people(typed, already)[0]["full_name"]))
        else:
            dispatcher.utter_message(response="utter_assets_contact_person_unknown", name=escape_markdown(typed[:80]))
        return {PERSON: None}

    async def validate_assets_contact_person(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {PERSON: None}
        if value == NEW:
            return {PERSON: NEW, PERSON_LABEL: None}
        if PERSON_LABEL in tracker.slots_to_validate() and tracker.get_slot(PERSON_LABEL):
            return {PERSON: value}  # matched against the portal's lists just now
        try:
            candidates, already = await add_candidates(backend(tracker), tracker.get_slot(ASSET))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {PERSON: None}
        found = next((p for p in candidates if p["value"] == value), None)
        if found:
            return {PERSON: value, PERSON_LABEL: person_label(found, found["kind"], words(tracker))}
        linked = next((p for p in already if p["value"] == value), None)
        if linked:
            dispatcher.utter_message(response="utter_assets_contact_already", name=escape_markdown(linked["full_name"]))
        else:
            dispatcher.utter_message(response="utter_choose_an_option")
        return {PERSON: None, PERSON_LABEL: None}

    # --- add: a new contact's name and e-mail -------------------------------------------------------------------
    async def extract_assets_contact_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(NAME) or not asked(tracker, NAME) or interrupts_free_text(tracker):
            return {}
        text = text_of(tracker)
        if is_payload(text):
            dispatcher.utter_message(response="utter_choose_an_option")
            return {NAME: None}
        email = entity(tracker, "email") or (EMAIL.search(text).group(0) if EMAIL.search(text) else None)
        name = entity(tracker, "person") or NAME_LEAD_IN.sub("", text.replace(email, " ") if email else text)
        slots: Dict[Text, Any] = {NAME: " ".join(name.strip(" ,;:-").split())}
        if email:  # "Marie Dupont, marie.dupont@x.fr": both at once
            slots[EMAIL_SLOT] = email
        return slots

    async def validate_assets_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {NAME: None}
        name = str(value).strip()
        if not (MIN_NAME_CHARS <= len(name) <= MAX_NAME_CHARS) or not any(ch.isalpha() for ch in name) \
                or "@" in name or is_payload(name):
            dispatcher.utter_message(response="utter_assets_contact_name_invalid")
            return {NAME: None}
        return {NAME: name}

    async def extract_assets_contact_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(EMAIL_SLOT) or not asked(tracker, EMAIL_SLOT):
            return {}
        found, text = entity(tracker, "email"), text_of(tracker)
        if found:
            return {EMAIL_SLOT: found}
        if intent_of(tracker) == "deny" or NO_EMAIL_ANSWER.match(text):
            return {EMAIL_SLOT: NO_EMAIL}
        if not_an_answer(tracker):
            return {}
        return {EMAIL_SLOT: text}

    async def validate_assets_contact_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {EMAIL_SLOT: None}
        email = str(value).strip()
        if email == NO_EMAIL:
            return {EMAIL_SLOT: NO_EMAIL}
        if not EMAIL.fullmatch(email) or len(email) > 254:
            dispatcher.utter_message(response="utter_assets_contact_email_invalid")
            return {EMAIL_SLOT: None}
        return {EMAIL_SLOT: email}

    # --- remove: which link ---------------------------------------------------------------------------------------
    async def extract_assets_contact_link(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(LINK) or tracker.get_slot(ACTION) != "remove":
            return {}
        message = turn_message(tracker)
        named = message.entity("email") or message.entity("person")
        if opening_turn(tracker):
            if not (named and tracker.get_slot(ASSET)):
                return {}
            return await self._typed_link(dispatcher, tracker, named, quiet=True)
        if not asked(tracker, LINK):
            return {}
        chosen = entity(tracker, "assets_contact_link")
        if chosen:
            return {LINK: chosen}
        text = text_of(tracker)
        if interrupts_free_text(tracker):
            return {}
        if is_payload(text):
            dispatcher.utter_message(response="utter_choose_an_option")
            return {LINK: None}
        return await self._typed_link(dispatcher, tracker, named or NAME_LEAD_IN.sub("", text), quiet=False)

    @staticmethod
    async def _typed_link(dispatcher: CollectingDispatcher, tracker: Tracker, typed: str,
                          quiet: bool) -> Dict[Text, Any]:
        try:
            linked = await backend(tracker).asset_contacts(tracker.get_slot(ASSET))
        except BackendError as error:
            if quiet:
                return {}
            report_backend_error(dispatcher, error)
            return {LINK: None}
        people = [dict(link, value=str(link["id"])) for link in linked]
        found = match_people(typed, people)
        if len(found) == 1:
            return {LINK: found[0]["value"], PERSON_LABEL: person_label(found[0], found[0]["kind"], words(tracker))}
        if quiet:
            return {}
        dispatcher.utter_message(response="utter_assets_contact_person_ambiguous" if found
                                 else "utter_assets_contact_link_unknown", name=escape_markdown(typed[:80]))
        return {LINK: None}

    async def validate_assets_contact_link(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {LINK: None}
        if PERSON_LABEL in tracker.slots_to_validate() and tracker.get_slot(PERSON_LABEL):
            return {LINK: str(value)}  # matched against the device's contacts just now
        try:
            linked = await backend(tracker).asset_contacts(tracker.get_slot(ASSET))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {LINK: None}
        found = next((link for link in linked if str(link["id"]) == str(value)), None)
        if found is None:
            dispatcher.utter_message(response="utter_choose_an_option")
            return {LINK: None, PERSON_LABEL: None}
        return {LINK: str(value), PERSON_LABEL: person_label(found, found["kind"], words(tracker))}

    # --- confirmation -----------------------------------------------------------------------------------------
    async def extract_assets_contact_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, CONFIRM)


class ActionAskAssetsContactAsset(Action):
    def name(self) -> Text:
        return "action_ask_assets_contact_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        return await ask_device(dispatcher, tracker, domain, "utter_ask_assets_contact_asset", CONTACTS_FORM)


class ActionAskAssetsContactAction(Action):
    """Shows the device's current contacts, then asks: add or remove?"""

    def name(self) -> Text:
        return "action_ask_assets_contact_action"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            shown = contacts_text(await backend(tracker).asset_contacts(tracker.get_slot(ASSET)), words(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            shown = "—"
        dispatcher.utter_message(response="utter_ask_assets_contact_action", asset_label=tracker.get_slot(LABEL),
                                 contacts=shown)
        return []


class ActionAskAssetsContactPerson(Action):
    """A button per portal user / existing contact who is not yet a contact of the device, and "New contact"."""

    def name(self) -> Text:
        return "action_ask_assets_contact_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        w = words(tracker)
        try:
            candidates, _ = await add_candidates(backend(tracker), tracker.get_slot(ASSET))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            candidates = []
        buttons = [{"title": person_label(p, p["kind"], w, markdown=False),
                    "payload": f'/inform{{"{PERSON}":"{p["value"]}"}}'}
                   for p in candidates[:MAX_BUTTONS - 1]]
        buttons.append({"title": w["new_button"], "payload": f'/inform{{"{PERSON}":"{NEW}"}}'})
        dispatcher.utter_message(response="utter_ask_assets_contact_person", asset_label=tracker.get_slot(LABEL),
                                 buttons=buttons)
        return []


class ActionAskAssetsContactLink(Action):
    def name(self) -> Text:
        return "action_ask_assets_contact_link"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        w = words(tracker)
        try:
            linked = await backend(tracker).asset_contacts(tracker.get_slot(ASSET))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            linked = []
        buttons = [{"title": person_label(link, link["kind"], w, markdown=False),
                    "payload": f'/inform{{"{LINK}":"{link["id"]}"}}'}
                   for link in linked[:MAX_BUTTONS]]
        dispatcher.utter_message(response="utter_ask_assets_contact_link", asset_label=tracker.get_slot(LABEL),
                                 buttons=buttons)
        return []


class ActionAskAssetsContactConfirm(Action):
    def name(self) -> Text:
        return "action_ask_assets_contact_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        response = ("utter_ask_assets_contact_confirm_remove" if tracker.get_slot(ACTION) == "remove"
                    else "utter_ask_assets_contact_confirm_add")
        dispatcher.utter_message(response=response, person=person_summary(tracker),
                                 asset_label=tracker.get_slot(LABEL))
        return []


def contact_body(tracker: Tracker) -> Dict[str, Any]:
    """The POST /assets/{ref}/contacts body: exactly one of user_id, contact_id or contact."""
    person = tracker.get_slot(PERSON) or ""
    if person == NEW:
        contact: Dict[str, Any] = {"full_name": tracker.get_slot(NAME)}
        email = tracker.get_slot(EMAIL_SLOT)
        if email and email != NO_EMAIL:
            contact["email"] = email
        return {"contact": contact}
    kind, _, ident = person.partition(":")
    return {"user_id": int(ident)} if kind == "user" else {"contact_id": int(ident)}


class ActionAssetsSubmitContact(SubmitAction):
    """Adds (with the form's Idempotency-Key: a retry never adds twice) or removes the contact. A removal
    retried after a lost answer finds the contact already gone and says so as a success."""

    action_name = "action_assets_submit_contact"
    form = CONTACTS_FORM
    extra_slots = CONTACT_EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        confirm, action, asset = tracker.get_slot(CONFIRM), tracker.get_slot(ACTION), tracker.get_slot(ASSET)
        if confirm is False:
            dispatcher.utter_message(response="utter_assets_contact_not_changed")
            return []
        if confirm is not True or not asset or action not in ("add", "remove"):
            return []
        client, person, label = backend(tracker), person_summary(tracker), tracker.get_slot(LABEL)
        if action == "add":
            await client.add_asset_contact(asset, contact_body(tracker), idempotency_key=key)
            dispatcher.utter_message(response="utter_assets_contact_added", person=person, asset_label=label)
        else:
            link = int(tracker.get_slot(LINK))
            try:
                await client.remove_asset_contact(asset, link)
            except BackendRejected as error:
                if error.status != 404 or any(c["id"] == link for c in await client.asset_contacts(asset)):
                    raise
            dispatcher.utter_message(response="utter_assets_contact_removed", person=person, asset_label=label)
        try:  # the change is made: a failure to show the new list must not make it look unsubmitted
            now = await client.asset_contacts(asset)
        except BackendError as error:
            log.warning("contacts after the change unavailable: %s", error)
            return []
        dispatcher.utter_message(response="utter_assets_contact_list_now", contacts=contacts_text(now, words(tracker)))
        return []
