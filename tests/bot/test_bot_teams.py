"""bot/channels/teams.py against an offline Microsoft side (microsoft_mock.py: OpenID configuration, JWKS with a
test RSA key, token endpoint, recording Bot Connector): only activities with a valid Bot Connector token reach the
assistant; replies go through the connector in order, as Adaptive Cards where there are buttons or articles."""
from __future__ import annotations

import itertools

import asyncio
import contextlib
import time
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import httpx
import jwt
import pytest
from sanic import Sanic

from actions.session import IDENTITY_KEY
from bot.channels.teams import BackendLinks, Once, TeamsInput, TeamsSettings, locale_language, strip_mentions
from bot.channels.teams_cards import CARD_CONTENT_TYPE, submitted_payload, teams_activities, teams_markdown
from bot.identity import MAX_MESSAGE_CHARS, IdentityLayer, PortalUnavailable
from bot_fakes import Recorder, channel_app, user_out
from microsoft_mock import APP_ID, APP_PASSWORD, ISSUER, KID, TENANT, MicrosoftMock, new_key, public_jwk

AAD_USER = "9f1e2d3c-0000-4000-8000-00000000abcd"
BOT = {"id": f"28:{APP_ID}", "name": "Print assistant"}
IDENTITY = {"id": 2, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal", "role": "user",
            "language": "en", "account": "CANON UK DEMO", "account_id": 1, "token_version": 0,
            "channel": "teams", "channel_user": f"teams:{TENANT}:{AAD_USER}"}


@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
def microsoft() -> Any:
    with MicrosoftMock() as mock:
        yield mock


class Links:
    """Stands for the identity links: (tenant, AAD object id) → identity."""

    def __init__(self) -> None:
        self.links: Dict[Tuple[str, str], Dict[str, Any]] = {(TENANT, AAD_USER): IDENTITY}
        self.asked: List[Tuple[str, str]] = []

    async def __call__(self, tenant: str, aad: str) -> Optional[Dict[str, Any]]:
        self.asked.append((tenant, aad))
        return self.links.get((tenant, aad))

    async def link_url(self, tenant: str, aad: str) -> str:
        return f"http://portal.test/chat/teams-link.html#code=code-for-{aad}"

    async def confirm(self, tenant: str, aad: str, number: str) -> Optional[Dict[str, Any]]:
        if number != "123456":
            return None
        self.links[(tenant, aad)] = IDENTITY
        return IDENTITY


