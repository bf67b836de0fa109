"""actions/profile.py: switching the language (at once, saved, confirmed in the new language), e-mail
notifications on/off (permission, words and buttons, the state the portal confirms) and the password (a link to
the secure page, never a password in the chat)."""
from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.profile import (
    ActionChangeLanguage, ActionChangePassword, ActionOfferLanguage, ActionSaveLanguage, ActionSetNotifications, language_choice, notification_choice,
    render_response,
)
from actions_fakes import run, BASE_URL, FakePortal, responses, slot_values
from fakes_admin import ADMIN_PROFILE, USER_PROFILE_SEED
from fakes_general import ADMIN_TOKEN, GeneralBackend

pytestmark = pytest.mark.asyncio


@pytest.fixture
def general(portal: FakePortal) -> GeneralBackend:
    return GeneralBackend(portal)




def variation(domain: Dict[str, Any], name: str, lang: str) -> Dict[str, Any]:
    fr, en = domain["responses"][name][1], domain["responses"][name][0]
    return en if lang == "en" else fr


def user_says(make_tracker, text: str, intent: str, lang: str = "en", entities=(), admin: bool = False):
    if admin:
        return make_tracker(text, intent=intent, entities=entities, active_loop=None, token=ADMIN_TOKEN,
                            portal_user=ADMIN_PROFILE, slots={"language": lang})
    return make_tracker(text, intent=intent, entities=entities, active_loop=None, portal_user=USER_PROFILE_SEED,
                        slots={"language": lang})


# --- language ---------------------------------------------------------------------------------------------------
async def test_switch_to_english_changes_the_conversation_not_the_profile(general, portal, make_tracker, domain):
    tracker = user_says(make_tracker, "parle moi en anglais", "change_language", lang="fr",
                        entities=[("language_choice", "en")], admin=True)
    dispatcher, events = await run(ActionChangeLanguage(), tracker, domain)
    assert portal.calls("PATCH", "/users/me/profile") == []  # the profile changes only on "yes" to the offer
    assert general.profiles["admin"]["language"] == "fr"
    assert events == [{"event": "slot", "timestamp": None, "name": "language", "value": "en"}]
    # the confirmation is already in the new language (Rasa would render a named response in the old one)
    (msg,) = dispatcher.messages
    assert msg["text"] == variation(domain, "utter_language_changed", "en")["text"]
    assert msg["text"].startswith("Of course: I'll answer in English")
    assert "profile" not in msg["text"]


async def test_switch_to_french_from_the_button_payload(general, portal, make_tracker, domain):
    tracker = user_says(make_tracker, '/change_language{"language_choice":"fr"}', "change_language", lang="en",
                        entities=[("language_choice", "fr")])
    dispatcher, events = await run(ActionChangeLanguage(), tracker, domain)
    assert portal.calls("PATCH", "/users/me/profile") == []
    assert slot_values(events) == {"language": "fr"}
    assert dispatcher.messages[0]["text"].startswith("Bien sûr : je vous réponds désormais en français")


async def test_the_offer_asks_and_remembers_the_language_it_was_made_for(general, portal, make_tracker, domain):
    tracker = user_says(make_tracker, "can we continue in english", "change_language", lang="en", admin=True)
    dispatcher, events = await run(ActionOfferLanguage(), tracker, domain)
    assert responses(dispatcher) == ["utter_offer_language"]
    assert slot_values(events) == {"language_offered": "en"}
    assert portal.calls("PATCH", "/users/me/profile") == []
    for lang, yes in (("en", "Yes, save English"), ("fr", "Oui, enregistrer le français")):
        buttons = variation(domain, "utter_offer_language", lang)["buttons"]
        assert [(b["title"], b["payload"]) for b in buttons][0] == (yes, "/affirm")
        assert buttons[1]["payload"] == "/deny"


