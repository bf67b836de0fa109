"""Which language a message is written in, and the NLU component that lets the `language` slot follow it
(bot/language.py)."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language import WRITTEN_LANGUAGE, WrittenLanguageExtractor, detect_language


@pytest.mark.parametrize("text, expected", [
    ("bonjour", "fr"), ("hello", "en"), ("merci beaucoup", "fr"), ("thanks a lot", "en"),
    ("je veux commander du toner", "fr"), ("I want to order toner", "en"),
    ("bourrage papier dans le tiroir 2", "fr"), ("paper jam in tray 2", "en"),
    ("quel est le statut de CS0032498", "fr"), ("what is the status of CS0032498", "en"),
    ("la machine du 2e étage", "fr"), ("the one on the 2nd floor", "en"),
    ("ma imprimante ne marche plus", "fr"), ("my printer is broken", "en"),
    ("j'ai besoin d'aide", "fr"), ("relevé compteur", "fr"), ("meter reading", "en"),
])
def test_clear_messages_are_recognised(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["ok", "WHJ01481", "45300", "CS0032498", "toner", "le toner", "help", "", "/affirm",
                                  '/change_language{"language_choice":"en"}'])
def test_ambiguous_messages_and_payloads_leave_the_language_alone(text):
    assert detect_language(text) is None


def _process(text: str, entities=None) -> list:
    message = Message(data={TEXT: text, ENTITIES: list(entities or [])})
    WrittenLanguageExtractor().process([message])
    return message.get(ENTITIES)


def test_a_clear_message_gets_the_written_language_entity_next_to_the_others():
    serial = {"entity": "asset_ref", "value": "WHJ01481", "start": 27, "end": 35, "extractor": "DIETClassifier"}
    entities = _process("I want to order toner for WHJ01481", [serial])
    assert entities[0] == serial
    assert entities[1] == {"entity": WRITTEN_LANGUAGE, "value": "en", "start": 0, "end": 34,
                           "extractor": "WrittenLanguageExtractor"}
    assert [e["value"] for e in _process("  je voudrais commander du toner ") if e["entity"] == WRITTEN_LANGUAGE] == ["fr"]


@pytest.mark.parametrize("text", ["ok", "WHJ01481", "45300", '/change_language{"language_choice":"en"}', ""])
def test_an_unclear_message_or_a_button_gets_no_language_entity(text):
    assert _process(text) == []


def test_training_data_passes_through_unchanged():
    from rasa.shared.nlu.training_data.training_data import TrainingData
    data = TrainingData([Message(data={TEXT: "hello", "intent": "greet"})])
    assert WrittenLanguageExtractor().process_training_data(data) is data
    assert data.training_examples[0].get(ENTITIES) is None


# --- a message that asks to go on in a language is a change of language, whatever the classifier read -------------
def _classified(text: str, intent: str, confidence: float = 0.93) -> Message:
    message = Message(data={TEXT: text, ENTITIES: [], "intent": {"name": intent, "confidence": confidence},
                            "intent_ranking": [{"name": intent, "confidence": confidence},
                                               {"name": "change_language", "confidence": 0.04}]})
    WrittenLanguageExtractor().process([message])
    return message


@pytest.mark.parametrize("text", [
    "On peut continuer en français ? C'est plus simple pour moi.",
    "Sorry, can we carry on in English? I'm forwarding this chat to our IT guy and he doesn't read French.",
    "could you reply in English from now on", "repasse en francais stp", "la suite en anglais svp", "english please",
])
def test_asking_to_go_on_in_a_language_is_a_change_of_language(text):
    message = _classified(text, "cancel")
    assert message.get("intent") == {"name": "change_language", "confidence": 1.0}
    assert [r["name"] for r in message.get("intent_ranking")] == ["change_language", "cancel"]


@pytest.mark.parametrize("text", [
    "he doesn't read French", "le contrat est en anglais", "passer la machine en anglais",
    "switch the copier to english", "continue", "je voudrais le contrat en anglais",
])
def test_a_language_named_for_something_else_is_left_to_the_classifier(text):
    assert _classified(text, "request_change").get("intent")["name"] == "request_change"
