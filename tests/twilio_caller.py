"""A simulated Twilio caller: posts signed form payloads the way Twilio Voice does (X-Twilio-Signature: HMAC-SHA1
of the URL followed by the sorted form fields, base64, keyed with the account's auth token), follows the
`<Gather action>` and `<Redirect>` of each answer, and checks every TwiML document against Twilio's rules.

Standard library and httpx only, so that it runs in either environment (the end-to-end tests on Python 3.11 have
no `twilio` package; tests/bot/test_bot_voice.py checks this signer against the package's RequestValidator).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional
from urllib.parse import urljoin

import httpx

from twiml_rules import check_twiml


def twilio_signature(auth_token: str, url: str, form: Dict[str, str]) -> str:
    """Twilio's request signature (https://www.twilio.com/docs/usage/security#validating-requests)."""
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def spoken(root: ET.Element) -> str:
    """Everything a TwiML document says, identifiers included."""
    return " ".join(" ".join("".join(say.itertext()).split()) for say in root.iter("Say"))


def characters(root: ET.Element) -> List[str]:
    """What the document reads character by character."""
    return [e.text or "" for e in root.iter("say-as") if e.attrib.get("interpret-as") == "characters"]


class SimulatedCaller:
    def __init__(self, webhook_base: str, auth_token: str, caller: str, timeout: float = 60.0) -> None:
        self.base = webhook_base.rstrip("/") + "/"
        self.auth_token = auth_token
        self.caller = caller
        self.call_sid = "CA" + uuid.uuid4().hex
        self.next_url = urljoin(self.base, "call")
        self.client = httpx.Client(timeout=timeout)
        self.transcript: List[str] = []
        self.redirects = 0
        self.latencies: List[float] = []  # seconds from each request to its TwiML

    def post(self, url: str, **fields: str) -> httpx.Response:
        form = {"CallSid": self.call_sid, "AccountSid": "AC" + "0" * 32, "From": self.caller,
                "To": "+441000000000", "Direction": "inbound", **fields}
        started = time.monotonic()
        answer = self.client.post(url, data=form, headers={
            "X-Twilio-Signature": twilio_signature(self.auth_token, url, form)})
        self.latencies.append(time.monotonic() - started)
        return answer

    def parse(self, document: str) -> ET.Element:
        errors = check_twiml(document)
        assert errors == [], f"{errors}\n{document}"
        return ET.fromstring(document)

    def send(self, speech: Optional[str] = None, digits: Optional[str] = None) -> ET.Element:
        """Answers the current question (nothing: silence) and returns the finished answer's TwiML."""
        fields = {}
        if speech is not None:
            fields.update(SpeechResult=speech, Confidence="0.92")
        if digits is not None:
            fields["Digits"] = digits
        self.transcript.append(f"caller: {speech if speech is not None else ''}"
                               f"{' [' + digits + ']' if digits is not None else ''}")
        answer = self.post(self.next_url, **fields)
        assert answer.status_code == 200, answer.text
        root = self.parse(answer.text)
        while len(root) and root[-1].tag == "Redirect":
            self.redirects += 1
            url = urljoin(self.next_url, root[-1].text.strip())
            answer = self.post(url)
            assert answer.status_code == 200, answer.text
            root = self.parse(answer.text)
            self.next_url = url
        gathers = root.findall("Gather")
        if gathers:
            self.next_url = urljoin(self.next_url, gathers[-1].attrib["action"])
        dials = root.findall("Dial")
        if dials:
            self.next_url = urljoin(self.next_url, dials[-1].attrib["action"])
        self.transcript.append(f"assistant: {spoken(root)}")
        return root

    def start(self) -> ET.Element:
        self.next_url = urljoin(self.base, "call")
        return self.send()
