"""Requests ("Soumettre une demande"): the seed's six request types and their sub-types, one form for all.

The type and sub-type come from the user's own words when they name them (POST /requests/classify: the taxonomy
keywords, scored as the fault triage does; "ma collègue n'a plus accès au scan" is an access change whatever the NLU
said), else from the intent that opened the form (request_change, contract_question, ...); when the words hesitate
between two types, both are offered with "another type". The sub-type is asked with buttons unless the category has
a single one or the words name it. The device is asked when relevant (required for a product move and a device
configuration, optional for most requests, not asked for an access or billing-address change) unless the opening
message named it ("the accounts copier") or named several ("all three printers": no specific device; a move of "all
of them": recorded in the description, the sub-type by their number). An opening message that describes the need
is the description. A summary then lets the user change the type, the device or the description (buttons or
words), and the confirmed request becomes a case (POST /requests).

Contract and invoice questions and product moves are for administrators only: the rules run
`action_check_role` before this form, and a category picked later in the form is checked again here. The
backend still refuses them for a `user` (403), whatever the assistant does.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import escape_markdown, fold_accents
from actions.backend_client import BackendClient, BackendError
from actions.forms import (
    OPENING_HAND_OVERS, READINGS_INTENT, OpeningMessage, PortalFormValidation, gives_readings, ask_asset, asked, asset_buttons, asset_label, entity, extract_asset, hand_over,
    intent_of, is_payload, likeliest, likeliest_buttons, may_change_summary, not_an_answer, opening_message, opening_turn,
    summary_field, text_of, yes_no_answer,
)
from actions.roles import ROLE_GUARDS, refuse_admin_only, restricted_categories
from actions.session import (
    MAX_DESCRIPTION_CHARS, backend, channel_code, language, report_backend_error, transcript,
)
from actions.submission import SubmitAction, reset_events

log = logging.getLogger(__name__)

FORM = "request_form"
EXTRA_SLOTS = ("request_asset_label", "request_proposal")
SECTION = "requests"
NO_ASSET = "none"
MIN_DESCRIPTION_CHARS = 10
# A description is free text: one the NLU found unclear or off-topic is still the user's description.
DESCRIPTION_ANYWAY = {"nlu_fallback", "out_of_scope"}

# Request types a fault may be mistaken for ("can you send someone, the badge reader stopped working"): when the
# words name no request type but clearly a fault, the fault form takes over with the same message.
MISTAKEN_FOR_FAULTS = ("change_request", "general_enquiry", "product_information")
FAULT_INTENT = "report_fault"
# One fault keyword that only names a function ("scan", "print") says no fault by itself ("can you set up scanning to
# SharePoint?"); with words saying something is broken it does ("the scanner doesn't work any more").
BROKEN_WORDS = re.compile(
    r"\b(ne (?:marche|fonctionne|veut|s'allume|demarre|repond)\w* (?:plus|pas)|marche (?:plus|pas)|en panne|"
    r"hs|plante\w*|bloque\w*|casse\w*|erreur|error|broken|broke|stopped|not working|doesn'?t work|won'?t|"
    r"isn'?t working|no longer works?|crash\w*|fails?|failing|failed|dead|jammed|stuck|leak\w*|fuit|fuite)\b")
STRONG_FAULT_SCORE = 2

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
# request_asset when the request is about several devices (a move of "all of them"): they are named in
# request_asset_label, shown in the summary and written into the case's description.
SEVERAL = "several"
ALL_DEVICES_TITLE = {"fr": "Tous vos appareils ({count}) : {names}", "en": "All your devices ({count}): {names}"}
COUNT_DEVICES_TITLE = {"fr": "{count} appareils", "en": "{count} devices"}
DEVICES_LINE = {"fr": "Appareils concernés : {devices}", "en": "Devices concerned: {devices}"}
# Words that say nothing about the need ("j'ai une demande", "I have a question about my contract"): an opening
# message with fewer other words is not taken as the description.
GENERIC_WORDS = set("""
    j ai une un des de du la le les je voudrais veux voulais souhaite souhaiterais aimerais faire demande demandes
    demander question questions sur pour mon ma mes notre nos votre vos est avoir svp merci bonjour il faut besoin
    general generale quel quelle quels autre concernant propos info information informations modification modif
    changement soumettre poser rapide petite
    i have a an the request requests question questions about my our want would like need make submit please hello
    hi general enquiry inquiry some another other regarding there can you help with for change query to do d l s
    information info quick small ask raise open new
