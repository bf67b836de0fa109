"""Orders: the consumables order form (device, eMaintenance refusal, consumables as buttons, quantity within
the limit, "another item?" loop, delivery address, contact, price and confirmation, the order), the order
enquiry form, the training request form and the last orders of a device — against a fake portal mirroring
the backend (tests/actions/fakes_orders.py): each validator's good and bad input, portal down / refused,
the exact payloads (with Idempotency-Key), French and English texts."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Dict, List

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import asset_label
from actions.orders import (
    CONSUMABLES_EXTRA,
    ENQUIRY_EXTRA,
    TRAINING_EXTRA,
    ActionAskOrderAsset,
    ActionAskOrderConfirm,
    ActionAskOrderEnquiryConfirm,
    ActionAskOrderEnquiryKind,
    ActionAskOrderEnquiryNumber,
    ActionAskOrderItem,
    ActionAskOrderMore,
    ActionAskOrderQuantity,
    ActionAskOrderTrainingAsset,
    ActionAskOrderTrainingConfirm,
    ActionViewOrders,
    ActionSubmitOrder,
    ActionSubmitOrderEnquiry,
    ActionSubmitOrderTraining,
    AddressError,
    DateError,
    ValidateOrderConsumablesForm,
    ValidateOrderEnquiryForm,
    ValidateOrderTrainingForm,
    day_text,
    match_items,
    money,
    parse_address,
    parse_count,
    parse_date,
    parse_person,
    read_items,
    summary_question,
)
from actions.roles import ROLE_GUARDS
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import (
    run, message, assert_switch_request_forgotten, opening_tracker, ASSET_C5030, ASSET_C5560, ASSET_C5560B, STARTS,
    FakePortal, responses, slot_values,
)
from fakes_orders import OrdersBackend, install

pytestmark = pytest.mark.asyncio

CONSUMABLES = "order_consumables_form"
ENQUIRY = "order_enquiry_form"
TRAINING = "order_training_form"
LABEL_C5030 = asset_label(ASSET_C5030)
LABEL_C5560 = asset_label(ASSET_C5560)
SHIP_TO = {"account_name": "CANON UK LTD", "street": "4 Roundwood Avenue", "city": "Uxbridge",
           "postcode": "UB11 1AF", "country": "Royaume-Uni"}
REASON_FR = ("L'appareil 80145861 est sous eMaintenance : ses consommables sont envoyés automatiquement et ne se "
             "commandent pas sur le portail.")


@pytest.fixture
def orders(portal: FakePortal) -> OrdersBackend:
    return install(portal)






def next_slot(domain: Dict[str, Any], form: str, tracker: Any, events: List[Dict[str, Any]]) -> Any:
    """The slot the form asks next: the validation action's choice when it makes one (required_slots
    overridden), else Rasa's (the first required slot still empty)."""
    slots = slot_values(events)
    if "requested_slot" in slots:
        return slots["requested_slot"]
    values = {**tracker.slots, **slots}
    return next((s for s in domain["forms"][form]["required_slots"] if values.get(s) is None), None)


def catalogue_c5030(portal_orders: OrdersBackend) -> List[Dict[str, Any]]:
    keep = ("part_number", "description", "category", "unit_price", "currency", "max_quantity", "covered_by_contract")
    return [{k: c[k] for k in keep} for c in portal_orders._catalogue(ASSET_C5030)]


def line(part: str, description: str, quantity: int) -> Dict[str, Any]:
    return {"part_number": part, "description": description, "quantity": quantity}


@pytest.fixture
def chosen(orders: OrdersBackend) -> Dict[str, Any]:
    """The consumables form once the device (the C5030i, not covered by its contract) is chosen."""
    return {"order_asset": "53463252", "order_asset_label": LABEL_C5030, "order_catalogue": catalogue_c5030(orders),
            "order_ship_to": SHIP_TO, "order_lines": []}


# --- parsers -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("2", 2), ("2 svp", 2), ("deux", 2), ("two", 2), ("x3", 3), ("trois cartouches", 3), ("twenty five", 25),
    ("vingt-cinq", 25), ("un seul", 1), ("four please", 4), ("2 ou 3", None), ("beaucoup", None), ("", None),
])
async def test_parse_count(text, value):
    assert parse_count(text) == value


async def test_parse_count_prefers_the_entity():
    assert parse_count("/inform", "3") == 3
    assert parse_count("", "deux") == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("15/01/2027", date(2027, 1, 15)), ("2027-01-15", date(2027, 1, 15)), ("15.01.27", date(2027, 1, 15)),
    ("le 15 janvier 2027", date(2027, 1, 15)), ("January 15, 2027", date(2027, 1, 15)),
    ("15th of January 2027", date(2027, 1, 15)), ("le 1er février", date(2027, 2, 1)), ("Feb 1", date(2027, 2, 1)),
    ("le 30 décembre", date(2026, 12, 30)), ("dans deux semaines", None), ("rien", None),
])
async def test_parse_date(text, expected):
    assert parse_date(text, today=date(2026, 11, 28)) == expected


async def test_parse_date_impossible_day():
    with pytest.raises(DateError):
        parse_date("31/02/2027", today=date(2026, 11, 28))


@pytest.mark.parametrize(("text", "expected"), [
    ("Service courrier, 12 rue des Presses, 69002 Lyon, France",
     {"recipient": "Service courrier", "street": "12 rue des Presses", "city": "Lyon", "postcode": "69002",
      "country": "France"}),
    ("4 Roundwood Avenue, Uxbridge UB11 1AF, United Kingdom",
     {"recipient": "", "street": "4 Roundwood Avenue", "city": "Uxbridge", "postcode": "UB11 1AF",
      "country": "United Kingdom"}),
    ("Jane Doe, Reception, 1 High Street, Uxbridge, UB8 1JX, UK",
     {"recipient": "Jane Doe, Reception", "street": "1 High Street", "city": "Uxbridge", "postcode": "UB8 1JX",
      "country": "UK"}),
    ("12 rue des Presses, 69002, Lyon, France",
     {"recipient": "", "street": "12 rue des Presses", "city": "Lyon", "postcode": "69002", "country": "France"}),
])
async def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(("text", "code"), [
    ("12 rue des Presses, 69002 Lyon", "format"),  # two parts only
    ("Service courrier, 12 rue des Presses, 69002 Lyon", "country"),
    ("12 rue des Presses, Lyon, France", "postcode"),
    ("12 rue des Presses, 69002, France", "street"),
    ("x" * 210 + ", 12 rue des Presses, 69002 Lyon, France", "too_long"),
])
async def test_parse_address_names_what_is_missing(text, code):
    with pytest.raises(AddressError) as raised:
        parse_address(text)
    assert raised.value.code == code


@pytest.mark.parametrize(("text", "person", "problem"), [
    ("Jane Facilities, jane.facilities@example.com", {"full_name": "Jane Facilities",
                                                      "email": "jane.facilities@example.com"}, None),
    ("c'est Paul Martin paul.martin@canon.fr", {"full_name": "Paul Martin", "email": "paul.martin@canon.fr"}, None),
    ("Jane Facilities", {"full_name": "Jane Facilities"}, None),
    ("Jane, jane@", None, "email"),
    ("jane@example.com", None, "name"),
    ("R2D2", None, "name"),
])
async def test_parse_person(text, person, problem):
    assert parse_person(text) == (person, problem)


async def test_match_items(orders):
    catalogue = catalogue_c5030(orders)
    parts = lambda text: [c["part_number"] for c in match_items(text, catalogue)]  # noqa: E731
    assert parts("le toner noir svp") == ["2790B002"]
    assert parts("black toner") == ["2790B002"]
    assert parts("fm3 5945 010") == ["FM3-5945-010"]
    assert parts("les agrafes") == ["0250A013"]
    assert parts("bac de récupération") == ["FM3-5945-010"]
    assert parts("tambour couleur") == ["2779B003"]
    assert len(parts("toner")) > 1  # ambiguous
    assert parts("du papier A4") == []


async def test_money_and_dates_per_language():
    assert money("1234.5", "GBP", "fr") == "1 234,50 £"
    assert money("1234.5", "GBP", "en") == "£1,234.50"
    assert money("0", "EUR", "fr") == "0,00 €"
    assert day_text("2026-10-22T09:00:00Z", "fr") == "22/10/2026"
    assert day_text("2026-10-22T09:00:00+00:00", "en") == "22 Oct 2026"


async def test_both_roles_may_order():
    # the seed's role table: "Passer des commandes de consommables ou de formation" for both roles
    assert not {"order_consumables", "order_enquiry", "order_training", "view_orders"} & set(ROLE_GUARDS)


async def test_every_orders_response_exists_in_french_and_english(domain):
    names = [n for n in domain["responses"] if n.startswith(("utter_order_", "utter_ask_order_"))]
    assert len(names) > 40
    for name in names:
        variants = domain["responses"][name]
        english = [v for v in variants if v.get("condition") == [{"type": "slot", "name": "language", "value": "en"}]]
        french = [v for v in variants if not v.get("condition")]
        assert len(english) == 1 and len(french) == 1, name
        assert english[0]["text"] != french[0]["text"], name