async def test_yes_to_the_offer_saves_the_conversation_language(general, portal, make_tracker, domain):
    tracker = user_says(make_tracker, "yes", "affirm", lang="en", admin=True)  # the admin's profile is French
    dispatcher, events = await run(ActionSaveLanguage(), tracker, domain)
    (call,) = portal.calls("PATCH", "/users/me/profile")
    assert call["json"] == {"language": "en"}
    assert call["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"
    assert general.profiles["admin"]["language"] == "en"
    assert responses(dispatcher) == ["utter_language_saved"] and events == []


async def test_yes_when_the_profile_already_has_it_writes_nothing(general, portal, make_tracker, domain):
    tracker = user_says(make_tracker, "oui", "affirm", lang="fr", admin=True)
    dispatcher, _ = await run(ActionSaveLanguage(), tracker, domain)
    assert portal.calls("PATCH", "/users/me/profile") == []
    assert responses(dispatcher) == ["utter_language_saved"]


@pytest.mark.parametrize("value", ["anglais", "English", "ENGLISH", "en anglais", "eng"])
async def test_unmapped_entity_values_are_understood(make_tracker, value):
    assert language_choice(user_says(make_tracker, "x", "change_language", entities=[("language_choice", value)])) \
        == "en"


@pytest.mark.parametrize("text, expected", [
    ("parle moi en anglais stp", "en"), ("switch to french", "fr"), ("repasse en francais", "fr"),
    ("change language", None), ("/change_language", None),
    # both named: the one named last is the one wanted
    ("je ne parle pas francais, anglais svp", "en"), ("Everything is in French, can you switch it to English?", "en"),
    ("c'est en anglais, je peux l'avoir en français ?", "fr"),
    # a language named as the one not wanted does not count, wherever it comes
    ("Sorry, can we carry on in English? I'm forwarding this chat to our IT guy and he doesn't read French.", "en"),
    ("mon collègue ne lit pas le français, passez en anglais", "en"), ("pas en anglais svp", "fr"),
    ("On peut continuer en français ? C'est plus simple pour moi.", "fr"),
])
async def test_language_from_the_words(make_tracker, text, expected):
    assert language_choice(user_says(make_tracker, text, "change_language")) == expected


@pytest.mark.parametrize("text, target", [
    ("Mon portail est en anglais, est-ce que je peux l'avoir en français ?", "fr"),
    ("my portal emails come in French, can you switch it to English?", "en"),
])
async def test_asking_for_the_portals_language_saves_the_profile(general, portal, make_tracker, domain, text, target):
    profile = dict(USER_PROFILE_SEED, language="en" if target == "fr" else "fr")
    tracker = make_tracker(text, intent="change_language", active_loop=None, portal_user=profile,
                           slots={"language": profile["language"]})
    dispatcher, events = await run(ActionChangeLanguage(), tracker, domain)
    assert portal.calls("PATCH", "/users/me/profile")[0]["json"] == {"language": target}
    assert {(e["name"], e["value"]) for e in events} == {("language", target), ("language_offered", target)}
    expected = render_response(domain, "utter_language_saved", target)["text"]
    assert [m.get("text") for m in dispatcher.messages] == [expected]


async def test_without_a_language_asks_with_two_buttons(general, portal, make_tracker, domain):
    dispatcher, events = await run(ActionChangeLanguage(), user_says(make_tracker, "change language",
                                                                      "change_language"), domain)
    assert responses(dispatcher) == ["utter_ask_language"] and events == []
    assert portal.calls("PATCH", "/users/me/profile") == []
    for lang in ("fr", "en"):
        assert [b["payload"] for b in variation(domain, "utter_ask_language", lang)["buttons"]] == [
            '/change_language{{"language_choice":"fr"}}', '/change_language{{"language_choice":"en"}}']


async def test_portal_down_when_saving_says_it_was_not_saved(general, portal, make_tracker, domain):
    portal.fail("down", "PATCH", "/users/me/profile")
    tracker = user_says(make_tracker, "yes", "affirm", lang="fr")  # the user's profile is English
    dispatcher, events = await run(ActionSaveLanguage(), tracker, domain)
    assert responses(dispatcher) == ["utter_language_not_saved"] and events == []


async def test_refused_by_the_portal_says_why(general, portal, make_tracker, domain):
    general.without("email_notifications")  # PATCH /users/me/profile needs it (backend/api/routes/users.py)
    tracker = user_says(make_tracker, "oui", "affirm", lang="fr")
    dispatcher, events = await run(ActionSaveLanguage(), tracker, domain)
    assert events == []
    assert responses(dispatcher)[0] == "utter_language_not_saved"
    assert dispatcher.messages[1]["text"] == "Votre rôle ne permet pas cette action. Contactez votre administrateur."


async def test_expired_session_changes_nothing(general, portal, make_tracker, domain):
    tracker = make_tracker("oui", intent="affirm", active_loop=None, token="expired", slots={"language": "fr"})
    dispatcher, events = await run(ActionSaveLanguage(), tracker, domain)
    assert responses(dispatcher) == ["utter_login_required"] and events == []


async def test_render_response_picks_the_language_and_unescapes_payloads(domain):
    en = render_response(domain, "utter_ask_language", "en")
    assert en["text"].startswith("Which language")
    assert en["buttons"][1] == {"title": "English", "payload": '/change_language{"language_choice":"en"}'}
    assert render_response(domain, "utter_ask_language", "fr")["text"].startswith("Dans quelle langue")
    filled = render_response(domain, "utter_change_password", "en", url="https://portal.example/account/password")
    assert "[Change my password](https://portal.example/account/password)" in filled["text"]
    assert render_response(domain, "utter_does_not_exist", "en") is None


# --- e-mail notifications ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("désactive les notifications", False), ("couper les notifs", False), ("stop les mails de notification", False),
    ("je veux plus recevoir d'e-mails de notification", False), ("je ne veux plus de notifications", False),
    ("turn off notifications", False), ("disable email notifications", False), ("stop sending me emails", False),
    ("i don't want email notifications anymore", False), ("mute notifications", False),
    ("no more emails please", False), ("notifs off pls", False),
    ("active les notifications par e-mail", True), ("réactive les alertes par mail", True),
    ("remettre les notifications", True), ("je veux recevoir les notifications par email", True),
    ("turn on email notifications", True), ("enable notifications", True), ("re-enable email alerts", True),
    ("i want to get email notifications", True), ("notifs on", True),
    ("gérer mes notifications", None), ("manage my notifications", None), ("are my notifications on?", None),
    ("les notifications sont activées ?", None), ("notification preferences", None),
    ("tu peux désactiver les notifs ?", False),
])
async def test_notification_choice_from_the_words(make_tracker, text, expected):
    assert notification_choice(user_says(make_tracker, text, "set_notifications")) is expected


