"""End to end over the phone channel (Twilio Voice): a simulated caller (tests/twilio_caller.py) posts signed form
payloads as Twilio does to the running stack, follows `<Gather action>` and `<Redirect>`, and checks every TwiML
answer against Twilio's rules; outcomes are checked through the backend API."""
from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from conftest import ADMIN, PASSWORD, SUPPORT_NUMBER, TWILIO_AUTH_TOKEN, USER, Stack
from twilio_caller import SimulatedCaller, characters, spoken, twilio_signature

USER_PHONE = "+442079460002"  # the seed's profile phones, as Twilio sends them
ADMIN_PHONE = "+442079460001"
USER_PIN, ADMIN_PIN = "480917", "735102"
CASE_NUMBER = re.compile(r"CS\d{7}")
METER_CODE = re.compile(r"\b(112|113|122|123)\b")
RESULTS = Path(__file__).resolve().parents[2] / "results" / "voice"


def no_separators(text: str) -> str:
    return re.sub(r"(?<=\d)[\s,.\u202f\xa0'](?=\d{3})", "", text)


@pytest.fixture(scope="module", autouse=True)
def voice_pins(stack: Stack) -> None:
    for email, pin in ((USER, USER_PIN), (ADMIN, ADMIN_PIN)):
        answer = stack.api(email, "/users/me/voice-pin", "PUT", json={"current_password": PASSWORD, "pin": pin})
        assert answer.status_code == 204, answer.text


def caller(stack: Stack, number: str = USER_PHONE) -> SimulatedCaller:
    return SimulatedCaller(f"{stack.rasa_url}/webhooks/voice/", TWILIO_AUTH_TOKEN, number)


def verified_call(stack: Stack, number: str, pin: str, language_key: str) -> SimulatedCaller:
    call = caller(stack, number)
    call.start()
    call.send(digits=language_key)
    welcome = call.send(digits=pin)
    assert "identifi" in spoken(welcome), spoken(welcome)
    return call


def test_unsigned_and_replayed_requests_are_refused(stack: Stack):
    url = f"{stack.rasa_url}/webhooks/voice/call"
    form = {"CallSid": "CAreplay", "From": USER_PHONE}
    assert httpx.post(url, data=form).status_code == 403
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}).status_code == 403
    signed_for_call = twilio_signature(TWILIO_AUTH_TOKEN, url, form)
    assert httpx.post(url, data=form, headers={"X-Twilio-Signature": signed_for_call}).status_code == 200
    replayed = httpx.post(f"{stack.rasa_url}/webhooks/voice/pin", data={**form, "Digits": USER_PIN},
                          headers={"X-Twilio-Signature": signed_for_call})
    assert replayed.status_code == 403


def test_right_pin_in_english_then_my_last_case_read_as_characters(stack: Stack):
    call = caller(stack)
    start = call.start()
    assert "tapez 1" in spoken(start) and "press 2" in spoken(start)
    ask = call.send(digits="2")
    assert "6-digit voice PIN" in spoken(ask)
    welcome = call.send(digits=USER_PIN)
    assert "Hello SNTestDM DemoPortal" in spoken(welcome)
    answer = call.send(speech="what's the status of my last case")
    numbers = [c for c in characters(answer) if CASE_NUMBER.fullmatch(c)]
    assert numbers, spoken(answer)
    visible = {c["number"] for c in stack.api(USER, "/cases").json()}
    assert numbers[0] in visible
    assert "http" not in spoken(answer) and "**" not in spoken(answer)


def test_three_wrong_pins_lock_voice_access(stack: Stack):
    call = caller(stack, ADMIN_PHONE)
    call.start()
    call.send(digits="1")
    assert "pas le bon" in spoken(call.send(digits="111112"))
    call.send(digits="111113")
    last = call.send(digits="111114")
    assert last[-1].tag == "Hangup" and "bloqué" in spoken(last)
    status = stack.api(ADMIN, "/users/me/voice-pin").json()
    assert status["locked_until"] is not None
    # locked: even the right PIN is refused on the next call
    again = caller(stack, ADMIN_PHONE)
    again.start()
    again.send(digits="1")
    refused = again.send(digits=ADMIN_PIN)
    assert refused[-1].tag == "Hangup" and "bloqué" in spoken(refused)
    # a PIN change (with the password) lifts the lock
    changed = stack.api(ADMIN, "/users/me/voice-pin", "PUT", json={"current_password": PASSWORD, "pin": ADMIN_PIN})
    assert changed.status_code == 204
    verified_call(stack, ADMIN_PHONE, ADMIN_PIN, "1")


def test_meter_readings_on_the_keypad_read_back_and_submitted(stack: Stack):
    meters = {m["code"]: m for m in stack.api(USER, "/assets/53463252/meters").json()}
    wanted = {code: (m["last_reading"] or 0) + 500 + i for i, (code, m) in enumerate(sorted(meters.items()))}
    call = verified_call(stack, USER_PHONE, USER_PIN, "2")
    answer = call.send(speech="I'd like to enter my meter readings")
    typed: dict[str, int] = {}
    unchanged = None
    for _ in range(len(meters)):
        gather = answer.find("Gather")
        assert gather.attrib.get("finishOnKey") == "#", spoken(answer)
        code = METER_CODE.findall(spoken(answer))[-1]
        if len(typed) < 3:
            typed[code] = wanted[code]
            answer = call.send(digits=str(wanted[code]))
        else:
            unchanged = code
            assert "\"Unchanged\", press star 1" in spoken(answer)
            answer = call.send(digits="*1")
    summary = no_separators(spoken(answer))
    assert len(typed) == 3 and all(str(value) in summary for value in typed.values()), summary
    assert "To confirm, press 1" in summary
    done = call.send(digits="1")
    assert "recorded" in spoken(done), spoken(done)
    after = {m["code"]: m["last_reading"] for m in stack.api(USER, "/assets/53463252/meters").json()}
    for code, value in typed.items():
        assert after[code] == value
    assert after[unchanged] == meters[unchanged]["last_reading"]
    # kept as the README's sample call
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sample_call_en.txt").write_text("\n".join(call.transcript) + "\n")
    # measured, not asserted (a shared machine): how long each webhook took to answer TwiML
    latencies = sorted(call.latencies)
    (RESULTS / "latency.txt").write_text(
        f"requests: {len(latencies)}, holding redirects: {call.redirects}, "
        f"median {latencies[len(latencies) // 2]:.3f} s, max {latencies[-1]:.3f} s\n")


