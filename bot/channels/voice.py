"""Phone adapter (Twilio Voice): a call posts form requests to `/webhooks/voice/…` and gets TwiML back.

Like every adapter it only authenticates and translates; the dialogue stays in the assistant.

- **Authenticity**: every request must carry a valid `X-Twilio-Signature` (the `twilio` package's
  `RequestValidator`, with TWILIO_AUTH_TOKEN) computed over the URL Twilio called: VOICE_PUBLIC_URL + the path when
  set, else the request's URL, taken from `X-Forwarded-Proto`/`X-Forwarded-Host` only when VOICE_TRUST_PROXY says
  the proxy in front is ours. Anything else → 403 and nothing reaches the assistant (503 while no auth token is set).
- **Who is calling**: the caller's number (`From`) is only a hint. The caller chooses the language (1 French, 2
  English), then types their 6-digit voice PIN followed by # (`POST /voice/verify` on the backend, with a service
  token of the "voice" channel). A number that matches no single user's profile phone is asked for the profile
  phone first. Three wrong PINs end the call (and the backend locks voice access for a while). `*` (or no PIN set)
  continues unverified: the caller's messages reach the assistant without a user, which answers knowledge
  questions only. A verified caller talks in their profile's language.
- **A turn**: `SpeechResult` or `Digits` (mapped back to the payload of the keypad option read out) is delivered
  to the assistant; its messages are said through bot/channels/voice_render.py. Keypad 0 asks for an agent (the
  assistant's human handoff makes the callback case with the conversation's transcript); once the case exists the
  call is transferred (`<Dial>` VOICE_SUPPORT_NUMBER). Silence is reprompted twice, then the call ends politely.
- **Latency**: when the assistant has not answered within VOICE_HOLD_SECONDS, a holding phrase and a `<Redirect>`
  to `poll?turn=N` answer at once; the poll returns the finished turn.
- **State** per call (`CallSid`): language, stage, the identity the backend verified, the keypad options of the last
  question, the pending turn's TwiML. In the Redis the Rasa workers share (CHAT_SESSIONS_REDIS_URL), else in
  memory; expires after VOICE_CALL_TTL_SECONDS. No PIN, token or secret is ever in it.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple
from urllib.parse import parse_qs

import httpx
from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Hangup, Pause, Redirect, VoiceResponse

from bot.channels.teams import ChannelServiceClient, _env, _secret
from bot.channels.voice_render import (
    HANDOFF_DIGIT, LINK_PAYLOAD, VoiceSettings, dial_twiml, gather, goodbye_twiml, holding_twiml, prompt_twiml, say,
    voice_prompt,
)
from bot.language import detect_language
from bot.identity import Handler, IdentityLayer, PortalUnavailable, user_identity

log = logging.getLogger(__name__)

MESSAGES: Dict[str, Dict[str, str]] = {
    "choose_language": {
        "fr": "Bonjour, bienvenue à l'assistance de vos services d'impression. Pour continuer en français, tapez 1.",
        "en": "For English, press 2.",
    },
    "ask_pin": {
        "fr": "Entrez votre code vocal à 6 chiffres suivi de dièse. Pour continuer sans vous identifier, tapez "
              "étoile.",
        "en": "Please enter your 6-digit voice PIN followed by the hash key. To continue without identifying "
              "yourself, press star.",
    },
    "ask_phone": {
        "fr": "Je ne reconnais pas le numéro d'où vous appelez. Tapez le numéro de téléphone de votre profil du "
              "portail, indicatif du pays compris, suivi de dièse. Pour continuer sans vous identifier, tapez étoile.",
        "en": "I don't recognise the number you are calling from. Type the phone number of your portal profile, "
              "with the country code, followed by the hash key. To continue without identifying yourself, press "
              "star.",
    },
    "pin_format": {"fr": "Le code vocal a 6 chiffres.", "en": "The voice PIN has 6 digits."},
    "wrong_pin": {"fr": "Ce code n'est pas le bon.", "en": "That PIN is not right."},
    "unknown_caller": {"fr": "Je ne trouve pas votre compte avec ce numéro.",
                       "en": "I cannot find your account with that number."},
    "too_many_pins": {
        "fr": "Le code vocal est erroné trop de fois. Pour votre sécurité, j'arrête l'appel. Au revoir.",
        "en": "The voice PIN was wrong too many times. For your security, I am ending the call. Goodbye.",
    },
    "locked": {
        "fr": "L'accès par téléphone à votre compte est bloqué pendant {minutes} minutes après plusieurs codes "
              "erronés. Vous pouvez changer votre code vocal dans votre profil du portail. Au revoir.",
        "en": "Phone access to your account is locked for {minutes} minutes after several wrong PINs. You can "
              "change your voice PIN in your portal profile. Goodbye.",
    },
    "no_pin": {
        "fr": "Vous n'avez pas encore de code vocal : choisissez-le dans votre profil du portail. En attendant, je "
              "continue sans vous identifier.",
        "en": "You have no voice PIN yet: choose one in your portal profile. Meanwhile, I will continue without "
              "identifying you.",
    },
    "welcome": {
        "fr": "Bonjour {name}, vous êtes identifié. Que puis-je faire pour vous ? Vous pouvez me parler ou utiliser "
              "le clavier. Pour parler à un conseiller, tapez 0.",
        "en": "Hello {name}, you are identified. What can I do for you? You can talk to me or use the keypad. To "
              "talk to an agent, press 0.",
    },
    "welcome_anonymous": {
        "fr": "Sans identification, je peux répondre à vos questions pratiques sur vos imprimantes. Quelle est "
              "votre question ? Pour parler à un conseiller, tapez 0.",
        "en": "Without identification, I can answer your how-to questions about your printers. What is your "
              "question? To talk to an agent, press 0.",
    },
    "silence": {"fr": "Je n'ai rien entendu.", "en": "I didn't hear anything."},
    "goodbye_silence": {
        "fr": "Je n'entends toujours rien : je raccroche. N'hésitez pas à rappeler. Au revoir.",
        "en": "I still can't hear anything, so I'll hang up now. Feel free to call again. Goodbye.",
    },
    "unknown_key": {"fr": "Cette touche ne correspond à aucun choix.", "en": "That key is not one of the choices."},
    "hold": {"fr": "Un instant, je vérifie.", "en": "One moment, I'm checking."},
    "too_slow": {"fr": "Désolé, le portail met trop de temps à répondre. Pouvez-vous répéter ?",
                 "en": "Sorry, the portal is taking too long to answer. Could you say that again?"},
    "failed": {"fr": "Désolé, je n'ai pas pu traiter votre demande. Pouvez-vous répéter ?",
               "en": "Sorry, I couldn't process your request. Could you say that again?"},
    "turn_failed": {
        "fr": "Désolé, un incident technique m'a empêché de traiter votre demande. Pouvez-vous la répéter ? Nous "
              "reprendrons là où nous en étions.",
        "en": "Sorry, a technical problem stopped me from handling your request. Could you say it again? We will "
              "carry on where we left off.",
    },
    "portal_unavailable": {
        "fr": "Le portail ne répond pas pour le moment. Veuillez rappeler dans quelques minutes. Au revoir.",
        "en": "The portal is not responding right now. Please call again in a few minutes. Goodbye.",
    },
    "anything_else": {"fr": "Puis-je faire autre chose pour vous ?", "en": "Can I do anything else for you?"},
    "transfer": {"fr": "Je vous transfère à un conseiller.", "en": "I am transferring you to an agent."},
    "transfer_failed": {
        "fr": "Le transfert n'a pas abouti. Votre demande de rappel est enregistrée : un conseiller vous rappellera. "
              "Au revoir.",
        "en": "The transfer did not go through. Your callback request is recorded: an agent will call you back. "
              "Goodbye.",
    },
    "transfer_failed_anonymous": {
        "fr": "Le transfert n'a pas abouti. Veuillez rappeler plus tard. Au revoir.",
        "en": "The transfer did not go through. Please call again later. Goodbye.",
    },
    "no_transfer": {"fr": "Un conseiller vous rappellera.", "en": "An agent will call you back."},
    "link_queued": {
        "fr": "C'est noté : le lien de l'article vous sera envoyé par SMS au numéro d'où vous appelez.",
        "en": "Noted: the article's link will be sent by text message to the number you are calling from.",
    },
    "link_failed": {"fr": "Je n'ai pas pu préparer l'envoi du lien.", "en": "I couldn't queue the link."},
    "call_ended": {"fr": "Au revoir.", "en": "Goodbye."},
}


def voice_message(key: str, lang: str, **values: Any) -> str:
    text = MESSAGES[key]["fr" if lang == "fr" else "en"]
    return text.format(**values) if values else text


@dataclass
class PhoneSettings:
    """The phone channel's settings (environment variables VOICE_*, TWILIO_AUTH_TOKEN[_FILE])."""

    auth_token: str = field(default="", repr=False)
    public_url: str = ""  # the base URL Twilio calls (https://assistant.example); empty: the request's own URL
    trust_proxy: bool = False  # honour X-Forwarded-Proto / X-Forwarded-Host (only behind our own proxy)
    support_number: str = ""  # where "talk to someone" transfers the call (E.164)
    hold_seconds: float = 0.8  # longer than this, a holding phrase and a Redirect answer at once
    poll_seconds: float = 3.0  # how long one poll waits for the turn before redirecting again
    max_polls: int = 10
    max_reprompts: int = 2
    max_pin_attempts: int = 3
    call_ttl_seconds: int = 3600
    voice: VoiceSettings = field(default_factory=VoiceSettings)

    @classmethod
    def from_env(cls, credentials: Optional[Dict[str, Any]] = None) -> "PhoneSettings":
        c = credentials or {}

        def setting(key: str, env: str, default: Any) -> str:
            return str(c.get(key) if c.get(key) not in (None, "") else _env(env, str(default)))

        defaults = cls()
        return cls(
            auth_token=_secret("TWILIO_AUTH_TOKEN"),
            public_url=setting("public_url", "VOICE_PUBLIC_URL", "").rstrip("/"),
            trust_proxy=setting("trust_proxy", "VOICE_TRUST_PROXY", "false").lower() in ("1", "true", "yes"),
            support_number=setting("support_number", "VOICE_SUPPORT_NUMBER", ""),
            hold_seconds=float(setting("hold_seconds", "VOICE_HOLD_SECONDS", defaults.hold_seconds)),
            poll_seconds=float(setting("poll_seconds", "VOICE_POLL_SECONDS", defaults.poll_seconds)),
            max_reprompts=int(setting("max_reprompts", "VOICE_MAX_REPROMPTS", defaults.max_reprompts)),
            call_ttl_seconds=int(setting("call_ttl_seconds", "VOICE_CALL_TTL_SECONDS", defaults.call_ttl_seconds)),
            voice=VoiceSettings(voices={"fr": setting("voice_fr", "VOICE_VOICE_FR", "Polly.Lea"),
                                        "en": setting("voice_en", "VOICE_VOICE_EN", "Polly.Amy")}),
        )


