"""bot/channels/voice.py and voice_render.py: only requests Twilio signed reach the assistant; the PIN flow against
a faked backend; keypad options mapped back to payloads; silence; the holding answer; the handoff's transfer; and
the renderer's TwiML checked against Twilio's rules (tests/twiml_rules.py)."""
from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import urlencode, urljoin

import httpx
import pytest
from sanic import Sanic
from twilio.request_validator import RequestValidator

from actions.session import IDENTITY_KEY
from bot.channels.voice import CallStore, PhoneSettings, Verification, VoiceBackend, VoiceInput, voice_message
from bot.channels.voice_render import (
    LINK_PAYLOAD, VoicePrompt, VoiceSettings, prompt_twiml, segments, shorten, speakable, voice_prompt,
)
from bot.identity import IdentityLayer
from bot_fakes import channel_app, user_out
from twiml_rules import check_twiml

AUTH_TOKEN = "twilio-test-auth-token-0123456789abcdef"
BASE = "http://rasa/webhooks/voice/"
CALLER = "+442079460002"
IDENTITY = {"id": 2, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal", "role": "user",
            "language": "en", "account": "CANON UK DEMO", "account_id": 1, "token_version": 0, "channel": "phone",
            "channel_user": "phone:2"}
RIGHT_PIN = "480917"


@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


class FakeBackend:
    """Stands for POST /voice/verify and /voice/outbox: one user with a PIN, locked after three wrong ones."""

    def __init__(self, known: Tuple[str, ...] = (CALLER,), pin: Optional[str] = RIGHT_PIN) -> None:
        self.known, self.pin, self.wrong = known, pin, 0
        self.asked: List[Tuple[str, str, Optional[str]]] = []
        self.links: List[Tuple[str, str, str, Optional[int]]] = []

    async def verify(self, caller: str, pin: str, phone: Optional[str] = None) -> Verification:
        self.asked.append((caller, pin, phone))
        if caller not in self.known and phone not in self.known:
            return Verification("caller_unknown")
        if self.pin is None:
            return Verification("no_voice_pin")
        if self.wrong >= 3:
            return Verification("locked", retry_after=900)
        if pin == self.pin:
            return Verification("ok", dict(IDENTITY))
        self.wrong += 1
        return Verification("locked", retry_after=900) if self.wrong >= 3 else Verification(
            "wrong_pin", attempts_left=3 - self.wrong)

    async def queue_link(self, caller: str, article: str, lang: str, user_id: Optional[int]) -> bool:
        self.links.append((caller, article, lang, user_id))
        return True