@pytest.mark.parametrize("state, expected", [("on", True), ("off", False)])
async def test_notification_choice_from_the_buttons(make_tracker, state, expected):
    tracker = user_says(make_tracker, f'/set_notifications{{"notification_state":"{state}"}}', "set_notifications",
                        entities=[("notification_state", state)])
    assert notification_choice(tracker) is expected


async def test_the_menus_button_keeps_the_words_typed_before_it(make_tracker):
    """"Turn those e-mails off" fell to the low-confidence menu; its "E-mail notifications" button still means off."""
    history = [{"event": "user", "text": "I get an email every time a ticket changes, turn those off",
                "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": []}},
               {"event": "bot", "text": "Did you mean:", "data": {"buttons": [
                   {"title": "E-mail notifications", "payload": "/set_notifications"}]}}]
    tracker = make_tracker("/set_notifications", intent="set_notifications", active_loop=None, history=history)
    assert notification_choice(tracker) is False


async def test_turn_notifications_off(general, portal, make_tracker, domain):
    tracker = user_says(make_tracker, "désactive les notifications", "set_notifications", lang="fr")
    dispatcher, events = await run(ActionSetNotifications(), tracker, domain)
    (call,) = portal.calls("PATCH", "/users/me/profile")
    assert call["json"] == {"email_notifications": False}
    assert call["headers"]["authorization"] == "Bearer tok-user"
    assert general.profiles["user"]["email_notifications"] is False
    assert responses(dispatcher) == ["utter_notifications_off"] and events == []
    assert len(portal.calls("GET", "/users/me/permissions")) == 1


