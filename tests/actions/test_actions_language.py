"""The assistant follows the language the user writes in (actions/language.py)."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionFollowLanguage, detect_language
from actions_fakes import USER_PROFILE, responses, slot_values

FR_PROFILE = dict(USER_PROFILE, language="fr")


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


@pytest.mark.asyncio
async def test_switches_to_the_language_written(make_tracker, domain):
    tracker = make_tracker("I want to order toner", intent="order_consumables", portal_user=FR_PROFILE,
                           slots={"language": "fr"}, active_loop=None)
    dispatcher = CollectingDispatcher()
    events = await ActionFollowLanguage().run(dispatcher, tracker, domain)
    assert slot_values(events) == {"language": "en"}
    assert dispatcher.messages == []  # Rasa drops a slot-mapping action's messages: the channel offers to save

    back = make_tracker("merci, je continue en français", intent="thank", portal_user=FR_PROFILE,
                        slots={"language": "en"}, active_loop=None)
    assert slot_values(await ActionFollowLanguage().run(CollectingDispatcher(), back, domain)) == {"language": "fr"}


@pytest.mark.asyncio
async def test_same_or_unclear_language_changes_nothing(make_tracker, domain):
    for text, lang in [("bonjour", "fr"), ("WHJ01481", "en"), ("45300", "fr")]:
        tracker = make_tracker(text, portal_user=FR_PROFILE, slots={"language": lang}, active_loop=None)
        dispatcher = CollectingDispatcher()
        assert await ActionFollowLanguage().run(dispatcher, tracker, domain) == []
        assert dispatcher.messages == []