class Sleeps:
    def __init__(self) -> None:
        self.delays: List[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def channel(microsoft: MicrosoftMock, links: Optional[Links] = None, **overrides: Any) -> TeamsInput:
    settings = TeamsSettings(app_password=APP_PASSWORD, **{**microsoft.settings, **overrides})
    return TeamsInput(settings, links or Links(), IdentityLayer("teams"), sleep=Sleeps())


@contextlib.asynccontextmanager
async def teams(microsoft: MicrosoftMock, on_new_message: Any, links: Optional[Links] = None,
                **overrides: Any) -> AsyncIterator[Tuple[TeamsInput, httpx.AsyncClient]]:
    adapter = channel(microsoft, links, **overrides)
    async with channel_app(adapter, on_new_message) as client:
        yield adapter, client
        await adapter.idle()


_ACTIVITY_IDS = itertools.count(1700000000001)


def activity(microsoft: MicrosoftMock, text: str = "hello", kind: str = "personal", **extra: Any) -> Dict[str, Any]:
    body = {
        "type": "message", "id": str(next(_ACTIVITY_IDS)), "channelId": "msteams", "serviceUrl": microsoft.service_url,
        "from": {"id": "29:1abc", "name": "Sam", "aadObjectId": AAD_USER},
        "recipient": BOT, "locale": "en-GB", "text": text,
        "conversation": {"id": "a:1personal-conversation", "conversationType": kind, "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
    }
    body.update(extra)
    return body


async def send(client: httpx.AsyncClient, microsoft: MicrosoftMock, body: Dict[str, Any],
               token: Optional[str] = "sign") -> httpx.Response:
    headers = {}
    if token == "sign":
        token = microsoft.sign()
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/webhooks/teams/messages", json=body, headers=headers)


# --- inbound security --------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_valid_activity_reaches_the_assistant_with_the_linked_identity(microsoft):
    recorder, links = Recorder(reply="Hello Sam"), Links()
    async with teams(microsoft, recorder, links) as (adapter, client):
        assert microsoft.key_fetches == 0  # keys are fetched lazily, not at start-up
        sent = activity(microsoft, "my printer is jammed")
        response = await send(client, microsoft, sent)
        await adapter.idle()
    assert response.status_code == 200
    (message,) = recorder.messages
    assert message.text == "my printer is jammed" and message.input_channel == "teams"
    assert message.metadata == {IDENTITY_KEY: IDENTITY}
    assert message.sender_id.startswith("u2:teams:")
    assert links.asked == [(TENANT, AAD_USER)]
    assert microsoft.texts() == ["typing", "Hello Sam"]
    reply = microsoft.activities[1]
    assert reply["conversation"] == "a:1personal-conversation"
    assert reply["body"]["replyToId"] == sent["id"] and reply["body"]["from"] == BOT
    assert reply["body"]["recipient"]["aadObjectId"] == AAD_USER
    assert reply["auth"] == "Bearer connector-token-1"


def forged(microsoft: MicrosoftMock) -> Dict[str, Any]:
    other_key = new_key()
    return {
        "no token": None,
        "not a JWT": "not-a-jwt",
        "wrong signature (same kid, another key)": microsoft.sign(key=other_key),
        "unknown kid": microsoft.sign(key=other_key, kid="attacker-key"),
        "no kid": microsoft.sign(kid=None),
        "wrong issuer": microsoft.sign({"iss": "https://sts.windows.net/attacker/"}),
        "wrong audience": microsoft.sign({"aud": "another-bot-app-id"}),
        "expired": microsoft.sign({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}),
        "not yet valid": microsoft.sign({"nbf": int(time.time()) + 3600}),
        "no expiry": microsoft.sign(drop=("exp",)),
        "serviceUrl mismatch": microsoft.sign(service_url="https://attacker.example/teams/"),
        "no serviceurl claim": microsoft.sign(drop=("serviceurl",)),
        "HS256 with the public key as secret": jwt.encode(
            {"iss": ISSUER, "aud": APP_ID, "exp": int(time.time()) + 600, "serviceurl": microsoft.service_url},
            "secret", algorithm="HS256", headers={"kid": KID}),
    }


@pytest.mark.asyncio
async def test_forged_activities_are_refused_and_nothing_reaches_the_assistant(microsoft):
    recorder, links = Recorder(reply="leak"), Links()
    async with teams(microsoft, recorder, links) as (adapter, client):
        for case, token in forged(microsoft).items():
            for body in (activity(microsoft), activity(microsoft, type="conversationUpdate",
                                                       membersAdded=[BOT])):
                response = await send(client, microsoft, body, token=token)
                assert response.status_code == 401, case
        # a valid token for another conversation's service URL does not pass either
        body = activity(microsoft, serviceUrl="https://attacker.example/teams/")
        assert (await send(client, microsoft, body)).status_code == 401
        # the key must endorse the activity's channel
        assert (await send(client, microsoft, activity(microsoft, channelId="webchat"))).status_code == 401
        await adapter.idle()
    assert recorder.messages == [] and links.asked == [] and microsoft.activities == []
    assert microsoft.token_requests == []


@pytest.mark.asyncio
async def test_an_unknown_kid_refreshes_the_keys_at_most_once_per_interval(microsoft):
    async with teams(microsoft, Recorder(), keys_min_refresh_seconds=0) as (adapter, client):
        assert (await send(client, microsoft, activity(microsoft))).status_code == 200
        assert microsoft.key_fetches == 1
        assert (await send(client, microsoft, activity(microsoft))).status_code == 200
        assert microsoft.key_fetches == 1  # cached
        # Microsoft rolls its keys: a token signed by the new key makes the adapter fetch them again
        rolled = new_key()
        microsoft.jwks.append(public_jwk(rolled, "rolled-key", ["msteams"]))
        assert (await send(client, microsoft, activity(microsoft), microsoft.sign(key=rolled, kid="rolled-key"))
                ).status_code == 200
        assert microsoft.key_fetches == 2
    async with teams(microsoft, Recorder(), keys_min_refresh_seconds=60) as (adapter, client):
        fetched = microsoft.key_fetches
        for n in range(3):  # forged kids cannot make the adapter hammer Microsoft's key endpoint
            assert (await send(client, microsoft, activity(microsoft), microsoft.sign(kid=f"random-{n}"))
                    ).status_code == 401
        assert microsoft.key_fetches == fetched + 1


@pytest.mark.asyncio
async def test_keys_out_of_reach_give_503_and_nothing_reaches_the_assistant(microsoft):
    recorder = Recorder()
    async with teams(microsoft, recorder, openid_metadata_url="http://127.0.0.1:9/openid") as (_, client):
        assert (await send(client, microsoft, activity(microsoft))).status_code == 503
    assert recorder.messages == []


@pytest.mark.asyncio
async def test_bodies_that_are_not_activities_get_400(microsoft):
    async with teams(microsoft, Recorder()) as (_, client):
        for body in (b"[1, 2]", b"not json", b"\"text\""):
            response = await client.post("/webhooks/teams/messages", content=body,
                                         headers={"Authorization": f"Bearer {microsoft.sign()}"})
            assert response.status_code == 400


# --- identity -----------------------------------------------------------------------------------------------------
ANONYMOUS_FR = {"anonymous": True, "id": None, "language": "fr", "channel": "teams", "channel_user": "teams:unlinked"}
LINK_URL = f"http://portal.test/chat/teams-link.html#code=code-for-{AAD_USER}"
ARTICLE = {"title": "Replace the toner cartridge", "number": "KB0002", "summary": "Open the front cover.",
           "url": "http://portal.test/kb/KB0002"}


class Assistant(Recorder):
    """Stands for Rasa: answers each message with the bot messages `answers` gives for its text (as Rasa sends them to
    the output channel: text, buttons, custom payload and the response's name)."""

    def __init__(self, answers: Dict[str, List[Dict[str, Any]]]) -> None:
        super().__init__()
        self.answers = answers

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        for bot_message in self.answers.get(message.text, []):
            await message.output_channel.send_response(message.sender_id, dict(bot_message))


def login_required(lang: str = "en") -> Dict[str, Any]:
    text = "Your session has expired: please log in to the portal again." if lang == "en" else \
        "Votre session a expiré : veuillez vous reconnecter au portail."
    return {"text": text, "utter_action": "utter_login_required"}


def sign_in_cards(microsoft: MicrosoftMock) -> List[Dict[str, Any]]:
    return [c for c in microsoft.texts() if isinstance(c, dict) and c.get("actions") and
            c["actions"][0]["type"] == "Action.OpenUrl" and "teams-link.html" in c["actions"][0]["url"]]


@pytest.mark.asyncio
async def test_an_unlinked_teams_user_talks_to_the_assistant_anonymously_and_gets_the_sign_in_card_first(microsoft):
    recorder, links = Recorder(reply="Bonjour ! Que puis-je faire pour vous ?"), Links()
    links.links.clear()
    async with teams(microsoft, recorder, links) as (adapter, client):
        await send(client, microsoft, activity(microsoft, "bonjour", locale="fr-FR"))
        await adapter.idle()
        first = microsoft.texts()
        await send(client, microsoft, activity(microsoft, "bonjour encore", locale="fr-FR"))
    # the message reached the assistant with the anonymous identity only: no user id, account or Teams ids
    assert [m.metadata for m in recorder.messages] == [{IDENTITY_KEY: ANONYMOUS_FR}] * 2
    senders = {m.sender_id for m in recorder.messages}
    assert len(senders) == 1 and senders.pop().startswith("unverified:teams:")
    assert AAD_USER not in recorder.messages[0].sender_id and TENANT not in recorder.messages[0].sender_id
    # the answer, then, on first contact only, the sign-in card saying what works until the link is made
    assert first[:2] == ["typing", "Bonjour ! Que puis-je faire pour vous ?"]
    (content,) = first[2:]
    assert content["body"][0]["text"].startswith("Pour utiliser l'assistant dans Teams, reliez votre compte")
    assert "En attendant, je peux répondre à vos questions pratiques" in content["body"][0]["text"]
    assert content["actions"] == [{"type": "Action.OpenUrl", "title": "Relier mon compte", "url": LINK_URL}]
    assert microsoft.texts()[3:] == ["typing", "Bonjour ! Que puis-je faire pour vous ?"]  # no second card


@pytest.mark.asyncio
async def test_an_unlinked_user_gets_knowledge_as_cards_and_the_sign_in_card_for_the_rest(microsoft):
    assistant, links = Assistant({
        "how do I replace the toner?": [{"text": "Here is what I found:", "utter_action": "utter_kb_search_intro"},
                                        {"text": "**Replace the toner cartridge** (KB0002)",
                                         "custom": {"article": ARTICLE}, "utter_action": "utter_kb_article"}],
        # the fault form: the device look-up and the device question both refused by the backend
        "my printer is jammed": [login_required(), login_required()],
    }), Links()
    links.links.clear()
    async with teams(microsoft, assistant, links) as (adapter, client):
        await send(client, microsoft, activity(microsoft, "how do I replace the toner?"))
        await adapter.idle()
        answered = microsoft.texts()
        microsoft.activities.clear()
        await send(client, microsoft, activity(microsoft, "my printer is jammed"))
    assert answered[:3] == ["typing", "Here is what I found:", {
        "type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.5",
        "body": [{"type": "TextBlock", "text": "Replace the toner cartridge", "wrap": True, "weight": "Bolder",
                  "size": "Medium"},
                 {"type": "TextBlock", "text": "KB0002", "wrap": True, "isSubtle": True, "spacing": "None",
                  "size": "Small"},
                 {"type": "TextBlock", "text": "Open the front cover.", "wrap": True}],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the article", "url": ARTICLE["url"]}],
        "msteams": {"width": "Full"}}]
    assert len(answered) == 4 and answered[3]["actions"][0]["url"] == LINK_URL  # first contact: the sign-in card
    # what needs the account: one sign-in card saying why, never the "session expired" text
    (card,) = microsoft.texts()[1:]
    assert microsoft.texts()[0] == "typing"
    assert card["body"][0]["text"].startswith("For that I need to know who you are in the portal: link your Teams")
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Link my account", "url": LINK_URL}]
    assert "session" not in str(microsoft.texts())


@pytest.mark.asyncio
async def test_the_sign_in_card_follows_the_language_the_assistant_answered_in(microsoft):
    assistant, links = Assistant({"je veux voir mes dossiers": [login_required("fr")]}), Links()
    links.links.clear()
    async with teams(microsoft, assistant, links) as (adapter, client):
        await send(client, microsoft, activity(microsoft, "je veux voir mes dossiers", locale="en-US"))
    (card,) = sign_in_cards(microsoft)
    assert card["body"][0]["text"].startswith("Pour cela, je dois savoir qui vous êtes dans le portail")
    assert card["actions"][0]["title"] == "Relier mon compte"


@pytest.mark.asyncio
async def test_a_user_unlinked_after_being_linked_gets_the_sign_in_card_at_the_next_message(microsoft):
    recorder, links = Recorder(reply="ok"), Links()
    async with teams(microsoft, recorder, links) as (adapter, client):
        await send(client, microsoft, activity(microsoft, "hello"))
        await adapter.idle()
        links.links.clear()  # unlinked (in the chat, by an administrator or deactivated)
        await send(client, microsoft, activity(microsoft, "show my cases"))
        await adapter.idle()
        await send(client, microsoft, activity(microsoft, "and now?"))
    assert [m.metadata[IDENTITY_KEY]["id"] for m in recorder.messages] == [2, None, None]
    assert recorder.messages[0].sender_id.startswith("u2:teams:")
    assert recorder.messages[1].sender_id.startswith("unverified:teams:")
    assert microsoft.texts()[:2] == ["typing", "ok"] and len(sign_in_cards(microsoft)) == 1
    assert microsoft.texts()[-2:] == ["typing", "ok"]


@pytest.mark.asyncio
async def test_the_sign_in_card_is_shown_once_per_conversation_until_seen_linked():
    once = Once()
    what = "sign-in:a:1personal-conversation:tenant:aad"
    assert await once.first(what) and not await once.first(what)
    await once.forget(what)
    assert await once.first(what)


@pytest.mark.asyncio
async def test_the_number_typed_in_teams_makes_the_link(microsoft):
    recorder, links = Recorder(reply="Hello Sam"), Links()
    links.links.clear()
    async with teams(microsoft, recorder, links) as (adapter, client):
        await send(client, microsoft, activity(microsoft, "654321"))
        await adapter.idle()
        assert microsoft.texts()[0] == "This number does not match or has expired."
        assert microsoft.texts()[1]["actions"][0]["title"] == "Link my account"
        await send(client, microsoft, activity(microsoft, "123456"))
        await adapter.idle()
        await send(client, microsoft, activity(microsoft, "hello"))
    assert microsoft.texts()[2:] == [
        "Done: your Teams account is linked to SNTestDM DemoPortal's portal account. What can I do for you?",
        "typing", "Hello Sam"]
    assert [m.text for m in recorder.messages] == ["hello"]  # the numbers never reached the assistant


@pytest.mark.asyncio
async def test_the_portal_out_of_reach_is_said_and_nothing_reaches_the_assistant(microsoft):
    class Down(Links):
        async def __call__(self, tenant: str, aad: str) -> Optional[Dict[str, Any]]:
            raise PortalUnavailable()

    recorder = Recorder(reply="leak")
    async with teams(microsoft, recorder, Down()) as (adapter, client):
        await send(client, microsoft, activity(microsoft))
    assert recorder.messages == []
    assert microsoft.texts() == ["The portal is not responding right now. Please try again in a few minutes."]


@pytest.mark.asyncio
async def test_backend_links_ask_with_a_short_lived_channel_token():
    seen: List[httpx.Request] = []

    def backend(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/teams/link-codes":
            return httpx.Response(201, json={"code": "abc123", "expires_at": "2026-12-07T15:00:00Z"})
        body = __import__("json").loads(request.content)
        if request.url.path == "/teams/links/confirm":
            return httpx.Response(201, json=user_out()) if body["number"] == "123456" else httpx.Response(400)
        if body["aad_object_id"] == AAD_USER:
            return httpx.Response(200, json=user_out())
        return httpx.Response(404, json={"code": "teams_not_linked"})

    links = BackendLinks("http://portal.test", key="channel-key", transport=httpx.MockTransport(backend))
    assert await links(TENANT, AAD_USER) == {**IDENTITY}
    assert await links(TENANT, "someone-else") is None
    assert await links("", AAD_USER) is None
    assert await links.link_url(TENANT, "someone-else") == "http://portal.test/chat/teams-link.html#code=abc123"
    assert await links.confirm(TENANT, AAD_USER, "123456") == IDENTITY
    assert await links.confirm(TENANT, AAD_USER, "000000") is None
    token = seen[0].headers["authorization"].split()[1]
    claims = jwt.decode(token, "channel-key", algorithms=["HS256"], audience="portal-channel")
    assert claims["sub"] == "teams" and claims["exp"] - claims["iat"] <= 60


@pytest.mark.asyncio
async def test_an_unconfigured_app_refuses_everything(microsoft):
    recorder = Recorder()
    async with teams(microsoft, recorder, app_id="") as (_, client):
        assert (await send(client, microsoft, activity(microsoft))).status_code == 503
    assert recorder.messages == [] and microsoft.activities == []


@pytest.mark.asyncio
async def test_an_over_long_message_is_refused_before_the_assistant(microsoft):
    recorder = Recorder()
    async with teams(microsoft, recorder) as (adapter, client):
        await send(client, microsoft, activity(microsoft, "x" * (MAX_MESSAGE_CHARS + 1)))
    assert recorder.messages == []
    assert microsoft.texts() == [f"Your message is too long (over {MAX_MESSAGE_CHARS} characters). "
                                 "Could you shorten it?"]


# --- outbound -------------------------------------------------------------------------------------------------------
class Chatty(Recorder):
    """Answers each message with three messages, slowly, to show ordering."""

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        for n in range(3):
            await asyncio.sleep(0.01 * (3 - n))
            await message.output_channel.send_text_message(message.sender_id, f"{message.text}-{n}")


@pytest.mark.asyncio
async def test_replies_are_in_order_and_the_token_is_cached(microsoft):
    async with teams(microsoft, Chatty()) as (adapter, client):
        for text in ("one", "two", "three"):
            assert (await send(client, microsoft, activity(microsoft, text))).status_code == 200
    assert microsoft.texts() == ["typing", "one-0", "one-1", "one-2", "typing", "two-0", "two-1", "two-2",
                                 "typing", "three-0", "three-1", "three-2"]
    assert len(microsoft.token_requests) == 1
    (form,) = microsoft.token_requests
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://api.botframework.com/.default"]


@pytest.mark.asyncio
async def test_429_and_5xx_are_retried_with_backoff(microsoft):
    async with teams(microsoft, Recorder(reply="after retries")) as (adapter, client):
        microsoft.fail_next = [429, 502, 503]
        microsoft.retry_after = "2"
        await send(client, microsoft, activity(microsoft))
    sleeps = adapter.connector.sleep.delays
    assert len(sleeps) == 3 and all(delay >= 2 for delay in sleeps)  # Retry-After honoured
    assert microsoft.texts() == ["typing", "after retries"]


@pytest.mark.asyncio
async def test_a_connector_that_keeps_failing_is_given_up_on(microsoft):
    async with teams(microsoft, Recorder(reply="lost")) as (adapter, client):
        microsoft.fail_next = [500] * 20
        await send(client, microsoft, activity(microsoft))
    assert len(adapter.connector.sleep.delays) == 2 * adapter.settings.retries  # typing and the reply
    delays = adapter.connector.sleep.delays[:adapter.settings.retries]
    assert delays == sorted(delays)  # exponential backoff


# --- group chats, channels, card clicks, welcome ------------------------------------------------------------------
@pytest.mark.asyncio
async def test_group_chats_and_channels_answer_only_mentions_with_the_mention_stripped(microsoft):
    recorder = Recorder(reply="ok")
    mention = {"type": "mention", "text": "<at>Print assistant</at>", "mentioned": BOT}
    other = {"type": "mention", "text": "<at>Alex</at>", "mentioned": {"id": "29:alex", "name": "Alex"}}
    async with teams(microsoft, recorder) as (adapter, client):
        for kind in ("channel", "groupChat"):
            await send(client, microsoft, activity(microsoft, "<at>Alex</at> lunch?", kind, entities=[other]))
            await send(client, microsoft, activity(
                microsoft, "<at>Print assistant</at> meter reading please", kind, entities=[mention, other]))
    assert [m.text for m in recorder.messages] == ["meter reading please"] * 2


@pytest.mark.asyncio
async def test_a_card_click_sends_the_buttons_payload(microsoft):
    recorder = Recorder()
    async with teams(microsoft, recorder) as (adapter, client):
        await send(client, microsoft, activity(microsoft, None, "groupChat",
                                                value={"payload": '/choose_asset{"asset":"WHJ01481"}'}))
        await send(client, microsoft, activity(microsoft, None, value={"payload": ""}))  # nothing to say
    assert [m.text for m in recorder.messages] == ['/choose_asset{"asset":"WHJ01481"}']


@pytest.mark.asyncio
async def test_an_activity_delivered_twice_is_one_turn(microsoft):
    recorder = Recorder()
    async with teams(microsoft, recorder) as (adapter, client):
        first = activity(microsoft, "my printer jams")
        assert (await send(client, microsoft, first)).status_code == 200
        assert (await send(client, microsoft, dict(first))).status_code == 200  # the connector's retry
        await send(client, microsoft, activity(microsoft, "and it smells burnt"))  # another activity: a turn
        await adapter.idle()
    assert [m.text for m in recorder.messages] == ["my printer jams", "and it smells burnt"]


@pytest.mark.asyncio
async def test_welcome_once_in_the_users_locale_when_the_bot_is_added(microsoft):
    recorder = Recorder()
    async with teams(microsoft, recorder) as (adapter, client):
        added = activity(microsoft, None, type="conversationUpdate", locale="fr-FR",
                         membersAdded=[{"id": "29:1abc"}, BOT])
        await send(client, microsoft, added)
        await send(client, microsoft, added)
        await send(client, microsoft, activity(microsoft, None, type="conversationUpdate",
                                               membersAdded=[{"id": "29:someone"}]))
    assert recorder.messages == []
    (welcome,) = microsoft.texts()
    assert welcome.startswith("Bonjour ! Je suis l'assistant")


# --- rendering ------------------------------------------------------------------------------------------------------
def card(activities: List[Dict[str, Any]]) -> Dict[str, Any]:
    (only,) = activities
    (attachment,) = only["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE
    return attachment["content"]


def test_buttons_become_action_submit_carrying_the_payload():
    content = card(teams_activities({"text": "Which device?", "buttons": [
        {"title": "WHJ01481 — reception", "payload": '/choose_asset{"asset":"WHJ01481"}'},
        {"title": "Portal", "payload": "", "url": "https://portal.example/cases"}]}, "en"))
    assert content["body"] == [{"type": "TextBlock", "text": "Which device?", "wrap": True}]
    assert content["actions"] == [
        {"type": "Action.Submit", "title": "WHJ01481 — reception",
         "data": {"payload": '/choose_asset{"asset":"WHJ01481"}'}},
        {"type": "Action.OpenUrl", "title": "Portal", "url": "https://portal.example/cases"}]
    assert submitted_payload(content["actions"][0]["data"]) == '/choose_asset{"asset":"WHJ01481"}'
    assert submitted_payload({"payload": 3}) is None and submitted_payload("x") is None


def test_a_confirmation_is_a_card_with_facts_and_styled_confirm_cancel():
    content = card(teams_activities({"text": "Here is your fault report:\nDevice: WHJ01481\nType: Paper jam\n"
                                             "Description: jammed in tray 2\nShall I send it?",
                                     "buttons": [{"title": "Oui, envoyer", "payload": "/affirm"},
                                                 {"title": "Non", "payload": "/deny"}]}, "fr"))
    assert content["body"] == [
        {"type": "TextBlock", "text": "Here is your fault report:", "wrap": True},
        {"type": "FactSet", "facts": [{"title": "Device", "value": "WHJ01481"}, {"title": "Type", "value": "Paper jam"},
                                      {"title": "Description", "value": "jammed in tray 2"}]},
        {"type": "TextBlock", "text": "Shall I send it?", "wrap": True}]
    assert [(a["title"], a["style"]) for a in content["actions"]] == [("Oui, envoyer", "positive"),
                                                                     ("Non", "destructive")]
    # a bare yes/no question is not a summary: plain buttons
    question = card(teams_activities({"text": "Did it help?", "buttons": [{"title": "Yes", "payload": "/affirm"},
                                                                          {"title": "No", "payload": "/deny"}]}, "en"))
    assert all("style" not in action for action in question["actions"])
    french = card(teams_activities({"text": "Je vais ouvrir ce dossier :\n• Appareil : WHJ01481\n• Type : Odeur\n"
                                            "Je le soumets ?", "buttons": [{"title": "Oui", "payload": "/affirm"},
                                                                           {"title": "Non", "payload": "/deny"}]}, "fr"))
    assert french["body"][1] == {"type": "FactSet", "facts": [{"title": "Appareil", "value": "WHJ01481"},
                                                              {"title": "Type", "value": "Odeur"}]}


@pytest.mark.parametrize("lang, label", [("fr", "Ouvrir l'article"), ("en", "Open the article")])
def test_an_article_is_a_card_with_an_open_button_in_the_users_language(lang, label):
    article = {"title": "Paper jam in tray 2", "number": "KB0010", "summary": "Open the tray.",
               "url": "http://portal/kb/KB0010"}
    out = teams_activities({"text": "**Paper jam in tray 2** (KB0010) — Open the tray.",
                            "custom": {"article": article}}, lang)
    content = card(out)
    assert [b["text"] for b in content["body"]] == ["Paper jam in tray 2", "KB0010", "Open the tray."]
    assert content["actions"] == [{"type": "Action.OpenUrl", "title": label, "url": "http://portal/kb/KB0010"}]


def test_text_is_teams_markdown():
    assert teams_activities({"text": "Hello"}, "en") == [{"type": "message", "text": "Hello",
                                                          "textFormat": "markdown"}]
    assert teams_markdown("Line one\nLine two") == "Line one\n\nLine two"
    assert teams_markdown("Cases:\n- CS1\n- CS2") == "Cases:\n- CS1\n- CS2"
    assert teams_activities({}, "en") == []


def test_helpers():
    assert locale_language("fr-CA") == "fr" and locale_language("en-US") == "en" and locale_language(None) == "en"
    assert strip_mentions("<at>Bot</at>  hi   there", ["<at>Bot</at>"]) == "hi there"


def test_settings_come_from_the_environment_and_keep_the_secret_out_of_repr(monkeypatch, tmp_path):
    secret = tmp_path / "teams_secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("TEAMS_APP_PASSWORD", raising=False)
    monkeypatch.setenv("TEAMS_APP_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("TEAMS_APP_ID", "app")
    monkeypatch.setenv("TEAMS_TENANT_ID", "tenant")
    monkeypatch.setenv("TEAMS_OPENID_METADATA_URL", "https://login.botframework.azure.us/v1/.well-known/openid")
    settings = TeamsSettings.from_env({"token_url": "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token"})
    assert settings.app_password == "s3cret" and "s3cret" not in repr(settings)
    assert settings.tenant_token_url == "https://login.microsoftonline.us/tenant/oauth2/v2.0/token"
    assert settings.openid_metadata_url.startswith("https://login.botframework.azure.us")
    assert TeamsSettings.from_env({}).issuer == "https://api.botframework.com"


def test_from_credentials_builds_the_channel_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEAMS_APP_ID", "app-from-env")
    monkeypatch.setenv("BACKEND_URL", "http://env-backend:8000")
    adapter = TeamsInput.from_credentials({"channel": "teams"})
    assert adapter.settings.app_id == "app-from-env" and adapter.layer.channel == "teams"
    assert adapter.resolve.link_page_url == "http://env-backend:8000/chat/teams-link.html"


@pytest.mark.asyncio
async def test_once_is_shared_through_redis_when_configured():
    class FakeRedis:
        def __init__(self) -> None:
            self.keys: Dict[str, Any] = {}

        async def set(self, key: str, value: Any, nx: bool = False, ex: int = 0) -> Optional[bool]:
            if nx and key in self.keys:
                return None
            self.keys[key] = value
            return True

    first, second = Once(), Once()
    first.redis = second.redis = FakeRedis()  # two workers, one Redis
    assert await first.first("welcome:a") and not await second.first("welcome:a")
    assert await second.first("welcome:b")
    local = Once()
    assert await local.first("x") and not await local.first("x")