@pytest.mark.parametrize(("text", "intent", "lang"), [
    ("Je voudrais mettre mon portail en anglais et arrêter de recevoir tous ces mails de notification", "set_notifications",
     "fr"),
    ("Je voudrais mettre mon portail en anglais et arrêter de recevoir tous ces mails de notification", "change_language",
     "fr"),
    ("Please turn off my email notifications and switch my portal language to French", "change_language", "en"),
    ("Please turn off my email notifications and switch my portal language to French", "set_notifications", "en"),
])
async def test_language_and_notifications_in_one_message_are_both_done(general, portal, make_tracker, domain, text,
                                                                       intent, lang):
    target = "en" if lang == "fr" else "fr"
    profile = dict(ADMIN_PROFILE, language=lang)
    tracker = make_tracker(text, intent=intent, active_loop=None, token=ADMIN_TOKEN, portal_user=profile,
                           slots={"language": lang})
    action = ActionSetNotifications() if intent == "set_notifications" else ActionChangeLanguage()
    dispatcher, events = await run(action, tracker, domain)
    patched = [call["json"] for call in portal.calls("PATCH", "/users/me/profile")]
    assert {"email_notifications": False} in patched and {"language": target} in patched
    assert general.profiles["admin"]["email_notifications"] is False
    assert ("language", target) in {(e["name"], e["value"]) for e in events}


@pytest.mark.parametrize(("text", "intent"), [
    ("my e-mails come in French, can I get them in English?", "change_language"),  # no on/off of notifications
    ("turn off the notifications please", "set_notifications"),  # no language named
])
async def test_one_setting_asked_changes_only_that_one(general, portal, make_tracker, domain, text, intent):
    tracker = make_tracker(text, intent=intent, active_loop=None, token=ADMIN_TOKEN,
                           portal_user=dict(ADMIN_PROFILE, language="fr"), slots={"language": "fr"})
    action = ActionSetNotifications() if intent == "set_notifications" else ActionChangeLanguage()
    await run(action, tracker, domain)
    (patched,) = [call["json"] for call in portal.calls("PATCH", "/users/me/profile")]
    assert list(patched) == (["email_notifications"] if intent == "set_notifications" else ["language"])


async def test_turn_notifications_on_with_the_button(general, portal, make_tracker, domain):
    general.profiles["admin"]["email_notifications"] = False
    tracker = user_says(make_tracker, '/set_notifications{"notification_state":"on"}', "set_notifications",
                        entities=[("notification_state", "on")], admin=True)
    dispatcher, _ = await run(ActionSetNotifications(), tracker, domain)
    assert portal.calls("PATCH", "/users/me/profile")[0]["json"] == {"email_notifications": True}
    assert responses(dispatcher) == ["utter_notifications_on"]


@pytest.mark.parametrize("current, response", [(True, "utter_notifications_currently_on"),
                                                (False, "utter_notifications_currently_off")])
async def test_without_a_choice_shows_the_state_and_asks(general, portal, make_tracker, domain, current, response):
    general.profiles["user"]["email_notifications"] = current
    dispatcher, _ = await run(ActionSetNotifications(), user_says(make_tracker, "manage my notifications",
                                                                  "set_notifications"), domain)
    assert responses(dispatcher) == [response]
    assert portal.calls("PATCH", "/users/me/profile") == []
    for lang in ("fr", "en"):
        assert sorted(b["payload"] for b in variation(domain, response, lang)["buttons"]) == [
            '/set_notifications{{"notification_state":"off"}}', '/set_notifications{{"notification_state":"on"}}']