class CallStore:
    """Short-lived state per call, shared by the Rasa workers through Redis when there is one (JSON, TTL)."""

    def __init__(self, redis_url: Optional[str] = None, ttl: int = 3600) -> None:
        self.ttl = ttl
        self._local: Dict[str, Tuple[float, str]] = {}
        self.redis = None
        if redis_url:
            import redis.asyncio  # Rasa's own dependency

            self.redis = redis.asyncio.Redis.from_url(redis_url)

    @staticmethod
    def _key(kind: str, call: str) -> str:
        return f"voice:{kind}:" + hashlib.sha256(call.encode()).hexdigest()[:40]

    async def get(self, kind: str, call: str) -> Optional[Any]:
        key = self._key(kind, call)
        if self.redis is not None:
            raw = await self.redis.get(key)
        else:
            found = self._local.get(key)
            raw = found[1] if found and found[0] > time.monotonic() else None
        return json.loads(raw) if raw else None

    async def put(self, kind: str, call: str, value: Any) -> None:
        key, raw = self._key(kind, call), json.dumps(value)
        if self.redis is not None:
            await self.redis.set(key, raw, ex=self.ttl)
            return
        if len(self._local) > 50_000:
            now = time.monotonic()
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
        self._local[key] = (time.monotonic() + self.ttl, raw)

    async def delete(self, kind: str, call: str) -> None:
        key = self._key(kind, call)
        if self.redis is not None:
            await self.redis.delete(key)
        else:
            self._local.pop(key, None)