# --- consumables: the device --------------------------------------------------------------------------------------
async def test_opening_single_device_is_selected_with_its_catalogue_and_address(portal, orders, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("I'd like to order toner", intent="order_consumables", active_loop=CONSUMABLES)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_asset"] == "53463252"
    assert slots["order_asset_label"] == LABEL_C5030
    assert [c["part_number"] for c in slots["order_catalogue"]][:2] == ["2790B002", "2794B002"]
    assert slots["order_ship_to"] == SHIP_TO
    assert slots["order_lines"] == []
    assert slots["requested_slot"] == "order_item"
    assert "order_more" not in slots  # no particular item named: "anything else?" will be asked
    assert responses(dispatcher) == ["utter_asset_selected"]
    assert portal.calls("GET", "/assets/53463252/consumables") and portal.calls("GET", "/assets/53463252")


async def test_opening_several_devices_none_named_asks_which(portal, orders, make_tracker, domain):
    tracker = make_tracker("je voudrais commander du toner", intent="order_consumables", active_loop=CONSUMABLES)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert slot_values(events) == {"requested_slot": "order_asset", "order_request_words": {
        "text": "je voudrais commander du toner", "entities": []}}  # read once the device's catalogue is known
    assert dispatcher.messages == []


async def test_opening_item_and_quantity_are_taken_with_the_only_device(portal, orders, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("I need 2 black toners please", intent="order_consumables", active_loop=CONSUMABLES,
                           entities=[("quantity", "2")])
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_item"], slots["order_quantity"]) == ("2790B002", 2)
    assert slots["order_lines"] == [{"part_number": "2790B002", "description": "C-EXV29 Toner Black", "quantity": 2}]
    assert slots["order_more"] is False  # the first message said what is wanted: "anything else?" is not asked
    assert slots["requested_slot"] == "order_confirm"  # nor the item, the quantity, the delivery or the contact


async def test_the_request_words_wait_for_the_device_question(portal, orders, make_tracker, domain):
    opening = make_tracker("3 toners cyan svp", intent="order_consumables", active_loop=CONSUMABLES,
                           entities=[("quantity", "3")])
    _, events = await run(ValidateOrderConsumablesForm(), opening, domain)
    words = slot_values(events)["order_request_words"]
    answer = make_tracker("la GNM75498", intent="inform", entities=[("asset_ref", "GNM75498")],
                          active_loop=CONSUMABLES, requested_slot="order_asset", slots={"order_request_words": words})
    _, events = await run(ValidateOrderConsumablesForm(), answer, domain)
    slots = slot_values(events)
    assert (slots["order_asset"], slots["order_item"], slots["order_quantity"]) == ("53463252", "2794B002", 3)
    assert slots["order_request_words"] is None


@pytest.mark.parametrize("text, entities, item, quantity", [
    ("du toner stp", [], None, None),                             # which toner? asked
    ("5 toners noirs", [("quantity", "5")], "2790B002", None),   # above the limit of 4: the quantity is asked
])
async def test_request_words_fill_only_what_they_say_clearly(portal, orders, make_tracker, domain, text, entities,
                                                             item, quantity):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker(text, intent="order_consumables", active_loop=CONSUMABLES, entities=entities)
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots.get("order_item") == item and slots.get("order_quantity") == quantity


async def test_opening_emaintenance_device_is_refused_with_the_portal_reason(portal, orders, make_tracker, domain):
    tracker = make_tracker("j'ai besoin de toner noir pour la 80145861", intent="order_consumables",
                           entities=[("asset_ref", "80145861")], active_loop=CONSUMABLES)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_asset"] == "80145861"
    assert slots["order_refusal"] == REASON_FR
    assert slots["requested_slot"] is None  # the form ends: nothing else is asked
    assert message(dispatcher, "utter_order_refused")["reason"] == REASON_FR
    assert not [r for r in portal.requests if r["method"] == "POST" and r["path"] != "/assets/resolve"]


async def test_emaintenance_device_picked_is_refused_in_english(portal, orders, make_tracker, domain):
    tracker = make_tracker('/inform{"asset_ref":"80145861"}', entities=[("asset_ref", "80145861")],
                           requested_slot="order_asset", active_loop=CONSUMABLES, slots={"language": "en"})
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert message(dispatcher, "utter_order_refused")["reason"].startswith("Device 80145861 is under eMaintenance")
    assert slot_values(events)["requested_slot"] is None
    assert portal.calls("GET", "/assets/80145861/consumables")[0]["headers"]["accept-language"] == "en"


async def test_submit_after_a_refusal_writes_nothing_and_forgets_the_form(portal, orders, make_tracker, domain):
    tracker = make_tracker(slots={"order_asset": "80145861", "order_refusal": REASON_FR}, active_loop=None)
    dispatcher, events = await run(ActionSubmitOrder(), tracker, domain)
    assert dispatcher.messages == []  # the reason was already given
    assert not portal.calls("POST", "/orders")
    slots = slot_values(events)
    assert slots["order_asset"] is None and slots["order_refusal"] is None


async def test_device_portal_down_asks_again(portal, orders, make_tracker, domain):
    portal.fail("down", "GET", "/assets/53463252/consumables")
    tracker = make_tracker("53463252", entities=[("asset_ref", "53463252")], requested_slot="order_asset",
                           active_loop=CONSUMABLES)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert "utter_backend_unavailable" in responses(dispatcher)
    slots = slot_values(events)
    assert slots["order_asset"] is None and slots["requested_slot"] == "order_asset"


async def test_unknown_device(portal, orders, make_tracker, domain):
    tracker = make_tracker("XYZ99999", requested_slot="order_asset", active_loop=CONSUMABLES)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "XYZ99999"
    assert slot_values(events)["order_asset"] is None


async def test_ask_asset_lists_the_devices(portal, orders, make_tracker, domain):
    dispatcher, events = await run(ActionAskOrderAsset(), make_tracker(requested_slot="order_asset",
                                                                       active_loop=CONSUMABLES), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_asset"
    assert msg["buttons"][1] == {"title": LABEL_C5030, "payload": '/inform{"asset_ref":"53463252"}'}
    assert events == []


# --- consumables: the item ------------------------------------------------------------------------------------------
async def test_ask_item_buttons_show_description_part_number_and_price(portal, orders, make_tracker, domain, chosen):
    tracker = make_tracker(requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, _ = await run(ActionAskOrderItem(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_item"
    assert msg["asset_label"] == LABEL_C5030
    assert len(msg["buttons"]) == 8
    assert msg["buttons"][0] == {"title": "C-EXV29 Toner Black (2790B002) — 89,50 £",
                                 "payload": '/inform{"order_part":"2790B002"}'}


async def test_ask_item_marks_contract_coverage_and_leaves_out_the_lines_taken(portal, orders, make_tracker, domain):
    catalogue = [{k: c[k] for k in ("part_number", "description", "category", "unit_price", "currency",
                                    "max_quantity", "covered_by_contract")} for c in orders._catalogue(ASSET_C5560)]
    tracker = make_tracker(requested_slot="order_item", active_loop=CONSUMABLES, slots={
        "language": "en", "order_asset": "77996101", "order_catalogue": catalogue,
        "order_lines": [line("0481C002", "C-EXV51 Toner Black", 2)]})
    dispatcher, _ = await run(ActionAskOrderItem(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_next_item"
    titles = [b["title"] for b in msg["buttons"]]
    assert not any("0481C002" in t for t in titles)
    assert titles[0] == "C-EXV51 Toner Cyan (0482C002) — £159.00 — covered by your contract"
    assert titles[-1] == "Staple Cartridge-X1 (1725B001) — £54.00"


@pytest.mark.parametrize(("text", "entities", "part"), [
    ('/inform{"order_part":"2790B002"}', [("order_part", "2790B002")], "2790B002"),
    ("le toner noir", [], "2790B002"),
    ("2794b002", [], "2794B002"),
    ("the staples", [], "0250A013"),
])
async def test_item_chosen(portal, orders, make_tracker, domain, chosen, text, entities, part):
    tracker = make_tracker(text, entities=entities, requested_slot="order_item", active_loop=CONSUMABLES,
                           slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_item"] == part
    assert slots["requested_slot"] == "order_quantity"
    assert dispatcher.messages == []


async def test_item_ambiguous(portal, orders, make_tracker, domain, chosen):
    tracker = make_tracker("du toner", requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert "C-EXV29 Toner Black (2790B002)" in message(dispatcher, "utter_order_item_ambiguous")["choices"]
    assert slot_values(events)["order_item"] is None


async def test_item_unknown(portal, orders, make_tracker, domain, chosen):
    tracker = make_tracker("du papier A4", requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_order_item_unknown"]
    assert slot_values(events)["order_item"] is None


async def test_item_of_another_model_is_unknown(portal, orders, make_tracker, domain, chosen):
    tracker = make_tracker('/inform{"order_part":"0481C002"}', entities=[("order_part", "0481C002")],
                           requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_order_item_unknown"]


async def test_item_already_in_the_order(portal, orders, make_tracker, domain, chosen):
    chosen["order_lines"] = [line("2790B002", "C-EXV29 Toner Black", 2)]
    tracker = make_tracker("toner noir", requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    msg = message(dispatcher, "utter_order_item_already")
    assert (msg["item"], msg["quantity"]) == ("C-EXV29 Toner Black (2790B002)", 2)
    assert slot_values(events)["order_item"] is None


@pytest.mark.parametrize("intent", ["help", "cancel", "greet", "case_status"])
async def test_item_digression_extracts_nothing(portal, orders, make_tracker, domain, chosen, intent):
    tracker = make_tracker("aide", intent=intent, requested_slot="order_item", active_loop=CONSUMABLES,
                           slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert "order_item" not in slot_values(events)
    assert dispatcher.messages == []


async def test_another_request_inside_the_order_is_left_to_the_switch_offer(portal, orders, make_tracker, domain,
                                                                            chosen):
    tracker = make_tracker("je veux signaler une panne", intent="report_fault", requested_slot="order_item",
                           active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    # nothing extracted (the pending question is only repeated), so Rasa rejects the form and
    # data/rules/switching.yml offers to switch
    assert slot_values(events) == {"requested_slot": "order_item"} and dispatcher.messages == []


# --- consumables: the quantity and the "another item?" loop ----------------------------------------------------------
@pytest.mark.parametrize(("text", "entities", "quantity"), [
    ('/inform{"quantity":"2"}', [("quantity", "2")], 2), ("deux", [], 2), ("two please", [], 2),
    ("3", [], 3), ("le maximum", [], 4),
])
async def test_quantity_adds_the_line(portal, orders, make_tracker, domain, chosen, text, entities, quantity):
    chosen["order_item"] = "2790B002"
    tracker = make_tracker(text, entities=entities, requested_slot="order_quantity", active_loop=CONSUMABLES,
                           slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_quantity"] == quantity
    assert slots["order_lines"] == [line("2790B002", "C-EXV29 Toner Black", quantity)]
    assert slots["requested_slot"] == "order_more"
    assert dispatcher.messages == []


async def test_quantity_above_the_limit_names_it_and_offers_the_maximum(portal, orders, make_tracker, domain, chosen):
    chosen["order_item"] = "2778B003"  # drum unit: at most 2
    tracker = make_tracker('/inform{"quantity":"9"}', entities=[("quantity", "9")], requested_slot="order_quantity",
                           active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_quantity"] is None and slots["requested_slot"] == "order_quantity"
    assert slots["order_lines"] == [] and slots["order_quantity_refused"] == {"2778B003": 9}
    assert dispatcher.messages == []  # the question says it, once
    chosen.update(order_quantity_refused={"2778B003": 9})
    dispatcher, _ = await run(ActionAskOrderQuantity(), make_tracker(requested_slot="order_quantity", slots=chosen),
                              domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_order_quantity_above_max"
    assert (msg["quantity"], msg["max_quantity"], msg["item"]) == (9, 2, "C-EXV29 Drum Unit Black (2778B003)")
    assert msg["buttons"] == [{"title": "Commander 2", "payload": '/inform{"quantity":"2"}'}]


@pytest.mark.parametrize("text", ["5", "cinq", "non 5 j'ai dit"])
async def test_a_quantity_above_the_limit_asked_again_takes_the_limit_and_says_so(portal, orders, make_tracker, domain,
                                                                                  chosen, text):
    """Told the limit, the user asks above it again: no third time — the limit goes in this order, and the message
    says how to get the rest."""
    chosen.update(order_item="2790B002", order_quantity_refused={"2790B002": 5})  # black toner: at most 4
    tracker = make_tracker(text, requested_slot="order_quantity", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == [line("2790B002", "C-EXV29 Toner Black", 4)]
    assert slots["order_quantity"] == 4 and slots["order_quantity_refused"] is None
    (msg,) = dispatcher.messages
    assert (msg["response"], msg["quantity"], msg["max_quantity"]) == ("utter_order_quantity_capped", 5, 4)


async def test_a_first_quantity_above_the_limit_is_never_capped_silently(portal, orders, make_tracker, domain, chosen):
    chosen.update(order_item="2790B002")
    tracker = make_tracker("5", requested_slot="order_quantity", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == [] and slots["order_quantity_refused"] == {"2790B002": 5}


@pytest.mark.parametrize(("text", "intent", "entities", "lang", "title"), [
    ('/inform{"quantity":"2"}', "inform", [("quantity", "2")], "fr", "Commander 2"),  # the button
    ("oui", "affirm", [], "fr", "Commander 2"),
    ("yes please", "affirm", [], "en", "Order 2"),
])
async def test_quantity_above_the_limit_then_the_maximum_accepted(portal, orders, make_tracker, domain, chosen, text,
                                                                  intent, entities, lang, title):
    chosen.update(order_item="2778B003", order_quantity_refused={"2778B003": 9}, language=lang)
    dispatcher, _ = await run(ActionAskOrderQuantity(), make_tracker(requested_slot="order_quantity", slots=chosen),
                              domain)
    assert dispatcher.messages[0]["buttons"][0]["title"] == title
    tracker = make_tracker(text, intent=intent, entities=entities, requested_slot="order_quantity",
                           active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == [line("2778B003", "C-EXV29 Drum Unit Black", 2)]
    assert slots["order_quantity_refused"] is None and slots["requested_slot"] == "order_more"
    assert dispatcher.messages == []


@pytest.mark.parametrize(("text", "quantity"), [("10 boîtes", 10), ("3 boxes", 3), ("2 cartons svp", 2)])
async def test_quantity_typed_with_its_unit(portal, orders, make_tracker, domain, chosen, text, quantity):
    chosen["order_item"] = "2790B002"  # toner: at most 4
    tracker = make_tracker(text, intent="nlu_fallback", requested_slot="order_quantity", active_loop=CONSUMABLES,
                           slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    if quantity <= 4:
        assert slots["order_lines"] == [line("2790B002", "C-EXV29 Toner Black", quantity)]
    else:
        assert slots["order_lines"] == [] and slots["order_quantity_refused"] == {"2790B002": quantity}
        assert slots["requested_slot"] == "order_quantity"
    assert dispatcher.messages == []


@pytest.mark.parametrize("text", ["0", "beaucoup", "2 ou 3", "-1"])
async def test_quantity_not_a_valid_number(portal, orders, make_tracker, domain, chosen, text):
    chosen["order_item"] = "2790B002"
    tracker = make_tracker(text, requested_slot="order_quantity", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert message(dispatcher, "utter_order_quantity_invalid")["max_quantity"] == 4
    assert slot_values(events)["order_quantity"] is None


async def test_ask_quantity_offers_one_button_per_allowed_quantity(portal, orders, make_tracker, domain, chosen):
    chosen["order_item"] = "FM3-5945-010"
    tracker = make_tracker(requested_slot="order_quantity", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, _ = await run(ActionAskOrderQuantity(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["item"], msg["max_quantity"]) == ("Waste Toner Container (FM3-5945-010)", 3)
    assert [b["payload"] for b in msg["buttons"]] == [f'/inform{{"quantity":"{n}"}}' for n in (1, 2, 3)]


async def test_another_item_yes_asks_the_next_consumable(portal, orders, make_tracker, domain, chosen):
    chosen.update(order_item="2790B002", order_quantity=2, order_lines=[line("2790B002", "C-EXV29 Toner Black", 2)])
    tracker = make_tracker("oui", intent="affirm", requested_slot="order_more", active_loop=CONSUMABLES,
                           slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_more"], slots["order_item"], slots["order_quantity"]) == (None, None, None)
    assert slots["requested_slot"] == "order_item"


async def test_another_item_no_goes_on_to_the_delivery(portal, orders, make_tracker, domain, chosen):
    chosen.update(order_item="2790B002", order_quantity=2, order_lines=[line("2790B002", "C-EXV29 Toner Black", 2)])
    tracker = make_tracker("non", intent="deny", requested_slot="order_more", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_more"] is False and slots["requested_slot"] == "order_confirm"  # delivery, contact: defaults


async def test_another_item_unclear(portal, orders, make_tracker, domain, chosen):
    chosen.update(order_item="2790B002", order_quantity=2, order_lines=[line("2790B002", "C-EXV29 Toner Black", 2)])
    tracker = make_tracker("peut-être", requested_slot="order_more", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_answer_yes_no"]
    assert slot_values(events)["order_more"] is None


async def test_nothing_left_to_add_skips_the_question(portal, orders, make_tracker, domain, chosen):
    chosen["order_catalogue"] = chosen["order_catalogue"][:2]
    chosen.update(order_item="2794B002", order_lines=[line("2790B002", "C-EXV29 Toner Black", 1)])
    tracker = make_tracker("1", requested_slot="order_quantity", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_more"] is False and slots["requested_slot"] == "order_confirm"


async def test_ask_more_lists_the_lines(portal, orders, make_tracker, domain, chosen):
    chosen["order_lines"] = [line("2790B002", "C-EXV29 Toner Black", 2), line("0250A013", "Cartridge-D3-NONE-", 1)]
    dispatcher, _ = await run(ActionAskOrderMore(), make_tracker(requested_slot="order_more", slots=chosen), domain)
    assert dispatcher.messages[0]["lines"] == ("• 2 × C-EXV29 Toner Black (2790B002)\n"
                                               "• 1 × Cartridge-D3-NONE- (0250A013)")


# --- consumables: several lines in one message ----------------------------------------------------------------------
BLACK, CYAN, MAGENTA, YELLOW = (line("2790B002", "C-EXV29 Toner Black", 0), line("2794B002", "C-EXV29 Toner Cyan", 0),
                                line("2798B002", "C-EXV29 Toner Magenta", 0), line("2802B002", "C-EXV29 Toner Yellow", 0))


def lines_of(*pairs) -> List[Dict[str, Any]]:
    return [{**template, "quantity": quantity} for template, quantity in pairs]


@pytest.mark.parametrize(("text", "expected"), [
    ("2 noirs, 1 cyan", [("2790B002", 2), ("2794B002", 1)]),
    ("one magenta and one yellow", [("2798B002", 1), ("2802B002", 1)]),
    ("2 black and a cyan", [("2790B002", 2), ("2794B002", 1)]),
    ("deux toners noirs et un jaune", [("2790B002", 2), ("2802B002", 1)]),
    ("3 boîtes de toner noir", [("2790B002", 3)]),
    ("un bac de récupération et 2 agrafes", [("FM3-5945-010", 1), ("0250A013", 2)]),
    ("one waste toner container, two staples", [("FM3-5945-010", 1), ("0250A013", 2)]),
    ("un tambour couleur", [("2779B003", 1)]),
    ("2x 2794B002", [("2794B002", 2)]),
    ("cyan et magenta", [("2794B002", None), ("2798B002", None)]),
])
async def test_read_items(orders, text, expected):
    named = read_items(text, catalogue_c5030(orders))
    assert [(item["part_number"], quantity) for item, quantity in named.lines] == expected
    assert not named.unknown and not named.ambiguous


async def test_read_items_each_unknown_and_ambiguous(orders):
    catalogue = catalogue_c5030(orders)
    assert read_items("cyan et magenta, un de chaque", catalogue).each == 1
    assert read_items("2 of each", catalogue).each == 2 and not read_items("2 of each", catalogue).names_items
    assert len(read_items("du toner", catalogue).ambiguous) == 4
    assert read_items("un tambour", catalogue).ambiguous  # black or colour drum
    assert read_items("un tambour cyan", catalogue).lines[0][0]["part_number"] == "2779B003"  # the colour drum
    assert not read_items("10 boîtes", catalogue).names_items  # a unit, not a consumable
    assert not read_items("pour la GNM75498 svp", catalogue).names_items
    c5560 = [{k: c[k] for k in ("part_number", "description", "category", "max_quantity")}
             for c in orders._catalogue(ASSET_C5560)]
    assert read_items("des agrafes", c5560).lines[0][0]["part_number"] == "1725B001"


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("2 noirs, 1 cyan", "fr", [(BLACK, 2), (CYAN, 1)]),
    ("deux toners noirs et un jaune", "fr", [(BLACK, 2), (YELLOW, 1)]),
    ("one magenta and one yellow", "en", [(MAGENTA, 1), (YELLOW, 1)]),
    ("2 black and a cyan", "en", [(BLACK, 2), (CYAN, 1)]),
])
async def test_several_lines_answered_to_the_item_question(portal, orders, make_tracker, domain, chosen, text, lang,
                                                           expected):
    chosen["language"] = lang
    tracker = make_tracker(text, intent="order_consumables", requested_slot="order_item", active_loop=CONSUMABLES,
                           slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == lines_of(*expected)
    assert slots["requested_slot"] == "order_more"  # neither quantity is asked
    assert dispatcher.messages == []


@pytest.mark.parametrize(("answer", "lang"), [("un de chaque", "fr"), ("one of each", "en"),
                                              ('/inform{"quantity":"1"}', "en")])
async def test_each_answered_to_the_quantity_of_two_items_named_together(portal, orders, make_tracker, domain, chosen,
                                                                          answer, lang):
    chosen["language"] = lang
    item = make_tracker("cyan et magenta" if lang == "fr" else "cyan and magenta", requested_slot="order_item",
                        active_loop=CONSUMABLES, slots=chosen)
    _, events = await run(ValidateOrderConsumablesForm(), item, domain)
    slots = slot_values(events)
    assert (slots["order_item"], slots["requested_slot"]) == ("2794B002,2798B002", "order_quantity")
    chosen.update(slots)
    dispatcher, _ = await run(ActionAskOrderQuantity(), make_tracker(requested_slot="order_quantity", slots=chosen),
                              domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_quantities"
    assert msg["items"] == "• C-EXV29 Toner Cyan (2794B002) (1 – 4)\n• C-EXV29 Toner Magenta (2798B002) (1 – 4)"
    assert msg["buttons"][0] == {"title": "1 de chaque" if lang == "fr" else "1 of each",
                                 "payload": '/inform{"quantity":"1"}'}
    entities = [("quantity", "1")] if answer.startswith("/") else []
    quantity = make_tracker(answer, entities=entities, requested_slot="order_quantity", active_loop=CONSUMABLES,
                            slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), quantity, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == lines_of((CYAN, 1), (MAGENTA, 1))
    assert slots["requested_slot"] == "order_more" and dispatcher.messages == []


async def test_quantities_given_per_item_to_the_quantity_question(portal, orders, make_tracker, domain, chosen):
    chosen["order_item"] = "2794B002,2798B002"
    tracker = make_tracker("2 cyan et 1 magenta", requested_slot="order_quantity", active_loop=CONSUMABLES,
                           slots=chosen)
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert slot_values(events)["order_lines"] == lines_of((CYAN, 2), (MAGENTA, 1))


@pytest.mark.parametrize(("text", "response"), [
    ("2 noirs et 1 tambour", "utter_order_item_ambiguous"),   # which drum?
    ("2 noirs et 1 rose fluo", "utter_order_item_unknown"),   # no pink toner
    ("0 noir et 1 cyan", "utter_order_quantity_invalid"),
])
async def test_several_lines_with_one_bad_write_nothing(portal, orders, make_tracker, domain, chosen, text, response):
    chosen["order_catalogue"] = [c for c in chosen["order_catalogue"] if c["part_number"] != "2798B002"]
    tracker = make_tracker(text, requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert responses(dispatcher) == [response]
    slots = slot_values(events)
    assert "order_lines" not in slots and slots["order_item"] is None and slots["requested_slot"] == "order_item"


async def test_one_line_above_its_limit_waits_for_its_quantity_the_others_are_added(portal, orders, make_tracker,
                                                                                    domain, chosen):
    tracker = make_tracker("6 noirs et 1 cyan", requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == lines_of((CYAN, 1))
    assert (slots["order_item"], slots["order_quantity_refused"]) == ("2790B002", {"2790B002": 6})
    assert slots["requested_slot"] == "order_quantity"


# --- consumables: what the first message says ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("il me faut 2 toners noirs et un cyan pour la GNM75498", "fr", [(BLACK, 2), (CYAN, 1)]),
    ("I need one magenta and one yellow toner for GNM75498", "en", [(MAGENTA, 1), (YELLOW, 1)]),
])
async def test_opening_with_device_items_and_quantities_goes_straight_to_the_summary(portal, orders, make_tracker,
                                                                                     domain, text, lang, expected):
    tracker = make_tracker(text, intent="order_consumables", entities=[("asset_ref", "GNM75498")],
                           active_loop=CONSUMABLES, slots={"language": lang})
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_asset"] == "53463252" and slots["order_lines"] == lines_of(*expected)
    assert slots["order_more"] is False and slots["requested_slot"] == "order_confirm"
    assert responses(dispatcher) == ["utter_asset_selected"]


@pytest.mark.parametrize(("text", "lang"), [("du toner noir et du cyan svp", "fr"), ("black and cyan toner", "en")])
async def test_opening_items_without_quantities_asks_them_at_once_then_the_summary(portal, orders, make_tracker,
                                                                                   domain, text, lang):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker(text, intent="order_consumables", active_loop=CONSUMABLES, slots={"language": lang})
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_item"], slots["requested_slot"]) == ("2790B002,2794B002", "order_quantity")
    answer = make_tracker("2 of each" if lang == "en" else "2 de chaque", requested_slot="order_quantity",
                          active_loop=CONSUMABLES, slots={**slots, "language": lang})
    _, events = await run(ValidateOrderConsumablesForm(), answer, domain)
    slots = slot_values(events)
    assert slots["order_lines"] == lines_of((BLACK, 2), (CYAN, 2)) and slots["requested_slot"] == "order_confirm"


async def test_opening_quantity_above_the_limit_offers_it(portal, orders, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("I need 10 boxes of black toner", intent="order_consumables", active_loop=CONSUMABLES,
                           slots={"language": "en"})
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_item"], slots["order_quantity_refused"]) == ("2790B002", {"2790B002": 10})
    assert slots["requested_slot"] == "order_quantity" and responses(dispatcher) == ["utter_asset_selected"]
    dispatcher, _ = await run(ActionAskOrderQuantity(), make_tracker(requested_slot="order_quantity",
                                                                     slots={**slots, "language": "en"}), domain)
    assert responses(dispatcher) == ["utter_order_quantity_above_max"]
    assert dispatcher.messages[0]["buttons"] == [{"title": "Order 4", "payload": '/inform{"quantity":"4"}'}]


@pytest.mark.parametrize("started", STARTS)
@pytest.mark.parametrize(("text", "lang"), [("2 toners noirs et 1 jaune pour la GNM75498", "fr"),
                                            ("2 black and a yellow toner for GNM75498", "en")])
async def test_consumables_items_and_quantities_of_the_request_are_taken_however_the_form_started(
        portal, orders, make_tracker, domain, started, text, lang):
    tracker = await opening_tracker(make_tracker, domain, started, text, "order_consumables", CONSUMABLES,
                                    entities=[("asset_ref", "GNM75498")], slots={"language": lang})
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_asset"] == "53463252"
    assert slots["order_lines"] == lines_of((BLACK, 2), (YELLOW, 1))
    assert slots["requested_slot"] == "order_confirm"
    assert_switch_request_forgotten(events, started)


# --- consumables: the summary, and changing the delivery address, the contact or the items there ---------------------
@pytest.fixture
def lines_done(chosen) -> Dict[str, Any]:
    chosen.update(order_item="2790B002", order_quantity=2, order_more=False,
                  order_lines=[line("2790B002", "C-EXV29 Toner Black", 2)])
    return chosen


async def summary_answer(make_tracker, domain, slots, text, intent="inform", entities=()):
    tracker = make_tracker(text, intent=intent, entities=list(entities), requested_slot="order_confirm",
                           active_loop=CONSUMABLES, slots=slots)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    return dispatcher, slot_values(events)


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_summary_states_the_default_delivery_and_contact_and_offers_changes(portal, orders, make_tracker, domain,
                                                                                 lines_done, lang):
    lines_done["language"] = lang
    dispatcher, _ = await run(ActionAskOrderConfirm(), make_tracker(requested_slot="order_confirm", slots=lines_done),
                              domain)
    (msg,) = dispatcher.messages
    assert msg["delivery"] == "CANON UK LTD, 4 Roundwood Avenue, UB11 1AF Uxbridge, Royaume-Uni"
    assert msg["contact"] == "SNTestDM DemoPortal (sntestdm@canon-uk-demo.example)"
    (variant,) = [v for v in domain["responses"]["utter_ask_order_confirm"]
                  if bool(v.get("condition")) == (lang == "en")]
    payloads = [b["payload"] for b in variant["buttons"]]
    assert payloads == ["/affirm", '/inform{{"order_change":"delivery"}}', '/inform{{"order_change":"contact"}}',
                        '/inform{{"order_change":"item"}}', "/deny"]
    titles = [b["title"] for b in variant["buttons"]]
    assert titles[1:4] == (["Change the delivery address", "Change the contact", "Add an item"] if lang == "en" else
                           ["Changer l'adresse de livraison", "Changer le contact", "Ajouter un article"])


async def test_the_form_asks_neither_the_delivery_nor_the_contact(portal, orders, make_tracker, domain, chosen):
    chosen["order_item"] = "2790B002"
    tracker = make_tracker("2", requested_slot="order_quantity", active_loop=CONSUMABLES,
                           slots={**chosen, "order_more": False})
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert slot_values(events)["requested_slot"] == "order_confirm"
    assert "order_delivery" not in domain["forms"][CONSUMABLES]["required_slots"]
    assert "order_contact" not in domain["forms"][CONSUMABLES]["required_slots"]


@pytest.mark.parametrize(("text", "intent", "entities"), [
    ('/inform{"order_change":"delivery"}', "inform", [("order_change", "delivery")]),  # the button
    ("livrer ailleurs", "inform", []),
    ("non, il faut livrer ailleurs", "deny", []),
    ("I want it delivered elsewhere", "nlu_fallback", []),
    ("change the delivery address", "inform", []),
])
async def test_summary_change_of_address_asks_it(portal, orders, make_tracker, domain, lines_done, text, intent,
                                                 entities):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, intent, entities)
    assert (slots["order_delivery"], slots["order_address"], slots["order_confirm"]) == ("new", None, None)
    assert slots["requested_slot"] == "order_address"
    assert dispatcher.messages == []
    assert not portal.calls("POST", "/orders")


@pytest.mark.parametrize(("text", "intent", "quantity"), [
    ("actually make that three, we might as well keep a spare", "nlu_fallback", 3),
    ("finalement mettez-en 1", "inform", 1),
])
async def test_a_bare_new_quantity_at_the_summary_of_one_line_changes_it(portal, orders, make_tracker, domain,
                                                                         lines_done, text, intent, quantity):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, intent=intent)
    assert [line["quantity"] for line in slots["order_lines"]] == [quantity]
    assert slots["order_confirm"] is None and responses(dispatcher) == ["utter_order_quantity_changed"]
    assert not portal.calls("POST", "/orders")


async def test_a_bare_quantity_above_the_limit_at_the_summary_is_refused(portal, orders, make_tracker, domain,
                                                                         lines_done):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, "make that 40", intent="inform")
    assert [line["quantity"] for line in slots["order_lines"]] == [2]
    assert responses(dispatcher) == ["utter_order_quantity_invalid"]


@pytest.mark.parametrize(("text", "intent"), [("C'est pris en charge par le contrat, le toner noir ?", "inform"),
                                              ("is the black toner covered by our contract?", "contract_question"),
                                              ("how much is that going to cost us?", "invoice_question")])
async def test_a_question_about_price_or_cover_at_the_summary_is_answered(portal, orders, make_tracker, domain,
                                                                          lines_done, text, intent):
    tracker_text = text
    assert summary_question(make_tracker(tracker_text, intent=intent, requested_slot="order_confirm",
                                         active_loop="order_consumables_form"))
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, intent=intent)
    assert responses(dispatcher) == ["utter_order_price_in_summary"]  # not "already in your order"
    assert "order_item" not in slots and slots["order_confirm"] is None  # the priced summary is asked again
    assert not portal.calls("POST", "/orders")


@pytest.mark.parametrize("text", ["what's the most toners I can order at once?",
                                  "combien je peux en commander au maximum ?"])
async def test_a_question_about_the_limit_at_the_summary_is_answered(portal, orders, make_tracker, domain,
                                                                     lines_done, text):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, intent="nlu_fallback")
    assert message(dispatcher, "utter_order_limits")["limits"].startswith("• C-EXV29 Toner Black (2790B002) : ")
    assert "order_item" not in slots and slots["order_confirm"] is None  # nothing added: the summary is asked again
    assert slots["requested_slot"] == "order_confirm"
    assert not portal.calls("POST", "/orders")


@pytest.mark.parametrize("text", ["ça sera livré où exactement ?", "where will it be delivered?",
                                  "à quelle adresse vous l'envoyez ?"])
async def test_a_question_about_the_delivery_at_the_summary_is_answered(portal, orders, make_tracker, domain,
                                                                        lines_done, text):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, intent="nlu_fallback")
    assert "4 Roundwood Avenue" in message(dispatcher, "utter_order_delivery_is")["address"]
    assert "order_delivery" not in slots and slots["order_confirm"] is None  # nothing changed: the summary again
    assert slots["requested_slot"] == "order_confirm"


@pytest.mark.parametrize("text, intent, answered", [
    ("ça sera livré où exactement ?", "order_enquiry", True),
    ("where will it be delivered?", "order_enquiry", True),
    ("livrez plutôt au 3e étage", "request_change", True),
    ("c'est combien au maximum ?", "order_enquiry", True),
    ("ah et rajoute un toner cyan tant qu'à faire", "add_case_comment", True),
    ("où en est ma commande du mois dernier ?", "view_orders", False),  # another order: the switch is offered
    ("il y a un bourrage sur la machine du 1er", "report_fault", False),
])
async def test_a_question_about_the_summary_read_as_another_request_is_answered_by_the_form(
        make_tracker, domain, lines_done, text, intent, answered):
    from rasa_sdk.events import FollowupAction

    from actions.switching import ActionOfferSwitch

    tracker = make_tracker(text, intent=intent, requested_slot="order_confirm", active_loop=CONSUMABLES,
                           slots=lines_done)
    dispatcher, events = await run(ActionOfferSwitch(), tracker, domain)
    if answered:
        assert events == [FollowupAction(CONSUMABLES)] and not dispatcher.messages
    else:
        assert responses(dispatcher) == ["utter_offer_switch"]


@pytest.mark.parametrize("text", ["l'adresse habituelle", "the usual address please", "à l'adresse du compte"])
async def test_the_usual_address_as_the_new_address_goes_back_to_the_account_address(portal, orders, make_tracker,
                                                                                      domain, lines_done, text):
    tracker = make_tracker(text, intent="inform", requested_slot="order_address",
                           slots={**lines_done, "order_delivery": "new"})
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_delivery"] == "account" and not slots.get("order_address")
    assert slots["requested_slot"] == "order_confirm" and dispatcher.messages == []


@pytest.mark.parametrize("text", [
    "deliver to Mail room, 1 High Street, Uxbridge UB8 1JX, United Kingdom",
    "livrer à : Mail room, 1 High Street, Uxbridge UB8 1JX, United Kingdom",
    "Mail room, 1 High Street, Uxbridge UB8 1JX, United Kingdom",
])
async def test_summary_change_of_address_given_at_once(portal, orders, make_tracker, domain, lines_done, text):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text)
    assert slots["order_delivery"] == "new"
    assert slots["order_address"] == {"recipient": "Mail room", "street": "1 High Street", "city": "Uxbridge",
                                      "postcode": "UB8 1JX", "country": "United Kingdom"}
    assert slots["requested_slot"] == "order_confirm" and slots["order_confirm"] is None  # the summary again
    assert dispatcher.messages == []


@pytest.mark.parametrize(("text", "lang"), [("deliver to 10 Station Road", "en"), ("livrer au 10 rue de la Gare", "fr")])
async def test_summary_change_to_an_incomplete_address_says_what_is_missing(portal, orders, make_tracker, domain,
                                                                           lines_done, text, lang):
    lines_done["language"] = lang
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text)
    assert responses(dispatcher) == ["utter_order_address_invalid"]
    assert (slots["order_delivery"], slots["order_address"]) == ("new", None)
    assert slots["requested_slot"] == "order_address"


@pytest.mark.parametrize(("changed", "text", "slot", "value", "field", "shown"), [
    ({"order_delivery": "new", "order_address": {"recipient": "", "street": "1 High Street", "city": "Uxbridge",
                                                 "postcode": "UB8 1JX", "country": "United Kingdom"}},
     "finalement à l'adresse du compte", "order_delivery", "account", "delivery",
     "CANON UK LTD, 4 Roundwood Avenue, UB11 1AF Uxbridge, Royaume-Uni"),
    ({"order_contact": "other", "order_contact_person": {"full_name": "Karim"}}, "actually the contact is me",
     "order_contact", "me", "contact", "SNTestDM DemoPortal (sntestdm@canon-uk-demo.example)"),
])
async def test_summary_change_back_to_the_default(portal, orders, make_tracker, domain, lines_done, changed, text, slot,
                                                 value, field, shown):
    lines_done.update(changed)
    _, slots = await summary_answer(make_tracker, domain, lines_done, text)
    assert slots[slot] == value and slots["requested_slot"] == "order_confirm"
    lines_done.update(slots)
    dispatcher, _ = await run(ActionAskOrderConfirm(), make_tracker(requested_slot="order_confirm", slots=lines_done),
                              domain)
    assert dispatcher.messages[0][field] == shown


@pytest.mark.parametrize(("text", "entities", "person", "next_slot"), [
    ('/inform{"order_change":"contact"}', [("order_change", "contact")], None, "order_contact_person"),
    ("changer le contact", [], None, "order_contact_person"),
    ("le contact c'est Karim", [], {"full_name": "Karim"}, "order_confirm"),
    ("the contact is Jane Facilities, jane.facilities@example.com", [],
     {"full_name": "Jane Facilities", "email": "jane.facilities@example.com"}, "order_confirm"),
    ("Karim Benali est le contact", [], {"full_name": "Karim Benali"}, "order_confirm"),
])
async def test_summary_change_of_contact(portal, orders, make_tracker, domain, lines_done, text, entities, person,
                                         next_slot):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, entities=entities)
    assert (slots["order_contact"], slots["order_contact_person"]) == ("other", person)
    assert slots["requested_slot"] == next_slot and slots["order_confirm"] is None
    assert dispatcher.messages == []


@pytest.mark.parametrize(("text", "response"), [
    ("le contact c'est R2D2", "utter_order_contact_name_invalid"),
    ("the contact is Jane, jane@facilities", "utter_order_contact_email_invalid"),
])
async def test_summary_change_of_contact_refused_says_why_and_asks(portal, orders, make_tracker, domain, lines_done,
                                                                   text, response):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text)
    assert responses(dispatcher) == [response]
    assert (slots["order_contact"], slots["order_contact_person"]) == ("other", None)
    assert slots["requested_slot"] == "order_contact_person"


@pytest.mark.parametrize(("text", "entities"), [
    ('/inform{"order_change":"item"}', [("order_change", "item")]), ("ajouter un article", []),
    ("I'd like to add something", []),
])
async def test_summary_add_an_item_asks_it(portal, orders, make_tracker, domain, lines_done, text, entities):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, entities=entities)
    assert (slots["order_item"], slots["order_quantity"], slots["order_confirm"]) == (None, None, None)
    assert slots["requested_slot"] == "order_item"
    assert dispatcher.messages == []
    dispatcher, _ = await run(ActionAskOrderItem(), make_tracker(requested_slot="order_item", slots=lines_done),
                              domain)
    assert dispatcher.messages[0]["response"] == "utter_ask_order_next_item"


@pytest.mark.parametrize(("text", "lang"), [("ajoute un toner jaune", "fr"), ("add one yellow", "en")])
async def test_summary_item_typed_is_added_and_the_summary_shown_again(portal, orders, make_tracker, domain,
                                                                       lines_done, text, lang):
    lines_done["language"] = lang
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text)
    assert slots["order_lines"] == [line("2790B002", "C-EXV29 Toner Black", 2),
                                    line("2802B002", "C-EXV29 Toner Yellow", 1)]
    assert slots["requested_slot"] == "order_confirm" and slots["order_confirm"] is None
    assert dispatcher.messages == []


async def test_summary_item_already_ordered_is_refused(portal, orders, make_tracker, domain, lines_done):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, "add 1 black toner")
    assert responses(dispatcher) == ["utter_order_item_already"]
    assert "order_lines" not in slots  # nothing written
    assert slots["requested_slot"] == "order_item"


@pytest.mark.parametrize(("text", "lang"), [
    ("Ah attendez, mettez plutôt 3 toners noirs, pas 2.", "fr"), ("wait, make that 3 black toners, not 2", "en"),
    ("3 black toner instead", "en"),
])
async def test_summary_new_quantity_of_a_line_changes_it_and_shows_the_summary_again(
        portal, orders, make_tracker, domain, lines_done, text, lang):
    lines_done["language"] = lang
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text)
    assert slots["order_lines"] == [line("2790B002", "C-EXV29 Toner Black", 3)]  # one line, not a second one
    assert slots["requested_slot"] == "order_confirm" and slots["order_confirm"] is None
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_order_quantity_changed" and "3 × C-EXV29 Toner Black" in msg["lines"]


async def test_summary_new_quantity_above_the_limit_changes_nothing(portal, orders, make_tracker, domain, lines_done):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, "make that 7 black toners")
    assert responses(dispatcher) == ["utter_order_quantity_invalid"]
    assert slots.get("order_lines", lines_done["order_lines"]) == lines_done["order_lines"]  # unchanged
    assert slots["requested_slot"] == "order_confirm"


async def test_summary_add_when_nothing_is_left(portal, orders, make_tracker, domain, lines_done):
    lines_done["order_catalogue"] = lines_done["order_catalogue"][:1]
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, '/inform{"order_change":"item"}',
                                             entities=[("order_change", "item")])
    assert responses(dispatcher) == ["utter_order_nothing_left"]
    assert slots["requested_slot"] == "order_confirm"


@pytest.mark.parametrize(("text", "intent", "value"), [("oui", "affirm", True), ("non", "deny", False),
                                                       ("no thanks", "deny", False)])
async def test_summary_bare_yes_or_no(portal, orders, make_tracker, domain, lines_done, text, intent, value):
    dispatcher, slots = await summary_answer(make_tracker, domain, lines_done, text, intent)
    assert slots["order_confirm"] is value and slots["requested_slot"] is None
    assert "order_delivery" not in slots and "order_contact" not in slots


@pytest.mark.parametrize(("text", "response"), [
    ("12 rue des Presses, 69002 Lyon", "utter_order_address_invalid"),
    ("Service courrier, 12 rue des Presses, 69002 Lyon", "utter_order_address_no_country"),
    ("Service courrier, 12 rue des Presses, Lyon, France", "utter_order_address_no_postcode"),
    ("x" * 210 + ", 12 rue des Presses, 69002 Lyon, France", "utter_order_address_too_long"),
])
async def test_new_address_refused_with_a_specific_reason(portal, orders, make_tracker, domain, lines_done, text,
                                                         response):
    lines_done["order_delivery"] = "new"
    tracker = make_tracker(text, requested_slot="order_address", active_loop=CONSUMABLES, slots=lines_done)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert responses(dispatcher) == [response]
    slots = slot_values(events)
    assert slots["order_address"] is None and slots["requested_slot"] == "order_address"


async def test_new_address_accepted_even_when_the_nlu_is_unsure(portal, orders, make_tracker, domain, lines_done):
    lines_done["order_delivery"] = "new"
    tracker = make_tracker("Service courrier, 12 rue des Presses, 69002 Lyon, France", intent="nlu_fallback",
                           requested_slot="order_address", active_loop=CONSUMABLES, slots=lines_done)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_address"]["city"] == "Lyon" and slots["requested_slot"] == "order_confirm"


async def test_help_while_the_address_is_asked_is_a_digression(portal, orders, make_tracker, domain, lines_done):
    lines_done["order_delivery"] = "new"
    tracker = make_tracker("aide", intent="help", requested_slot="order_address", active_loop=CONSUMABLES,
                           slots=lines_done)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert "order_address" not in slot_values(events) and dispatcher.messages == []


@pytest.mark.parametrize(("text", "response"), [
    ("Jane, jane@facilities", "utter_order_contact_email_invalid"),
    ("12345", "utter_order_contact_name_invalid"),
])
async def test_contact_person_refused(portal, orders, make_tracker, domain, lines_done, text, response):
    lines_done.update(order_delivery="account", order_contact="other")
    tracker = make_tracker(text, requested_slot="order_contact_person", active_loop=CONSUMABLES, slots=lines_done)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert responses(dispatcher) == [response]
    assert slot_values(events)["order_contact_person"] is None


async def test_contact_person_name_only(portal, orders, make_tracker, domain, lines_done):
    lines_done.update(order_delivery="account", order_contact="other")
    tracker = make_tracker("John Smith", requested_slot="order_contact_person", active_loop=CONSUMABLES,
                           slots=lines_done)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_contact_person"] == {"full_name": "John Smith"} and slots["requested_slot"] == "order_confirm"


# --- consumables: price, confirmation, order ------------------------------------------------------------------------
@pytest.fixture
def complete(lines_done) -> Dict[str, Any]:
    lines_done["order_lines"] = [line("2790B002", "C-EXV29 Toner Black", 2), line("0250A013", "Cartridge-D3-NONE-", 1)]
    lines_done.update(order_delivery="account", order_contact="me", order_confirm=True, submission_key="ord-key-1")
    return lines_done


async def test_confirmation_shows_the_portal_price(portal, orders, make_tracker, domain, complete):
    tracker = make_tracker(requested_slot="order_confirm", slots=complete)
    dispatcher, _ = await run(ActionAskOrderConfirm(), tracker, domain)
    assert portal.calls("POST", "/orders/price")[0]["json"] == {
        "asset": "53463252", "lines": [{"part_number": "2790B002", "quantity": 2},
                                       {"part_number": "0250A013", "quantity": 1}]}
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_confirm"
    assert msg["lines"] == ("• 2 × C-EXV29 Toner Black (2790B002) — 179,00 £ (89,50 £ l'unité)\n"
                            "• 1 × Cartridge-D3-NONE- (0250A013) — 62,00 £")
    assert msg["total"] == "241,00 £"
    assert msg["delivery"] == "CANON UK LTD, 4 Roundwood Avenue, UB11 1AF Uxbridge, Royaume-Uni"
    assert msg["contact"] == "SNTestDM DemoPortal (sntestdm@canon-uk-demo.example)"
    assert msg["asset_label"] == LABEL_C5030


async def test_confirmation_in_english_with_contract_coverage(portal, orders, make_tracker, domain):
    catalogue = [{k: c[k] for k in ("part_number", "description", "category", "unit_price", "currency",
                                    "max_quantity", "covered_by_contract")} for c in orders._catalogue(ASSET_C5560)]
    tracker = make_tracker(requested_slot="order_confirm", slots={
        "language": "en", "order_asset": "77996101", "order_asset_label": LABEL_C5560, "order_catalogue": catalogue,
        "order_lines": [line("0481C002", "C-EXV51 Toner Black", 2), line("1725B001", "Staple Cartridge-X1", 1)],
        "order_delivery": "new", "order_address": {"recipient": "", "street": "1 High Street", "city": "Uxbridge",
                                                   "postcode": "UB8 1JX", "country": "United Kingdom"},
        "order_contact": "other", "order_contact_person": {"full_name": "Jane Facilities"}})
    dispatcher, _ = await run(ActionAskOrderConfirm(), tracker, domain)
    msg = dispatcher.messages[0]
    assert msg["lines"] == ("• 2 × C-EXV51 Toner Black (0481C002) — covered by your contract\n"
                            "• 1 × Staple Cartridge-X1 (1725B001) — £54.00")
    assert msg["total"] == "£54.00"
    # the recipient of a new location defaults to the contact
    assert msg["delivery"] == "Jane Facilities, 1 High Street, UB8 1JX Uxbridge, United Kingdom"
    assert msg["contact"] == "Jane Facilities"


async def test_confirmation_without_price_when_the_portal_is_down(portal, orders, make_tracker, domain, complete):
    portal.fail("down", "POST", "/orders/price")
    dispatcher, _ = await run(ActionAskOrderConfirm(), make_tracker(requested_slot="order_confirm", slots=complete),
                              domain)
    assert responses(dispatcher) == ["utter_backend_unavailable", "utter_ask_order_confirm_unpriced"]
    assert dispatcher.messages[1]["lines"].startswith("• 2 × C-EXV29 Toner Black (2790B002)")


@pytest.mark.parametrize(("text", "intent", "value"), [("oui", "affirm", True), ("no", "deny", False)])
async def test_confirm_answer(portal, orders, make_tracker, domain, complete, text, intent, value):
    complete.pop("order_confirm")
    tracker = make_tracker(text, intent=intent, requested_slot="order_confirm", active_loop=CONSUMABLES,
                           slots=complete)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_confirm"] is value and slots["requested_slot"] is None


async def test_order_placed_to_the_account_address_for_me(portal, orders, make_tracker, domain, complete):
    dispatcher, events = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None), domain)
    (call,) = portal.calls("POST", "/orders")
    assert call["json"] == {"asset": "53463252", "lines": [{"part_number": "2790B002", "quantity": 2},
                                                           {"part_number": "0250A013", "quantity": 1}]}
    assert call["headers"]["idempotency-key"] == "ord-key-1"
    msg = message(dispatcher, "utter_order_created")
    assert (msg["order_number"], msg["total"], msg["asset_label"]) == ("ORD0001234", "241,00 £", LABEL_C5030)
    slots = slot_values(events)
    for name in ("order_asset", "order_lines", "order_catalogue", "order_confirm", "submission_key"):
        assert slots[name] is None, name
    assert slots["pending_submit"] is False


async def test_order_placed_to_a_new_location_for_another_person(portal, orders, make_tracker, domain, complete):
    complete.update(order_delivery="new", order_contact="other")
    complete["order_address"] = {"recipient": "", "street": "12 rue des Presses", "city": "Lyon",
                                 "postcode": "69002", "country": "France"}
    complete["order_contact_person"] = {"full_name": "Jane Facilities", "email": "jane.facilities@example.com"}
    complete["language"] = "en"
    dispatcher, _ = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None), domain)
    body = portal.calls("POST", "/orders")[0]["json"]
    assert body["contact"] == {"full_name": "Jane Facilities", "email": "jane.facilities@example.com"}
    assert body["shipping_address"] == {"recipient": "Jane Facilities", "street": "12 rue des Presses",
                                        "city": "Lyon", "postcode": "69002", "country": "France"}
    assert orders.orders["ORD0001234"]["shipping_address"]["city"] == "Lyon"
    assert message(dispatcher, "utter_order_created")["total"] == "£241.00"


async def test_order_declined_writes_nothing(portal, orders, make_tracker, domain, complete):
    complete["order_confirm"] = False
    dispatcher, events = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None), domain)
    assert responses(dispatcher) == ["utter_order_not_submitted"]
    assert not portal.calls("POST", "/orders")
    assert slot_values(events)["order_lines"] is None


async def test_order_portal_down_keeps_the_answers_and_the_retry_orders_once(portal, orders, make_tracker, domain,
                                                                             complete):
    portal.fail("down", "POST", "/orders")
    dispatcher, events = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None), domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events) == {"submission_key": "ord-key-1", "pending_submit": True,
                                   "pending_action": "action_submit_order"}
    portal.recover()
    retry = make_tracker("oui", intent="affirm", active_loop=None, slots={
        **complete, "pending_submit": True, "pending_action": "action_submit_order"})
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert message(dispatcher, "utter_order_created")["order_number"] == "ORD0001234"
    dispatcher, _ = await run(ActionRetrySubmit(), retry, domain)  # a second retry with the same key
    assert message(dispatcher, "utter_order_created")["order_number"] == "ORD0001234"
    assert [c["headers"]["idempotency-key"] for c in portal.calls("POST", "/orders")] == ["ord-key-1"] * 3
    assert [n for n in orders.orders if n >= "ORD0001234"] == ["ORD0001234"]


async def test_order_refused_by_the_portal(portal, orders, make_tracker, domain, complete):
    complete["order_lines"] = [line("2790B002", "C-EXV29 Toner Black", 9)]
    dispatcher, events = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == "Maximum quantity for 2790B002 " \
                                                                    "(C-EXV29 Toner Black): 4."
    assert slot_values(events)["order_lines"] is None  # refused: forgotten, no retry offered
    assert slot_values(events)["pending_submit"] is False


async def test_order_refused_for_the_role(portal, orders, make_tracker, domain, complete):
    portal.fail((403, {"code": "forbidden", "message": "Your role does not allow this action."}), "POST", "/orders")
    dispatcher, _ = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == "Your role does not allow this action."


async def test_order_session_expired(portal, orders, make_tracker, domain, complete):
    dispatcher, _ = await run(ActionSubmitOrder(), make_tracker(slots=complete, active_loop=None, token="old"), domain)
    assert responses(dispatcher) == ["utter_login_required"]


async def test_cancel_forgets_the_order(portal, orders, make_tracker, domain, complete):
    tracker = make_tracker("annuler", intent="cancel", active_loop=None, slots=complete,
                           history=[{"event": "active_loop", "name": CONSUMABLES}])
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    slots = slot_values(events)
    for name in ("order_asset", "order_lines", "order_ship_to", "order_catalogue", "order_address", "submission_key",
                 *CONSUMABLES_EXTRA):
        assert slots[name] is None, name
    assert not portal.calls("POST", "/orders")


# --- order enquiry --------------------------------------------------------------------------------------------------
async def test_enquiry_opening_reuses_the_number_and_the_kind(portal, orders, make_tracker, domain):
    tracker = make_tracker("il manque un article dans ma commande ORD0001233", intent="order_enquiry",
                           entities=[("order_number", "ORD0001233")], active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_enquiry_number"] == "ORD0001233"
    assert slots["order_enquiry_kind"] == "missing_items"
    assert slots["order_enquiry_order"]["lines"] == [
        {"part_number": "2790B002", "description": "C-EXV29 Toner Black", "quantity": 1},
        {"part_number": "FM3-5945-010", "description": "Waste Toner Container", "quantity": 1}]
    assert next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_description"
    assert portal.calls("GET", "/orders/ORD0001233")


CLAIM = {"number": "CS0032500", "category": "order_enquiry", "category_label": "Order enquiry",
         "subcategory": "missing_items", "subcategory_label": "Item(s) missing from delivery", "status": "in_progress", "status_label": "In progress",
         "order_number": "ORD0001233", "asset": None}


@pytest.mark.parametrize(("claims", "offered"), [
    ([CLAIM], True),
    ([{**CLAIM, "status": "closed", "status_label": "Closed"}], False),  # closed: a new case may be opened
    ([{**CLAIM, "order_number": "ORD0001229"}], False),                  # about another order
])
async def test_an_order_already_claimed_is_offered_instead_of_a_second_case(portal, orders, make_tracker, domain,
                                                                            claims, offered):
    portal.route("GET", "/cases", lambda request, body: httpx.Response(200, json=claims))
    tracker = make_tracker("il manque un article dans ma commande ORD0001233", intent="order_enquiry",
                           entities=[("order_number", "ORD0001233")], active_loop=ENQUIRY, slots={"language": "en"})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    if offered:
        # the order read stays; the form ends (requested_slot None) on the offer
        assert slots["requested_slot"] is None and slots["order_enquiry_number"] == "ORD0001233"
        assert slots["case_offered"] == {"number": "CS0032500", "pending": True}
        msg = message(dispatcher, "utter_order_case_already_open")
        assert msg["order_number"] == "ORD0001233" and msg["case"].startswith("CS0032500")
        assert [b["payload"] for b in msg["buttons"]] == ['/add_case_comment{"case_number":"CS0032500"}',
                                                          '/case_status{"case_number":"CS0032500"}', "/order_enquiry"]
    else:
        assert slots["order_enquiry_number"] == "ORD0001233"
        assert "utter_order_case_already_open" not in responses(dispatcher)
    assert not portal.calls("POST", "/cases")


async def test_an_open_case_about_another_problem_with_the_order_is_not_offered(portal, orders, make_tracker, domain):
    portal.route("GET", "/cases", lambda request, body: httpx.Response(200, json=[CLAIM]))
    tracker = make_tracker("commande ORD0001233 : on a reçu un toner cyan au lieu du noir", intent="order_enquiry",
                           entities=[("order_number", "ORD0001233")], active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_enquiry_number"], slots["order_enquiry_kind"]) == ("ORD0001233", "wrong_items")
    assert "utter_order_case_already_open" not in responses(dispatcher)


async def test_an_order_named_at_its_own_question_is_not_offered_against_a_claim(portal, orders, make_tracker, domain):
    portal.route("GET", "/cases", lambda request, body: httpx.Response(200, json=[CLAIM]))
    tracker = make_tracker("ORD0001233", entities=[("order_number", "ORD0001233")], active_loop=ENQUIRY,
                           requested_slot="order_enquiry_number")
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert slot_values(events)["order_enquiry_number"] == "ORD0001233"
    assert "utter_order_case_already_open" not in responses(dispatcher)  # "add my message" would add "ORD0001233"


async def test_an_order_claim_offered_once_goes_on_with_a_new_case(portal, orders, make_tracker, domain):
    portal.route("GET", "/cases", lambda request, body: httpx.Response(200, json=[CLAIM]))
    tracker = make_tracker("ORD0001233", entities=[("order_number", "ORD0001233")], active_loop=ENQUIRY,
                           requested_slot="order_enquiry_number",
                           slots={"case_offered": {"number": "CS0032500", "pending": False}})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert slot_values(events)["order_enquiry_number"] == "ORD0001233"
    assert "utter_order_case_already_open" not in responses(dispatcher)


async def test_enquiry_opening_without_details_asks_the_order(portal, orders, make_tracker, domain):
    tracker = make_tracker("problème de livraison", intent="order_enquiry", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert slot_values(events) == {} and next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_number"


@pytest.mark.parametrize(("text", "entities"), [
    ('/inform{"order_number":"ORD0001229"}', [("order_number", "ORD0001229")]),
    ("c'est la ord 1229", []),
    ("1229", []),
])
async def test_enquiry_number_typed_or_picked(portal, orders, make_tracker, domain, text, entities):
    tracker = make_tracker(text, entities=entities, requested_slot="order_enquiry_number", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_enquiry_number"] == "ORD0001229"
    assert next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_kind"


async def test_enquiry_number_not_an_order_number(portal, orders, make_tracker, domain):
    tracker = make_tracker("celle avec le carton abîmé", requested_slot="order_enquiry_number", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert message(dispatcher, "utter_order_number_invalid")["reference"] == "celle avec le carton abîmé"
    assert slot_values(events)["order_enquiry_number"] is None
    assert not portal.calls("GET")


@pytest.mark.parametrize("text, number", [
    ("the one from July, don't have the number handy", "ORD0001230"),
    ("la commande de mai", "ORD0001228"),
    ("celle des agrafes du copieur 2e étage", "ORD0001230"),
    ("the staples one for GNM75498", "ORD0001231"),
    ("la dernière", "ORD0001233"),
])
async def test_enquiry_order_described_without_its_number(portal, orders, make_tracker, domain, text,
                                                          number):
    tracker = make_tracker(text, requested_slot="order_enquiry_number", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert slot_values(events)["order_enquiry_number"] == number


@pytest.mark.parametrize("text", ["la commande de juin ou de mai", "the toner one"])  # several fit: asked again
async def test_enquiry_order_described_ambiguously_is_not_guessed(portal, orders, make_tracker, domain,
                                                                  text):
    tracker = make_tracker(text, requested_slot="order_enquiry_number", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert slot_values(events)["order_enquiry_number"] is None


async def test_enquiry_order_not_found(portal, orders, make_tracker, domain):
    tracker = make_tracker("order ORD0009999", entities=[("order_number", "ORD0009999")],
                           requested_slot="order_enquiry_number", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert message(dispatcher, "utter_order_not_found")["order_number"] == "ORD0009999"
    assert slot_values(events)["order_enquiry_number"] is None


async def test_enquiry_order_portal_down(portal, orders, make_tracker, domain):
    portal.fail("down")
    tracker = make_tracker("ORD0001229", requested_slot="order_enquiry_number", active_loop=ENQUIRY)
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events)["order_enquiry_number"] is None


async def test_ask_enquiry_number_offers_the_last_orders(portal, orders, make_tracker, domain):
    dispatcher, _ = await run(ActionAskOrderEnquiryNumber(), make_tracker(requested_slot="order_enquiry_number",
                                                                          active_loop=ENQUIRY), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_enquiry_number"
    assert [b["payload"] for b in msg["buttons"]] == [f'/inform{{"order_number":"ORD000{n}"}}'
                                                      for n in (1233, 1231, 1230, 1229, 1228)]
    assert msg["buttons"][0]["title"] == ("ORD0001233 — 22/10/2026 — 1 × C-EXV29 Toner Black, "
                                          "1 × Waste Toner Container")
    # the device under eMaintenance has no order history on the portal: not asked
    assert not portal.calls("GET", "/assets/80145861/orders")


async def test_ask_enquiry_number_without_orders_asks_to_type_it(portal, orders, make_tracker, domain):
    portal.assets = [ASSET_C5560B]
    dispatcher, _ = await run(ActionAskOrderEnquiryNumber(), make_tracker(requested_slot="order_enquiry_number"),
                              domain)
    assert responses(dispatcher) == ["utter_ask_order_enquiry_number_typed"]


@pytest.mark.parametrize(("text", "entities", "kind"), [
    ('/inform{"order_enquiry_kind":"wrong_items"}', [("order_enquiry_kind", "wrong_items")], "wrong_items"),
    ("il en manque un", [], "missing_items"),
    ("wrong item received", [], "wrong_items"),
    ("les agrafes n'étaient pas dans le colis", [], "missing_items"),
])
async def test_enquiry_kind(portal, orders, make_tracker, domain, text, entities, kind):
    tracker = make_tracker(text, entities=entities, requested_slot="order_enquiry_kind", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229"})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_enquiry_kind"] == kind
    assert next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_description"


@pytest.mark.parametrize("text", ["parcel delivered with packing slip only, the Cartridge-D3 staples were not in it",
                                  "le carton est arrivé vide, juste le bon de livraison, rien d'autre dedans",
                                  # what came without it
                                  "it came without the staples, the staple cartridge never did",
                                  "le colis est arrivé sans le toner noir qu'on attendait"])
async def test_enquiry_kind_told_as_what_came_is_also_the_description(portal, orders, make_tracker, domain, text):
    tracker = make_tracker(text, requested_slot="order_enquiry_kind", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229"})
    _, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_enquiry_kind"], slots["order_enquiry_description"]) == ("missing_items", text)


@pytest.mark.parametrize("text", [
    "ORD0001229: we ordered black toner but the box had two cyan cartridges in it",
    "pour la ORD0001229 j'avais commandé du toner noir et on m'a livré du cyan",
    "ORD0001229 only one of the two toners arrived, the second one is missing",
    "ORD0001229: two black toners on the order, only 1 delivered to us yesterday",
    "pour la ORD0001229 la boîte contenait du cyan alors qu'on avait commandé du noir",
])
async def test_enquiry_opening_that_tells_the_problem_needs_no_more_questions(portal, orders, make_tracker, domain,
                                                                               text):
    tracker = make_tracker(text, intent="order_enquiry", entities=[("order_number", "ORD0001229")],
                           active_loop=ENQUIRY)
    _, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_enquiry_kind"] == ("missing_items" if "missing" in text or "only" in text else "wrong_items")
    assert slots["order_enquiry_description"] == text
    assert next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_confirm"


async def test_enquiry_kind_answered_with_the_whole_problem_is_its_description(portal, orders, make_tracker, domain):
    text = "I ordered 2 black toners and received 2 cyan ones instead"
    tracker = make_tracker(text, requested_slot="order_enquiry_kind", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229"})
    _, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_enquiry_kind"], slots["order_enquiry_description"]) == ("wrong_items", text)


async def test_a_bare_enquiry_opening_asks_the_problem(portal, orders, make_tracker, domain):
    tracker = make_tracker("problème avec la commande ORD0001229", intent="order_enquiry",
                           entities=[("order_number", "ORD0001229")], active_loop=ENQUIRY)
    _, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert "order_enquiry_kind" not in slots and "order_enquiry_description" not in slots


async def test_enquiry_kind_unclear(portal, orders, make_tracker, domain):
    tracker = make_tracker("bof", requested_slot="order_enquiry_kind", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229"})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_choose_an_option"]
    assert slot_values(events)["order_enquiry_kind"] is None


async def test_ask_enquiry_kind_shows_the_order(portal, orders, make_tracker, domain):
    tracker = make_tracker(requested_slot="order_enquiry_kind", slots={
        "language": "en", "order_enquiry_number": "ORD0001229",
        "order_enquiry_order": {"lines": [{"quantity": 1, "description": "C-EXV29 Toner Cyan"}]}})
    dispatcher, _ = await run(ActionAskOrderEnquiryKind(), tracker, domain)
    (msg,) = dispatcher.messages
    assert (msg["order_number"], msg["lines"]) == ("ORD0001229", "1 × C-EXV29 Toner Cyan")
    assert msg["buttons"] == [
        {"title": "Wrong item(s) received", "payload": '/inform{"order_enquiry_kind":"wrong_items"}'},
        {"title": "Item(s) missing from delivery", "payload": '/inform{"order_enquiry_kind":"missing_items"}'}]


@pytest.mark.parametrize(("text", "intent", "response"), [
    ("ok", "inform", "utter_description_too_short"),
    ("x" * 4000, "inform", "utter_description_too_long"),
])
async def test_enquiry_description_refused(portal, orders, make_tracker, domain, text, intent, response):
    tracker = make_tracker(text, intent=intent, requested_slot="order_enquiry_description", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229", "order_enquiry_kind": "wrong_items"})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert responses(dispatcher) == [response]
    assert slot_values(events)["order_enquiry_description"] is None


async def test_enquiry_description_of_any_intent_is_taken(portal, orders, make_tracker, domain):
    tracker = make_tracker("you sent cyan toner instead of black", intent="order_enquiry",
                           requested_slot="order_enquiry_description", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229", "order_enquiry_kind": "wrong_items"})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_enquiry_description"] == "you sent cyan toner instead of black"
    assert next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_confirm"


async def test_enquiry_description_that_starts_another_request_is_not_taken(portal, orders, make_tracker, domain):
    tracker = make_tracker("je veux signaler une panne", intent="report_fault",
                           requested_slot="order_enquiry_description", active_loop=ENQUIRY,
                           slots={"order_enquiry_number": "ORD0001229", "order_enquiry_kind": "wrong_items"})
    dispatcher, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    assert events == [] and dispatcher.messages == []


ENQUIRY_DONE = {"order_enquiry_number": "ORD0001233", "order_enquiry_kind": "missing_items",
                "order_enquiry_order": {"number": "ORD0001233", "created_at": "2026-10-22T09:00:00Z",
                                        "lines": [{"part_number": "FM3-5945-010", "quantity": 1,
                                                   "description": "Waste Toner Container"}]},
                "order_enquiry_description": "Le bac de récupération du toner manque.",
                "order_enquiry_confirm": True, "submission_key": "enq-key-1"}


async def test_enquiry_confirmation_summary(portal, orders, make_tracker, domain):
    tracker = make_tracker(requested_slot="order_enquiry_confirm", slots=ENQUIRY_DONE)
    dispatcher, _ = await run(ActionAskOrderEnquiryConfirm(), tracker, domain)
    msg = dispatcher.messages[0]
    assert (msg["order_number"], msg["order_date"], msg["lines"], msg["kind"], msg["description"]) == (
        "ORD0001233", "22/10/2026", "1 × Waste Toner Container", "Article(s) manquant(s) à la livraison",
        "Le bac de récupération du toner manque.")


async def test_enquiry_submitted_as_a_case(portal, orders, make_tracker, domain):
    history = [{"event": "user", "text": "il manque un article", "input_channel": "rest"},
               {"event": "bot", "text": "De quelle commande s'agit-il ?"}]
    tracker = make_tracker("oui", intent="affirm", active_loop=None, slots=ENQUIRY_DONE, history=history)
    dispatcher, events = await run(ActionSubmitOrderEnquiry(), tracker, domain)
    (call,) = portal.calls("POST", "/orders/enquiries")
    body = call["json"]
    assert {k: body[k] for k in ("order_number", "subcategory", "description", "channel")} == {
        "order_number": "ORD0001233", "subcategory": "missing_items",
        "description": "Le bac de récupération du toner manque.", "channel": "rest"}
    assert body["transcript"].startswith("user: il manque un article\nbot: De quelle commande s'agit-il ?")
    assert call["headers"]["idempotency-key"] == "enq-key-1"
    msg = message(dispatcher, "utter_order_enquiry_created")
    assert (msg["case_number"], msg["order_number"]) == ("CS0032601", "ORD0001233")
    slots = slot_values(events)
    assert slots["order_enquiry_number"] is None and slots[ENQUIRY_EXTRA[0]] is None


async def test_enquiry_declined(portal, orders, make_tracker, domain):
    dispatcher, _ = await run(ActionSubmitOrderEnquiry(), make_tracker(
        active_loop=None, slots={**ENQUIRY_DONE, "order_enquiry_confirm": False}), domain)
    assert responses(dispatcher) == ["utter_case_not_submitted"]
    assert not portal.calls("POST", "/orders/enquiries")


async def test_enquiry_portal_down_keeps_the_answers(portal, orders, make_tracker, domain):
    portal.fail("down", "POST", "/orders/enquiries")
    dispatcher, events = await run(ActionSubmitOrderEnquiry(), make_tracker(active_loop=None, slots=ENQUIRY_DONE),
                                   domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    assert slot_values(events)["pending_action"] == "action_submit_order_enquiry"


# --- training request -----------------------------------------------------------------------------------------------
async def test_training_opening_asks_the_topic(portal, orders, make_tracker, domain):
    tracker = make_tracker("je voudrais une formation", intent="order_training", active_loop=TRAINING)
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    assert slot_values(events) == {} and next_slot(domain, TRAINING, tracker, events) == "order_training_topic"
    assert not portal.calls("GET", "/assets")  # the device is optional: never chosen silently


async def test_training_opening_reuses_a_named_device(portal, orders, make_tracker, domain):
    tracker = make_tracker("formation pour la WHJ01481", intent="order_training",
                           entities=[("asset_ref", "WHJ01481")], active_loop=TRAINING)
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_training_asset"] == "77996101"
    assert slots["order_training_asset_label"] == LABEL_C5560


async def test_training_opening_that_says_everything_asks_only_for_confirmation(portal, orders, make_tracker, domain):
    text = ("We've got three new starters - could we book some training on the WHJ01481? Mainly secure print and "
            "scanning to email. Any day in the first week of February works.")
    tracker = make_tracker(text, intent="order_training", slots={"language": "en"}, active_loop=TRAINING)
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_training_topic"] == text
    assert slots["order_training_asset"] == "77996101"
    assert slots["order_training_attendees"] == 3
    assert slots["order_training_date"].endswith("-02-01")
    assert next_slot(domain, TRAINING, tracker, events) == "order_training_confirm"


@pytest.mark.parametrize(("text", "attendees", "day"), [
    ("une formation scan vers mail pour moi et deux collègues, mi-janvier", 3, "-01-15"),
    ("training on stapling for 5 people at the end of March", 5, "-03-25"),
])
async def test_training_opening_people_and_approximate_dates(portal, orders, make_tracker, domain, text, attendees,
                                                             day):
    tracker = make_tracker(text, intent="order_training", active_loop=TRAINING)
    _, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_training_attendees"] == attendees and slots["order_training_date"].endswith(day)


@pytest.mark.parametrize(("text", "intent", "ok"), [
    ("prise en main du copieur", "inform", True),
    ("how to configure scan to email", "search_knowledge", True),
    ("ok", "inform", False),
    ("1234", "inform", False),
    ("x" * 201, "inform", False),
])
async def test_training_topic(portal, orders, make_tracker, domain, text, intent, ok):
    tracker = make_tracker(text, intent=intent, requested_slot="order_training_topic", active_loop=TRAINING)
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    if ok:
        assert slots["order_training_topic"] == text
        assert next_slot(domain, TRAINING, tracker, events) == "order_training_asset"
    else:
        assert message(dispatcher, "utter_order_training_topic_invalid")["max_chars"] == 200
        assert slots["order_training_topic"] is None


@pytest.mark.parametrize(("text", "intent", "entities", "asset"), [
    ("/deny", "deny", [], "none"),
    ("aucun en particulier", "inform", [], "none"),
    ("no device", "inform", [], "none"),
    ('/inform{"asset_ref":"77996101"}', "inform", [("asset_ref", "77996101")], "77996101"),
    ("la WHJ01481", "inform", [], "77996101"),
])
async def test_training_device_optional(portal, orders, make_tracker, domain, text, intent, entities, asset):
    tracker = make_tracker(text, intent=intent, entities=entities, requested_slot="order_training_asset",
                           active_loop=TRAINING, slots={"order_training_topic": "prise en main"})
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_training_asset"] == asset
    assert next_slot(domain, TRAINING, tracker, events) == "order_training_attendees"


async def test_ask_training_device_offers_no_particular_device(portal, orders, make_tracker, domain):
    tracker = make_tracker(requested_slot="order_training_asset", slots={"language": "en"})
    dispatcher, _ = await run(ActionAskOrderTrainingAsset(), tracker, domain)
    buttons = dispatcher.messages[0]["buttons"]
    assert buttons[0]["payload"] == '/inform{"asset_ref":"77996101"}'
    assert buttons[-1] == {"title": "No particular device", "payload": "/deny"}


@pytest.mark.parametrize(("text", "entities", "count"), [
    ('/inform{"quantity":"4"}', [("quantity", "4")], 4), ("quatre", [], 4), ("12 people", [], 12),
    ("juste moi", [], 1),
])
async def test_training_attendees(portal, orders, make_tracker, domain, text, entities, count):
    tracker = make_tracker(text, entities=entities, requested_slot="order_training_attendees", active_loop=TRAINING,
                           slots={"order_training_topic": "prise en main", "order_training_asset": "none"})
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["order_training_attendees"] == count
    assert next_slot(domain, TRAINING, tracker, events) == "order_training_date"


@pytest.mark.parametrize("text", ["150", "0", "plein", "/inform"])
async def test_training_attendees_refused(portal, orders, make_tracker, domain, text):
    tracker = make_tracker(text, requested_slot="order_training_attendees", active_loop=TRAINING,
                           slots={"order_training_topic": "prise en main", "order_training_asset": "none"})
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    assert message(dispatcher, "utter_order_training_attendees_invalid")["max_attendees"] == 100
    assert slot_values(events)["order_training_attendees"] is None


async def test_training_attendees_digression(portal, orders, make_tracker, domain):
    tracker = make_tracker("quel temps fait-il demain", intent="out_of_scope",
                           requested_slot="order_training_attendees", active_loop=TRAINING,
                           slots={"order_training_topic": "prise en main", "order_training_asset": "none"})
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    assert events == [] and dispatcher.messages == []


TRAINING_SO_FAR = {"order_training_topic": "prise en main", "order_training_asset": "none",
                   "order_training_attendees": 4}


@pytest.mark.parametrize(("text", "intent"), [
    ("{future_fr}", "inform"), ("{future_iso}", "inform"), ("/deny", "deny"), ("pas de préférence", "inform"),
    ("no preference", "inform"),
])
async def test_training_date_accepted(portal, orders, make_tracker, domain, text, intent):
    future = date.today() + timedelta(days=30)
    text = text.format(future_fr=future.strftime("%d/%m/%Y"), future_iso=future.isoformat())
    tracker = make_tracker(text, intent=intent, requested_slot="order_training_date", active_loop=TRAINING,
                           slots=TRAINING_SO_FAR)
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    expected = "none" if intent == "deny" or "pr" in text else future.isoformat()
    assert slots["order_training_date"] == expected
    assert next_slot(domain, TRAINING, tracker, events) == "order_training_confirm"
    assert dispatcher.messages == []


async def test_training_date_in_the_past_is_refused(portal, orders, make_tracker, domain):
    past = date.today() - timedelta(days=3)
    tracker = make_tracker(past.strftime("%d/%m/%Y"), requested_slot="order_training_date", active_loop=TRAINING,
                           slots={**TRAINING_SO_FAR, "language": "en"})
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    assert str(past.year) in message(dispatcher, "utter_order_training_date_past")["date"]
    assert slot_values(events)["order_training_date"] is None


@pytest.mark.parametrize("text", ["31/02/2030", "bientôt", "next week"])
async def test_training_date_unreadable(portal, orders, make_tracker, domain, text):
    tracker = make_tracker(text, requested_slot="order_training_date", active_loop=TRAINING, slots=TRAINING_SO_FAR)
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_order_training_date_invalid"]
    assert slot_values(events)["order_training_date"] is None


async def test_training_confirmation_summary_in_both_languages(portal, orders, make_tracker, domain):
    slots = {**TRAINING_SO_FAR, "order_training_date": "2027-01-15"}
    dispatcher, _ = await run(ActionAskOrderTrainingConfirm(), make_tracker(slots=slots), domain)
    msg = dispatcher.messages[-1]
    assert (msg["topic"], msg["asset_label"], msg["attendees"], msg["date"]) == (
        "prise en main", "aucun appareil en particulier", 4, "15 janvier 2027 (15/01/2027)")
    slots.update(language="en", order_training_date="none", order_training_asset="77996101",
                 order_training_asset_label=LABEL_C5560)
    dispatcher, _ = await run(ActionAskOrderTrainingConfirm(), make_tracker(slots=slots), domain)
    msg = dispatcher.messages[-1]
    assert (msg["asset_label"], msg["date"]) == (LABEL_C5560, "no preference")


@pytest.mark.parametrize("asset, reminded", [("77996101", True), (None, True), ("53463252", False)])
async def test_a_training_already_requested_for_the_device_is_pointed_out_at_the_summary(
        portal, orders, make_tracker, domain, asset, reminded):
    slots = {**TRAINING_SO_FAR, "order_training_date": "2027-01-15", "order_training_asset": asset or "none",
             "order_training_asset_label": LABEL_C5560 if asset else None}
    dispatcher, _ = await run(ActionAskOrderTrainingConfirm(), make_tracker(slots=slots), domain)
    assert responses(dispatcher) == (["utter_training_already_requested"] if reminded else []) + [
        "utter_ask_order_training_confirm"]
    if reminded:
        assert dispatcher.messages[0]["requests"].startswith("• TRN0000101 — Prise en main de l'imprimante")
        assert "4 pers." in dispatcher.messages[0]["requests"]


async def test_a_training_asked_about_as_a_case_lists_the_training_requests(portal, orders, make_tracker, domain):
    from actions.cases import ActionCaseStatus

    tracker = make_tracker("on avait pas déjà demandé une formation pour eux ?", intent="case_status",
                           active_loop=TRAINING)
    portal.route("POST", r"/cases/match", lambda request, body: httpx.Response(
        200, json={"best": None, "cases": [], "scores": []}))
    dispatcher, _ = await run(ActionCaseStatus(), tracker, domain)
    assert responses(dispatcher) == ["utter_training_requests_list"]
    assert "TRN0000101" in dispatcher.messages[0]["requests"]


async def test_training_request_sent(portal, orders, make_tracker, domain):
    future = (date.today() + timedelta(days=40)).isoformat()
    slots = {"order_training_topic": "Prise en main du copieur", "order_training_asset": "77996101",
             "order_training_asset_label": LABEL_C5560, "order_training_attendees": 4,
             "order_training_date": future, "order_training_confirm": True, "submission_key": "trn-key-1"}
    dispatcher, events = await run(ActionSubmitOrderTraining(), make_tracker(slots=slots, active_loop=None), domain)
    (call,) = portal.calls("POST", "/training-requests")
    assert call["json"] == {"topic": "Prise en main du copieur", "attendees": 4, "description": "",
                            "asset": "77996101", "preferred_date": future}
    assert call["headers"]["idempotency-key"] == "trn-key-1"
    msg = message(dispatcher, "utter_order_training_created")
    assert (msg["training_number"], msg["topic"]) == ("TRN0000102", "Prise en main du copieur")
    assert slot_values(events)["order_training_topic"] is None
    assert slot_values(events)[TRAINING_EXTRA[0]] is None


async def test_training_request_without_device_nor_date(portal, orders, make_tracker, domain):
    slots = {"order_training_topic": "scan to email", "order_training_asset": "none", "order_training_attendees": 6,
             "order_training_date": "none", "order_training_confirm": True, "language": "en"}
    dispatcher, _ = await run(ActionSubmitOrderTraining(), make_tracker(slots=slots, active_loop=None), domain)
    assert portal.calls("POST", "/training-requests")[0]["json"] == {"topic": "scan to email", "attendees": 6,
                                                                     "description": ""}
    assert responses(dispatcher) == ["utter_order_training_created"]


async def test_training_request_declined(portal, orders, make_tracker, domain):
    slots = {"order_training_topic": "scan", "order_training_asset": "none", "order_training_attendees": 2,
             "order_training_date": "none", "order_training_confirm": False}
    dispatcher, _ = await run(ActionSubmitOrderTraining(), make_tracker(slots=slots, active_loop=None), domain)
    assert responses(dispatcher) == ["utter_order_training_not_submitted"]
    assert not portal.calls("POST", "/training-requests")


# --- last orders of a device ----------------------------------------------------------------------------------------
async def test_last_orders_of_the_only_device_at_once(portal, orders, make_tracker, domain):
    portal.assets = [ASSET_C5030]
    tracker = make_tracker("show my orders", intent="view_orders", active_loop=None, slots={"language": "en"})
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher) == ["utter_order_history_intro"] + ["utter_order_history_entry"] * 5
    assert dispatcher.messages[0]["asset_label"] == LABEL_C5030
    first = dispatcher.messages[1]
    assert (first["order_number"], first["order_date"], first["status"], first["lines"], first["total"]) == (
        "ORD0001233", "22 Oct 2026", "delivered", "1 × C-EXV29 Toner Black, 1 × Waste Toner Container", "£114.00")
    assert [m["order_number"] for m in dispatcher.messages[1:]] == [
        "ORD0001233", "ORD0001231", "ORD0001229", "ORD0001228", "ORD0001227"]
    assert slot_values(events) == {"order_history_asked": False}  # always set: the rules branch on it
    assert portal.calls("GET", "/assets/53463252/orders")


async def test_last_orders_of_a_named_device_in_french(portal, orders, make_tracker, domain):
    tracker = make_tracker("historique conso de la WHJ01481", intent="view_orders", active_loop=None,
                           entities=[("asset_ref", "WHJ01481")])
    dispatcher, _ = await run(ActionViewOrders(), tracker, domain)
    entry = message(dispatcher, "utter_order_history_entry")
    assert (entry["order_number"], entry["order_date"], entry["status"], entry["total"]) == (
        "ORD0001230", "20/07/2026", "livrée", "54,00 £")
    assert entry["lines"] == "2 × C-EXV51 Toner Black, 1 × Staple Cartridge-X1"


async def test_last_orders_several_devices_asks_which_with_buttons(portal, orders, make_tracker, domain):
    tracker = make_tracker("afficher mes commandes", intent="view_orders", active_loop=None)
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_order_history_asset"
    assert msg["buttons"][1] == {"title": LABEL_C5030, "payload": '/view_orders{"asset_ref":"53463252"}'}
    assert events == [{"event": "slot", "timestamp": None, "name": "order_history_asked", "value": True}]
    assert not portal.calls("GET", "/assets/53463252/orders")


@pytest.mark.parametrize("slots", [
    {"order_enquiry_order": {"number": "ORD0001230", "asset_number": "77996101"}},  # the order a claim is about
    {"fault_asset": "77996101"},                                                      # the device a form holds
])
async def test_last_orders_asked_inside_a_form_show_the_device_it_is_about(portal, orders, make_tracker, domain,
                                                                          slots):
    tracker = make_tracker("remind me, what else was on that order?", intent="view_orders",
                           active_loop=ENQUIRY, slots={"language": "en", **slots})
    dispatcher, _ = await run(ActionViewOrders(), tracker, domain)
    assert "utter_ask_order_history_asset" not in responses(dispatcher)
    entry = message(dispatcher, "utter_order_history_entry")
    assert (entry["order_number"], entry["lines"]) == ("ORD0001230", "2 × C-EXV51 Toner Black, 1 × Staple Cartridge-X1")


async def test_last_orders_device_typed_after_the_question(portal, orders, make_tracker, domain):
    tracker = make_tracker("c'est le 53463252", intent="inform", active_loop=None,
                           slots={"order_history_asked": True})
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher)[0] == "utter_order_history_intro"
    assert slot_values(events) == {"order_history_asked": False}


async def test_last_orders_unknown_device_typed_asks_again(portal, orders, make_tracker, domain):
    tracker = make_tracker("la ZZZ99999", intent="inform", active_loop=None, slots={"order_history_asked": True})
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher) == ["utter_asset_not_found", "utter_ask_order_history_asset"]
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "ZZZ99999"
    assert slot_values(events) == {"order_history_asked": True}


async def test_last_orders_of_an_emaintenance_device_are_refused_with_the_reason(portal, orders, make_tracker,
                                                                                  domain):
    tracker = make_tracker('/view_orders{"asset_ref":"80145861"}', intent="view_orders", active_loop=None,
                           entities=[("asset_ref", "80145861")], slots={"order_history_asked": True})
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher) == ["utter_order_history_refused"]
    assert dispatcher.messages[0]["reason"] == REASON_FR
    assert slot_values(events) == {"order_history_asked": False}


async def test_last_orders_none_yet(portal, orders, make_tracker, domain):
    orders.orders.clear()
    tracker = make_tracker("orders of 77996101", intent="view_orders", active_loop=None,
                           entities=[("asset_ref", "77996101")])
    dispatcher, _ = await run(ActionViewOrders(), tracker, domain)
    assert message(dispatcher, "utter_order_history_empty")["asset_label"] == LABEL_C5560


async def test_last_orders_without_any_device(portal, orders, make_tracker, domain):
    portal.assets = []
    dispatcher, events = await run(ActionViewOrders(), make_tracker("mes commandes", intent="view_orders",
                                                                    active_loop=None), domain)
    assert responses(dispatcher) == ["utter_no_assets"]
    assert slot_values(events) == {"order_history_asked": False}  # always set: the rules branch on it


async def test_last_orders_inside_another_form_leave_it_untouched(portal, orders, make_tracker, domain, chosen):
    tracker = make_tracker("orders of 53463252", intent="view_orders", entities=[("asset_ref", "53463252")],
                           requested_slot="order_item", active_loop=CONSUMABLES, slots=chosen)
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher)[0] == "utter_order_history_intro"
    assert slot_values(events) == {"order_history_asked": False}  # always set: the rules branch on it  # the form's answers are kept; the form asks its question again


@pytest.mark.parametrize("failure", ["down", 500])
async def test_last_orders_portal_down(portal, orders, make_tracker, domain, failure):
    portal.fail(failure)
    tracker = make_tracker("orders of 77996101", intent="view_orders", active_loop=None,
                           entities=[("asset_ref", "77996101")], slots={"order_history_asked": True})
    dispatcher, events = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert slot_values(events) == {"order_history_asked": False}


async def test_last_orders_session_expired(portal, orders, make_tracker, domain):
    tracker = make_tracker("orders of 77996101", intent="view_orders", active_loop=None, token="old")
    dispatcher, _ = await run(ActionViewOrders(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"]


# --- the opening turn after a "yes" to a switch offered inside another form (actions/switching.py) ------------------
@pytest.mark.parametrize("started", STARTS)
async def test_enquiry_number_and_kind_of_the_request_are_taken_however_the_form_started(portal, orders,
                                                                                        make_tracker, domain, started):
    tracker = await opening_tracker(make_tracker, domain, started, "il manque un article dans ma commande ORD0001233",
                                    "order_enquiry", ENQUIRY, entities=[("order_number", "ORD0001233")])
    _, events = await run(ValidateOrderEnquiryForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_enquiry_number"], slots["order_enquiry_kind"]) == ("ORD0001233", "missing_items")
    assert next_slot(domain, ENQUIRY, tracker, events) == "order_enquiry_description"
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
async def test_training_device_of_the_request_is_taken_however_the_form_started(portal, orders, make_tracker, domain,
                                                                               started):
    tracker = await opening_tracker(make_tracker, domain, started, "formation pour la WHJ01481", "order_training",
                                    TRAINING, entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_training_asset"], slots["order_training_asset_label"]) == ("77996101", LABEL_C5560)
    assert responses(dispatcher) == ["utter_asset_selected"]
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
async def test_consumables_device_of_the_request_is_taken_however_the_form_started(portal, orders, make_tracker,
                                                                                  domain, started):
    tracker = await opening_tracker(make_tracker, domain, started, "j'ai besoin de toner noir pour la 80145861",
                                    "order_consumables", CONSUMABLES, entities=[("asset_ref", "80145861")])
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["order_asset"], slots["order_refusal"]) == ("80145861", REASON_FR)  # eMaintenance: refused at once
    assert [c["json"]["text"] for c in portal.calls("POST", "/assets/resolve")] == ["80145861"]
    assert_switch_request_forgotten(events, started)


# --- a delivered order told as a new one: the enquiry takes over ------------------------------------------------------
@pytest.mark.parametrize("text", [
    "pour la commande de juin pour l'accueil, on devait recevoir un cyan et un magenta, on a reçu deux magenta",
    "The July order for the 2nd floor copier arrived with the toners but no staple cartridge in the box.",
    "ORD0001231 : on a reçu un bac de récupération à la place du tambour",  # "à la place de": what came instead
])
async def test_a_delivery_gone_wrong_hands_the_order_form_over_to_the_enquiry(portal, orders, make_tracker, domain,
                                                                             text):
    tracker = make_tracker(text, intent="order_consumables", active_loop=CONSUMABLES)
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["requested_slot"] is None and slots["switch_to"] == "order_enquiry"
    assert slots["switch_request"] == {"text": text, "intent": "order_enquiry", "entities": [],
                                       "announce": {"response": "utter_order_is_an_enquiry"}}
    assert dispatcher.messages == [] and not portal.calls("GET")  # nothing asked, no catalogue fetched
    done = make_tracker(text, intent="order_consumables", active_loop=None,
                        slots={"switch_to": "order_enquiry", "switch_request": slots["switch_request"]})
    dispatcher, events = await run(ActionSubmitOrder(), done, domain)
    assert responses(dispatcher) == ["utter_order_is_an_enquiry"]
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_switch_form"}
    assert not portal.calls("POST", "/orders")


async def test_an_invoice_for_a_placed_order_hands_over_to_an_invoice_question(portal, orders, make_tracker, domain):
    text = ("j'ai une facture de 179 livres pour deux toners noirs commandés en mai, je pensais que les consommables "
            "étaient compris dans le contrat ??")
    tracker = make_tracker(text, intent="order_consumables", active_loop=CONSUMABLES)
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["switch_to"] == "invoice_question"
    done = make_tracker(text, intent="order_consumables", active_loop=None,
                        slots={"switch_to": "invoice_question", "switch_request": slots["switch_request"]})
    dispatcher, events = await run(ActionSubmitOrder(), done, domain)
    assert responses(dispatcher) == ["utter_order_is_an_invoice_question"]
    assert events[-1]["name"] == "action_switch_form"


@pytest.mark.parametrize("text", ["on commence à manquer de jaune et de magenta", "commande de toner noir, livraison à "
                                  "l'accueil svp", "order 2 black toners, the May order was not enough",
                                  "2 toners noirs svp, à facturer sur notre compte habituel"])
async def test_a_new_order_is_not_mistaken_for_a_delivery_gone_wrong(portal, orders, make_tracker, domain, text):
    tracker = make_tracker(text, intent="order_consumables", active_loop=CONSUMABLES)
    _, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert slot_values(events).get("switch_to") is None


# --- a change to the order just sent: a second order for the difference, on the same device --------------------
def sent_history(lines=({"part_number": "2794B002", "description": "C-EXV29 Toner Cyan", "quantity": 2},
                        {"part_number": "2790B002", "description": "C-EXV29 Toner Black", "quantity": 1}),
                 turns_after: int = 0) -> List[Dict[str, Any]]:
    """The events of an order form that sent ORD0001234 for the C5030, then `turns_after` more user messages."""
    history = [
        {"event": "user", "text": "2 cyan et 1 noir pour l'accueil", "parse_data": {"intent": {"name":
                                                                                    "order_consumables"}}},
        {"event": "slot", "name": "order_asset", "value": "53463252"},
        {"event": "slot", "name": "order_asset_label", "value": LABEL_C5030},
        {"event": "slot", "name": "order_lines", "value": list(lines)},
        {"event": "user", "text": "/affirm", "parse_data": {"intent": {"name": "affirm"}}},
        {"event": "action", "name": "action_submit_order"},
        {"event": "bot", "text": "C'est fait : votre commande ORD0001234 a été envoyée (…).",
         "metadata": {"utter_action": "utter_order_created"}},
        {"event": "slot", "name": "order_asset", "value": None},
        {"event": "slot", "name": "order_lines", "value": None},
    ]
    for n in range(turns_after):
        history.append({"event": "user", "text": f"merci {n}", "parse_data": {"intent": {"name": "thank"}}})
    return history


async def test_a_new_total_right_after_the_order_is_a_second_order_for_the_difference(portal, orders, make_tracker,
                                                                                     domain):
    tracker = make_tracker("actually make the cyan 3, marketing has a big print run coming", intent="order_consumables",
                           active_loop=CONSUMABLES, history=sent_history(), slots={"language": "en"},
                           entities=[("quantity", "3")])
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert message(dispatcher, "utter_order_followup")["order_number"] == "ORD0001234"
    assert slots["order_asset"] == "53463252"  # the device of the order sent, not asked again
    assert slots["order_lines"] == [{"part_number": "2794B002", "description": "C-EXV29 Toner Cyan", "quantity": 1}]
    assert not portal.calls("POST", "/orders")  # the summary comes first


async def test_a_number_for_the_only_line_just_ordered_is_its_new_total(portal, orders, make_tracker, domain):
    waste = ({"part_number": "FM3-5945-010", "description": "Waste Toner Container", "quantity": 1},)
    tracker = make_tracker("actually make that two, we might as well keep a spare", intent="inform",
                           active_loop=CONSUMABLES, history=sent_history(lines=waste), slots={"language": "en"})
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert "utter_order_followup" in responses(dispatcher)
    assert slot_values(events)["order_lines"] == [{"part_number": "FM3-5945-010", "description":
                                                   "Waste Toner Container", "quantity": 1}]


async def test_an_item_added_right_after_the_order_is_ordered_as_said(portal, orders, make_tracker, domain):
    tracker = make_tracker("ah et rajoute un bac de récup de toner tant qu'à faire", intent="order_consumables",
                           active_loop=CONSUMABLES, history=sent_history(turns_after=1))
    dispatcher, events = await run(ValidateOrderConsumablesForm(), tracker, domain)
    slots = slot_values(events)
    assert "utter_order_followup" in responses(dispatcher)
    assert slots["order_lines"] == [{"part_number": "FM3-5945-010", "description": "Waste Toner Container",
                                     "quantity": 1}]


@pytest.mark.parametrize(("text", "turns_after", "entities"), [
    ("ah et rajoute un bac de récup de toner", 2, []),  # two more messages since: no longer about that order
    ("rajoute aussi un toner noir pour la WHJ02153", 0, [("asset_ref", "WHJ02153")]),  # another device named
    ("je voudrais commander du toner noir", 0, []),  # no word of a change: a new order as any other
])
async def test_no_second_order_said_unless_the_words_change_the_order_just_sent(portal, orders, make_tracker, domain,
                                                                                text, turns_after, entities):
    tracker = make_tracker(text, intent="order_consumables", active_loop=CONSUMABLES, entities=entities,
                           history=sent_history(turns_after=turns_after))
    dispatcher, _ = await run(ValidateOrderConsumablesForm(), tracker, domain)
    assert "utter_order_followup" not in responses(dispatcher)


async def test_a_change_to_the_order_read_as_another_request_goes_to_the_order_form(portal, orders, make_tracker,
                                                                                    domain):
    from actions.requests import ActionSubmitRequest, ValidateRequestForm

    text = "finalement mettez 3 cyans au lieu de 2"
    tracker = make_tracker(text, intent="request_change", active_loop="request_form", history=sent_history())
    dispatcher, events = await run(ValidateRequestForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, "order_consumables")
    assert slots["switch_request"]["text"] == text and dispatcher.messages == []
    done = make_tracker(text, intent="request_change", active_loop=None, history=sent_history(),
                        slots={"switch_to": "order_consumables", "switch_request": slots["switch_request"]})
    dispatcher, events = await run(ActionSubmitRequest(), done, domain)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_switch_form"}
    assert not portal.calls("POST", "/requests")


# --- no word of teaching: a training request is another request's words -------------------------------------------
@pytest.mark.parametrize(("text", "other"), [
    ("Tu peux ajouter Marc Lefèvre sur le portail ? son mail c'est marc point lefevre arobase exemple point fr",
     "invite_user"),
    ("je voudrais une copie du contrat de notre photocopieuse et le coût d'une résiliation anticipée",
     "contract_question"),
    ("pour le dossier des trainees sur les copies couleur : j'ai fait la page de test, c'est toujours pareil",
     "report_fault"),  # "traînées" typed without accents: streaks, not trainees
])
async def test_a_training_without_teaching_words_hands_over(portal, orders, make_tracker, domain, text, other):
    from actions.orders import ValidateOrderTrainingForm

    tracker = make_tracker(text, intent="order_training", active_loop="order_training_form")
    dispatcher, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["requested_slot"], slots["switch_to"]) == (None, other)
    assert dispatcher.messages == []


async def test_a_training_with_teaching_words_stays(portal, orders, make_tracker, domain):
    from actions.orders import ValidateOrderTrainingForm

    tracker = make_tracker("our new starters need to learn the copier on the portal's account", intent="order_training",
                           active_loop="order_training_form")
    _, events = await run(ValidateOrderTrainingForm(), tracker, domain)
    assert slot_values(events).get("switch_to") is None
