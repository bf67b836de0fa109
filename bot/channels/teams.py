"""Microsoft Teams adapter: `POST /webhooks/teams/messages` receives the Bot Connector's activities.

Like every adapter it only authenticates and translates (bot/identity.py delivers the message):

- **Inbound** (`BotTokenValidator`): every activity's `Authorization: Bearer` JWT must be signed (RS256) by a key of
  the JWKS named by the configured OpenID metadata (fetched lazily, cached, fetched again on an unknown `kid` at most
  every `TEAMS_KEYS_MIN_REFRESH_SECONDS`), the key must endorse the activity's `channelId`, and the token must have
  our issuer, our app id as audience, an expiry (`TEAMS_CLOCK_SKEW_SECONDS` of skew) and a `serviceurl` claim equal
  to the activity's `serviceUrl`. Anything else → 401, nothing reaches the assistant.
- **Outbound** (`ConnectorClient`): replies are posted to `{serviceUrl}/v3/conversations/{id}/activities` (only to
  the service URL the token vouched for) with a token of our single-tenant app registration from
  `TEAMS_TOKEN_URL`, cached until shortly before it expires; 429 and 5xx are retried with backoff (honouring
  `Retry-After`). A typing activity is sent while the assistant works; a conversation's turns run one after the
  other, and each turn's replies are posted in order.
- **Rendering**: bot/channels/teams_cards.py (Adaptive Cards).
- **Group chats and channels**: the bot answers only messages that @mention it (card clicks aside), with the
  mention stripped from the text.
- **A failed turn** (every action server or the conversation store unreachable: nothing of it was kept) is answered
  with a message asking to send it again, in the user's language; sending it again continues where it was.

Who the Teams user (tenant id, AAD object id) is in the portal is the backend's answer on every message
(`BackendLinks`, a short-lived service token signed with CHANNEL_KEY). A user who is not linked, deactivated, or
writing from a tenant bound to another account talks to the assistant with the anonymous identity
(bot/identity.py), in a conversation of their own: the action server then mints only knowledge-search tokens, so a
how-to question is answered and anything needing the account is answered "log in" (`utter_login_required`), which
this adapter shows as the sign-in card to the portal page that links them (a single-use code, minutes long). The
first message of an unlinked user in a conversation (again after they were seen linked there) gets that card too.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text
from urllib.parse import quote

import httpx
import jwt
from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.backend_client import KEEP_ALIVE
from bot.channels.teams_cards import sign_in_card, submitted_payload, teams_activities
from bot.identity import Handler, IdentityLayer, PortalUnavailable, edge_message, user_identity
from bot.language import detect_language

log = logging.getLogger(__name__)

TEAMS_MESSAGES = {
    "welcome": {
        "fr": "Bonjour ! Je suis l'assistant de vos services d'impression. Je peux déclarer une panne, relever vos "
              "compteurs, commander des consommables, suivre vos demandes et répondre à vos questions. Que puis-je "
              "faire pour vous ?",
        "en": "Hello! I am your print services assistant. I can report a fault, take your meter readings, order "
              "supplies, follow your cases and answer your questions. What can I do for you?",
    },
    "not_linked": {
        "fr": "Pour utiliser l'assistant dans Teams, reliez votre compte Teams à votre compte du portail : ouvrez le "
              "lien, connectez-vous au portail, puis tapez ici le numéro à six chiffres qu'il vous donne. Le lien ne "
              "sert qu'une fois et expire dans quelques minutes.",
        "en": "To use the assistant in Teams, link your Teams account to your portal account: open the link, sign "
              "in to the portal, then type here the six-digit number it gives you. The link works once and expires "
              "in a few minutes.",
    },
    "until_linked": {
        "fr": "En attendant, je peux répondre à vos questions pratiques (« comment remplacer le toner ? »).",
        "en": "Until then, I can answer your how-to questions (\"how do I replace the toner?\").",
    },
    "link_required": {
        "fr": "Pour cela, je dois savoir qui vous êtes dans le portail : reliez votre compte Teams à votre compte du "
              "portail (ouvrez le lien, connectez-vous, puis tapez ici le numéro à six chiffres qu'il vous donne). "
              "Sans cela, je peux seulement répondre à vos questions pratiques.",
        "en": "For that I need to know who you are in the portal: link your Teams account to your portal account "
              "(open the link, sign in, then type here the six-digit number it gives you). Until then, I can only "
              "answer how-to questions.",
    },
    "link_button": {"fr": "Relier mon compte", "en": "Link my account"},
    "linked": {
        "fr": "C'est fait : votre compte Teams est relié au compte du portail de {name}. Que puis-je faire pour vous ?",
        "en": "Done: your Teams account is linked to {name}'s portal account. What can I do for you?",
    },
    "wrong_number": {
        "fr": "Ce numéro ne correspond pas ou a expiré.",
        "en": "This number does not match or has expired.",
    },
}
CONFIRMATION_NUMBER = re.compile(r"[0-9]{6}")  # what the portal's linking page shows, typed back in Teams
CHANNEL_AUDIENCE = "portal-channel"  # backend/core/security.py
CHANNEL_TOKEN_SECONDS = 60
DEFAULT_CHANNEL_KEY_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "var", "channel.key")


def teams_message(key: str, lang: str, **values: Any) -> str:
    text = TEAMS_MESSAGES[key]["fr" if lang == "fr" else "en"]
    return text.format(**values) if values else text


def locale_language(locale: Any) -> str:
    """A Teams locale ("fr-FR", "en-GB") as the assistant's language; English for anything not French."""
    return "fr" if isinstance(locale, str) and locale.lower().startswith("fr") else "en"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _secret(name: str) -> str:
    """A secret from the environment or from the file `<name>_FILE` names (never from a command line)."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return ""


@dataclass
class TeamsSettings:
    """Where Microsoft's side is and who we are there. Defaults: the public cloud; every URL is a setting so
    sovereign clouds and the offline tests point elsewhere."""

    app_id: str
    app_password: str = field(repr=False)
    tenant_id: str
    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    issuer: str = "https://api.botframework.com"
    token_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    token_scope: str = "https://api.botframework.com/.default"
    channel_id: str = "msteams"
    clock_skew_seconds: float = 60.0
    keys_max_age_seconds: float = 24 * 3600.0
    keys_min_refresh_seconds: float = 60.0
    retries: int = 4
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, credentials: Optional[Dict[str, Any]] = None) -> "TeamsSettings":
        c = credentials or {}

        def setting(key: str, env: str, default: Any) -> Any:
            return c.get(key) if c.get(key) not in (None, "") else _env(env, str(default))

        defaults = cls(app_id="", app_password="", tenant_id="")
        return cls(
            app_id=str(setting("app_id", "TEAMS_APP_ID", "")),
            app_password=_secret("TEAMS_APP_PASSWORD"),
            tenant_id=str(setting("tenant_id", "TEAMS_TENANT_ID", "")),
            openid_metadata_url=str(setting("openid_metadata_url", "TEAMS_OPENID_METADATA_URL",
                                            defaults.openid_metadata_url)),
            issuer=str(setting("issuer", "TEAMS_TOKEN_ISSUER", defaults.issuer)),
            token_url=str(setting("token_url", "TEAMS_TOKEN_URL", defaults.token_url)),
            token_scope=str(setting("token_scope", "TEAMS_TOKEN_SCOPE", defaults.token_scope)),
            clock_skew_seconds=float(setting("clock_skew_seconds", "TEAMS_CLOCK_SKEW_SECONDS",
                                             defaults.clock_skew_seconds)),
            keys_min_refresh_seconds=float(setting("keys_min_refresh_seconds", "TEAMS_KEYS_MIN_REFRESH_SECONDS",
                                                   defaults.keys_min_refresh_seconds)),
            backoff_seconds=float(setting("backoff_seconds", "TEAMS_BACKOFF_SECONDS", defaults.backoff_seconds)),
        )

    @property
    def tenant_token_url(self) -> str:
        return self.token_url.replace("{tenant}", self.tenant_id)


class Unauthorized(Exception):
    """The activity's token is missing or not valid (the reason is for the log only)."""


