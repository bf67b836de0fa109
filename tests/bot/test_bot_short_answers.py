"""bot/short_answers.py: a long message that does not start like a yes or a no is never read as one."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.short_answers import ShortAnswers, is_long_non_answer, reread

RANKING = [{"name": "deny", "confidence": 0.73}, {"name": "device_info", "confidence": 0.14},
           {"name": "affirm", "confidence": 0.05}, {"name": "manage_asset_contacts", "confidence": 0.05}]


@pytest.mark.parametrize("text", [
    "While I've got you - who's down as the contact on that machine? I think it's still someone who left.",
    "My phone number's wrong on the portal - it should be 020 7946 0999, not the one ending 0001.",
    "we were billed £62 for staples, is that right?",
])
def test_a_long_sentence_about_something_else_is_no_answer(text):
    assert is_long_non_answer(text)
    assert reread(text, RANKING[0], RANKING) == {"name": "device_info", "confidence": 0.14}


@pytest.mark.parametrize("text", [
    "non", "oui merci", "no thanks", "non, j'ai déjà essayé de remettre la pile bien droite et ça coince encore",
    "yes please, go ahead and send it to Canon today", "pas du tout, les traces sont toujours là sur chaque page",
    "/deny", "ça ne règle rien",
])
def test_yes_and_no_that_start_like_one_stay(text):
    assert reread(text, {"name": "deny", "confidence": 0.9}, RANKING) is None


def test_other_intents_are_never_changed():
    long = "the portal says I have no open case, not the one I sent yesterday about the jam"
    assert reread(long, {"name": "case_status", "confidence": 0.6}, RANKING) is None


def test_the_component_rereads_the_message_and_its_ranking():
    message = Message(data={"text": "My phone number's wrong on the portal, not the one ending 0001, can you fix it",
                            "intent": RANKING[0], "intent_ranking": RANKING})
    (processed,) = ShortAnswers().process([message])
    assert processed.get("intent") == {"name": "device_info", "confidence": 0.14}
    assert [r["name"] for r in processed.get("intent_ranking")] == ["device_info", "manage_asset_contacts"]