""".split())
MIN_NEED_WORDS = 3  # other words an opening message needs to be the description (2 when they name a sub-type)


def normalize(text: str) -> str:
    """Lower case, without accents, with straight apostrophes and single spaces."""
    return re.sub(r"\s+", " ", fold_accents(text.replace("’", "'").replace("`", "'"))).strip()


def asset_policy(category: Optional[str], subcategory: Optional[str]) -> str:
    return ASSET_POLICY.get((category or "", subcategory), ASSET_POLICY.get((category or "", None), "optional"))


async def classify(tracker: Tracker, text: str, category: Optional[str] = None) -> Dict[str, Any]:
    """The portal's reading of the user's words (POST /requests/classify): the request type and sub-type they
    name (or the likeliest two), and how many devices; {} for a button or no words."""
    if not text or is_payload(text):
        return {}
    return await backend(tracker).classify_request(text, language(tracker), category)


def words_category(proposal: Dict[str, Any], said: Optional[str]) -> Optional[str]:
    """The request type to take, given the words' classification and the type the NLU said (`said`, None when the
    words alone decide): the words win when they clearly name a sub-type of another type (or any type after a
    "general enquiry"); when they hesitate between two, the NLU's type breaks the tie if it is one of them, else
    None (the two are offered)."""
    words = proposal.get("category") if proposal.get("source") == "keywords" else None
    if words and proposal.get("confident"):
        if said is None or words == said or proposal.get("subcategory") or said == "general_enquiry":
            return words
        return said
    options = {o["category"] for o in likeliest(proposal)} if proposal.get("source") == "keywords" else set()
    if said in options or len(options) < 2:
        return said
    return None


def several_devices(proposal: Dict[str, Any]) -> bool:
    """The words name several devices: "all of them", "les trois", "toutes les machines", "5 copieurs"."""
    return bool(proposal.get("all_devices")) or (proposal.get("device_count") or 0) > 1


def names_the_need(text: str, proposal: Dict[str, Any]) -> bool:
    """The opening message describes the need ("ma collègue n'a plus accès au scan"), not a bare "j'ai une
    demande": enough words besides the generic ones (fewer when they name a sub-type)."""
    if len(text.strip()) < MIN_DESCRIPTION_CHARS or len(text) > MAX_DESCRIPTION_CHARS or is_payload(text):
        return False
    words = [w for w in re.findall(r"\w+", normalize(text)) if w not in GENERIC_WORDS and len(w) > 1]
    named = proposal.get("source") == "keywords" and bool(proposal.get("subcategory") or likeliest(proposal))
    return len(words) >= MIN_NEED_WORDS or (named and len(words) >= MIN_NEED_WORDS - 1)


def short_asset_name(asset: Dict[str, Any]) -> str:
    return f"{asset.get('alias') or asset['model']} ({asset['serial']})"


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


# A print driver asked for (or one that no longer installs): the portal's fault type "Software question › Driver
# request or problem", not a change request (accents folded).
DRIVER_WORDS = re.compile(r"\b(pilotes?|drivers?)\b")


def _request_hand_over(opening: OpeningMessage) -> Optional[Tuple[str, Optional[str]]]:
    if gives_readings(opening.text):  # "deux choses : les relevés 112 : 2450, 113 : 41700 … et des agrafes"
        return READINGS_INTENT, None
    if DRIVER_WORDS.search(fold_accents(opening.text)):
        return FAULT_INTENT, "utter_request_is_a_driver_question"
    return None


OPENING_HAND_OVERS[FORM] = _request_hand_over


class ValidateRequestForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_request_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if tracker.get_slot("switch_to") == FAULT_INTENT:  # a fault: nothing more is asked, the fault form takes over
            return []
        policy = asset_policy(tracker.get_slot("request_category"), tracker.get_slot("request_subcategory"))
        if policy == "skip":  # an access or billing-address change is about no device
            return [slot for slot in domain_slots if slot != "request_asset"]
        return domain_slots

    # --- request type -----------------------------------------------------------------------------------------
    async def extract_request_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if opening_turn(tracker) and not tracker.get_slot("request_category"):
            return await self._opening_category(dispatcher, tracker)
        if not asked(tracker, "request_category"):
            return {}
        chosen = entity(tracker, "request_category")
        if chosen:  # a button: one of every type, or one of the likeliest two (then with its sub-type)
            slots = {"request_category": chosen}
            if entity(tracker, "request_subcategory"):
                slots["request_subcategory"] = entity(tracker, "request_subcategory")
            return slots
        intent = intent_of(tracker) or ""
        if intent == "deny" and likeliest(tracker.get_slot("request_proposal") or {}):
            return {"request_proposal": None, "request_category": None}  # "another type": every type is shown
        if not_an_answer(tracker):
            return {}
        try:  # "a contract question" typed instead of clicked, or words that name the type
            proposal = await classify(tracker, text_of(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"request_category": None}
        chosen = words_category(proposal, INTENT_CATEGORIES.get(intent))
        if chosen:
            return {"request_category": chosen, "request_proposal": proposal}
        if len(likeliest(proposal)) > 1:  # the likeliest two are offered
            return {"request_category": None, "request_proposal": proposal}
        dispatcher.utter_message(response="utter_choose_an_option")
        return {"request_category": None}

    async def _opening_category(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        """The type the opening message asks for: the intent's, unless the words clearly name another (or
        hesitate between two: then both are offered)."""
        opening = opening_message(tracker)
        said = INTENT_CATEGORIES.get(opening.intent or "")
        if said is None:
            return {}
        try:
            proposal = await classify(tracker, opening.text)
        except BackendError as error:
            log.warning("request classification unavailable: %s", error)
            return {"request_category": said}  # the intent alone says the type
        if said in MISTAKEN_FOR_FAULTS and not is_payload(opening.text):
            if await self._names_a_fault(tracker, opening.text, proposal):  # the fault form takes over
                handing = hand_over(FAULT_INTENT, opening.text, opening.entities, "utter_request_is_a_fault")
                return {"request_proposal": None, **{e["name"]: e["value"] for e in handing
                                                     if e["name"] != "requested_slot"}}
        chosen = words_category(proposal, said)
        if chosen and chosen != said and await self._refused(dispatcher, tracker, chosen):
            return {"request_proposal": None}  # the types the role allows are asked
        slots: Dict[Text, Any] = {"request_proposal": proposal}
        if chosen:
            slots["request_category"] = chosen
        return slots

    @staticmethod
    async def _names_a_fault(tracker: Tracker, text: str, request: Dict[str, Any]) -> bool:
        """The words clearly name a fault type (the fault triage's keywords), and weigh more for it than for any
        request type ("the badge reader stopped reading cards" is a fault; "give her badge access back" is not)."""
        try:
            fault = await backend(tracker).classify_fault(text, language(tracker))
        except BackendError as error:
            log.warning("fault classification unavailable: %s", error)
            return False
        request_score = request.get("score", 0) if request.get("source") == "keywords" else 0
        score = fault.get("score", 0)
        broken = score >= STRONG_FAULT_SCORE or bool(BROKEN_WORDS.search(fold_accents(text).lower()))
        return (fault.get("source") == "keywords" and bool(fault.get("category")) and bool(fault.get("confident"))
                and score > request_score and broken)

    @staticmethod
    async def _refused(dispatcher: CollectingDispatcher, tracker: Tracker, category: str) -> bool:
        """An admin-only type the user's role may not submit: the polite refusal naming the administrators."""
        if category not in await restricted_categories(tracker):
            return False
        await refuse_admin_only(dispatcher, tracker, *ADMIN_ONLY_WHAT.get(
            category, ("soumettre ce type de demande", "submit this type of request")))
        return True

    async def validate_request_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"request_category": None}
        if opening_turn(tracker) and value == INTENT_CATEGORIES.get(opening_message(tracker).intent or ""):
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
        if categories[value].get("admin_only") and await self._refused(dispatcher, tracker, value):
            return {"request_category": None, "request_subcategory": None, "request_proposal": None}
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
            if cat is None:
                return {}
            if len(cat["subcategories"]) == 1:  # "Demande générale": nothing to choose
                return {"request_subcategory": cat["subcategories"][0]["code"]}
            if asked(tracker, "request_category") and cat.get("admin_only"):
                return {}  # the role is checked first (validate_request_category); the sub-type is asked after
            # on the opening turn, the words that asked for the request (also after a switch from another form)
            opening = opening_message(tracker) if opening_turn(tracker) else None
            proposal = tracker.get_slot("request_proposal") or {}
            if not (opening and proposal.get("category") == category and proposal.get("subcategory")):
                proposal = await classify(tracker, opening.text if opening else text_of(tracker), category)
        except BackendError as error:
            if asked(tracker, "request_subcategory"):
                report_backend_error(dispatcher, error)
                return {"request_subcategory": None}
            return {}  # the question will report it
        found = proposal.get("subcategory") if proposal.get("category") == category else None
        if found is None and opening and category == "product_move":
            # "déplacer la WHJ01481", "faut monter leur copieur": devices named one by one, or no number said,
            # is a move of 1 to 5 devices (a number or "all of them" made the proposal's size already)
            named = opening.entity_values("asset_ref")
            if len(named) <= 5 and not proposal.get("device_count") and not proposal.get("all_devices"):
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
        category = tracker.get_slot("request_category")
        if value is None or not category:  # no type (refused for the role): the type is asked first
            return {"request_subcategory": None}
        try:
            categories = await request_categories(backend(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"request_subcategory": None}
        if value not in {s["code"] for s in categories.get(category, {}).get("subcategories", [])}:
            dispatcher.utter_message(response="utter_choose_an_option")
            return {"request_subcategory": None}
        slots: Dict[Text, Any] = {"request_subcategory": value}
        # a type changed at the summary: the device answer must still fit the new type
        policy, asset = asset_policy(category, value), tracker.get_slot("request_asset")
        if policy == "skip" and asset or policy == "required" and asset == NO_ASSET:
            slots.update(request_asset=None, request_asset_label=None)
        return slots

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
            if not entity(tracker, "asset_ref"):  # "all of them", "les trois"
                try:
                    proposal = await classify(tracker, text_of(tracker), category)
                except BackendError as error:
                    report_backend_error(dispatcher, error)
                    return {"request_asset": None}
                if several_devices(proposal):
                    return await self._several(dispatcher, tracker, policy, proposal)
            return await extract_asset(tracker, dispatcher, "request_asset", "request_asset_label")
        if opening_turn(tracker):
            # A device the user named is reused (also when named inside another form, before a "yes" to the
            # switch); with a device required, a user with one device is not asked; "all our printers" is no
            # specific device, or for a move, all of them.
            opening = opening_message(tracker)
            proposal = tracker.get_slot("request_proposal") or {}
            if not opening.entity("asset_ref") and several_devices(proposal):
                return await self._several(dispatcher, tracker, policy, proposal)
            if policy == "required" or opening.entity("asset_ref"):
                return await extract_asset(tracker, dispatcher, "request_asset", "request_asset_label")
            return await self._named_device(dispatcher, tracker, opening.text)
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

    @staticmethod
    async def _named_device(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> Dict[Text, Any]:
        """An optional device named in words in the opening message ("the accounts copier"): taken when the words
        name exactly one of the user's devices, else asked."""
        if not text or is_payload(text):
            return {}
        try:
            matches = (await backend(tracker).resolve_assets(text)).get("matches") or []
        except BackendError:
            return {}  # the question will report it
        if len(matches) != 1:
            return {}
        dispatcher.utter_message(response="utter_asset_selected", asset_label=asset_label(matches[0]))
        return {"request_asset": matches[0]["asset_number"], "request_asset_label": asset_label(matches[0])}

    @staticmethod
    async def _several(dispatcher: CollectingDispatcher, tracker: Tracker, policy: str,
                       proposal: Dict[str, Any]) -> Dict[Text, Any]:
        """Several devices named ("all of them", "les trois"): no specific device when a device is optional; when
        one is required (a move), the devices are recorded (all of the user's, or their number) and a move's
        sub-type follows their number."""
        if policy != "required":
            return {"request_asset": NO_ASSET, "request_asset_label": None}
        lang, count = language(tracker), proposal.get("device_count")
        try:
            assets = await backend(tracker).assets()
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"request_asset": None}
        if len(assets) == 1 and proposal.get("all_devices"):  # "all of them" with a single device: that device
            dispatcher.utter_message(response="utter_asset_selected", asset_label=asset_label(assets[0]))
            return {"request_asset": assets[0]["asset_number"], "request_asset_label": asset_label(assets[0])}
        if assets and (count == len(assets) or proposal.get("all_devices") and count is None):  # "les trois" of 3
            label = ALL_DEVICES_TITLE[lang].format(count=len(assets),
                                                   names=", ".join(short_asset_name(a) for a in assets))
        elif count:
            label = COUNT_DEVICES_TITLE[lang].format(count=count)
        else:
            return {}
        slots: Dict[Text, Any] = {"request_asset": SEVERAL, "request_asset_label": label}
        size = proposal.get("subcategory")
        if tracker.get_slot("request_category") == "product_move" and size \
                and size != tracker.get_slot("request_subcategory") and not opening_turn(tracker):
            slots["request_subcategory"] = size  # "les huit" after "1 to 5 products": the count decides
        dispatcher.utter_message(response="utter_request_devices_noted", devices=label)
        return slots

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
        # On the opening turn, the message that asked for the request when it already describes the need (also
        # after a switch from another form); else only an answer to the question: a question about something else
        # (help, cancel, a case, another conversation ...) is left to the rules. Free text the NLU could not
        # classify is still a description.
        if opening_turn(tracker):
            opening = opening_message(tracker)
            if tracker.get_slot("request_description") or opening.intent not in INTENT_CATEGORIES:
                return {}
            if names_the_need(opening.text, tracker.get_slot("request_proposal") or {}):
                return {"request_description": opening.text.strip()}
            return {}
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
        """Yes / no to the summary, or a change of its type, device or description before sending: a button, or
        words ("la description est fausse", "c'est plutôt une question de facture", "it's the accounts copier",
        "all of them"). The changed field is asked again or set, then the summary is shown again."""
        if may_change_summary(tracker, "request_confirm"):
            change = await self._summary_change(dispatcher, tracker)
            if change is not None:
                return {**change, "request_confirm": None}
        return yes_no_answer(tracker, dispatcher, "request_confirm")

    async def _summary_change(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[Dict[Text, Any]]:
        wanted = summary_field(tracker)
        if wanted == "description":
            return {"request_description": None}
        if wanted == "type":
            return {"request_category": None, "request_subcategory": None, "request_proposal": None}
        if wanted == "device":
            return {"request_asset": None, "request_asset_label": None}
        text = text_of(tracker)
        if not text or is_payload(text):
            return None
        slot = tracker.get_slot
        policy = asset_policy(slot("request_category"), slot("request_subcategory"))
        try:
            named = (await backend(tracker).resolve_assets(text)).get("matches") or []
            if len(named) == 1 and named[0]["asset_number"] != slot("request_asset") and policy != "skip":
                dispatcher.utter_message(response="utter_asset_selected", asset_label=asset_label(named[0]))
                return {"request_asset": named[0]["asset_number"], "request_asset_label": asset_label(named[0])}
            proposal = await classify(tracker, text)  # only when no other device is named
        except BackendError:
            return None
        if several_devices(proposal) and policy != "skip":
            return await self._several(dispatcher, tracker, policy, proposal) or None
        if proposal.get("source") == "keywords" and proposal.get("confident") and proposal.get("subcategory") \
                and (proposal["category"], proposal["subcategory"]) != (slot("request_category"),
                                                                        slot("request_subcategory")):
            return {"request_category": proposal["category"], "request_subcategory": proposal["subcategory"]}
        return None


class ActionAskRequestCategory(Action):
    """The request type: the likeliest two (with their sub-types) plus "another type" when the user's words
    hesitate between them; else the six types as buttons. Types the user's role may not submit are not offered."""

    def name(self) -> Text:
        return "action_ask_request_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        client = backend(tracker)
        try:
            categories = await request_categories(client)
            restricted = await restricted_categories(tracker) \
                if any(c.get("admin_only") for c in categories.values()) else set()
            options = [o for o in likeliest(tracker.get_slot("request_proposal") or {})
                       if o["category"] in categories and o["category"] not in restricted]
            if options:
                buttons = await likeliest_buttons(options, "request", lang,
                                                  lambda code, sub: request_label(client, code, sub, lang))
                dispatcher.utter_message(response="utter_propose_request_types", buttons=buttons)
                return []
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
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


def description_sent(tracker: Tracker) -> str:
    """The case's description: the user's, with the devices concerned when there are several."""
    description = tracker.get_slot("request_description") or ""
    if tracker.get_slot("request_asset") != SEVERAL:
        return description
    line = DEVICES_LINE[language(tracker)].format(devices=tracker.get_slot("request_asset_label") or "")
    return f"{description[:MAX_DESCRIPTION_CHARS - len(line) - 2]}\n\n{line}"[:MAX_DESCRIPTION_CHARS]


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
                                 description=escape_markdown(tracker.get_slot("request_description")))
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
                                "description": description_sent(tracker), "channel": channel_code(tracker),
                                "transcript": transcript(tracker)}
        if slot("request_asset") not in (None, NO_ASSET, SEVERAL):
            body["asset"] = slot("request_asset")
        case = await client.create_request(body, idempotency_key=key)
        dispatcher.utter_message(response="utter_request_created", case_number=case["number"], request_label=label)
        return []
