"""Voice PINs for the phone assistant: setting one (current password, not trivial), the voice channel's
verification by caller number and PIN, the lock after three wrong PINs, the audit, and who may ask."""
from __future__ import annotations

import os
import time

import jwt
import pytest
from sqlalchemy import delete, select

from backend.core.config import get_settings
from backend.models import User, VoiceAuditEvent, VoicePin

TEST_CHANNEL_KEY, TEST_ASSISTANT_KEY = os.environ["CHANNEL_KEY"], os.environ["ASSISTANT_KEY"]
PASSWORD = "test-password"  # conftest's TEST_PASSWORD
USER_EMAIL = "sntestdemoportaldm@yopmail.com"
USER_CALLER = "+442079460002"  # the seed's "+44 20 7946 0002", as Twilio sends it
PIN = "480917"


def service_headers(sub: str = "voice", key: str = TEST_CHANNEL_KEY, aud: str = "portal-channel") -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": sub, "aud": aud, "iat": now, "exp": now + 60}, key, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _no_pins(db):
    yield
    db.execute(delete(VoicePin))
    db.execute(delete(VoiceAuditEvent))
    db.commit()


def set_pin(client, headers, pin: str = PIN, password: str = PASSWORD, lang: str = "en"):
    return client.put("/users/me/voice-pin", json={"current_password": password, "pin": pin},
                      headers={**headers, "X-Display-Language": lang})


def verify(client, pin: str = PIN, caller: str = USER_CALLER, phone: str | None = None, headers=None):
    body = {"caller": caller, "pin": pin, **({"phone": phone} if phone else {})}
    return client.post("/voice/verify", json=body, headers=headers or service_headers())


def audit_events(db, email: str = USER_EMAIL) -> list[str]:
    user = db.scalar(select(User).where(User.email == email))
    return [e.event for e in db.scalars(select(VoiceAuditEvent).where(VoiceAuditEvent.user_id == user.id)
                                        .order_by(VoiceAuditEvent.id))]


def test_set_a_pin_then_verify_by_caller_number(client, user_headers, db):
    assert client.get("/users/me/voice-pin", headers=user_headers).json()["set"] is False
    assert set_pin(client, user_headers).status_code == 204
    assert client.get("/users/me/voice-pin", headers=user_headers).json()["set"] is True
    stored = db.scalar(select(VoicePin))
    assert stored.pin_hash != PIN and PIN not in stored.pin_hash  # hashed
    answer = verify(client)
    assert answer.status_code == 200, answer.text
    assert answer.json()["email"] == USER_EMAIL and answer.json()["language"] in ("fr", "en")
    # the number written another way is the same number
    assert verify(client, caller="+44 (20) 7946-0002").status_code == 200
    assert audit_events(db) == ["pin_set"]