class Assistant:
    """Stands for Rasa: records each message and answers with the scripted bot messages (dicts as Rasa sends)."""

    def __init__(self, *answers: List[Dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.messages: List[Any] = []
        self.gate: Optional[asyncio.Event] = None

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if self.gate is not None:
            await self.gate.wait()
        for bot in (self.answers.pop(0) if self.answers else [{"text": "OK."}]):
            await message.output_channel.send_response(message.sender_id, bot)


def settings(**overrides: Any) -> PhoneSettings:
    return PhoneSettings(**{"auth_token": AUTH_TOKEN, "support_number": "+441234567890", "hold_seconds": 5.0,
                            "poll_seconds": 0.5, **overrides})


class Caller:
    """Posts signed forms as Twilio does and follows relative action URLs."""

    def __init__(self, client: httpx.AsyncClient, call: str = "CA0001", caller: str = CALLER,
                 base: str = BASE) -> None:
        self.client, self.call, self.caller, self.base = client, call, caller, base
        self.validator = RequestValidator(AUTH_TOKEN)
        self.next_url = urljoin(base, "call")

    async def post(self, url: str, headers: Optional[Dict[str, str]] = None, sign_url: Optional[str] = None,
                   **fields: str) -> httpx.Response:
        form = {"CallSid": self.call, "From": self.caller, "To": "+441111111111", "AccountSid": "AC1", **fields}
        signature = self.validator.compute_signature(sign_url or url, form)
        return await self.client.post(url, content=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature, **(headers or {})})

    async def send(self, **fields: str) -> ET.Element:
        """Answers the current question (empty: silence) and returns the TwiML, following Redirects."""
        answer = await self.post(self.next_url, **fields)
        assert answer.status_code == 200, answer.text
        root = self.parse(answer.text)
        while len(root) and root[-1].tag == "Redirect":
            url = urljoin(self.next_url, root[-1].text)
            answer = await self.post(url)
            root = self.parse(answer.text)
            self.next_url = url
        return root

    def parse(self, document: str) -> ET.Element:
        assert check_twiml(document) == [], document
        root = ET.fromstring(document)
        gathers = root.findall("Gather")
        if gathers:
            self.next_url = urljoin(self.next_url, gathers[0].attrib["action"])
        return root


def spoken(root: ET.Element) -> str:
    return " ".join("".join(say.itertext()) for say in root.iter("Say"))


@contextlib.asynccontextmanager
async def phone(assistant: Assistant, backend: Optional[FakeBackend] = None,
                **overrides: Any) -> AsyncIterator[Tuple[VoiceInput, httpx.AsyncClient]]:
    adapter = VoiceInput(settings(**overrides), backend or FakeBackend(), IdentityLayer("phone"), CallStore())
    async with channel_app(adapter, assistant) as client:
        yield adapter, client


async def verified(caller: Caller, lang_key: str = "2") -> ET.Element:
    await caller.send()
    await caller.send(Digits=lang_key)
    return await caller.send(Digits=RIGHT_PIN)


# --- authenticity -------------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_unsigned_wrongly_signed_and_replayed_requests_are_refused():
    assistant = Assistant()
    async with phone(assistant) as (adapter, client):
        caller = Caller(client)
        await verified(caller)
        form = urlencode({"CallSid": "CA0001", "From": CALLER, "SpeechResult": "my last case"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        assert (await client.post(BASE + "turn", content=form, headers=headers)).status_code == 403
        wrong = {**headers, "X-Twilio-Signature": RequestValidator("another-token").compute_signature(
            BASE + "turn", {"CallSid": "CA0001", "From": CALLER, "SpeechResult": "my last case"})}
        assert (await client.post(BASE + "turn", content=form, headers=wrong)).status_code == 403
        # a request signed for another URL (here: the call's start) replayed to /turn
        replayed = await caller.post(BASE + "turn", sign_url=BASE + "call", SpeechResult="my last case")
        assert replayed.status_code == 403
        # a field changed after signing
        signed = await caller.post(BASE + "turn", SpeechResult="my last case")
        assert signed.status_code == 200  # the genuine one passes...
        tampered_form = urlencode({"CallSid": "CA0001", "From": CALLER, "To": "+441111111111", "AccountSid": "AC1",
                                   "SpeechResult": "delete everything"})
        signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE + "turn", {
            "CallSid": "CA0001", "From": CALLER, "To": "+441111111111", "AccountSid": "AC1",
            "SpeechResult": "my last case"})
        tampered = await client.post(BASE + "turn", content=tampered_form,
                                     headers={**headers, "X-Twilio-Signature": signature})
        assert tampered.status_code == 403
    assert [m.text for m in assistant.messages] == ["my last case"]  # only the genuine turn reached it


@pytest.mark.asyncio
async def test_no_auth_token_refuses_every_call():
    assistant = Assistant()
    async with phone(assistant, auth_token="") as (_, client):
        answer = await Caller(client).post(BASE + "call")
        assert answer.status_code == 503
    assert assistant.messages == []


@pytest.mark.asyncio
async def test_the_public_url_or_a_trusted_proxy_is_what_twilio_signed():
    async with phone(Assistant(), public_url="https://assistant.example") as (_, client):
        caller = Caller(client)
        ok = await caller.post(BASE + "call", sign_url="https://assistant.example/webhooks/voice/call")
        assert ok.status_code == 200
        assert (await caller.post(BASE + "call")).status_code == 403  # signed for the internal URL: not Twilio's
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "assistant.example"}
    async with phone(Assistant()) as (_, client):  # proxy headers not trusted: anyone could send them
        answer = await Caller(client).post(BASE + "call", headers=proxied,
                                           sign_url="https://assistant.example/webhooks/voice/call")
        assert answer.status_code == 403
    async with phone(Assistant(), trust_proxy=True) as (_, client):
        answer = await Caller(client).post(BASE + "call", headers=proxied,
                                           sign_url="https://assistant.example/webhooks/voice/call")
        assert answer.status_code == 200


# --- who is calling -------------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_right_pin_verifies_and_the_profile_language_follows():
    assistant = Assistant([{"text": "Here are your cases."}])
    backend = FakeBackend()
    async with phone(assistant, backend) as (_, client):
        caller = Caller(client)
        start = await caller.send()
        assert "tapez 1" in spoken(start) and "press 2" in spoken(start)
        ask = await caller.send(Digits="1")  # French chosen...
        gather = ask.find("Gather")
        assert gather.attrib["numDigits"] == "6" and gather.attrib["finishOnKey"] == "#"
        assert gather.attrib["input"] == "dtmf" and "code vocal à 6 chiffres" in spoken(ask)
        welcome = await caller.send(Digits=RIGHT_PIN)
        # ...but the verified profile says English
        assert "Hello SNTestDM DemoPortal" in spoken(welcome)
        assert welcome.find("Gather").attrib["language"] == "en-GB"
        assert welcome.find("Gather/Say").attrib["voice"] == "Polly.Amy"
        await caller.send(SpeechResult="my cases")
    assert backend.asked == [(CALLER, RIGHT_PIN, None)]
    message = assistant.messages[0]
    assert message.metadata[IDENTITY_KEY]["id"] == 2 and message.metadata[IDENTITY_KEY]["channel"] == "phone"
    assert message.sender_id.startswith("u2:voice:") and message.input_channel == "voice"


@pytest.mark.asyncio
async def test_three_wrong_pins_end_the_call():
    assistant = Assistant()
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await caller.send()
        await caller.send(Digits="1")
        first = await caller.send(Digits="111112")
        assert "pas le bon" in spoken(first) and first.find("Gather") is not None
        await caller.send(Digits="111113")
        last = await caller.send(Digits="111114")
        assert last[-1].tag == "Hangup" and "bloqué pendant 15 minutes" in spoken(last)
        # the call is over: anything more only hangs up
        after = await caller.post(BASE + "turn", SpeechResult="hello")
        assert ET.fromstring(after.text)[-1].tag == "Hangup"
    assert assistant.messages == []


@pytest.mark.asyncio
async def test_three_malformed_pins_end_the_call_without_asking_the_backend():
    backend = FakeBackend()
    async with phone(Assistant(), backend) as (_, client):
        caller = Caller(client)
        await caller.send()
        await caller.send(Digits="2")
        assert "6 digits" in spoken(await caller.send(Digits="12"))
        await caller.send(Digits="1234567")
        assert (await caller.send(Digits="12#"))[-1].tag == "Hangup"
    assert backend.asked == []


@pytest.mark.asyncio
async def test_an_unknown_number_is_asked_the_profile_phone_then_the_pin():
    backend = FakeBackend(known=("+442079460002",))
    async with phone(Assistant(), backend) as (_, client):
        caller = Caller(client, caller="+33612345678")
        await caller.send()
        await caller.send(Digits="2")
        ask = await caller.send(Digits=RIGHT_PIN)
        assert "phone number of your portal profile" in spoken(ask)
        assert "code" not in str(ask.find("Gather").attrib)
        again = await caller.send(Digits="442079460002")
        assert "voice PIN" in spoken(again)
        welcome = await caller.send(Digits=RIGHT_PIN)
        assert "you are identified" in spoken(welcome)
    assert backend.asked[-1] == ("+33612345678", RIGHT_PIN, "+442079460002")


@pytest.mark.asyncio
async def test_star_continues_unverified_with_knowledge_only():
    assistant = Assistant([{"text": "Your session has expired: please log in to the portal again.",
                            "utter_action": "utter_login_required"}])
    backend = FakeBackend()
    async with phone(assistant, backend) as (_, client):
        caller = Caller(client)
        await caller.send()
        await caller.send(Digits="2")
        welcome = await caller.send(Digits="*")
        assert "how-to questions" in spoken(welcome)
        answer = await caller.send(SpeechResult="show my cases")
        assert "enter your voice PIN" in spoken(answer) and "log in to the portal" not in spoken(answer)
    assert backend.asked == []
    message = assistant.messages[0]
    identity = message.metadata[IDENTITY_KEY]
    assert identity["id"] is None and identity["anonymous"] is True and identity["language"] == "en"
    assert message.sender_id.startswith("unverified:voice:")


@pytest.mark.asyncio
async def test_no_pin_set_continues_unverified():
    async with phone(Assistant(), FakeBackend(pin=None)) as (_, client):
        caller = Caller(client)
        await caller.send()
        await caller.send(Digits="1")
        answer = await caller.send(Digits=RIGHT_PIN)
        assert "pas encore de code vocal" in spoken(answer) and "sans identification" in spoken(answer).lower()


# --- turns ------------------------------------------------------------------------------------------------------------
CONFIRM = [{"text": "I'm about to send these readings for C5560i (53463252):\n- 112: 45,300\nShall I submit them?",
            "buttons": [{"title": "Yes, submit", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
            "utter_action": "utter_ask_meter_confirm"}]
METER = [{"text": "Meter 112 Black (last reading: 45,000 on 01/11/2026): what is the new value?",
          "buttons": [{"title": "Unchanged", "payload": '/inform{"meter_choice":"same"}'},
                      {"title": "Skip this meter", "payload": '/inform{"meter_choice":"skip"}'}],
          "utter_action": "utter_ask_meter_current"}]


@pytest.mark.asyncio
async def test_keypad_options_map_back_to_the_buttons_payloads():
    assistant = Assistant(METER, METER, CONFIRM, [{"text": "Done."}])
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await verified(caller)
        meter = await caller.send(SpeechResult="meter readings")
        gather = meter.find("Gather")
        assert gather.attrib["finishOnKey"] == "#" and "numDigits" not in gather.attrib
        assert "For \"Unchanged\", press star 1" in spoken(meter)
        await caller.send(Digits="45300")  # a value, typed
        summary = await caller.send(Digits="*2")  # an option, in number mode
        assert "To confirm, press 1. To correct it, press 2" in spoken(summary)
        assert summary.find("Gather").attrib["numDigits"] == "1"
        await caller.send(Digits="1")
    assert [m.text for m in assistant.messages] == [
        "meter readings", "45300", '/inform{"meter_choice":"skip"}', "/affirm"]


@pytest.mark.asyncio
async def test_a_key_that_is_no_option_is_said_so_and_nothing_is_sent():
    assistant = Assistant(CONFIRM)
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await verified(caller)
        await caller.send(SpeechResult="submit")
        answer = await caller.send(Digits="7")
        assert "not one of the choices" in spoken(answer) and "To confirm, press 1" in spoken(answer)
    assert [m.text for m in assistant.messages] == ["submit"]


@pytest.mark.asyncio
async def test_silence_is_reprompted_twice_then_goodbye():
    assistant = Assistant([{"text": "What is the problem?"}])
    async with phone(assistant, max_reprompts=2) as (_, client):
        caller = Caller(client)
        await verified(caller)
        await caller.send(SpeechResult="report a fault")
        for _ in range(2):
            again = await caller.send()
            assert "didn't hear anything" in spoken(again) and "What is the problem?" in spoken(again)
        goodbye = await caller.send()
        assert goodbye[-1].tag == "Hangup" and "Goodbye" in spoken(goodbye)
    assert len(assistant.messages) == 1


@pytest.mark.asyncio
async def test_a_slow_turn_answers_with_a_holding_phrase_and_a_redirect():
    assistant = Assistant([{"text": "Your case CS0032498 is in progress."}])
    async with phone(assistant, hold_seconds=0.0) as (adapter, client):
        caller = Caller(client)
        await verified(caller)
        assistant.gate = asyncio.Event()
        holding = await caller.post(caller.next_url, SpeechResult="my last case")
        root = ET.fromstring(holding.text)
        assert check_twiml(holding.text) == []
        assert "One moment" in spoken(root) and root[-1].tag == "Redirect" and "poll?turn=1" in root[-1].text
        assistant.gate.set()
        await asyncio.gather(*adapter.tasks)
        answer = await caller.post(urljoin(caller.next_url, root[-1].text))
        result = ET.fromstring(answer.text)
        assert result.find(".//say-as").text == "CS0032498"
        assert result.find(".//say-as").attrib["interpret-as"] == "characters"


@pytest.mark.asyncio
async def test_poll_before_the_turn_ends_waits_again():
    assistant = Assistant([{"text": "Done."}])
    async with phone(assistant, hold_seconds=0.0, poll_seconds=0.0) as (adapter, client):
        caller = Caller(client)
        await verified(caller)
        assistant.gate = asyncio.Event()
        holding = ET.fromstring((await caller.post(caller.next_url, SpeechResult="hi")).text)
        waiting = await caller.post(urljoin(caller.next_url, holding[-1].text))
        assert check_twiml(waiting.text) == []
        root = ET.fromstring(waiting.text)
        assert [v.tag for v in root] == ["Pause", "Redirect"] and "n=2" in root[-1].text
        assistant.gate.set()
        await asyncio.gather(*adapter.tasks)


@pytest.mark.asyncio
async def test_handoff_by_key_0_creates_the_case_then_dials():
    created = [{"text": "Done: your callback request CS0040001 has been logged with the transcript of our "
                        "conversation.", "utter_action": "utter_handoff_created"}]
    ask = [{"text": "I can ask an agent to call you back. Shall I send it?",
            "buttons": [{"title": "Yes, call me back", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
            "utter_action": "utter_ask_handoff_confirm_plain"}]
    assistant = Assistant(ask, created)
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await verified(caller)
        await caller.send(Digits="0")
        dial = await caller.send(Digits="1")
        assert dial.find("Dial/Number").text == "+441234567890"
        assert "CS0040001" in [e.text for e in dial.iter("say-as")]
        failed = await caller.post(urljoin(caller.next_url, dial.find("Dial").attrib["action"]),
                                   DialCallStatus="no-answer")
        root = ET.fromstring(failed.text)
        assert root[-1].tag == "Hangup" and "callback request is recorded" in spoken(root)
    assert [m.text for m in assistant.messages] == ["/human_handoff", "/affirm"]


@pytest.mark.asyncio
async def test_handoff_for_an_unverified_caller_dials_without_a_case():
    assistant = Assistant()
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await caller.send()
        await caller.send(Digits="1")
        await caller.send(Digits="*")
        dial = await caller.send(Digits="0")
        assert dial.find("Dial/Number").text == "+441234567890"
    assert assistant.messages == []


@pytest.mark.asyncio
async def test_the_article_link_is_queued_on_key_9():
    article = {"title": "Replace the toner", "number": "KB0010100", "summary": "Open the front cover. " * 40,
               "url": "http://portal/kb/KB0010100"}
    answer = [{"text": "Here is what the knowledge base says:"},
              {"text": "**Replace the toner** (KB0010100) — ... [Read the article](http://portal/kb/KB0010100)",
               "custom": {"article": article}},
              {"text": "If this does not solve it, I can report a fault for you.",
               "buttons": [{"title": "Report a fault", "payload": "/report_fault"}]}]
    backend = FakeBackend()
    assistant = Assistant(answer)
    async with phone(assistant, backend) as (_, client):
        caller = Caller(client)
        await verified(caller)
        said = await caller.send(SpeechResult="how do I replace the toner")
        text = spoken(said)
        assert "press 9" in text and "http" not in text and "**" not in text
        assert len(text.split()) < 110  # the article is shortened
        queued = await caller.send(Digits="9")
        assert "will be sent by text message" in spoken(queued) and "press 9" not in spoken(queued)
    assert backend.links == [(CALLER, "KB0010100", "en", 2)]
    assert [m.text for m in assistant.messages] == ["how do I replace the toner"]


# --- renderer -------------------------------------------------------------------------------------------------------
def test_markdown_links_and_urls_are_not_spoken():
    text = speakable("**Bold** and _it_ `code` [Read the article](http://x.example/kb/KB1?lang=en) "
                     "see https://portal.example/a\n- one\n- two")
    assert text == "Bold and it code Read the article see. one. two."


def test_escaped_user_text_is_spoken_without_backslashes():
    # what the assistant escaped (actions/text.py escape_markdown) is spoken as typed, its link not read out
    text = speakable(r"Comment: \[Session expired\](https\://evil.example/login) Inactive_Stane \*note\*")
    assert "\\" not in text and "evil" not in text
    assert text == "Comment: Session expired Inactive_Stane note."


def test_lines_become_sentences():
    assert speakable("Meters (last reading):\n112: 15,230 (Portail)\n113: 88,410 (Portail)\nShall I? (e.g. \"x\".)") \
        == "Meters (last reading): 112: 15,230 (Portail). 113: 88,410 (Portail). Shall I? (e.g. \"x\".)"


def test_identifiers_are_read_as_characters():
    parts = segments("Case CS0032498, order ORD0001227, device 53463252 (WHJ01481), article KB0010100; 45 300 pages")
    assert [p for kind, p in parts if kind == "chars"] == ["CS0032498", "ORD0001227", "53463252", "WHJ01481",
                                                            "KB0010100"]
    document = str(prompt_twiml(voice_prompt([{"text": "Your case CS0032498."}], "fr"), "fr", "turn",
                                VoiceSettings()))
    assert check_twiml(document) == []
    assert '<say-as interpret-as="characters">CS0032498</say-as>' in document


def test_shorten_keeps_whole_sentences_under_the_limit():
    text = "First sentence is here. " * 30
    short = shorten(text, 50)
    assert len(short.split()) <= 50 and short.endswith(".")
    assert shorten("a b c", 50) == "a b c"


def test_summary_is_read_back_with_confirm_and_correct_keys():
    prompt = voice_prompt(CONFIRM, "fr")
    assert prompt.options == {"1": "/affirm", "2": "/deny"}
    assert "112: 45,300" in prompt.text and "Pour confirmer, tapez 1. Pour corriger, tapez 2" in prompt.text


def test_a_yes_no_question_that_is_no_summary_reads_its_buttons():
    helped = [{"text": "Did one of the articles above solve your problem?", "utter_action": "utter_ask_kb_feedback",
               "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"},
                           {"title": "No article shown", "payload": "/inform"}]}]
    prompt = voice_prompt(helped, "en")
    assert "To confirm" not in prompt.text
    assert 'For "Yes", press 1. For "No", press 2. For "No article shown", press 3.' in prompt.text
    assert prompt.options == {"1": "/affirm", "2": "/deny", "3": "/inform"}


def test_number_questions_finish_on_hash_and_key_options_with_star():
    prompt = voice_prompt(METER, "en")
    assert prompt.number and set(prompt.options) == {"*1", "*2"}
    gather = ET.fromstring(str(prompt_twiml(prompt, "en", "turn", VoiceSettings()))).find("Gather")
    assert gather.attrib["finishOnKey"] == "#" and "numDigits" not in gather.attrib
    assert gather.attrib["hints"] == "Unchanged, Skip this meter"


def test_twiml_checker_catches_what_twilio_refuses():
    assert check_twiml("<Response><Say>hi</Say>") != []  # not well-formed
    assert check_twiml("<Response><Gather numDigits='x'><Dial>1</Dial></Gather></Response>") != []
    assert check_twiml("<Response><Hangup/><Say>never said</Say></Response>") != []
    assert check_twiml("<Response><Say><b>x</b></Say></Response>") != []
    assert check_twiml("<Response><Say><say-as interpret-as='magic'>x</say-as></Say></Response>") != []
    assert check_twiml("<Response><Say voice='Polly.Amy' colour='red'>x</Say></Response>") != []
    assert check_twiml("<Response><Say>hello</Say><Redirect method='POST'>poll</Redirect></Response>") == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_phrase_of_the_channel_is_in_both_languages(lang):
    from bot.channels import voice, voice_render

    for table in (voice.MESSAGES, voice_render.PHRASES):
        for key, texts in table.items():
            assert texts.get(lang), key
    assert voice_message("locked", lang, minutes=15)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("VOICE_PUBLIC_URL", "https://assistant.example/")
    monkeypatch.setenv("VOICE_SUPPORT_NUMBER", "+33100000000")
    monkeypatch.setenv("VOICE_VOICE_FR", "Polly.Celine")
    found = PhoneSettings.from_env()
    assert found.auth_token == AUTH_TOKEN and found.public_url == "https://assistant.example"
    assert found.support_number == "+33100000000" and found.voice.voices["fr"] == "Polly.Celine"
    assert AUTH_TOKEN not in repr(found)
    channel = VoiceInput.from_credentials({"channel": "phone"})
    assert channel.layer.channel == "phone" and VoiceInput.name() == "voice"


@pytest.mark.asyncio
async def test_voice_backend_sends_a_voice_channel_token_and_reads_the_answers():
    import jwt

    seen: List[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        pin = request.read().decode()
        if '"480917"' in pin:
            return httpx.Response(200, json=user_out(2, "fr"))
        if '"111111"' in pin:
            return httpx.Response(423, json={"code": "voice_locked", "retry_after": 600})
        return httpx.Response(403, json={"code": "wrong_pin", "attempts_left": 1})

    backend = VoiceBackend("http://portal.test", key="channel-key-0123456789-0123456789",
                           transport=httpx.MockTransport(handle))
    ok = await backend.verify(CALLER, RIGHT_PIN)
    assert ok.outcome == "ok" and ok.identity["channel"] == "phone" and ok.identity["language"] == "fr"
    assert (await backend.verify(CALLER, "111111")).retry_after == 600
    wrong = await backend.verify(CALLER, "222222")
    assert wrong.outcome == "wrong_pin" and wrong.attempts_left == 1
    token = seen[0].headers["authorization"][len("Bearer "):]
    claims = jwt.decode(token, "channel-key-0123456789-0123456789", algorithms=["HS256"], audience="portal-channel")
    assert claims["sub"] == "voice"


def test_the_simulated_callers_signature_is_twilios():
    """tests/twilio_caller.py signs by hand (no twilio package on the end-to-end side): same as the package's."""
    from twilio_caller import twilio_signature

    form = {"CallSid": "CA1", "From": "+442079460002", "Digits": "1234#", "SpeechResult": "l'imprimante & co"}
    url = "https://assistant.example/webhooks/voice/turn?x=1"
    assert twilio_signature(AUTH_TOKEN, url, form) == RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    assert RequestValidator(AUTH_TOKEN).validate(url, form, twilio_signature(AUTH_TOKEN, url, form))


@pytest.mark.asyncio
async def test_a_failed_turn_apologises_and_the_call_goes_on():
    class Failing(Assistant):
        async def __call__(self, message: Any) -> None:
            self.messages.append(message)
            raise RuntimeError("the action server is down")

    assistant = Failing()
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await verified(caller)
        answer = await caller.send(SpeechResult="my cases")
        said = spoken(answer)
        assert said.startswith("Sorry, a technical problem stopped me from handling your request. Could you say it "
                               "again?"), said
        assert answer.find("Gather") is not None


@pytest.mark.asyncio
async def test_the_status_callback_forgets_the_call_and_a_later_request_starts_again():
    assistant = Assistant()
    async with phone(assistant) as (adapter, client):
        caller = Caller(client)
        await verified(caller)
        assert await adapter.store.get("call", "CA0001") is not None
        done = await caller.post(BASE + "status", CallStatus="completed")
        assert done.status_code == 204 and await adapter.store.get("call", "CA0001") is None
        # a turn of a call the channel no longer knows is not delivered unverified: the call starts again
        again = await caller.post(BASE + "turn", SpeechResult="my cases")
        assert "For English, press 2" in spoken(ET.fromstring(again.text))
    assert assistant.messages == []


@pytest.mark.asyncio
async def test_a_backend_outage_during_the_pin_ends_the_call_politely():
    class Down(FakeBackend):
        async def verify(self, caller: str, pin: str, phone: Optional[str] = None) -> Verification:
            from bot.identity import PortalUnavailable
            raise PortalUnavailable()

    async with phone(Assistant(), Down()) as (_, client):
        caller = Caller(client)
        await caller.send()
        await caller.send(Digits="1")
        answer = await caller.send(Digits=RIGHT_PIN)
        assert answer[-1].tag == "Hangup" and "ne répond pas" in spoken(answer)


@pytest.mark.asyncio
async def test_the_voice_and_the_recognition_follow_a_language_asked_for_in_the_call():
    assistant = Assistant([{"text": "Bien sûr : je vous réponds désormais en français. Que puis-je faire pour vous ?"}])
    async with phone(assistant) as (_, client):
        caller = Caller(client)
        await verified(caller)  # English
        answer = await caller.send(SpeechResult="can we continue in French please")
        gather = answer.find("Gather")
        assert gather.attrib["language"] == "fr-FR" and gather.find("Say").attrib["language"] == "fr-FR"