def test_fault_report_by_speech_offers_an_article_first_in_french(stack: Stack):
    before = {c["number"] for c in stack.api(ADMIN, "/cases").json()}
    call = verified_call(stack, ADMIN_PHONE, ADMIN_PIN, "1")
    answer = call.send(speech="ça sent le brûlé quand j'imprime")
    text = spoken(answer)
    assert "appareil" in text.lower(), text
    key = re.search(r"« [^»]*WHJ01481[^»]* », tapez (\d)", text)
    assert key, text
    answer = call.send(digits=key.group(1))
    text = spoken(answer)
    assert "article" in text.lower() and "aidé" in text, text
    assert "Voici le premier" in text or "Pour « Oui », tapez 1" in text, text  # an article before the case
    assert "tapez 9" in text  # the link can be sent by SMS
    no = re.search(r"« Non », tapez (\d)", text)
    assert no, text
    summary = call.send(digits=no.group(1))
    assert "Pour confirmer, tapez 1" in spoken(summary) and "WHJ01481" in characters(summary), spoken(summary)
    done = call.send(digits="1")
    numbers = [c for c in characters(done) if CASE_NUMBER.fullmatch(c)]
    assert numbers, spoken(done)
    case = stack.api(ADMIN, f"/cases/{numbers[0]}").json()
    assert numbers[0] not in before and case["channel"] == "phone" and "brûlé" in case["transcript"]


def test_an_unverified_caller_hears_a_shortened_article_and_gets_the_link_queued(stack: Stack):
    call = caller(stack, "+33699999999")
    call.start()
    call.send(digits="2")
    welcome = call.send(digits="*")
    assert "how-to questions" in spoken(welcome)
    answer = call.send(speech="how do I replace the toner cartridge")
    text = spoken(answer)
    assert "press 9" in text and len(text.split()) < 140, text
    queued = call.send(digits="9")
    assert "text message" in spoken(queued)
    cases = call.send(speech="show me my open cases")
    assert "voice PIN" in spoken(cases) and not CASE_NUMBER.search(spoken(cases))


def test_silence_is_reprompted_twice_then_the_call_ends(stack: Stack):
    call = verified_call(stack, USER_PHONE, USER_PIN, "2")
    for _ in range(2):
        again = call.send()
        assert "didn't hear anything" in spoken(again) and again.find("Gather") is not None
    goodbye = call.send()
    assert goodbye[-1].tag == "Hangup" and "Goodbye" in spoken(goodbye)


@pytest.mark.parametrize("number,pin,key,lang", [(USER_PHONE, USER_PIN, "2", "en"),
                                                 (ADMIN_PHONE, ADMIN_PIN, "1", "fr")])
def test_handoff_creates_the_callback_case_then_transfers(stack: Stack, number, pin, key, lang):
    email = USER if number == USER_PHONE else ADMIN
    call = verified_call(stack, number, pin, key)
    call.send(speech="my printer on the second floor jams" if lang == "en" else "l'imprimante fait un bruit")
    confirm = call.send(digits="0")
    if "drop it" in spoken(confirm) or "abandonner" in spoken(confirm):  # inside the fault form: switch first
        assert ("\"Yes, switch\", press 1" if lang == "en" else "« Oui, changer », tapez 1") in spoken(confirm)
        confirm = call.send(digits="1")
    assert ("call me back\", press 1" if lang == "en" else "rappelez-moi », tapez 1") in spoken(confirm), \
        spoken(confirm)
    dial = call.send(digits="1")
    assert dial.find("Dial") is not None, "\n".join(call.transcript)
    assert dial.find("Dial/Number").text == SUPPORT_NUMBER, spoken(dial)
    numbers = [c for c in characters(dial) if CASE_NUMBER.fullmatch(c)]
    assert numbers, spoken(dial)
    case = stack.api(email, f"/cases/{numbers[0]}").json()
    assert case["channel"] == "phone" and ("jams" in case["transcript"] or "bruit" in case["transcript"])
    # the transfer fails: the case is there all the same and the call ends politely
    ended = call.post(call.next_url, DialCallStatus="no-answer")
    assert ended.status_code == 200 and "<Hangup" in ended.text
    assert stack.api(email, f"/cases/{numbers[0]}").status_code == 200


@pytest.mark.parametrize("email,text,lang", [(ADMIN, "je veux changer mon code vocal", "fr"),
                                             (USER, "how do I set my voice PIN?", "en")])
def test_the_web_chat_links_to_the_voice_pin_page_and_never_asks_for_it(stack: Stack, email, text, lang):
    replies = stack.say(f"voice-pin-{lang}", text, email)
    said = "\n".join(r.get("text", "") for r in replies)
    assert f"/account/voice-pin?lang={lang}" in said, said
    assert ("ne le tapez pas ici" if lang == "fr" else "don't type it here") in said
    page = httpx.get(f"{stack.backend_url}/account/voice-pin?lang={lang}")
    assert page.status_code == 200 and "/chat/voice-pin.js" in page.text