@pytest.mark.parametrize("pin", ["000000", "123456", "654321", "901234", "121212", "460002"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_trivial_pins_are_refused_with_a_clear_message(client, user_headers, db, pin, lang):
    answer = set_pin(client, user_headers, pin=pin, lang=lang)
    assert answer.status_code == 422 and answer.json()["code"] == "trivial_pin"
    message = answer.json()["message"]
    assert ("trop facile" in message) if lang == "fr" else ("too easy" in message)
    assert db.scalar(select(VoicePin)) is None and audit_events(db) == []


@pytest.mark.parametrize("pin", ["12345", "1234567", "12a456", ""])
def test_a_pin_that_is_not_six_digits_is_refused(client, user_headers, db, pin):
    answer = set_pin(client, user_headers, pin=pin)
    assert answer.status_code == 422 and answer.json()["code"] in ("invalid_pin", "validation_error")
    assert db.scalar(select(VoicePin)) is None


def test_the_current_password_is_required(client, user_headers, db):
    answer = set_pin(client, user_headers, password="not-my-password", lang="fr")
    assert answer.status_code == 400 and answer.json()["code"] == "wrong_password"
    assert "mot de passe" in answer.json()["message"]
    assert db.scalar(select(VoicePin)) is None
    assert client.put("/users/me/voice-pin", json={"current_password": PASSWORD, "pin": PIN}).status_code == 401


def test_three_wrong_pins_lock_voice_access_and_are_audited(client, user_headers, db):
    set_pin(client, user_headers)
    first = verify(client, pin="111112")
    assert first.status_code == 403 and first.json()["attempts_left"] == 2
    assert verify(client, pin="111113").json()["attempts_left"] == 1
    locked = verify(client, pin="111114")
    assert locked.status_code == 423 and locked.json()["code"] == "voice_locked"
    minutes = get_settings().voice_lock_minutes
    assert int(locked.headers["retry-after"]) == minutes * 60 == locked.json()["retry_after"]
    # locked: even the right PIN is refused, and the refusal is audited
    again = verify(client)
    assert again.status_code == 423 and 0 < int(again.headers["retry-after"]) <= minutes * 60
    assert audit_events(db) == ["pin_set", "wrong_pin", "wrong_pin", "wrong_pin", "locked", "refused_locked"]


def test_a_right_pin_resets_the_count(client, user_headers):
    set_pin(client, user_headers)
    verify(client, pin="111112")
    verify(client, pin="111113")
    assert verify(client).status_code == 200
    assert verify(client, pin="111112").json()["attempts_left"] == 2


def test_a_pin_change_lifts_the_lock_and_is_audited(client, user_headers, db):
    set_pin(client, user_headers)
    for wrong in ("111112", "111113", "111114"):
        verify(client, pin=wrong)
    assert verify(client).status_code == 423
    assert set_pin(client, user_headers, pin="739204").status_code == 204
    assert verify(client, pin="739204").status_code == 200
    assert audit_events(db)[-1] == "pin_changed"


def test_unknown_number_then_the_profile_phone_typed(client, user_headers, db):
    set_pin(client, user_headers)
    unknown = verify(client, caller="+33612345678")
    assert unknown.status_code == 409 and unknown.json()["code"] == "caller_unknown"
    assert db.scalar(select(VoiceAuditEvent).where(VoiceAuditEvent.event == "unknown_caller")).caller == "+33612345678"
    typed = verify(client, caller="+33612345678", phone="442079460002")
    assert typed.status_code == 200 and typed.json()["email"] == USER_EMAIL


def test_a_user_without_pin(client, db):
    answer = verify(client)
    assert answer.status_code == 409 and answer.json()["code"] == "no_voice_pin"
    assert audit_events(db) == ["no_pin"]


def test_only_the_voice_channel_may_verify(client, user_headers, db):
    set_pin(client, user_headers)
    now = int(time.time())
    assistant = jwt.encode({"sub": "2", "ver": 0, "aud": "portal-assistant", "iat": now, "exp": now + 60},
                           TEST_ASSISTANT_KEY, algorithm="HS256")
    for headers in ({}, user_headers, service_headers(sub="teams"), service_headers(key="another-key-0123456789-0123456789"),
                    {"Authorization": f"Bearer {assistant}"}):
        answer = client.post("/voice/verify", json={"caller": USER_CALLER, "pin": PIN}, headers=headers)
        assert answer.status_code == 401
    # and the Teams look-up refuses the voice token
    teams = client.post("/teams/identity", json={"tenant_id": "t", "aad_object_id": "a"}, headers=service_headers())
    assert teams.status_code == 401
    assert audit_events(db) == ["pin_set"]  # nothing was tried


def test_knowledge_search_for_an_unverified_caller_and_nothing_else(client):
    now = int(time.time())
    anonymous = jwt.encode({"sub": "anonymous", "aud": "portal-assistant", "iat": now, "exp": now + 60},
                           TEST_ASSISTANT_KEY, algorithm="HS256")
    headers = {"Authorization": f"Bearer {anonymous}"}
    found = client.get("/knowledge/search", params={"q": "remplacer le toner", "lang": "fr", "my_device": True},
                       headers=headers)
    assert found.status_code == 200 and found.json()
    for path in ("/users/me", "/assets", "/cases"):
        assert client.get(path, headers=headers).status_code == 401
    forged = jwt.encode({"sub": "anonymous", "aud": "portal-assistant", "iat": now, "exp": now + 60},
                        "not-the-assistant-key-0123456789-0123456789", algorithm="HS256")
    assert client.get("/knowledge/search", params={"q": "toner"},
                      headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_an_article_link_is_queued_not_sent(client, db):
    from backend.models import OutboundMessage

    body = {"to": "+33612345678", "article": "KB0010100", "lang": "en"}
    assert client.post("/voice/outbox", json=body).status_code == 401
    assert client.post("/voice/outbox", json=body, headers=service_headers(sub="teams")).status_code == 401
    queued = client.post("/voice/outbox", json=body, headers=service_headers())
    assert queued.status_code == 201, queued.text
    message = db.get(OutboundMessage, queued.json()["id"])
    assert message.medium == "sms" and message.to == "+33612345678" and message.sent_at is None
    assert "/kb/KB0010100?lang=en" in message.body
    missing = client.post("/voice/outbox", json={**body, "article": "KB9999999"}, headers=service_headers())
    assert missing.status_code == 404
    assert client.post("/voice/outbox", json={**body, "to": "call me"}, headers=service_headers()).status_code == 422
    db.delete(message)
    db.commit()
