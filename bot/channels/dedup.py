"""One answer per channel message: a client that sends the same message again (its retry after a timeout, a
double delivery) gets the first delivery's answer instead of a second turn. An adapter concern: the adapter knows
what identifies a message on its channel (the REST channel: the client's `message_id`).

The first delivery claims the message's key in the Redis the Rasa processes share (`CHAT_SESSIONS_REDIS_URL`, else
this process's memory) with `SET NX`; a copy arriving meanwhile waits for the first one's answer (up to
`wait_seconds`), a copy arriving later gets the stored answer. A delivery that fails (the turn was not taken)
releases the key, so that the client's retry is taken. Keys expire after `MESSAGE_DEDUP_SECONDS` (default 3600).
Stored: the bot messages of the answer, never the credential.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple

log = logging.getLogger(__name__)
PENDING = "pending"
MAX_MESSAGE_ID_CHARS = 128


def usable_message_id(value: object) -> bool:
    """A channel message's id the dedup can key on: a string of 1 to MAX_MESSAGE_ID_CHARS characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_MESSAGE_ID_CHARS


class MessageDedup:
    def __init__(self, redis_url: Optional[str] = None, ttl: Optional[int] = None, wait_seconds: float = 60.0,
                 poll_seconds: float = 0.1) -> None:
        self.ttl = ttl or int(os.environ.get("MESSAGE_DEDUP_SECONDS", "3600"))
        self.wait_seconds, self.poll_seconds = wait_seconds, poll_seconds
        self._local: Dict[str, Tuple[float, str]] = {}
        self.redis = None
        if redis_url:
            import redis.asyncio  # Rasa's own dependency

            self.redis = redis.asyncio.Redis.from_url(redis_url)

    @staticmethod
    def key(channel: str, conversation: str, message_id: str) -> str:
        digest = hashlib.sha256(f"{channel}\0{conversation}\0{message_id}".encode()).hexdigest()[:40]
        return f"channel_message:{digest}"

    async def _set(self, key: str, value: str, nx: bool) -> bool:
        if self.redis is not None:
            return bool(await self.redis.set(key, value, nx=nx, ex=self.ttl))
        now = time.monotonic()
        held = self._local.get(key)
        if nx and held and held[0] > now:
            return False
        if len(self._local) > 100_000:
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
        self._local[key] = (now + self.ttl, value)
        return True

    async def _get(self, key: str) -> Optional[str]:
        if self.redis is not None:
            value = await self.redis.get(key)
            return value.decode() if isinstance(value, bytes) else value
        held = self._local.get(key)
        return held[1] if held and held[0] > time.monotonic() else None

    async def claim(self, key: str) -> Optional[List[Dict[str, Any]]]:
        """None when this delivery is the first (it must then `answer` or `release`); else the first delivery's
        answer (an empty list if it did not finish within `wait_seconds`)."""
        try:
            if await self._set(key, PENDING, nx=True):
                return None
            deadline = time.monotonic() + self.wait_seconds
            while True:
                value = await self._get(key)
                if value is None:  # the first delivery failed and released the key: this one is the retry
                    if await self._set(key, PENDING, nx=True):
                        return None
                elif value != PENDING:
                    log.info("channel message delivered again: answered with the first delivery's answer")
                    return json.loads(value)
                if time.monotonic() > deadline:
                    log.warning("channel message delivered again while the first delivery is still running")
                    return []
                await asyncio.sleep(self.poll_seconds)
        except Exception as error:  # Redis unreachable: the lock store fails the turn anyway; do not hide it here
            log.error("message dedup unavailable (%s): delivering without it", type(error).__name__)
            return None

    async def answer(self, key: str, messages: List[Dict[str, Any]]) -> None:
        try:
            await self._set(key, json.dumps(messages), nx=False)
        except Exception as error:
            log.error("message dedup: could not store the answer (%s)", type(error).__name__)

    async def release(self, key: str) -> None:
        try:
            if self.redis is not None:
                await self.redis.delete(key)
            else:
                self._local.pop(key, None)
        except Exception as error:
            log.error("message dedup: could not release (%s)", type(error).__name__)