class KeysUnavailable(Exception):
    """Microsoft's signing keys could not be fetched: the activity cannot be checked now."""


class BotTokenValidator:
    """Checks the Bot Connector's JWT on an inbound activity (see the module's docstring)."""

    def __init__(self, settings: TeamsSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self._keys: Dict[str, Dict[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _fetch_keys(self) -> None:
        try:
            metadata = (await self.client.get(self.settings.openid_metadata_url)).raise_for_status().json()
            jwks_uri = metadata["jwks_uri"]
            keys = (await self.client.get(jwks_uri)).raise_for_status().json()["keys"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            log.error("teams: Microsoft's signing keys could not be fetched: %s", type(exc).__name__)
            raise KeysUnavailable() from exc
        self.fetches += 1
        self._keys = {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}
        self._fetched_at = time.monotonic()

    async def signing_key(self, kid: str) -> Dict[str, Any]:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if age > self.settings.keys_max_age_seconds or (
                    kid not in self._keys and age > self.settings.keys_min_refresh_seconds):
                await self._fetch_keys()
        if kid not in self._keys:
            raise Unauthorized("unknown kid")
        return self._keys[kid]

    async def validate(self, authorization: Optional[str], activity: Dict[str, Any]) -> Dict[str, Any]:
        """The token's claims when the activity is authentic; Unauthorized (or KeysUnavailable) otherwise."""
        if not authorization or not authorization.startswith("Bearer ") or len(authorization) > 8192:
            raise Unauthorized("no bearer token")
        token = authorization[len("Bearer "):].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise Unauthorized("unexpected algorithm or no kid")
        jwk = await self.signing_key(kid)
        endorsements = jwk.get("endorsements")
        if isinstance(endorsements, list) and activity.get("channelId") not in endorsements:
            raise Unauthorized("key does not endorse the channel")
        try:
            key = jwt.PyJWK(jwk, algorithm="RS256").key
            claims = jwt.decode(
                token, key=key, algorithms=["RS256"], audience=self.settings.app_id, issuer=self.settings.issuer,
                leeway=self.settings.clock_skew_seconds, options={"require": ["exp", "iss", "aud"]})
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized(f"token rejected: {type(exc).__name__}") from exc
        service_url = activity.get("serviceUrl")
        if not isinstance(service_url, str) or claims.get("serviceurl") != service_url:
            raise Unauthorized("serviceurl claim does not match the activity")
        return claims


class ConnectorClient:
    """Posts activities to the Bot Connector with our app's token (tenant-specific endpoint, cached)."""

    def __init__(self, settings: TeamsSettings, client: httpx.AsyncClient,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.settings = settings
        self.client = client
        self.sleep = sleep
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self, renew: bool = False) -> str:
        async with self._lock:
            if renew or not self._token or time.monotonic() >= self._expires_at:
                data = {"grant_type": "client_credentials", "client_id": self.settings.app_id,
                        "client_secret": self.settings.app_password, "scope": self.settings.token_scope}
                answer = await self.client.post(self.settings.tenant_token_url, data=data)
                if answer.status_code != 200:
                    log.error("teams: the token endpoint answered %s", answer.status_code)
                    answer.raise_for_status()
                body = answer.json()
                lifetime = float(body.get("expires_in", 3600))
                self._token = body["access_token"]
                # renewed five minutes before it expires (or at half its life when it is short)
                self._expires_at = time.monotonic() + max(lifetime - 300, lifetime / 2)
            return self._token  # type: ignore[return-value]

    async def send(self, service_url: str, conversation_id: str, activity: Dict[str, Any]) -> Optional[str]:
        """Posts one activity; returns its id. Retries 429/5xx/network errors with backoff; a 401 once with a new
        token. Gives up (logged) after `retries` attempts."""
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
        renewed = False
        for attempt in range(self.settings.retries + 1):
            retry_after: Optional[float] = None
            try:
                token = await self.token()
                answer = await self.client.post(url, json=activity, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            else:
                if answer.status_code < 300:
                    try:
                        return answer.json().get("id")
                    except ValueError:
                        return None
                status = str(answer.status_code)
                if answer.status_code in (401, 403) and not renewed:
                    renewed = True
                    await self.token(renew=True)
                    continue
                if answer.status_code != 429 and answer.status_code < 500:
                    log.error("teams: the connector refused an activity: %s", answer.status_code)
                    return None
                try:
                    retry_after = float(answer.headers.get("retry-after", ""))
                except ValueError:
                    retry_after = None
            if attempt == self.settings.retries:
                log.error("teams: an activity could not be sent after %s attempts (%s)", attempt + 1, status)
                return None
            delay = self.settings.backoff_seconds * (2 ** attempt) * (1 + random.random() / 4)
            await self.sleep(min(max(delay, retry_after or 0.0), 30.0))
        return None


class TeamsOutput(OutputChannel):
    """Replies to one inbound activity: each bot message rendered for Teams and posted in order."""

    @classmethod
    def name(cls) -> Text:
        return "teams"

    def __init__(self, connector: ConnectorClient, activity: Dict[str, Any], lang: str) -> None:
        self.connector = connector
        self.inbound = activity
        self.lang = lang

    def addressed(self, activity: Dict[str, Any]) -> Dict[str, Any]:
        inbound = self.inbound
        out = {**activity, "from": inbound.get("recipient"), "recipient": inbound.get("from"),
               "conversation": {"id": inbound["conversation"]["id"]}, "channelId": inbound.get("channelId"),
               "serviceUrl": inbound.get("serviceUrl"), "locale": inbound.get("locale") or "en-US"}
        if inbound.get("id"):
            out["replyToId"] = inbound["id"]
        return out

    async def post(self, activity: Dict[str, Any]) -> None:
        await self.connector.send(self.inbound["serviceUrl"], self.inbound["conversation"]["id"],
                                  self.addressed(activity))

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        for activity in teams_activities(message, self.lang):
            await self.post(activity)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


LOGIN_REQUIRED = "utter_login_required"  # what the actions answer when the backend refuses the anonymous identity


class UnlinkedTeamsOutput(TeamsOutput):
    """Replies to an unlinked user (the assistant acts for the anonymous identity): an answer that needs the account
    is held back (`link_required`), the adapter then posts the sign-in card instead; the rest is posted as usual."""

    def __init__(self, connector: ConnectorClient, activity: Dict[str, Any], lang: str) -> None:
        super().__init__(connector, activity, lang)
        self.link_required = False
        self.said: List[str] = []  # the texts of the turn, for the card's language

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        if message.get("text"):
            self.said.append(str(message["text"]))
        if message.get("utter_action") == LOGIN_REQUIRED:
            self.link_required = True
            return
        await super().send_response(recipient_id, message)


def mentions_bot(activity: Dict[str, Any]) -> List[str]:
    """The texts of the activity's @mentions of the bot (e.g. "<at>Print assistant</at>")."""
    bot_id = (activity.get("recipient") or {}).get("id")
    found = []
    for entity in activity.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == "mention" \
                and (entity.get("mentioned") or {}).get("id") == bot_id and isinstance(entity.get("text"), str):
            found.append(entity["text"])
    return found


def strip_mentions(text: str, mentions: List[str]) -> str:
    for mention in mentions:
        text = text.replace(mention, " ")
    text = re.sub(r"<at>[^<]{0,200}</at>", " ", text) if not mentions else text
    return re.sub(r"\s+", " ", text).strip()


def tenant_of(activity: Dict[str, Any]) -> Optional[str]:
    tenant = (activity.get("conversation") or {}).get("tenantId") \
        or ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
    return tenant if isinstance(tenant, str) and tenant else None


class ChannelServiceClient:
    """A channel's client of the backend, with a short-lived service token of that channel (`channel`: its `sub`),
    signed with CHANNEL_KEY (or the file the backend writes) — the Teams links, the phone's voice access."""

    channel = ""

    def __init__(self, backend_url: Optional[str] = None, key: Optional[str] = None,
                 transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        self.backend_url = (backend_url or _env("BACKEND_URL", "http://localhost:8000")).rstrip("/")
        self._key = key
        self.client = httpx.AsyncClient(timeout=5.0, transport=transport or httpx.AsyncHTTPTransport(
            retries=2, limits=KEEP_ALIVE))

    def key(self) -> str:
        if not self._key:
            self._key = _secret("CHANNEL_KEY")
            if not self._key and os.path.exists(DEFAULT_CHANNEL_KEY_FILE):
                with open(DEFAULT_CHANNEL_KEY_FILE, encoding="utf-8") as handle:
                    self._key = handle.read().strip()
        return self._key or ""

    def _headers(self) -> Dict[str, str]:
        now = int(time.time())
        token = jwt.encode({"sub": self.channel, "aud": CHANNEL_AUDIENCE, "iat": now,
                            "exp": now + CHANNEL_TOKEN_SECONDS}, self.key(), algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}


class BackendLinks(ChannelServiceClient):
    """The backend's Teams links, asked by the channel with a short-lived service token (CHANNEL_KEY)."""

    channel = "teams"

    def __init__(self, backend_url: Optional[str] = None, link_page_url: Optional[str] = None,
                 key: Optional[str] = None, transport: Optional[httpx.AsyncBaseTransport] = None) -> None:
        super().__init__(backend_url, key, transport)
        self.link_page_url = link_page_url or _env("TEAMS_LINK_PAGE_URL", f"{self.backend_url}/chat/teams-link.html")

    async def _post(self, path: str, tenant_id: str, aad_object_id: str) -> httpx.Response:
        try:
            return await self.client.post(f"{self.backend_url}{path}", headers=self._headers(),
                                          json={"tenant_id": tenant_id, "aad_object_id": aad_object_id})
        except httpx.HTTPError as exc:
            log.error("teams: backend unreachable: %s", type(exc).__name__)
            raise PortalUnavailable() from exc

    async def __call__(self, tenant_id: str, aad_object_id: str) -> Optional[Dict[str, Any]]:
        """The linked user's identity, None when this Teams user is not (or no longer) linked."""
        if not tenant_id or not aad_object_id:
            return None
        answer = await self._post("/teams/identity", tenant_id, aad_object_id)
        if answer.status_code in (404, 422):
            return None
        if answer.status_code != 200:
            log.error("teams: identity look-up answered %s", answer.status_code)
            raise PortalUnavailable()
        return {**user_identity(answer.json()), "channel": "teams",
                "channel_user": f"teams:{tenant_id}:{aad_object_id}"}

    async def confirm(self, tenant_id: str, aad_object_id: str, number: str) -> Optional[Dict[str, Any]]:
        """Makes the link with the number the portal page showed; the linked identity, None when it is wrong."""
        try:
            answer = await self.client.post(f"{self.backend_url}/teams/links/confirm", headers=self._headers(), json={
                "tenant_id": tenant_id, "aad_object_id": aad_object_id, "number": number})
        except httpx.HTTPError as exc:
            raise PortalUnavailable() from exc
        if answer.status_code != 201:
            return None
        return {**user_identity(answer.json()), "channel": "teams",
                "channel_user": f"teams:{tenant_id}:{aad_object_id}"}

    async def link_url(self, tenant_id: str, aad_object_id: str) -> Optional[str]:
        """The portal page that links this Teams user, with a fresh single-use code (in the fragment: never sent to
        a server or written in its logs)."""
        if not tenant_id or not aad_object_id:
            return None
        answer = await self._post("/teams/link-codes", tenant_id, aad_object_id)
        if answer.status_code != 201:
            log.error("teams: link code answered %s", answer.status_code)
            return None
        return f"{self.link_page_url}#code={answer.json()['code']}"


class Once:
    """Whether something happens for the first time (the welcome of a conversation), across the Rasa workers: in
    the Redis they share (the web chat's session db, CHAT_SESSIONS_REDIS_URL), else in this process."""

    TTL_SECONDS = 90 * 24 * 3600

    def __init__(self, redis_url: Optional[str] = None) -> None:
        self._local: Set[str] = set()
        self.redis = None
        if redis_url:
            import redis.asyncio  # Rasa's own dependency

            self.redis = redis.asyncio.Redis.from_url(redis_url)

    @staticmethod
    def _key(what: str) -> str:
        return "teams_once:" + hashlib.sha256(what.encode()).hexdigest()[:32]

    async def forget(self, what: str) -> None:
        """The next `first(what)` is true again."""
        key = self._key(what)
        if self.redis is None:
            self._local.discard(key)
        else:
            await self.redis.delete(key)

    async def first(self, what: str) -> bool:
        key = self._key(what)
        if self.redis is None:
            if key in self._local:
                return False
            if len(self._local) > 100_000:
                self._local.clear()
            self._local.add(key)
            return True
        return bool(await self.redis.set(key, 1, nx=True, ex=self.TTL_SECONDS))


class TeamsInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "teams"

    def __init__(self, settings: TeamsSettings, resolve: BackendLinks, layer: Optional[IdentityLayer] = None,
                 transport: Optional[httpx.AsyncBaseTransport] = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, once: Optional[Once] = None) -> None:
        self.settings = settings
        self.resolve = resolve
        self.layer = layer or IdentityLayer("teams")
        client = httpx.AsyncClient(timeout=settings.timeout_seconds,
                                   transport=transport or httpx.AsyncHTTPTransport(limits=KEEP_ALIVE))
        self.validator = BotTokenValidator(settings, client)
        self.connector = ConnectorClient(settings, client, sleep)
        self._turns: Dict[str, asyncio.Lock] = {}
        self.once = once or Once()
        self.tasks: Set["asyncio.Task[None]"] = set()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TeamsInput":
        credentials = credentials or {}
        return cls(TeamsSettings.from_env(credentials), BackendLinks(credentials.get("backend_url")),
                   IdentityLayer(credentials.get("channel", "teams")),
                   once=Once(os.environ.get("CHAT_SESSIONS_REDIS_URL")))

    async def idle(self) -> None:
        """Waits until every accepted activity has been answered (tests)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def _in_background(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        """Runs a conversation's work after its earlier work (asyncio.Lock wakes waiters in arrival order)."""
        lock = self._turns.setdefault(key, asyncio.Lock())

        async def run() -> None:
            async with lock:
                try:
                    await work()
                except Exception:
                    log.exception("teams: an activity failed")
            if not lock.locked() and self._turns.get(key) is lock and len(self._turns) > 10_000:
                self._turns.pop(key, None)

        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _welcome(self, activity: Dict[str, Any]) -> None:
        lang = locale_language(activity.get("locale"))
        output = TeamsOutput(self.connector, activity, lang)
        await output.send_text_message("", teams_message("welcome", lang))

    async def _sign_in(self, output: TeamsOutput, tenant: str, aad: str, lang: str, *keys: str) -> None:
        """The sign-in card: why (the messages `keys`), and the button to the portal page with a fresh code."""
        url = await self.resolve.link_url(tenant, aad)
        if url is None:
            raise PortalUnavailable()
        text = "\n\n".join(teams_message(key, lang) for key in keys)
        await output.post({"type": "message", "attachments": [
            sign_in_card(text, teams_message("link_button", lang), url)]})

    async def _message(self, on_new_message: Handler, activity: Dict[str, Any], text: str) -> None:
        lang = locale_language(activity.get("locale"))
        output = TeamsOutput(self.connector, activity, lang)
        tenant, aad = tenant_of(activity) or "", str((activity.get("from") or {}).get("aadObjectId") or "")
        # the sign-in card's first showing to this Teams user in this conversation (forgotten once seen linked)
        first_contact = f"sign-in:{activity['conversation']['id']}:{tenant}:{aad}"
        try:
            identity = await self.resolve(tenant, aad)
            if identity is None and CONFIRMATION_NUMBER.fullmatch(text.strip()):
                linked = await self.resolve.confirm(tenant, aad, text.strip())
                if linked is not None:
                    await output.send_text_message("", teams_message(
                        "linked", linked.get("language") or lang, name=linked.get("full_name") or ""))
                    return
                await output.send_text_message("", teams_message("wrong_number", lang))
                await self._sign_in(output, tenant, aad, lang, "not_linked")
                await self.once.first(first_contact)
                return
        except PortalUnavailable:
            await output.send_text_message("", edge_message("portal_unavailable", lang))
            return
        refusal = self.layer.refusal(text)
        if refusal:
            await output.send_text_message("", edge_message(refusal, (identity or {}).get("language") or lang))
            return
        conversation = "teams:" + hashlib.sha256(activity["conversation"]["id"].encode()).hexdigest()[:32]
        if identity is None:
            await self._unlinked(on_new_message, activity, text, conversation, tenant, aad, first_contact)
            return
        await self.once.forget(first_contact)
        output.lang = identity.get("language") or lang
        await output.post({"type": "typing"})
        try:
            await self.layer.deliver(on_new_message, identity, text, conversation, output, self.name(),
                                     message_id=activity.get("id"))
        except Exception:
            await self._turn_failed(output, output.lang)

    async def _turn_failed(self, output: TeamsOutput, lang: str) -> None:
        """The turn was not taken (action servers or conversation store unreachable; nothing of it was kept): the
        user is asked to send the message again, which continues where the conversation was."""
        log.exception("teams: the turn failed")
        await output.send_text_message("", edge_message("turn_failed", lang))

    async def _unlinked(self, on_new_message: Handler, activity: Dict[str, Any], text: str, conversation: str,
                        tenant: str, aad: str, first_contact: str) -> None:
        """An unlinked user's message: to the assistant with the anonymous identity (knowledge only), in their own
        conversation; the sign-in card when the answer needs the account, and on first contact."""
        lang = locale_language(activity.get("locale"))
        output = UnlinkedTeamsOutput(self.connector, activity, lang)
        await output.post({"type": "typing"})
        who = hashlib.sha256(f"{tenant}:{aad}".encode()).hexdigest()[:16]
        try:
            await self.layer.deliver_anonymous(on_new_message, lang, text, f"{conversation}:{who}", output,
                                               self.name(), channel_user="teams:unlinked",
                                               message_id=activity.get("id"))
        except Exception:
            await self._turn_failed(output, lang)
            return
        first = await self.once.first(first_contact)
        if not (output.link_required or first):
            return
        answered_in = detect_language(" ".join(output.said)) or lang
        try:
            if output.link_required:
                await self._sign_in(output, tenant, aad, answered_in, "link_required")
            else:
                await self._sign_in(output, tenant, aad, answered_in, "not_linked", "until_linked")
        except PortalUnavailable:
            await output.send_text_message("", edge_message("portal_unavailable", answered_in))

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/messages", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                activity = json.loads(request.body or b"")
            except ValueError:
                activity = None
            if not isinstance(activity, dict):
                return response.json({"code": "invalid_body"}, status=400)
            if not self.settings.app_id:
                log.error("teams: TEAMS_APP_ID is not set; activities are refused")
                return response.empty(status=503)
            try:
                await self.validator.validate(request.headers.get("authorization"), activity)
            except Unauthorized as exc:
                log.warning("teams: activity refused (%s)", exc)
                return response.empty(status=401)
            except KeysUnavailable:
                return response.empty(status=503)
            conversation = activity.get("conversation") or {}
            if not isinstance(conversation.get("id"), str) or not isinstance(activity.get("serviceUrl"), str):
                return response.json({"code": "invalid_body"}, status=400)
            kind = activity.get("type")
            if kind == "conversationUpdate":
                bot_id = (activity.get("recipient") or {}).get("id")
                added = [m.get("id") for m in activity.get("membersAdded") or [] if isinstance(m, dict)]
                if bot_id in added and await self.once.first(f"welcome:{conversation['id']}"):
                    self._in_background(conversation["id"], lambda: self._welcome(activity))
                return response.empty(status=200)
            if kind != "message":
                return response.empty(status=200)
            payload = submitted_payload(activity.get("value"))
            mentions = mentions_bot(activity)
            if payload is None and conversation.get("conversationType") in ("channel", "groupChat") \
                    and not mentions:
                return response.empty(status=200)  # not for us: group messages must @mention the bot
            text = payload if payload is not None else strip_mentions(str(activity.get("text") or ""), mentions)
            # The Bot Connector delivers an activity again when our answer was late: one turn per activity id.
            activity_id = activity.get("id")
            if isinstance(activity_id, str) and activity_id and not await self.once.first(
                    f"activity:{conversation['id']}:{activity_id}"):
                log.info("teams: activity delivered again, already taken")
                return response.empty(status=200)
            self._in_background(conversation["id"], lambda: self._message(on_new_message, activity, text))
            return response.empty(status=200)

        return webhook
