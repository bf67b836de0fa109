"""The bot's messages as a phone call says them (TwiML), from the same responses every channel gets.

- Text is spoken without markdown, links or URLs; line breaks become pauses between sentences.
- Case, order and article numbers, serials and 8-digit asset numbers are read character by character
  (`<say-as interpret-as="characters">`).
- Buttons become numbered keypad options ("pour Signaler une panne, tapez 1"); the caller's digit is mapped back
  to the button's payload by the adapter (`VoicePrompt.options`). A summary to confirm (buttons `/affirm` and
  `/deny`) is read back, then "tapez 1 pour confirmer, 2 pour corriger".
- Where a number is expected (a meter value, an asset number) the keypad entry ends with `#` and the options are
  keyed `*1`, `*2`... so that a value is never taken for an option.
- A knowledge answer is shortened to what is said in about 20 seconds (the first article's title and summary, at
  most `ARTICLE_WORDS` words) with an offer to send its link by SMS (`LINK_OPTION`).

Everything the caller hears is built with the `twilio` package's TwiML classes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from twilio.twiml.voice_response import Dial, Gather, Hangup, Redirect, Say, VoiceResponse

from bot.channels.render import ARTICLE_KEY, buttons as message_buttons

LANGUAGE_CODES = {"fr": "fr-FR", "en": "en-GB"}
ARTICLE_WORDS = 50  # about 20 seconds of speech
LINK_OPTION = "9"  # "to get this article's link by SMS, press 9"
LINK_PAYLOAD = "voice:link"  # handled by the adapter, never sent to the assistant
HANDOFF_DIGIT = "0"
MAX_OPTIONS = 8  # 1-8: 9 is the link offer, 0 the handoff

# Responses after which the caller is asked for a number on the keypad (finished by #).
NUMBER_RESPONSES = {
    "utter_ask_meter_current", "utter_ask_meter_current_first", "utter_meter_value_again",
    "utter_meter_value_lower", "utter_meter_value_negative", "utter_meter_value_not_integer",
    "utter_meter_value_too_large", "utter_meter_value_not_a_number", "utter_meter_value_several",
    "utter_meter_no_previous", "utter_ask_meter_asset", "utter_ask_meter_query_asset",
}
HANDOFF_DONE = "utter_handoff_created"
GOODBYE = "utter_goodbye"
LOGIN_REQUIRED = "utter_login_required"

PHRASES = {
    "option": {"fr": "Pour « {title} », tapez {key}.", "en": "For \"{title}\", press {key}."},
    "confirm": {"fr": "Pour confirmer, tapez 1. Pour corriger, tapez 2, ou dites ce qu'il faut changer.",
                "en": "To confirm, press 1. To correct it, press 2, or say what to change."},
    "number": {"fr": "Tapez le nombre sur le clavier, suivi de dièse, ou dites-le.",
               "en": "Type the number on the keypad followed by the hash key, or say it."},
    "star_key": {"fr": "étoile {n}", "en": "star {n}"},
    "articles": {"fr": "J'ai trouvé {n} articles. Voici le premier :", "en": "I found {n} articles. Here is the first:"},
    "link": {"fr": "Pour recevoir le lien de cet article par SMS, tapez 9.",
             "en": "To get this article's link by text message, press 9."},
    "handoff_hint": {"fr": "Pour parler à un conseiller, tapez 0.", "en": "To talk to an agent, press 0."},
    "login_required": {
        "fr": "Pour cela, je dois savoir qui vous êtes : rappelez et entrez votre code vocal. Sans identification, "
              "je peux seulement répondre à vos questions pratiques.",
        "en": "For that I need to know who you are: call again and enter your voice PIN. Without it, I can only "
              "answer how-to questions."},
}

IDENTIFIER = re.compile(r"\b(CS\d{7}|ORD\d{7}|KB\d{3,8}|[A-Z]{3}\d{5}|\d{8})\b")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_URL = re.compile(r"https?://\S+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`|~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-•*]|\d+[.)])\s+", re.MULTILINE)
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F]")
# A backslash before punctuation: user-written text the assistant escaped (actions/text.py escape_markdown).
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def phrase(name: str, lang: str, **values: Any) -> str:
    text = PHRASES[name]["fr" if lang == "fr" else "en"]
    return text.format(**values) if values else text


def speakable(text: str) -> str:
    """Text without markdown, links or URLs; lines joined as sentences."""
    text = _ESCAPED.sub(r"\1", text or "")  # spoken as typed (nothing of it is a link on the phone)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _URL.sub("", text)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("", text)
    text = _UNDERSCORE_EMPHASIS.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    text = _EMOJI.sub("", text)
    sentences = []
    for line in text.split("\n"):
        line = re.sub(r"\s+", " ", line).strip()
        if not line:
            continue
        end = line.rstrip(")»\"” ")
        sentences.append(line if end and end[-1] in ".!?:;,…" else line + ".")
    return re.sub(r"\s+([.,;:!?])(?=\s|$)", r"\1", " ".join(sentences)).replace("().", "").strip()


def shorten(text: str, words: int = ARTICLE_WORDS) -> str:
    """At most `words` words: whole sentences when they fit, else cut with an ellipsis."""
    tokens = text.split()
    if len(tokens) <= words:
        return text
    kept = " ".join(tokens[:words])
    end = max(kept.rfind(". "), kept.rfind("! "), kept.rfind("? "))
    return kept[:end + 1] if end > len(kept) // 2 else kept.rstrip(",;:") + "…"


Segment = Tuple[str, str]  # ("text" | "chars", what)


def segments(text: str) -> List[Segment]:
    """Spoken text split around the identifiers read character by character."""
    out: List[Segment] = []
    last = 0
    for match in IDENTIFIER.finditer(text):
        if match.start() > last:
            out.append(("text", text[last:match.start()]))
        out.append(("chars", match.group(1)))
        last = match.end()
    if last < len(text):
        out.append(("text", text[last:]))
    return out


@dataclass
class VoicePrompt:
    """What one turn says, and how the caller may answer it."""

    lines: List[str] = field(default_factory=list)  # spoken sentences, in order (identifiers kept as text)
    options: Dict[str, str] = field(default_factory=dict)  # keypad entry -> payload
    titles: List[str] = field(default_factory=list)  # the options' titles (speech hints)
    number: bool = False  # a number is expected: keypad entry finished by #
    handoff_done: bool = False  # the callback case exists: transfer the call
    goodbye: bool = False
    article: Optional[Dict[str, Any]] = None  # the article whose link is offered

    @property
    def text(self) -> str:
        return " ".join(self.lines)


SUMMARY_RESPONSE = re.compile(r"utter_ask_\w+_confirm(_\w+)?$")
NOT_SUMMARIES = {"utter_ask_handoff_confirm", "utter_ask_handoff_confirm_plain"}  # a yes/no question, nothing to correct


def _is_confirmation(buttons: List[Dict[str, str]], action: Any = None) -> bool:
    """A summary before a write: its "yes"/"no" buttons become "1 to confirm, 2 to correct"."""
    payloads = [b["payload"] for b in buttons]
    return "/affirm" in payloads and "/deny" in payloads and isinstance(action, str) \
        and bool(SUMMARY_RESPONSE.match(action)) and action not in NOT_SUMMARIES


def voice_prompt(messages: List[Dict[str, Any]], lang: str, anonymous: bool = False) -> VoicePrompt:
    """The bot messages of one turn (as Rasa sends them to an output channel) as one spoken prompt."""
    prompt = VoicePrompt()
    articles = [m["custom"][ARTICLE_KEY] for m in messages
                if isinstance(m.get("custom"), dict) and isinstance(m["custom"].get(ARTICLE_KEY), dict)]
    article_said = False
    option_buttons: List[Dict[str, str]] = []
    options_action: Any = None
    for message in messages:
        action = message.get("utter_action")
        if action in NUMBER_RESPONSES:
            prompt.number = True
        if action == HANDOFF_DONE:
            prompt.handoff_done = True
        if action == GOODBYE:
            prompt.goodbye = True
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get(ARTICLE_KEY), dict):
            if article_said:
                continue  # one article is said; its link is offered
            article_said = True
            card = custom[ARTICLE_KEY]
            if len(articles) > 1:
                prompt.lines.append(phrase("articles", lang, n=len(articles)))
            prompt.lines.append(speakable(f"{card.get('title', '')}. {shorten(str(card.get('summary', '')))}"))
            if card.get("number") and card.get("url"):
                prompt.article = {"number": str(card["number"]), "title": str(card.get("title", ""))}
            continue
        if anonymous and action == LOGIN_REQUIRED:
            prompt.lines.append(phrase("login_required", lang))
            continue
        if message.get("text"):
            spoken = speakable(str(message["text"]))
            if spoken:
                prompt.lines.append(spoken)
        found = message_buttons(message)
        if found:
            option_buttons = [b for b in found if not b.get("url")]
            options_action = action
    summary = _is_confirmation(option_buttons, options_action)
    if option_buttons:
        if summary:
            affirm = next(b for b in option_buttons if b["payload"] == "/affirm")
            deny = next(b for b in option_buttons if b["payload"] == "/deny")
            others = [b for b in option_buttons if b is not affirm and b is not deny]
            ordered = [affirm, deny] + others
        else:
            ordered, others = option_buttons, option_buttons
        ordered = ordered[:MAX_OPTIONS]
        for n, button in enumerate(ordered, start=1):
            key = f"*{n}" if prompt.number else str(n)
            prompt.options[key] = button["payload"]
            prompt.titles.append(speakable(button["title"]).rstrip("."))
        if summary and not prompt.number:
            prompt.lines.append(phrase("confirm", lang))
            start = 3
        else:
            start = 1
        for n, button in enumerate(ordered[start - 1:], start=start):
            key = phrase("star_key", lang, n=n) if prompt.number else str(n)
            prompt.lines.append(phrase("option", lang, title=speakable(button["title"]).rstrip("."), key=key))
    if prompt.number:
        prompt.lines.append(phrase("number", lang))
    if prompt.article is not None:
        prompt.options[LINK_OPTION] = LINK_PAYLOAD
        prompt.lines.append(phrase("link", lang))
    return prompt


@dataclass
class VoiceSettings:
    voices: Dict[str, str] = field(default_factory=lambda: {"fr": "Polly.Lea", "en": "Polly.Amy"})
    timeout_seconds: int = 6  # silence before the Gather gives up
    number_timeout_seconds: int = 10


def say(parent: Any, text: str, lang: str, settings: VoiceSettings) -> Say:
    """One <Say> in the language's voice, identifiers as <say-as interpret-as="characters">."""
    spoken = Say(voice=settings.voices.get(lang, settings.voices["en"]), language=LANGUAGE_CODES.get(lang, "en-GB"))
    for kind, part in segments(text):
        if kind == "chars":
            spoken.say_as(part, interpret_as="characters")
        else:
            spoken.append(part)
    parent.append(spoken)
    return spoken


