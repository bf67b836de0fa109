"""Requests ("Soumettre une demande"): the seed's six request types and their sub-types, one form for all.

The type comes from the intent that opened the form (request_change, contract_question, ...); the sub-type is
asked with buttons labelled from the taxonomy in the user's language, unless the category has a single sub-type
or the user's own words name it ("date de fin de contrat"); the device is asked when relevant (required for a
product move and a device configuration, optional for most requests, not asked for an access or billing-address
change); then the description, a summary, and the confirmed request becomes a case (POST /requests).

Contract and invoice questions and product moves are for administrators only: the rules run
`action_check_role` before this form, and a category picked later in the form is checked again here. The
backend still refuses them for a `user` (403), whatever the assistant does.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import fold_accents
from actions.backend_client import BackendClient, BackendError
from actions.forms import (
    PortalFormValidation, ask_asset, asked, asset_buttons, asset_label, entity, extract_asset, intent_of,
    is_payload, not_an_answer, opening_message, opening_turn, text_of, yes_no_answer,
)
from actions.roles import ROLE_GUARDS, refuse_admin_only, restricted_categories
from actions.session import (
    MAX_DESCRIPTION_CHARS, backend, channel_code, language, report_backend_error, transcript,
)
from actions.submission import SubmitAction, reset_events

log = logging.getLogger(__name__)

FORM = "request_form"
EXTRA_SLOTS = ("request_asset_label",)
SECTION = "requests"
NO_ASSET = "none"
MIN_DESCRIPTION_CHARS = 10
# A description is free text: one the NLU found unclear or off-topic is still the user's description.
DESCRIPTION_ANYWAY = {"nlu_fallback", "out_of_scope"}

# The intent that opened the form -> the taxonomy's request category.
INTENT_CATEGORIES: Dict[str, str] = {
    "request_change": "change_request",
    "contract_question": "contract_question",
    "invoice_question": "invoice_question",
    "general_enquiry": "general_enquiry",
    "product_information": "product_information",
    "product_move": "product_move",
}
# (verb phrase FR, EN) completing "only an administrator of your account can ...", per admin-only category.
ADMIN_ONLY_WHAT: Dict[str, Tuple[str, str]] = {
    guard["category"]: guard["what"] for guard in ROLE_GUARDS.values() if "category" in guard
}

# Whether the device is asked: "required", "optional" (with a "no specific device" choice) or "skip".
# Keys are (category, subcategory) or (category, None) for every sub-type of the category.
ASSET_POLICY: Dict[Tuple[str, Optional[str]], str] = {
    ("product_move", None): "required",
    ("change_request", "device_configuration"): "required",
    ("change_request", "access_management"): "skip",
    ("contract_question", "billing_address_update"): "skip",
    ("contract_question", "new_contract"): "skip",
}
NO_DEVICE_TITLE = {"fr": "Aucun appareil en particulier", "en": "No specific device"}
NO_DEVICE = re.compile(
    r"\b(aucun|aucune|pas d'appareil|pas de machine|pas un appareil|sans appareil|pas specialement|"
    r"pas en particulier|none|no device|no specific|not a specific|not about a device|no particular|"
    r"not device)\b", re.I)

# Words that name a sub-type besides its two labels (compared without accents, in lower case).
SUBTYPE_KEYWORDS: Dict[Tuple[str, str], Sequence[str]] = {
    ("change_request", "access_management"): (
        "gestion de l'acces", "gestion des acces", "droits d'acces", "droit d'acces", "acces utilisateur",
        "acces des utilisateurs", "access management", "access rights", "user access", "access change"),
    ("change_request", "application_configuration"): (
        "configuration de l'application", "config de l'application", "parametrage de l'application",
        "configuration d'une application", "configuration des applications", "application configuration",
        "app configuration", "application settings", "app settings", "configure the application",
        "configure an application"),
    ("change_request", "device_configuration"): (
        "configuration du peripherique", "configuration de l'appareil", "configuration du copieur",
        "configuration de l'imprimante", "config du copieur", "config de l'imprimante", "parametrage du copieur",
        "parametrage de l'imprimante", "parametres du copieur", "parametres de l'imprimante",
        "reglages du copieur", "device configuration", "device settings", "printer settings", "copier settings",
        "configure the printer", "configure the copier", "configure the device", "printer configuration",
        "copier configuration"),
    ("change_request", "installation"): ("installation", "installer", "install", "installing"),
    ("contract_question", "billable_service"): (
        "service facturable", "service payant", "intervention facturable", "intervention payante",
        "billable service", "chargeable service", "paid service", "billable visit"),
    ("contract_question", "consumable_coverage"): (
        "couverture consommable", "couverture des consommables", "consommables couverts", "consommables inclus",
        "toner inclus", "toner compris", "consumable coverage", "consumables coverage", "consumables covered",
        "consumables included", "toner included", "toner covered"),
    ("contract_question", "contract_fees"): (
        "frais de contrat", "frais du contrat", "cout du contrat", "tarif du contrat", "prix du contrat",
        "mensualite", "mensualites", "contract fees", "contract fee", "contract cost", "contract price",
        "monthly fee"),
    ("contract_question", "contract_end_date"): (
        "date de fin", "date d'expiration", "date d'echeance", "echeance", "expire", "expiration",
        "end date", "expiry date", "expiry", "expires", "expiration date"),
    ("contract_question", "contract_copy"): (
        "copie du contrat", "copie de mon contrat", "copie de notre contrat", "copie de contrat",
        "exemplaire du contrat", "copy of the contract", "copy of my contract", "copy of our contract",
        "contract copy"),
    ("contract_question", "lease_contract"): (
        "contrat de location", "location", "leasing", "lease", "rental"),
    ("contract_question", "service_coverage"): (
        "couverture service", "couverture du service", "couverture de service", "couverture maintenance",
        "service coverage", "service cover", "maintenance coverage"),
    ("contract_question", "quote_proposal"): (
        "proposition de devis", "devis", "quote", "quotation", "quote proposal"),
    ("contract_question", "end_of_contract"): (
        "fin de contrat", "fin du contrat", "fin de mon contrat", "fin de notre contrat", "resiliation",
        "resilier", "renouvellement", "renouveler", "end of contract", "end of the contract",
        "end of my contract", "end of our contract", "terminate", "termination", "renewal", "renew"),
    ("contract_question", "billing_address_update"): (
        "adresse de facturation", "billing address", "invoice address", "invoicing address"),
    ("contract_question", "new_contract"): (
        "nouveau contrat", "nouvelle demande de contrat", "new contract", "additional contract"),
    ("contract_question", "other"): ("autre demande", "other request", "autre question", "other question"),
    ("invoice_question", "consumable_order"): (
        "commande de consommable", "commande de consommables", "commande de toner", "consommable", "consommables",
        "toner", "consumable order", "consumables order", "toner order", "consumable", "consumables"),
    ("invoice_question", "service"): (
        "question sur le service", "service", "intervention", "maintenance", "technicien", "service question",
        "technician", "repair"),
    ("invoice_question", "other"): ("autre demande", "other request", "autre question", "other question"),
    ("product_information", "how_to"): (
        "comment faire", "conseils sur le produit", "conseil", "conseils", "astuce", "astuces", "how to",
        "product advice", "advice", "tips"),
    ("product_information", "installation"): ("installation", "installer", "install", "installing"),
    ("product_information", "planned_maintenance"): (
        "maintenance planifiee", "maintenance prevue", "maintenance preventive", "visite de maintenance",
        "entretien", "planned maintenance", "preventive maintenance", "scheduled maintenance",
        "maintenance visit", "servicing"),
    ("product_move", "one_to_five"): (
        "1 a 5", "un a cinq", "de 1 a 5", "moins de 5", "moins de cinq", "1 to 5", "one to five",
        "less than 5", "fewer than 5", "less than five", "fewer than five"),
    ("product_move", "more_than_five"): (
        "plus de 5", "plus de cinq", "more than 5", "more than five", "over 5", "over five"),
}
_NUMBER_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "a": 1, "an": 1,
}
_DEVICE_NOUN = re.compile(r"(imprimantes?|copieurs?|photocopieurs?|photocopieuses?|machines?|appareils?|produits?|"
                          r"multifonctions?|mfps?|printers?|copiers?|devices?|products?|units?)")


def normalize(text: str) -> str:
    """Lower case, without accents, with straight apostrophes and single spaces."""
    return re.sub(r"\s+", " ", fold_accents(text.replace("’", "'").replace("`", "'"))).strip()


def asset_policy(category: Optional[str], subcategory: Optional[str]) -> str:
    return ASSET_POLICY.get((category or "", subcategory), ASSET_POLICY.get((category or "", None), "optional"))


def match_subcategory(text: str, category: Dict[str, Any]) -> Optional[str]:
    """The sub-type the user's words name, from its labels (FR and EN) and a few keywords; None when none or
    several do. A phrase inside a longer one does not count ("fin de contrat" in "date de fin de contrat"),
    and of two overlapping phrases the first one wins ("copie du contrat de location" is a copy)."""
    norm = normalize(text)
    spans: List[Tuple[int, int, str]] = []
    for sub in category["subcategories"]:
        words = {normalize(sub["label"]["fr"]), normalize(sub["label"]["en"]),
                 *(normalize(w) for w in SUBTYPE_KEYWORDS.get((category["code"], sub["code"]), ()))}
        for word in words:
            for found in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", norm):
                spans.append((found.start(), found.end(), sub["code"]))
    spans = [s for s in spans
             if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0]) for o in spans)]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    winners: List[Optional[str]] = []
    cluster_end, first = -1, (-1, -1)
    for start, end, code in spans:
        if start >= cluster_end:  # a new, separate mention: its first phrase names the sub-type
            winners.append(code)
            first = (start, end)
        elif (start, end) == first and winners[-1] != code:  # the same phrase names two sub-types
            winners[-1] = None
        cluster_end = max(cluster_end, end)
    if winners and len(set(winners)) == 1:
        return winners[0]
    if not winners and category["code"] == "product_move":
        return _move_size(norm)
    return None


def _move_size(norm: str) -> Optional[str]:
    """"déplacer 3 imprimantes" -> one_to_five, "12 copiers" -> more_than_five: a number followed by a device
    noun, at most one word apart ("trois grosses imprimantes")."""
    words = re.findall(r"[\w-]+", norm)

    def number(word: str) -> Optional[int]:
        return int(word) if word.isdigit() and len(word) <= 3 else _NUMBER_WORDS.get(word)

    for i, word in enumerate(words):
        count = number(word)
        if not count:
            continue
        following = words[i + 1:i + 3]
        if following and _DEVICE_NOUN.fullmatch(following[0]) or (
                len(following) == 2 and number(following[0]) is None and _DEVICE_NOUN.fullmatch(following[1])):
            return "one_to_five" if count <= 5 else "more_than_five"
    return None


async def request_categories(client: BackendClient) -> Dict[str, Dict[str, Any]]:
    return {c["code"]: c for c in await client.taxonomy() if c["section"] == SECTION}


async def request_label(client: BackendClient, category: Optional[str], subcategory: Optional[str],
                        lang: str) -> str:
    """"Question sur mon contrat › Date de fin de contrat" (the category alone for a single sub-type)."""
    cat = (await request_categories(client)).get(category or "")
    if cat is None:
        return category or ""
    label = cat["label"][lang]
    sub = next((s for s in cat["subcategories"] if s["code"] == subcategory), None)
    if sub is None or len(cat["subcategories"]) == 1:
        return label
    return f"{label} › {sub['label'][lang]}"


class ValidateRequestForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_request_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        policy = asset_policy(tracker.get_slot("request_category"), tracker.get_slot("request_subcategory"))
        if policy == "skip":  # an access or billing-address change is about no device
            return [slot for slot in domain_slots if slot != "request_asset"]
        return domain_slots

    # --- request type -----------------------------------------------------------------------------------------
    async def extract_request_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if opening_turn(tracker) and not tracker.get_slot("request_category"):
            category = INTENT_CATEGORIES.get(opening_message(tracker).intent or "")
            return {"request_category": category} if category else {}
        if not asked(tracker, "request_category"):
            return {}
        chosen = entity(tracker, "request_category")
        if chosen:
            return {"request_category": chosen}
        intent = intent_of(tracker) or ""
        if intent in INTENT_CATEGORIES:  # "a contract question" typed instead of clicked
            return {"request_category": INTENT_CATEGORIES[intent]}
        if not_an_answer(tracker):
            return {}
        dispatcher.utter_message(response="utter_choose_an_option")
        return {"request_category": None}

    async def validate_request_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"request_category": None}
        if opening_turn(tracker) and value in INTENT_CATEGORIES.values():
            return {"request_category": value}  # from the intent; the rules checked the role already
        try:
            categories = await request_categories(backend(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"request_category": None}
        if value not in categories:
            dispatcher.utter_message(response="utter_choose_an_option")
            return {"request_category": None}
        # The rules checked the role of the intent that opened the form; a type chosen later is checked here.
        if categories[value].get("admin_only") and value in await restricted_categories(tracker):
            await refuse_admin_only(dispatcher, tracker, *ADMIN_ONLY_WHAT.get(
                value, ("soumettre ce type de demande", "submit this type of request")))
            return {"request_category": None, "request_subcategory": None}
        return {"request_category": value}

    # --- sub-type ---------------------------------------------------------------------------------------------
    async def extract_request_subcategory(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        category = tracker.get_slot("request_category")
        if not category or tracker.get_slot("request_subcategory"):
            return {}
        chosen = entity(tracker, "request_subcategory")
        if chosen and asked(tracker, "request_subcategory"):
            return {"request_subcategory": chosen}
        if not (opening_turn(tracker) or asked(tracker, "request_subcategory")
                or asked(tracker, "request_category")):
            return {}
        if asked(tracker, "request_subcategory") and not_an_answer(tracker):
            return {}
        try:
            cat = (await request_categories(backend(tracker))).get(category)
        except BackendError as error:
            if asked(tracker, "request_subcategory"):
                report_backend_error(dispatcher, error)
                return {"request_subcategory": None}
            return {}  # the question will report it
        if cat is None:
            return {}
        if len(cat["subcategories"]) == 1:  # "Demande générale": nothing to choose
            return {"request_subcategory": cat["subcategories"][0]["code"]}
        if asked(tracker, "request_category") and cat.get("admin_only"):
            return {}  # the role is checked first (validate_request_category); the sub-type is asked after
        # on the opening turn, the words that asked for the request (also after a switch from another form)
        opening = opening_message(tracker) if opening_turn(tracker) else None
        text = opening.text if opening else text_of(tracker)
        found = None if is_payload(text) else match_subcategory(text, cat)
        if found is None and opening and category == "product_move":
            named = opening.entity_values("asset_ref")  # "déplacer la WHJ01481": one device named
            if 1 <= len(named) <= 5:
                found = "one_to_five"
        if found:
            if not asked(tracker, "request_subcategory"):  # recognised in the user's own words: say so
                label = await request_label(backend(tracker), category, found, language(tracker))
                dispatcher.utter_message(response="utter_request_type_selected", request_label=label)
            return {"request_subcategory": found}
        if asked(tracker, "request_subcategory"):
            dispatcher.utter_message(response="utter_choose_an_option")
            return {"request_subcategory": None}
        return {}

    async def validate_request_subcategory(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"request_subcategory": None}
        try:
            categories = await request_categories(backend(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"request_subcategory": None}
        cat = categories.get(tracker.get_slot("request_category") or "", {})
        if value not in {s["code"] for s in cat.get("subcategories", [])}:
            dispatcher.utter_message(response="utter_choose_an_option")
            return {"request_subcategory": None}
        return {"request_subcategory": value}

    # --- device -----------------------------------------------------------------------------------------------
    async def extract_request_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot("request_asset"):
            return {}
        category, subcategory = tracker.get_slot("request_category"), tracker.get_slot("request_subcategory")
        policy = asset_policy(category, subcategory)
        if policy == "skip":
            return {}
        if asked(tracker, "request_asset"):
            intent = intent_of(tracker)
            if not_an_answer(tracker):
                return {}
            wants_none = not entity(tracker, "asset_ref") and (
                intent == "deny" or bool(NO_DEVICE.search(normalize(text_of(tracker)))))
            if wants_none:
                if policy == "required":
                    dispatcher.utter_message(response="utter_request_asset_needed")
                    return {"request_asset": None}
                return {"request_asset": NO_ASSET, "request_asset_label": None}
            return await extract_asset(tracker, dispatcher, "request_asset", "request_asset_label")
        if opening_turn(tracker):
            # A device the user named is reused (also when named inside another form, before a "yes" to the
            # switch); with a device required, a user with one device is not asked.
            if policy == "required" or opening_message(tracker).entity("asset_ref"):
                return await extract_asset(tracker, dispatcher, "request_asset", "request_asset_label")
            return {}
        if policy == "required" and subcategory and asked(tracker, "request_subcategory"):
            # The sub-type just chosen needs a device: a user with exactly one device is never asked which.
            try:
                assets = await backend(tracker).assets()
            except BackendError:
                return {}  # the question will report it
            if len(assets) == 1:
                dispatcher.utter_message(response="utter_asset_selected", asset_label=asset_label(assets[0]))
                return {"request_asset": assets[0]["asset_number"], "request_asset_label": asset_label(assets[0])}
        return {}

    async def validate_request_asset(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == NO_ASSET and asset_policy(tracker.get_slot("request_category"),
                                              tracker.get_slot("request_subcategory")) == "required":
            dispatcher.utter_message(response="utter_request_asset_needed")
            return {"request_asset": None, "request_asset_label": None}
        return {"request_asset": value}

    # --- description ------------------------------------------------------------------------------------------
    async def extract_request_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # Only an answer to the question: a question about something else (help, cancel, a case, another
        # conversation ...) is left to the rules. Free text the NLU could not classify is still a description.
        if not asked(tracker, "request_description"):
            return {}
        if intent_of(tracker) not in DESCRIPTION_ANYWAY and not_an_answer(tracker):
            return {}
        return {"request_description": text_of(tracker)}

    async def validate_request_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text) < MIN_DESCRIPTION_CHARS or is_payload(text):
            dispatcher.utter_message(response="utter_request_description_too_short",
                                     min_chars=MIN_DESCRIPTION_CHARS)
            return {"request_description": None}
        if len(text) > MAX_DESCRIPTION_CHARS:
            dispatcher.utter_message(response="utter_request_description_too_long", max_chars=MAX_DESCRIPTION_CHARS)
            return {"request_description": None}
        return {"request_description": text}

    # --- confirmation -----------------------------------------------------------------------------------------
    async def extract_request_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "request_confirm")


class ActionAskRequestCategory(Action):
    """The six request types as buttons; those the user's role may not submit are not offered."""

    def name(self) -> Text:
        return "action_ask_request_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        try:
            categories = await request_categories(backend(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        restricted = await restricted_categories(tracker) \
            if any(c.get("admin_only") for c in categories.values()) else set()
        buttons = [
            {"title": c["label"][lang], "payload": f'/inform{{"request_category":"{code}"}}'}
            for code, c in categories.items() if code not in restricted
        ]
        dispatcher.utter_message(response="utter_ask_request_category", buttons=buttons)
        return []


class ActionAskRequestSubcategory(Action):
    def name(self) -> Text:
        return "action_ask_request_subcategory"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang, category = language(tracker), tracker.get_slot("request_category")
        try:
            cat = (await request_categories(backend(tracker))).get(category or "")
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        if cat is None:
            return []
        buttons = [
            {"title": s["label"][lang], "payload": f'/inform{{"request_subcategory":"{s["code"]}"}}'}
            for s in cat["subcategories"]
        ]
        dispatcher.utter_message(response="utter_ask_request_subcategory", request_label=cat["label"][lang],
                                 buttons=buttons)
        return []


class ActionAskRequestAsset(Action):
    """One button per device; when the device is optional, a "No specific device" button too."""

    def name(self) -> Text:
        return "action_ask_request_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        category = tracker.get_slot("request_category")
        policy = asset_policy(category, tracker.get_slot("request_subcategory"))
        if policy == "required":
            response = "utter_ask_request_asset_move" if category == "product_move" \
                else "utter_ask_request_asset_required"
            ended = await ask_asset(tracker, dispatcher, response)
            return [*ended, *reset_events(domain, FORM)] if ended is not None else []
        try:
            assets = await backend(tracker).assets()
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        buttons = asset_buttons(assets)
        buttons.append({"title": NO_DEVICE_TITLE[language(tracker)], "payload": "/deny"})
        dispatcher.utter_message(response="utter_ask_request_asset_optional", buttons=buttons)
        return []


class ActionAskRequestDescription(Action):
    def name(self) -> Text:
        return "action_ask_request_description"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        category = tracker.get_slot("request_category")
        if category == "product_move":
            dispatcher.utter_message(response="utter_ask_request_description_move")
            return []
        try:
            label = await request_label(backend(tracker), category, tracker.get_slot("request_subcategory"),
                                        language(tracker))
        except BackendError as error:
            log.warning("request label unavailable: %s", error)
            label = category or ""
        dispatcher.utter_message(response="utter_ask_request_description", request_label=label)
        return []


def asset_summary(tracker: Tracker) -> str:
    if tracker.get_slot("request_asset") in (None, NO_ASSET):
        return NO_DEVICE_TITLE[language(tracker)]
    return tracker.get_slot("request_asset_label") or tracker.get_slot("request_asset")


class ActionAskRequestConfirm(Action):
    def name(self) -> Text:
        return "action_ask_request_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            label = await request_label(backend(tracker), tracker.get_slot("request_category"),
                                        tracker.get_slot("request_subcategory"), language(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        dispatcher.utter_message(response="utter_ask_request_confirm", request_label=label,
                                 asset_label=asset_summary(tracker),
                                 description=tracker.get_slot("request_description"))
        return []


class ActionSubmitRequest(SubmitAction):
    """Creates the case of a confirmed request (POST /requests) with the form's idempotency key, so the retry
    offered after a failure can never create a second case."""

    action_name = "action_submit_request"
    form = FORM
    extra_slots = EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        if slot("request_confirm") is not True:
            dispatcher.utter_message(response="utter_request_not_submitted")
            return []
        client = backend(tracker)
        # The label first: once the case exists, nothing may fail and make it look unsubmitted.
        label = await request_label(client, slot("request_category"), slot("request_subcategory"),
                                    language(tracker))
        body: Dict[str, Any] = {"category": slot("request_category"), "subcategory": slot("request_subcategory"),
                                "description": slot("request_description"), "channel": channel_code(tracker),
                                "transcript": transcript(tracker)}
        if slot("request_asset") not in (None, NO_ASSET):
            body["asset"] = slot("request_asset")
        case = await client.create_request(body, idempotency_key=key)
        dispatcher.utter_message(response="utter_request_created", case_number=case["number"], request_label=label)
        return []