async def test_a_role_without_the_permission_is_refused_clearly(general, portal, make_tracker, domain):
    general.without("email_notifications")
    dispatcher, events = await run(ActionSetNotifications(), user_says(make_tracker, "turn off notifications",
                                                                       "set_notifications"), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_admin_only"
    assert msg["what"] == "turn e-mail notifications on or off"
    assert msg["administrators"] == "SNTest DemoPortal (sntestportaldemo@outlook.com)"
    assert portal.calls("PATCH", "/users/me/profile") == [] and events == []


async def test_refusal_in_french(general, make_tracker, domain):
    general.without("email_notifications")
    dispatcher, _ = await run(ActionSetNotifications(), user_says(make_tracker, "couper les notifs",
                                                                  "set_notifications", lang="fr"), domain)
    assert dispatcher.messages[0]["what"] == "activer ou désactiver les notifications par e-mail"


@pytest.mark.parametrize("failure, response", [("down", "utter_backend_unavailable"),
                                               (500, "utter_backend_unavailable"), (401, "utter_login_required")])
async def test_notifications_when_the_portal_fails(general, portal, make_tracker, domain, failure, response):
    portal.fail(failure, "PATCH", "/users/me/profile")
    dispatcher, events = await run(ActionSetNotifications(), user_says(make_tracker, "turn off notifications",
                                                                       "set_notifications"), domain)
    assert responses(dispatcher) == [response] and events == []


async def test_notifications_permission_check_down(general, portal, make_tracker, domain):
    portal.fail("down", "GET", "/users/me/permissions")
    dispatcher, _ = await run(ActionSetNotifications(), user_says(make_tracker, "turn off notifications",
                                                                  "set_notifications"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]
    assert portal.calls("PATCH", "/users/me/profile") == []


# --- password ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_password_gives_the_secure_page_never_asks(general, portal, make_tracker, domain, lang):
    dispatcher, events = await run(ActionChangePassword(), user_says(make_tracker, "change my password",
                                                                     "change_password", lang=lang), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_change_password"
    assert msg["url"] == f"{BASE_URL}/account/password?lang={lang}"
    assert events == []  # no slot, no form: nothing typed next is taken as a password
    assert portal.calls("POST", "/users/me/password") == []
    text = variation(domain, "utter_change_password", lang)["text"]
    assert "{url}" in text
    assert ("never ask for a password" in text) if lang == "en" else ("je ne vous demande jamais de mot de passe"
                                                                      in text)


async def test_password_link_uses_the_public_backend_url(general, make_tracker, domain, monkeypatch):
    monkeypatch.setenv("BACKEND_PUBLIC_URL", "https://portail.example.com/")
    dispatcher, _ = await run(ActionChangePassword(), user_says(make_tracker, "changer mon mdp", "change_password",
                                                                lang="fr", admin=True), domain)
    assert dispatcher.messages[0]["url"] == "https://portail.example.com/account/password?lang=fr"


async def test_password_refused_for_a_role_without_the_permission(general, portal, make_tracker, domain):
    general.without("change_password")
    dispatcher, _ = await run(ActionChangePassword(), user_says(make_tracker, "change my password",
                                                                "change_password"), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_admin_only" and msg["what"] == "change the password"


async def test_password_when_the_portal_is_down(general, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, _ = await run(ActionChangePassword(), user_says(make_tracker, "change my password",
                                                                "change_password"), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"]


@pytest.mark.parametrize("response, undo", [("utter_notifications_on", "off"), ("utter_notifications_off", "on")])
async def test_a_saved_notification_choice_offers_its_undo_in_both_languages(domain, response, undo):
    for lang in ("fr", "en"):
        assert [b["payload"] for b in variation(domain, response, lang)["buttons"]] == [
            f'/set_notifications{{{{"notification_state":"{undo}"}}}}']


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_voice_pin_is_a_link_to_its_secure_page_never_asked_in_the_chat(general, portal, make_tracker, domain,
                                                                              lang):
    from actions.profile import ActionVoicePin

    dispatcher, events = await run(ActionVoicePin(), user_says(make_tracker, "change my voice pin", "set_voice_pin",
                                                               lang=lang), domain)
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_voice_pin" and msg["url"] == f"{BASE_URL}/account/voice-pin?lang={lang}"
    assert events == []  # no slot, no form: nothing typed next is taken as a PIN
    assert portal.calls("PUT", "/users/me/voice-pin") == []
    text = variation(domain, "utter_voice_pin", lang)["text"]
    assert "{url}" in text and (("don't type it here" in text) if lang == "en" else ("ne le tapez pas ici" in text))