def gather(prompt_text: str, lang: str, action: str, settings: VoiceSettings, *, number: bool = False,
           digits: Optional[int] = None, dtmf_only: bool = False, hints: Optional[List[str]] = None) -> VoiceResponse:
    """A question and the caller's answer posted to `action` (empty too: the adapter handles silence)."""
    response = VoiceResponse()
    attributes: Dict[str, Any] = {
        "input": "dtmf" if dtmf_only else "speech dtmf", "action": action, "method": "POST",
        "language": LANGUAGE_CODES.get(lang, "en-GB"), "action_on_empty_result": "true",
        "timeout": settings.number_timeout_seconds if number or dtmf_only else settings.timeout_seconds,
    }
    if not dtmf_only:
        attributes["speech_timeout"] = "auto"
    if number or digits is None and dtmf_only:
        attributes["finish_on_key"] = "#"
    if digits is not None:
        attributes["num_digits"] = digits
        attributes["finish_on_key"] = "#"
    if hints:
        attributes["hints"] = ", ".join(" ".join(h.replace(",", " ").split()) for h in hints)[:900]
    asking = Gather(**attributes)
    say(asking, prompt_text, lang, settings)
    response.append(asking)
    return response


def prompt_twiml(prompt: VoicePrompt, lang: str, action: str, settings: VoiceSettings) -> VoiceResponse:
    """A turn's prompt as TwiML: a Gather with one Say, the keypad rules of what is asked."""
    single_key = bool(prompt.options) and not prompt.number and all(len(k) == 1 for k in prompt.options)
    return gather(prompt.text, lang, action, settings, number=prompt.number,
                  digits=1 if single_key else None, hints=prompt.titles or None)


def goodbye_twiml(text: str, lang: str, settings: VoiceSettings) -> VoiceResponse:
    response = VoiceResponse()
    say(response, text, lang, settings)
    response.append(Hangup())
    return response


def dial_twiml(text: str, lang: str, number: str, action: str, settings: VoiceSettings) -> VoiceResponse:
    response = VoiceResponse()
    say(response, text, lang, settings)
    transfer = Dial(action=action, method="POST", timeout=30)
    transfer.number(number)
    response.append(transfer)
    return response


def holding_twiml(text: str, lang: str, poll_url: str, settings: VoiceSettings) -> VoiceResponse:
    response = VoiceResponse()
    say(response, text, lang, settings)
    response.append(Redirect(poll_url, method="POST"))
    return response
