"""actions/knowledge.py: how-to questions answered with articles, never a case."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionSearchKnowledge
from actions_fakes import BASE_URL, FakePortal, responses

pytestmark = pytest.mark.asyncio


async def ask(make_tracker, domain, text, **kwargs):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, intent="search_knowledge", active_loop=None, **kwargs)
    events = await ActionSearchKnowledge().run(dispatcher, tracker, domain)
    return dispatcher, events


async def test_articles_with_absolute_links_then_an_offer_to_report(portal: FakePortal, make_tracker, domain):
    dispatcher, events = await ask(make_tracker, domain, "comment remplacer le toner ?")
    assert events == []
    names = responses(dispatcher)
    assert names[0] == "utter_kb_search_intro" and names[-1] == "utter_kb_search_followup"
    articles = [m for m in dispatcher.messages if m["response"] == "utter_kb_article"]
    assert len(articles) == len(portal.kb_hits[:3]) > 0
    assert all(m["url"].startswith(f"{BASE_URL}/kb/") for m in articles)
    # the same fields as data, for the adapters that show a card
    assert [m["custom"]["article"] for m in articles] == [
        {key: m[key] for key in ("title", "number", "summary", "url")} for m in articles]
    (search,) = portal.calls("GET", "/knowledge/search")
    assert search["params"]["q"] == "comment remplacer le toner ?"
    assert not portal.calls("POST", "/cases")


async def test_one_call_asks_the_backend_to_boost_the_users_only_device(portal: FakePortal, make_tracker, domain):
    await ask(make_tracker, domain, "how do I clear a jam?", slots={"language": "en"})
    (search,) = portal.calls("GET", "/knowledge/search")
    assert search["params"]["my_device"] == "true" and "asset" not in search["params"]
    assert search["params"]["lang"] == "en"
    assert not portal.calls("GET", "/assets")  # the backend knows the user's devices


async def test_nothing_found_says_so_with_the_query(portal: FakePortal, make_tracker, domain):
    portal.kb_hits = []
    dispatcher, _ = await ask(make_tracker, domain, "comment faire un café")
    assert responses(dispatcher) == ["utter_kb_search_nothing"]
    assert dispatcher.messages[0]["query"] == "comment faire un café"


async def test_a_refused_query_gets_the_backends_message(portal: FakePortal, make_tracker, domain):
    portal.fail((422, {"code": "query_too_short", "message": "Saisissez au moins 3 caractères pour rechercher."}),
                "GET", "/knowledge/search")
    dispatcher, _ = await ask(make_tracker, domain, "to")
    assert [m["text"] for m in dispatcher.messages] == ["Saisissez au moins 3 caractères pour rechercher."]


async def test_backend_down_is_told(portal: FakePortal, make_tracker, domain):
    portal.fail("down")
    dispatcher, _ = await ask(make_tracker, domain, "comment remplacer le toner")
    assert responses(dispatcher) == ["utter_backend_unavailable"]


HOWTO = {"number": "KB0020", "lang": "en", "title": "Ordering staples", "summary": "Use the order form.",
         "url": "/kb/KB0020?lang=en", "tags": ["howto.ordering_consumables"], "models": [], "score": 0.5}
FAULT = {"number": "KB0021", "lang": "en", "title": "Jammed staples in the finisher", "summary": "Open the door.",
         "url": "/kb/KB0021?lang=en", "tags": ["fault.paper_jam.inside_device"], "models": [], "score": 0.6}


async def test_an_off_topic_question_gets_no_article_and_a_person(portal: FakePortal, make_tracker, domain):
    portal.kb_hits = [dict(HOWTO, similarity=0.15), dict(FAULT, similarity=0.12)]
    dispatcher, _ = await ask(make_tracker, domain, "what's the weather tomorrow", slots={"language": "en"})
    assert responses(dispatcher) == ["utter_kb_search_nothing"]
    en = next(v for v in domain["responses"]["utter_kb_search_nothing"] if v.get("condition"))
    assert en["text"].startswith("I have no article about") and en["buttons"] == [
        {"title": "Send my question to Canon", "payload": "/product_information"},
        {"title": "Ask an agent to call me", "payload": "/human_handoff"}]
    assert dispatcher.messages[0]["query"] == "what's the weather tomorrow"


async def test_a_long_question_is_quoted_back_cut_at_a_word(portal: FakePortal, make_tracker, domain):
    portal.kb_hits = []
    text = "how do I get it to print booklets? you know, folded with the staples in the middle like a magazine"
    dispatcher, _ = await ask(make_tracker, domain, text, slots={"language": "en"})
    quoted = dispatcher.messages[0]["query"]
    assert quoted.endswith("…") and text.startswith(quoted[:-1]) and len(quoted) <= 81
    assert text[len(quoted) - 1] == " "  # cut between two words


async def test_the_question_goes_to_the_request_sent_from_the_no_article_button(make_tracker):
    """"Send my question to Canon" under the no-article answer: a product information request whose description is
    the question the user typed (actions/forms.py opening_message)."""
    from actions.forms import opening_message

    question = "how do I get it to print booklets, folded with staples in the middle?"
    typed = {"text": question, "intent": {"name": "search_knowledge", "confidence": 0.9}, "entities": []}
    history = [{"event": "user", "text": question, "parse_data": typed, "input_channel": "rest"},
               {"event": "bot", "text": "I have no article…", "data": {"buttons": [
                   {"title": "Send my question to Canon", "payload": "/product_information"}]}},
               {"event": "action", "name": "action_listen"}]
    tracker = make_tracker("/product_information", intent="product_information", active_loop="request_form",
                           history=history)
    opening = opening_message(tracker)
    assert (opening.text, opening.intent) == (question, "product_information")


async def test_a_question_gets_a_fault_article_only_when_clearly_about_it(portal: FakePortal, make_tracker, domain):
    portal.kb_hits = [dict(FAULT, similarity=0.5), dict(HOWTO, similarity=0.45)]
    dispatcher, _ = await ask(make_tracker, domain, "how do I order more staples", slots={"language": "en"})
    shown = [m["number"] for m in dispatcher.messages if m.get("response") == "utter_kb_article"]
    assert shown == ["KB0020"]
    portal.kb_hits = [dict(FAULT, similarity=0.7)]
    dispatcher, _ = await ask(make_tracker, domain, "staples stuck in the finisher, how do I clear them",
                              slots={"language": "en"})
    assert [m["number"] for m in dispatcher.messages if m.get("response") == "utter_kb_article"] == ["KB0021"]