@dataclass
class Verification:
    outcome: str  # "ok" | "wrong_pin" | "locked" | "caller_unknown" | "no_voice_pin" | "invalid"
    identity: Optional[Dict[str, Any]] = None
    attempts_left: int = 0
    retry_after: int = 0


class VoiceBackend(ChannelServiceClient):
    """The backend's voice access, asked with a short-lived service token of the "voice" channel (CHANNEL_KEY)."""

    channel = "voice"

    async def _post(self, path: str, body: Dict[str, Any]) -> httpx.Response:
        try:
            return await self.client.post(f"{self.backend_url}{path}", headers=self._headers(), json=body)
        except httpx.HTTPError as exc:
            log.error("voice: backend unreachable: %s", type(exc).__name__)
            raise PortalUnavailable() from exc

    async def verify(self, caller: str, pin: str, phone: Optional[str] = None) -> Verification:
        body = {"caller": caller, "pin": pin, **({"phone": phone} if phone else {})}
        answer = await self._post("/voice/verify", body)
        if answer.status_code == 200:
            return Verification("ok", {**user_identity(answer.json()), "channel": "phone",
                                       "channel_user": f"phone:{answer.json()['id']}"})
        try:
            data = answer.json()
        except ValueError:
            data = {}
        code = data.get("code") if isinstance(data, dict) else None
        if answer.status_code == 403 and code == "wrong_pin":
            return Verification("wrong_pin", attempts_left=int(data.get("attempts_left") or 0))
        if answer.status_code == 423:
            return Verification("locked", retry_after=int(data.get("retry_after") or 60))
        if answer.status_code == 409 and code in ("caller_unknown", "no_voice_pin"):
            return Verification(code)
        if answer.status_code == 422:
            return Verification("invalid")
        log.error("voice: verification answered %s", answer.status_code)
        raise PortalUnavailable()

    async def queue_link(self, caller: str, article: str, lang: str, user_id: Optional[int]) -> bool:
        """Queues (does not send) an SMS with an article's link to the caller's number."""
        body = {"to": caller, "article": article, "lang": lang, **({"user_id": user_id} if user_id else {})}
        answer = await self._post("/voice/outbox", body)
        if answer.status_code != 201:
            log.error("voice: queuing a link answered %s", answer.status_code)
        return answer.status_code == 201


