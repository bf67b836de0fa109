"""Runs last in the end-to-end suite (files run in name order): after every conversation above, nothing the
stack's Redis holds (conversations, locks, chat session bindings) looks like a bearer token."""
from __future__ import annotations

import re

import pytest
import redis

from conftest import Stack

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
BEARER = re.compile(rb"bearer\s+[A-Za-z0-9._~+/-]{16,}", re.I)


def test_no_token_in_the_tracker_lock_or_session_stores(stack: Stack):
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed: conversations live in Rasa's memory")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=stack.redis_port).ping()  # the store requires its password
    scanned = 0
    for db in (0, 1, 2):
        client = redis.Redis(port=stack.redis_port, password=stack.redis_password, db=db)
        for key in client.scan_iter():
            kind = client.type(key)
            values = {b"string": lambda: [client.get(key)], b"list": lambda: client.lrange(key, 0, -1),
                      b"hash": lambda: list(client.hgetall(key).values()), b"set": lambda: list(client.smembers(key)),
                      b"zset": lambda: client.zrange(key, 0, -1)}[kind]()
            for value in values:
                scanned += 1
                assert not JWT.search(value or b""), f"a JWT in {key!r} (db {db})"
                assert not BEARER.search(value or b""), f"a bearer token in {key!r} (db {db})"
            if db == 0:
                assert 0 < client.ttl(key) <= 3600  # conversations expire (CONVERSATION_IDLE_SECONDS of the stack)
    assert scanned > 10  # the suite's conversations are there, and were read
