"""Fault triage ("Obtenir de l'aide"): which device, what happens, which fault type, knowledge articles
first, then a confirmed case — or a recorded deflection when an article solved the problem.

Extraction rules: each `extract_*` acts only when its slot is the one asked (or on the message that opened
the form, to reuse what the user already said). An answer that is not about the question (help, greet,
cancel, ...) extracts nothing, so the form rejects and the rules handle the digression.
"""
from __future__ import annotations

import logging
import re
import uuid
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendClient, BackendError
from actions.forms import (
    ANOTHER_TYPE, DEFECT_WORDS, OPENING_HAND_OVERS, READINGS_INTENT, OpeningMessage, gives_readings, PortalFormValidation, ask_asset, asked, asset_label, entity, extract_asset, intent_of, is_payload,
    likeliest, likeliest_buttons, may_change_summary, not_an_answer, opening_message, opening_turn, summary_field,
    text_of, yes_no_answer,
)
from actions.knowledge import utter_articles
from actions.orders import ITEM_WORDS
from actions.text import escape_markdown, plain
from actions.session import (
    MAX_DESCRIPTION_CHARS, backend, channel_code, language, report_backend_error, transcript,
)
from actions.submission import KEY_SLOT, SubmitAction, reset_events

log = logging.getLogger(__name__)

FORM = "fault_report_form"
# Helper slots of the form, forgotten with its answers.
EXTRA_SLOTS = ("fault_asset_label", "fault_proposal", "kb_articles", "fault_type_inferred")
# The user already went through the help articles ("nothing in your articles helped", "j'ai déjà regardé vos fiches
# d'aide"): they are not shown again before the case (accents folded)
ARTICLES_TRIED = re.compile(
    r"\b(?:nothing in (?:your|the) (?:help )?(?:articles?|knowledge base|faq)|(?:your|the) (?:help )?(?:articles?|faq|"
    r"knowledge base)(?: \w+){0,2} (?:didn'?t|did not|don'?t|do not|doesn'?t) help|already (?:checked|tried|read|looked "
    r"(?:at|through)|went through|gone through|followed) (?:your|the) (?:help )?(?:articles?|knowledge base|faq)|"
    r"(?:j'ai|on a|nous avons) (?:deja )?(?:consulte|lu|regarde|essaye|suivi|parcouru) (?:vos|les) (?:articles?|"
    r"fiches? d'aide|faq)|(?:j'ai|on a|nous avons) (?:deja )?(?:consulte|regarde|parcouru) (?:la|votre) base de "
    r"connaissances?|rien (?:trouve )?dans (?:vos|les) (?:articles?|fiches? d'aide|faq)|(?:vos|les) (?:articles?|"
    r"fiches? d'aide) (?:n'ont|ne m'ont|ne nous ont) (?:rien donne|pas aide|servi a rien))\b")


def articles_tried(tracker: Tracker) -> bool:
    """The user's words (the opening message or the description) say the help articles were already tried."""
    said = f"{opening_message(tracker).text or ''} {tracker.get_slot('fault_description') or ''}"
    return bool(ARTICLES_TRIED.search(plain(said)))


# "No article was shown", typed instead of clicking the third button of the knowledge question.
NO_ARTICLE_SHOWN = re.compile(r"\b(aucun article|pas d'article|no articles?|none shown|nothing shown)\b", re.I)
MIN_DESCRIPTION_CHARS = 5


async def fault_categories(client: BackendClient) -> Dict[str, Dict[str, Any]]:
    return {c["code"]: c for c in await client.taxonomy() if c["section"] == "faults"}


async def fault_label(client: BackendClient, category: str, subcategory: Optional[str], lang: str) -> str:
    cat = (await fault_categories(client)).get(category)
    if cat is None:
        return category
    label = cat["label"][lang]
    sub = next((s for s in cat["subcategories"] if s["code"] == subcategory), None)
    return f"{label} › {sub['label'][lang]}" if sub else label



