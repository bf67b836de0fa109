"""Twilio's TwiML rules for the voice verbs the phone channel uses, checked on a TwiML document (standard library
only: used by the channel tests on Python 3.10 and the end-to-end caller on 3.11).

From Twilio's TwiML reference for Programmable Voice: the root is <Response>; each verb has its own attributes
and children; <Gather> nests only <Say>, <Play> and <Pause>; SSML inside <Say> is limited to Twilio's supported
tags; nothing is reachable after <Hangup> or <Redirect>; attribute values have their documented forms.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Set

VERBS: Dict[str, Set[str]] = {
    "Say": {"voice", "language", "loop"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {"action", "method", "input", "language", "timeout", "speechTimeout", "numDigits", "finishOnKey",
               "hints", "actionOnEmptyResult", "partialResultCallback", "partialResultCallbackMethod",
               "profanityFilter", "speechModel", "enhanced", "bargeIn", "debug", "maxSpeechTime"},
    "Dial": {"action", "method", "timeout", "callerId", "hangupOnStar", "timeLimit", "record", "answerOnBridge",
             "ringTone", "trim"},
    "Redirect": {"method"},
    "Hangup": set(),
    "Reject": {"reason"},
}
RESPONSE_CHILDREN = set(VERBS)
GATHER_CHILDREN = {"Say", "Play", "Pause"}
DIAL_CHILDREN = {"Number", "Client", "Sip", "Conference", "Queue"}
NUMBER_ATTRIBUTES = {"sendDigits", "url", "method", "statusCallback", "statusCallbackEvent", "statusCallbackMethod"}
SSML: Dict[str, Set[str]] = {
    "break": {"strength", "time"}, "emphasis": {"level"}, "lang": {"xml:lang"}, "p": set(), "s": set(),
    "phoneme": {"alphabet", "ph"}, "prosody": {"pitch", "rate", "volume"}, "say-as": {"interpret-as", "format"},
    "sub": {"alias"}, "w": {"role"},
}
SAY_AS = {"characters", "spell-out", "cardinal", "number", "ordinal", "digits", "fraction", "unit", "date", "time",
          "address", "expletive", "telephone"}
FINAL = {"Hangup", "Redirect", "Reject"}


def check_twiml(document: str) -> List[str]:
    """The rules the document breaks (empty: valid)."""
    errors: List[str] = []
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != "Response":
        return [f"root is <{root.tag}>, not <Response>"]
    if root.attrib or (root.text or "").strip():
        errors.append("<Response> takes no attributes or text")
    children = list(root)
    for index, verb in enumerate(children):
        if verb.tag not in RESPONSE_CHILDREN:
            errors.append(f"<{verb.tag}> is not a voice verb")
            continue
        if verb.tag in FINAL and index != len(children) - 1:
            errors.append(f"verbs after <{verb.tag}> are never reached")
        errors += _check_verb(verb)
    return errors


def _attributes(element: ET.Element, allowed: Set[str]) -> List[str]:
    return [f"<{element.tag}> has no attribute {name!r}" for name in element.attrib if name not in allowed]


def _check_verb(verb: ET.Element) -> List[str]:
    errors = _attributes(verb, VERBS[verb.tag])
    a = verb.attrib
    if verb.tag == "Gather":
        if not set(a.get("input", "dtmf").split()) <= {"dtmf", "speech"}:
            errors.append(f"Gather input {a['input']!r}")
        if "numDigits" in a and not (a["numDigits"].isdigit() and int(a["numDigits"]) >= 1):
            errors.append("Gather numDigits must be a positive integer")
        if "finishOnKey" in a and a["finishOnKey"] not in list("0123456789#*") + [""]:
            errors.append("Gather finishOnKey must be one key")
        if "timeout" in a and not a["timeout"].isdigit():
            errors.append("Gather timeout must be whole seconds")
        if a.get("method", "POST") not in ("GET", "POST"):
            errors.append("Gather method")
        if "language" in a and not re.fullmatch(r"[a-z]{2}-[A-Z]{2}", a["language"]):
            errors.append("Gather language must be like fr-FR")
        if a.get("actionOnEmptyResult", "false") not in ("true", "false"):
            errors.append("Gather actionOnEmptyResult must be true or false")
        if (verb.text or "").strip():
            errors.append("Gather takes no text")
        for child in verb:
            if child.tag not in GATHER_CHILDREN:
                errors.append(f"<Gather> cannot nest <{child.tag}>")
            else:
                errors += _check_verb(child)
    elif verb.tag == "Say":
        if not (verb.text or "").strip() and not len(verb):
            errors.append("<Say> says nothing")
        for child in verb.iter():
            if child is verb:
                continue
            if child.tag not in SSML:
                errors.append(f"<{child.tag}> is not SSML Twilio supports")
                continue
            errors += _attributes(child, SSML[child.tag])
            if child.tag == "say-as" and child.attrib.get("interpret-as") not in SAY_AS:
                errors.append(f"say-as interpret-as {child.attrib.get('interpret-as')!r}")
    elif verb.tag == "Redirect":
        if not (verb.text or "").strip():
            errors.append("<Redirect> needs a URL")
        if a.get("method", "POST") not in ("GET", "POST"):
            errors.append("Redirect method")
    elif verb.tag == "Dial":
        numbers = list(verb)
        if not numbers and not (verb.text or "").strip():
            errors.append("<Dial> needs a number")
        for child in numbers:
            if child.tag not in DIAL_CHILDREN:
                errors.append(f"<Dial> cannot nest <{child.tag}>")
            elif child.tag == "Number":
                errors += _attributes(child, NUMBER_ATTRIBUTES)
                if not re.fullmatch(r"\+?[0-9]{3,15}", (child.text or "").strip()):
                    errors.append("<Number> must be a phone number")
    elif verb.tag in ("Hangup",):
        if len(verb) or (verb.text or "").strip():
            errors.append("<Hangup> takes nothing")
    elif verb.tag == "Pause":
        if "length" in a and not a["length"].isdigit():
            errors.append("Pause length must be whole seconds")
    return errors