class VoiceCollector(OutputChannel):
    """Collects a turn's bot messages whole (text, buttons, custom payload, the response's name)."""

    @classmethod
    def name(cls) -> Text:
        return "voice"

    def __init__(self) -> None:
        self.messages: List[Dict[str, Any]] = []

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.messages.append(dict(message))

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        self.messages.append({"text": text})


def form_of(request: Request) -> Dict[str, str]:
    """The form Twilio posted, one value per name (as its signature covers it)."""
    try:
        parsed = parse_qs((request.body or b"").decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in parsed.items()}


class VoiceInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "voice"

    def __init__(self, settings: PhoneSettings, backend: Any, layer: Optional[IdentityLayer] = None,
                 store: Optional[CallStore] = None) -> None:
        self.settings = settings
        self.backend = backend
        self.layer = layer or IdentityLayer("phone")
        self.store = store or CallStore(ttl=settings.call_ttl_seconds)
        self.validator = RequestValidator(settings.auth_token) if settings.auth_token else None
        self.tasks: set = set()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "VoiceInput":
        credentials = credentials or {}
        settings = PhoneSettings.from_env(credentials)
        return cls(settings, VoiceBackend(credentials.get("backend_url")),
                   IdentityLayer(credentials.get("channel", "phone")),
                   CallStore(os.environ.get("CHAT_SESSIONS_REDIS_URL"), settings.call_ttl_seconds))

    # --- authenticity ---------------------------------------------------------------------------------------
    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the configured public base, else the request's (through our proxy if trusted)."""
        path = request.path + (f"?{request.query_string}" if request.query_string else "")
        if self.settings.public_url:
            return self.settings.public_url + path
        scheme, host = request.scheme, request.host
        if self.settings.trust_proxy:
            scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip() or scheme
            host = request.headers.get("x-forwarded-host", host).split(",")[0].strip() or host
        return f"{scheme}://{host}{path}"

    def authentic(self, request: Request, form: Dict[str, str]) -> bool:
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or self.validator is None:
            return False
        return bool(self.validator.validate(self.signed_url(request), form, signature))

    # --- helpers ----------------------------------------------------------------------------------------------
    @staticmethod
    def twiml(answer: Any) -> HTTPResponse:
        return response.text(str(answer), content_type="application/xml")

    def ask(self, state: Dict[str, Any], text: str, action: str, **options: Any) -> VoiceResponse:
        """A question; remembered so that silence repeats it."""
        state["ask"] = {"text": text, "action": action, **options}
        return gather(text, state["lang"], action, self.settings.voice, **options)

    def reask(self, state: Dict[str, Any], before: str = "") -> VoiceResponse:
        ask = dict(state.get("ask") or {"text": voice_message("anything_else", state["lang"]), "action": "turn"})
        text = f"{before} {ask.pop('text')}".strip()
        return gather(text, state["lang"], ask.pop("action"), self.settings.voice, **ask)

    def goodbye(self, state: Dict[str, Any], key: str, **values: Any) -> VoiceResponse:
        state["stage"] = "done"
        return goodbye_twiml(voice_message(key, state["lang"], **values), state["lang"], self.settings.voice)

    def identity_of(self, state: Dict[str, Any], call: str) -> Dict[str, Any]:
        if state.get("identity"):
            return state["identity"]
        return self.layer.anonymous(state["lang"], "phone:unverified")

    @staticmethod
    def conversation(call: str) -> str:
        return "voice:" + hashlib.sha256(call.encode()).hexdigest()[:32]

    async def deliver(self, on_new_message: Handler, state: Dict[str, Any], call: str, text: str,
                      collector: VoiceCollector) -> None:
        identity = self.identity_of(state, call)
        if identity.get("id") is not None:
            await self.layer.deliver(on_new_message, identity, text, self.conversation(call), collector, self.name())
            return
        # an unverified caller: their own conversation, with no user (the actions answer knowledge questions only)
        await self.layer.deliver_anonymous(on_new_message, identity["language"], text, self.conversation(call),
                                           collector, self.name(), channel_user=identity["channel_user"])

    # --- the call's stages ------------------------------------------------------------------------------------
    async def start(self, state: Dict[str, Any]) -> VoiceResponse:
        """The language choice, each sentence in its own language's voice (no key: French)."""
        state["stage"] = "language"
        answer = gather(MESSAGES["choose_language"]["fr"], "fr", "language", self.settings.voice, digits=1,
                        dtmf_only=True)
        say(answer.verbs[0], MESSAGES["choose_language"]["en"], "en", self.settings.voice)
        return answer

    def ask_pin(self, state: Dict[str, Any], before: str = "") -> VoiceResponse:
        state["stage"] = "pin"
        return self.ask(state, f"{before} {voice_message('ask_pin', state['lang'])}".strip(), "pin", digits=6,
                        dtmf_only=True)

    def welcome(self, state: Dict[str, Any], before: str = "") -> VoiceResponse:
        state["stage"] = "talk"
        identity = state.get("identity")
        text = voice_message("welcome", state["lang"], name=identity["full_name"]) if identity else \
            voice_message("welcome_anonymous", state["lang"])
        return self.ask(state, f"{before} {text}".strip(), "turn")

    async def on_language(self, state: Dict[str, Any], form: Dict[str, str]) -> VoiceResponse:
        state["lang"] = "en" if form.get("Digits", "").startswith("2") else "fr"
        return self.ask_pin(state)

    def silence(self, state: Dict[str, Any], form: Dict[str, str]) -> Optional[VoiceResponse]:
        """Nothing said nor typed: the question again (twice), then a polite goodbye. None when there is input."""
        if form.get("SpeechResult", "").strip() or form.get("Digits", "").strip():
            state["silences"] = 0
            return None
        state["silences"] = state.get("silences", 0) + 1
        if state["silences"] > self.settings.max_reprompts:
            return self.goodbye(state, "goodbye_silence")
        return self.reask(state, voice_message("silence", state["lang"]))

    async def on_pin(self, state: Dict[str, Any], form: Dict[str, str]) -> VoiceResponse:
        digits = form.get("Digits", "")
        lang = state["lang"]
        silent = self.silence(state, form)
        if silent is not None:
            return silent
        if digits.startswith("*"):
            return self.welcome(state)
        if len(digits) != 6 or not digits.isdigit():
            state["pin_failures"] = state.get("pin_failures", 0) + 1
            if state["pin_failures"] >= self.settings.max_pin_attempts:
                return self.goodbye(state, "too_many_pins")
            return self.ask_pin(state, voice_message("pin_format", lang))
        result = await self.backend.verify(state["caller"], digits, state.get("phone"))
        if result.outcome == "ok":
            state["identity"] = result.identity
            state["lang"] = result.identity.get("language") if result.identity.get("language") in ("fr", "en") \
                else lang
            return self.welcome(state)
        if result.outcome == "locked":
            return self.goodbye(state, "locked", minutes=max(1, (result.retry_after + 59) // 60))
        if result.outcome == "no_voice_pin":
            return self.welcome(state, voice_message("no_pin", lang))
        if result.outcome == "caller_unknown" and not state.get("phone"):
            state["stage"] = "phone"
            return self.ask(state, voice_message("ask_phone", lang), "phone", dtmf_only=True)
        state["pin_failures"] = state.get("pin_failures", 0) + 1
        if state["pin_failures"] >= self.settings.max_pin_attempts:
            return self.goodbye(state, "too_many_pins")
        return self.ask_pin(state, voice_message("unknown_caller" if result.outcome == "caller_unknown"
                                                 else "wrong_pin", lang))

    async def on_phone(self, state: Dict[str, Any], form: Dict[str, str]) -> VoiceResponse:
        digits = form.get("Digits", "")
        silent = self.silence(state, form)
        if silent is not None:
            return silent
        if digits.startswith("*"):
            return self.welcome(state)
        state["phone"] = "+" + digits.lstrip("0") if digits.isdigit() and len(digits) >= 6 else None
        if state["phone"] is None:
            return self.ask(state, voice_message("ask_phone", state["lang"]), "phone", dtmf_only=True)
        return self.ask_pin(state)

    async def run_turn(self, on_new_message: Handler, state: Dict[str, Any], call: str, text: str) -> str:
        """Delivers the caller's words to the assistant and renders its answer (TwiML). Saves the call's state."""
        lang = state["lang"]
        collector = VoiceCollector()
        try:
            await self.deliver(on_new_message, state, call, text, collector)
        except Exception:  # nothing of the turn was kept (bot/action_failures.py, bot/conversation_store.py)
            log.exception("voice: the turn failed")
            answer = self.reask(state, voice_message("turn_failed", lang))
            await self.store.put("call", call, state)
            return str(answer)
        answered_in = detect_language(" ".join(str(m.get("text") or "") for m in collector.messages))
        if answered_in in ("fr", "en") and answered_in != lang:  # the caller asked for the other language: the
            state["lang"] = lang = answered_in                  # voice and the speech recognition follow it
        prompt = voice_prompt(collector.messages, lang, anonymous=not state.get("identity"))
        state["options"], state["number"] = prompt.options, prompt.number
        state["article"] = prompt.article
        if prompt.handoff_done:
            state["stage"] = "transfer"
            answer = self.transfer(state, prompt.text)
        elif prompt.goodbye:
            answer = self.goodbye(state, "call_ended") if not prompt.text else goodbye_twiml(
                prompt.text, lang, self.settings.voice)
            state["stage"] = "done"
        else:
            text_said = prompt.text or voice_message("anything_else", lang)
            prompt.lines = [text_said]
            state["ask"] = {"text": text_said, "action": "turn", "number": prompt.number,
                            "digits": 1 if prompt.options and not prompt.number and all(
                                len(k) == 1 for k in prompt.options) else None,
                            "hints": prompt.titles or None}
            answer = prompt_twiml(prompt, lang, "turn", self.settings.voice)
        await self.store.put("call", call, state)
        return str(answer)

    def transfer(self, state: Dict[str, Any], said: str = "") -> VoiceResponse:
        lang = state["lang"]
        if not self.settings.support_number:
            state["stage"] = "talk"
            return self.ask(state, f"{said} {voice_message('no_transfer', lang)} "
                                   f"{voice_message('anything_else', lang)}".strip(), "turn")
        return dial_twiml(f"{said} {voice_message('transfer', lang)}".strip(), lang, self.settings.support_number,
                          "dialed", self.settings.voice)

    async def on_turn(self, on_new_message: Handler, state: Dict[str, Any], call: str,
                      form: Dict[str, str]) -> VoiceResponse | str:
        lang = state["lang"]
        speech, digits = form.get("SpeechResult", "").strip(), form.get("Digits", "").strip()
        silent = self.silence(state, form)
        if silent is not None:
            return silent
        options: Dict[str, str] = state.get("options") or {}
        text = speech
        if digits:
            if digits in options:
                text = options[digits]
            elif digits == HANDOFF_DIGIT and not state.get("number"):
                if not state.get("identity"):  # no case for an unverified caller: straight to an agent
                    state["stage"] = "transfer"
                    return self.transfer(state)
                text = "/human_handoff"
            elif state.get("number") and digits.rstrip("#").isdigit():
                text = digits.rstrip("#")
            else:
                return self.reask(state, voice_message("unknown_key", lang))
        if text == LINK_PAYLOAD:
            article = state.get("article") or {}
            user_id = (state.get("identity") or {}).get("id")
            queued = bool(article) and await self.backend.queue_link(state["caller"], article["number"], lang,
                                                                     user_id)
            state["options"], state["article"], state["number"] = {}, None, False
            return self.ask(state, f"{voice_message('link_queued' if queued else 'link_failed', lang)} "
                                   f"{voice_message('anything_else', lang)}", "turn")
        if self.layer.refusal(text):
            return self.reask(state, voice_message("failed", lang))
        state["turn"] = state.get("turn", 0) + 1
        turn = state["turn"]
        await self.store.put("call", call, state)

        async def run() -> None:
            xml = await self.run_turn(on_new_message, state, call, text)
            await self.store.put(f"turn{turn}", call, xml)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settings.hold_seconds)
        except asyncio.TimeoutError:
            return holding_twiml(voice_message("hold", lang), lang, f"poll?turn={turn}&n=1", self.settings.voice)
        return await self.store.get(f"turn{turn}", call) or str(self.reask(state, voice_message("failed", lang)))

    async def on_poll(self, state: Dict[str, Any], call: str, turn: int, n: int) -> VoiceResponse | str:
        deadline = time.monotonic() + self.settings.poll_seconds
        while True:
            found = await self.store.get(f"turn{turn}", call)
            if found:
                return found
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.1)
        if n >= self.settings.max_polls:
            return self.reask(state, voice_message("too_slow", state["lang"]))
        answer = VoiceResponse()
        answer.append(Pause(length=1))
        answer.append(Redirect(f"poll?turn={turn}&n={n + 1}", method="POST"))
        return answer

    def on_dialed(self, state: Dict[str, Any], form: Dict[str, str]) -> VoiceResponse:
        if form.get("DialCallStatus") == "completed":
            answer = VoiceResponse()
            answer.append(Hangup())
            return answer
        return self.goodbye(state, "transfer_failed" if state.get("identity") else "transfer_failed_anonymous")

    # --- the webhook ------------------------------------------------------------------------------------------
    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/<step:(call|language|pin|phone|turn|poll|dialed|status)>", methods=["POST"])
        async def receive(request: Request, step: str) -> HTTPResponse:
            if self.validator is None:
                log.error("voice: TWILIO_AUTH_TOKEN is not set; calls are refused")
                return response.empty(status=503)
            form = form_of(request)
            if not self.authentic(request, form):
                log.warning("voice: request refused (missing or wrong X-Twilio-Signature)")
                return response.empty(status=403)
            call = form.get("CallSid", "")
            if not call or len(call) > 64:
                return response.json({"code": "invalid_body"}, status=400)
            if step == "status":
                if form.get("CallStatus") in ("completed", "busy", "failed", "no-answer", "canceled"):
                    await self.store.delete("call", call)
                return response.empty(status=204)
            state = await self.store.get("call", call)
            if step == "call" or state is None:
                state = {"lang": "fr", "caller": form.get("From", "")[:50], "turn": 0}
                answer: Any = await self.start(state)
            elif state.get("stage") == "done":
                answer = VoiceResponse()
                answer.append(Hangup())
            else:
                try:
                    if step == "language":
                        answer = await self.on_language(state, form)
                    elif step == "pin":
                        answer = await self.on_pin(state, form)
                    elif step == "phone":
                        answer = await self.on_phone(state, form)
                    elif step == "turn":
                        answer = await self.on_turn(on_new_message, state, call, form)
                        if isinstance(answer, str):  # the finished turn saved its own state
                            return response.text(answer, content_type="application/xml")
                        if state.get("turn") and answer.verbs and isinstance(answer.verbs[-1], Redirect):
                            return self.twiml(answer)  # holding: the turn saves the state when it ends
                    elif step == "poll":
                        args = parse_qs(request.query_string or "")
                        try:
                            turn, n = int(args.get("turn", ["0"])[0]), int(args.get("n", ["1"])[0])
                        except ValueError:
                            return response.json({"code": "invalid_body"}, status=400)
                        answer = await self.on_poll(state, call, turn, n)
                        if isinstance(answer, str):
                            return response.text(answer, content_type="application/xml")
                        return self.twiml(answer)
                    else:
                        answer = self.on_dialed(state, form)
                except PortalUnavailable:
                    answer = self.goodbye(state, "portal_unavailable")
            await self.store.put("call", call, state)
            return self.twiml(answer)

        return webhook