async def chosen_fault_label(tracker: Tracker) -> str:
    """The label of the fault type the form holds ("Bourrage papier › Dans le tiroir ou le plateau")."""
    return await fault_label(backend(tracker), tracker.get_slot("fault_category"),
                             tracker.get_slot("fault_subcategory"), language(tracker))


# "Not this type" at a type taken from the words: every type is offered instead.
NOT_THIS_TYPE: Dict[Text, Any] = {"fault_category": None, "fault_subcategory": None, "fault_proposal": {},
                                  "kb_articles": None, "fault_type_inferred": None}


# A consumable wanted, told as a fault ("il nous faudrait un jaune et un magenta, les voyants clignotent", "the panel
# says replace drum soon, we need a new one"): words of a need and of a consumable, none of a defect.
NEED_WORDS = re.compile(r"\b(il nous faut|il nous faudrait|il (?:me |nous )?faudrait|on a besoin|j'ai besoin|besoin d'(?:un|une|"
                        r"du|de)|we need|we'?d need|need (?:a|an|some|new|another)|send us|envoyez|commander|to order|"
                        r"running (?:low|out)|run out|manque de|on manque|plus de (?:toner|cyan|magenta|jaune|noir))\b")
ORDER_INTENT = "order_consumables"




def _fault_hand_over(opening: OpeningMessage) -> Optional[Tuple[str, Optional[str]]]:
    folded = plain(opening.text)
    if NEED_WORDS.search(folded) and ITEM_WORDS.search(folded) and not DEFECT_WORDS.search(folded):
        return ORDER_INTENT, "utter_fault_is_an_order"
    if gives_readings(opening.text) and not DEFECT_WORDS.search(folded):
        return READINGS_INTENT, None  # readings told with a remark ("pas bougé depuis la dernière fois")
    return None


OPENING_HAND_OVERS["fault_report_form"] = _fault_hand_over


class ValidateFaultReportForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_fault_report_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        # An article solved it: nothing to confirm, the form ends and the deflection is recorded.
        if tracker.get_slot("kb_feedback") == "yes":
            return [slot for slot in domain_slots if slot != "fault_confirm"]
        return domain_slots

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        return events + await self._type_from_words(tracker, events)

    async def _type_from_words(self, tracker: Tracker, events: List[EventType]) -> List[EventType]:
        """Once the device and the description are known, a fault type the words name clearly (one type and its
        sub-type) is taken without a question: it is shown with the articles and in the summary, where the user
        can still change it. Doubtful words keep the question (one proposal, or the likeliest two)."""
        slots = {**tracker.current_slot_values(),
                 **{e["name"]: e["value"] for e in events if e.get("event") == "slot"}}
        proposal = slots.get("fault_proposal") or {}
        if not (slots.get("fault_asset") and slots.get("fault_description")) or slots.get("fault_category") \
                or slots.get("kb_feedback") or not (proposal.get("confident") and proposal.get("category")):
            return []
        category, subcategory = proposal["category"], proposal.get("subcategory")
        if not subcategory:  # the category is clear, its sub-type is not: only the sub-type is asked
            return [SlotSet("fault_category", category), SlotSet("fault_type_inferred", True)]
        articles = await self._articles(backend(tracker), tracker, category, subcategory,
                                        description=slots["fault_description"], asset=slots["fault_asset"])
        tried = bool(articles) and articles_tried(tracker)  # they did not help: not shown again, none recorded
        inferred = [SlotSet("fault_category", category), SlotSet("fault_subcategory", subcategory),
                    SlotSet("fault_type_inferred", True), SlotSet("kb_articles", [] if tried else articles)]
        if tried:
            return inferred + [SlotSet("kb_feedback", "no")]
        return inferred + ([] if articles else [SlotSet("kb_feedback", "none_shown")])

    # --- device -----------------------------------------------------------------------------------------
    async def extract_fault_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return await extract_asset(tracker, dispatcher, "fault_asset", "fault_asset_label")

    # --- description --------------------------------------------------------------------------------------
    async def extract_fault_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # When asked, the from_text mapping fills it. On the opening turn, reuse the user's own words when they
        # already describe a fault ("bourrage dans le tiroir 2"), not a bare "report a fault" — also when they
        # were said inside another form and accepted with a "yes" (then the "yes" is no description).
        if not opening_turn(tracker) or tracker.get_slot("fault_description"):
            return {}
        opening = opening_message(tracker)
        if opening.intent != "report_fault":
            return {}
        text = opening.text
        if is_payload(text) or len(text) < MIN_DESCRIPTION_CHARS:
            return {}
        try:
            proposal = await backend(tracker).classify_fault(text, language(tracker))
        except BackendError:
            return {}  # the description will simply be asked
        if describes_a_fault(proposal):
            return {"fault_description": text, "fault_proposal": proposal}
        return {}

    async def validate_fault_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text) < MIN_DESCRIPTION_CHARS or is_payload(text):
            dispatcher.utter_message(response="utter_description_too_short")
            return {"fault_description": None}
        if len(text) > MAX_DESCRIPTION_CHARS:
            dispatcher.utter_message(response="utter_description_too_long", max_chars=MAX_DESCRIPTION_CHARS)
            return {"fault_description": None}
        events: Dict[Text, Any] = {"fault_description": text}
        if not tracker.get_slot(KEY_SLOT):
            events[KEY_SLOT] = uuid.uuid4().hex  # one idempotency key for this report's submission
        if tracker.get_slot("fault_proposal") is None:
            try:
                events["fault_proposal"] = await backend(tracker).classify_fault(text, language(tracker))
            except BackendError as error:
                log.warning("fault classification unavailable: %s", error)
        return events

    # --- fault type ---------------------------------------------------------------------------------------
    async def extract_fault_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "fault_category"):
            return {}
        intent, proposal = intent_of(tracker), tracker.get_slot("fault_proposal") or {}
        chosen = entity(tracker, "fault_category")
        if chosen:  # a button: one of every type, or one of the likeliest two (then with its sub-type)
            slots = {"fault_category": chosen}
            if entity(tracker, "fault_subcategory"):
                slots["fault_subcategory"] = entity(tracker, "fault_subcategory")
            return slots
        if intent == "affirm" and single_proposal(proposal):
            slots = {"fault_category": proposal["category"]}
            if proposal.get("subcategory"):
                slots["fault_subcategory"] = proposal["subcategory"]
            return slots
        if intent == "deny" and (proposal.get("category") or proposal.get("alternatives")):
            return {"fault_proposal": {}, "fault_category": None}  # show every type instead
        if not_an_answer(tracker):  # a digression or another conversation's request: the rules handle it
            return {}
        return await self._typed_fault_type(dispatcher, tracker, "fault_category", None)

    async def extract_fault_subcategory(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "fault_subcategory"):
            return {}
        chosen = entity(tracker, "fault_subcategory")
        if chosen:
            return {"fault_subcategory": chosen}
        if tracker.get_slot("fault_type_inferred") and self._not_this_type(tracker):
            return NOT_THIS_TYPE
        if not_an_answer(tracker):
            return {}
        return await self._typed_fault_type(dispatcher, tracker, "fault_subcategory", tracker.get_slot("fault_category"))

    async def _typed_fault_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, category: Optional[str]
    ) -> Dict[Text, Any]:
        """A fault type typed in words ("bourrage papier", "in the tray"), matched by the backend."""
        text = text_of(tracker)
        try:
            proposal = {} if is_payload(text) else await backend(tracker).classify_fault(
                text, language(tracker), category)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {slot: None}
        if slot == "fault_category" and proposal.get("category") and proposal.get("source") == "keywords":
            slots = {"fault_category": proposal["category"]}
            if proposal.get("subcategory"):
                slots["fault_subcategory"] = proposal["subcategory"]
            return slots
        if slot == "fault_subcategory" and proposal.get("subcategory"):
            return {"fault_subcategory": proposal["subcategory"]}
        dispatcher.utter_message(response="utter_choose_an_option")
        return {slot: None}

    async def validate_fault_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"fault_category": None}
        try:
            categories = await fault_categories(backend(tracker))
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"fault_category": None}
        if value not in categories:
            dispatcher.utter_message(response="utter_choose_an_option")
            return {"fault_category": None, "fault_subcategory": None}
        return {"fault_category": value}

    async def validate_fault_subcategory(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"fault_subcategory": None}
        client, category = backend(tracker), tracker.get_slot("fault_category")
        try:
            categories = await fault_categories(client)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"fault_subcategory": None}
        codes = {s["code"] for s in categories.get(category, {}).get("subcategories", [])}
        if value not in codes:
            dispatcher.utter_message(response="utter_choose_an_option")
            return {"fault_subcategory": None}
        # The fault type is known: look for articles now, so the form can skip the question when none exist.
        articles = await self._articles(client, tracker, category, value)
        slots: Dict[Text, Any] = {"fault_subcategory": value, "kb_articles": articles}
        if not articles:
            slots["kb_feedback"] = "none_shown"
        elif articles_tried(tracker):  # the user already went through the articles: not shown again
            slots.update(kb_articles=[], kb_feedback="no")
        return slots

    @staticmethod
    async def _articles(client: BackendClient, tracker: Tracker, category: str, subcategory: str,
                        description: Optional[str] = None, asset: Optional[str] = None) -> List[Dict]:
        try:
            hits = await client.search_knowledge(
                description or tracker.get_slot("fault_description") or "", language(tracker),
                asset=asset or tracker.get_slot("fault_asset"), tag=f"fault.{category}.{subcategory}",
            )
        except BackendError as error:
            log.warning("knowledge search failed, continuing without articles: %s", error)
            return []
        return [{k: hit[k] for k in ("number", "title", "summary", "url")} for hit in hits]

    # --- knowledge answer and confirmation ------------------------------------------------------------------
    async def extract_kb_feedback(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "kb_feedback"):
            return {}
        chosen, intent = entity(tracker, "kb_feedback"), intent_of(tracker)
        if chosen in ("yes", "no", "none_shown"):
            return {"kb_feedback": chosen}
        retyped = await self._type_changed_at_articles(tracker)
        if retyped is not None:
            return retyped
        if intent == "affirm":
            return {"kb_feedback": "yes"}
        if intent == "deny":
            return {"kb_feedback": "no"}
        if not_an_answer(tracker):  # a digression or another conversation's request: the rules handle it
            return {}
        if NO_ARTICLE_SHOWN.search(text_of(tracker)):  # the third option, typed instead of clicked
            return {"kb_feedback": "none_shown"}
        dispatcher.utter_message(response="utter_answer_yes_no")
        return {"kb_feedback": None}

    @staticmethod
    def _not_this_type(tracker: Tracker) -> bool:
        """"Not this type": the button, or words saying the type is wrong."""
        return summary_field(tracker) == "type"

    async def _type_changed_at_articles(self, tracker: Tracker) -> Optional[Dict[Text, Any]]:
        """At the articles of a type taken from the words: "not this type" (the button, or words saying so) asks the
        type again; words naming another type ("c'est plutôt un bruit") set it, and its articles are looked up."""
        if not tracker.get_slot("fault_type_inferred"):
            return None
        if self._not_this_type(tracker):
            return NOT_THIS_TYPE
        text = text_of(tracker)
        if is_payload(text) or intent_of(tracker) in ("affirm", "deny") or not_an_answer(tracker):
            return None
        try:
            proposal = await backend(tracker).classify_fault(text, language(tracker))
        except BackendError:
            return None
        if settled(proposal) and proposal.get("source") == "keywords" and (
                proposal["category"], proposal["subcategory"]) != (
                tracker.get_slot("fault_category"), tracker.get_slot("fault_subcategory")):
            return {"fault_category": proposal["category"], "fault_subcategory": proposal["subcategory"]}
        return None

    async def extract_fault_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Yes / no to the summary, or a change of any of its fields before sending: a button ("change the
        description / the type"), or words ("la description est fausse", "c'est plutôt un bruit", "it's the one at
        reception"). The changed field is asked again or set, then the summary is shown again."""
        if may_change_summary(tracker, "fault_confirm"):
            change = await self._summary_change(tracker, dispatcher)
            if change is not None:
                return {**change, "fault_confirm": None}
        return yes_no_answer(tracker, dispatcher, "fault_confirm")

    async def _summary_change(self, tracker: Tracker, dispatcher: CollectingDispatcher) -> Optional[Dict[Text, Any]]:
        wanted = summary_field(tracker)
        text = text_of(tracker)
        if wanted == "description":
            return {"fault_description": None, "fault_proposal": None}
        if wanted == "type":
            return {"fault_category": None, "fault_subcategory": None, "fault_proposal": {}}
        if not text or is_payload(text):
            return None
        client = backend(tracker)
        try:
            named = (await client.resolve_assets(text)).get("matches") or []
            if len(named) == 1 and named[0]["asset_number"] != tracker.get_slot("fault_asset"):
                return {"fault_asset": named[0]["asset_number"], "fault_asset_label": asset_label(named[0])}
            proposal = await client.classify_fault(text, language(tracker))  # only when no other device is named
        except BackendError:
            return None
        if proposal.get("category") and proposal.get("source") == "keywords":
            return {"fault_category": proposal["category"], "fault_subcategory": proposal.get("subcategory")}
        return None


class ActionAskFaultAsset(Action):
    def name(self) -> Text:
        return "action_ask_fault_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ended = await ask_asset(tracker, dispatcher, "utter_ask_fault_asset")
        return [*ended, *reset_events(domain, FORM)] if ended is not None else []


def describes_a_fault(proposal: Dict[str, Any]) -> bool:
    """The backend's classification says the words describe a fault: they name a symptom (one type, or the likeliest
    two), or the knowledge base recognises one with confidence."""
    names_a_symptom = proposal.get("source") == "keywords" and bool(proposal.get("category") or likeliest(proposal))
    return names_a_symptom or bool(proposal.get("category") and proposal.get("confident"))


def settled(proposal: Dict[str, Any]) -> bool:
    """The words name one fault type and its sub-type with confidence: taken without asking."""
    return bool(proposal.get("confident") and proposal.get("category") and proposal.get("subcategory"))


def single_proposal(proposal: Dict[str, Any]) -> bool:
    """One fault type to propose with yes/no: a confident one, or a doubtful one with nothing to set beside it."""
    return bool(proposal.get("category")) and (bool(proposal.get("confident")) or len(likeliest(proposal)) < 2)


class ActionAskFaultCategory(Action):
    """The fault type: one proposal to confirm when the words say it clearly; the likeliest two as buttons plus
    "another type" when they hesitate; every type otherwise."""

    def name(self) -> Text:
        return "action_ask_fault_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        client, lang = backend(tracker), language(tracker)
        proposal = tracker.get_slot("fault_proposal") or {}
        try:
            if single_proposal(proposal):
                label = await fault_label(client, proposal["category"], proposal.get("subcategory"), lang)
                dispatcher.utter_message(response="utter_propose_fault", fault_label=label)
                return []
            options = likeliest(proposal)
            if options:
                buttons = await likeliest_buttons(options, "fault", lang,
                                                  lambda code, sub: fault_label(client, code, sub, lang))
                dispatcher.utter_message(response="utter_propose_fault_types", buttons=buttons)
                return []
            categories = await fault_categories(client)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        buttons = [
            {"title": c["label"][lang], "payload": f'/inform{{"fault_category":"{code}"}}'}
            for code, c in categories.items()
        ]
        dispatcher.utter_message(response="utter_ask_fault_category", buttons=buttons)
        return []


class ActionAskFaultSubcategory(Action):
    def name(self) -> Text:
        return "action_ask_fault_subcategory"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang, category = language(tracker), tracker.get_slot("fault_category")
        try:
            cat = (await fault_categories(backend(tracker)))[category]
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        buttons = [
            {"title": s["label"][lang], "payload": f'/inform{{"fault_subcategory":"{s["code"]}"}}'}
            for s in cat["subcategories"]
        ]
        if tracker.get_slot("fault_type_inferred"):  # the category came from the words: say so, let it be changed
            dispatcher.utter_message(response="utter_fault_type_inferred", fault_label=cat["label"][lang])
            buttons.append({"title": ANOTHER_TYPE[lang], "payload": '/inform{"fault_change":"type"}'})
        dispatcher.utter_message(response="utter_ask_fault_subcategory", category_label=cat["label"][lang],
                                 buttons=buttons)
        return []


class ActionAskKbFeedback(Action):
    def name(self) -> Text:
        return "action_ask_kb_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        inferred = bool(tracker.get_slot("fault_type_inferred"))
        if inferred:
            try:
                label = await chosen_fault_label(tracker)
            except BackendError as error:
                report_backend_error(dispatcher, error)
                return []
            dispatcher.utter_message(response="utter_fault_type_inferred", fault_label=label)
        dispatcher.utter_message(response="utter_kb_articles_intro")
        utter_articles(dispatcher, tracker.get_slot("kb_articles") or [])
        dispatcher.utter_message(response="utter_ask_kb_feedback_inferred" if inferred else "utter_ask_kb_feedback")
        return []


class ActionAskFaultConfirm(Action):
    def name(self) -> Text:
        return "action_ask_fault_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("kb_feedback") == "none_shown" and not tracker.get_slot("kb_articles"):
            dispatcher.utter_message(response="utter_no_articles_found")
        try:
            label = await chosen_fault_label(tracker)
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        dispatcher.utter_message(response="utter_ask_fault_confirm", asset_label=tracker.get_slot("fault_asset_label"),
                                 fault_label=label, description=escape_markdown(tracker.get_slot("fault_description")))
        return []


class ActionSubmitFaultReport(SubmitAction):
    """Creates the case (or records the deflection). Writes carry the report's idempotency key, so the
    retry offered after a failure can never create a second case."""

    action_name = "action_submit_fault_report"
    form = FORM
    extra_slots = EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        client, lang = backend(tracker), language(tracker)
        articles = [a["number"] for a in slot("kb_articles") or []]
        feedback = slot("kb_feedback")
        if feedback == "yes":
            await client.record_deflection(
                {"asset": slot("fault_asset"), "category": slot("fault_category"),
                 "subcategory": slot("fault_subcategory"), "description": slot("fault_description") or "",
                 "kb_articles_shown": articles, "channel": channel_code(tracker)},
                idempotency_key=key,
            )
            dispatcher.utter_message(response="utter_glad_resolved")
        elif slot("fault_confirm") is True:
            # Labels first: once the case exists, nothing may fail and make it look unsubmitted.
            label = await fault_label(client, slot("fault_category"), slot("fault_subcategory"), lang)
            case = await client.create_case(
                {"category": slot("fault_category"), "subcategory": slot("fault_subcategory"),
                 "asset": slot("fault_asset"), "description": slot("fault_description"),
                 "channel": channel_code(tracker), "kb_articles_shown": articles, "kb_feedback": feedback,
                 "transcript": transcript(tracker)},
                idempotency_key=key,
            )
            dispatcher.utter_message(response="utter_case_created", case_number=case["number"],
                                     fault_label=label, asset_label=slot("fault_asset_label"))
        elif slot("fault_confirm") is False:
            dispatcher.utter_message(response="utter_case_not_submitted")
        return []
