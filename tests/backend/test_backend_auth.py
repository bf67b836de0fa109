"""Authentication: /auth/token, bearer tokens, /users/me, and the language of error messages."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select

from backend.core.security import hash_password
from backend.models import User, UserStatus

ADMIN = "sntestportaldemo@outlook.com"
USER = "sntestdemoportaldm@yopmail.com"
OTHER_ADMIN = "admin@northwind-imprimerie.fr"
INACTIVE_SEEDED = "alan.stane@canon-uk-demo.example"
PASSWORD = "test-password"
SECRET = "backend-tests-secret-key-0123456789abcdef"  # = SECRET_KEY set by conftest


def _make_user(db, status: UserStatus, language: str = "en") -> str:
    """A CANON user with the test password and the given status; returns its e-mail."""
    canon_id = db.scalar(select(User.account_id).where(User.email == ADMIN))
    email = f"auth-{status.value}-{uuid.uuid4().hex[:8]}@canon-uk-demo.example"
    db.add(User(account_id=canon_id, email=email, full_name=f"Test {status.value}", status=status,
                language=language, password_hash=hash_password(PASSWORD)))
    db.commit()
    return email


def _token(client, email, password=PASSWORD, **headers):
    return client.post("/auth/token", data={"username": email, "password": password}, headers=headers)


def _user_id(db, email: str) -> int:
    return db.scalar(select(User.id).where(User.email == email))


# --- /auth/token -------------------------------------------------------------------------------------------

def test_login_returns_a_bearer_token_that_identifies_the_user(client):
    response = _token(client, ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"].count(".") == 2  # a JWT
    me = client.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == ADMIN


def test_login_email_is_case_and_space_insensitive(client):
    response = _token(client, "  SNTestPortalDemo@Outlook.COM ")
    assert response.status_code == 200
    me = client.get("/users/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.json()["email"] == ADMIN


def test_wrong_password_is_401_in_french_by_default(client):
    response = _token(client, ADMIN, "not-the-password")
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_credentials", "message": "E-mail ou mot de passe incorrect."}


def test_wrong_password_message_follows_accept_language(client):
    response = _token(client, ADMIN, "not-the-password", **{"Accept-Language": "en"})
    assert response.status_code == 401
    assert response.json() == {"code": "invalid_credentials", "message": "Incorrect e-mail or password."}


@pytest.mark.parametrize(
    ("header", "expected"),
    [("en-GB,en;q=0.9", "en"), ("de-DE, en;q=0.5", "en"), ("de-DE", "fr"), ("fr-CA,en;q=0.8", "fr")],
)
def test_accept_language_picks_first_supported_language(client, header, expected):
    response = _token(client, ADMIN, "nope", **{"Accept-Language": header})
    messages = {"fr": "E-mail ou mot de passe incorrect.", "en": "Incorrect e-mail or password."}
    assert response.json()["message"] == messages[expected]


def test_unknown_email_is_401_like_a_wrong_password(client):
    response = _token(client, "nobody@example.com")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_seeded_inactive_user_without_password_cannot_log_in(client):
    # The seed gives the inactive user no password: the password check fails before the status check.
    response = _token(client, INACTIVE_SEEDED)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("status", [UserStatus.inactive, UserStatus.pending])
def test_inactive_or_pending_user_with_right_password_gets_the_same_401_as_a_wrong_one(client, db, status):
    # A 403 "not active" would confirm the password to whoever tries it (issue 19 §3).
    email = _make_user(db, status)
    right, wrong = _token(client, email), _token(client, email, "wrong-password-1")
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    assert right.json()["code"] == "invalid_credentials"


def test_inactive_user_with_wrong_password_does_not_learn_the_status(client, db):
    email = _make_user(db, UserStatus.inactive)
    response = _token(client, email, "wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.parametrize("missing", ["username", "password"])
def test_missing_form_field_is_422_naming_the_field(client, missing):
    data = {"username": ADMIN, "password": PASSWORD}
    del data[missing]
    response = client.post("/auth/token", data=data)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == [missing]
    assert body["message"] == f"Le champ « {missing} » est obligatoire."


def test_missing_form_field_message_in_english(client):
    response = client.post("/auth/token", data={"username": ADMIN}, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert response.json()["message"] == "The field 'password' is required."


# --- bearer tokens -------------------------------------------------------------------------------------------

def _assert_not_authenticated(response, lang="fr"):
    assert response.status_code == 401
    expected = {"fr": "Veuillez vous connecter au portail.", "en": "Please log in to the portal."}[lang]
    assert response.json() == {"code": "not_authenticated", "message": expected}


def test_me_without_token_is_401(client):
    _assert_not_authenticated(client.get("/users/me"))


def test_me_without_token_answers_in_accept_language(client):
    _assert_not_authenticated(client.get("/users/me", headers={"Accept-Language": "en"}), "en")


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer "])
def test_me_with_garbage_token_is_401(client, header):
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": header}))


def _claims(user_id: int, *, minutes: int) -> dict:
    now = datetime.now(UTC)
    return {"sub": str(user_id), "acc": 1, "iat": now - timedelta(hours=2), "exp": now + timedelta(minutes=minutes)}


def test_me_with_expired_token_is_401(client, db):
    token = jwt.encode(_claims(_user_id(db, ADMIN), minutes=-5), SECRET, algorithm="HS256")
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


def test_hand_made_token_with_the_right_secret_is_accepted(client, db):
    # Control for the expired-token test: the same construction, only not expired, works.
    token = jwt.encode(_claims(_user_id(db, ADMIN), minutes=5), SECRET, algorithm="HS256")
    response = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["email"] == ADMIN


def test_token_signed_with_another_secret_is_401(client, db):
    token = jwt.encode(_claims(_user_id(db, ADMIN), minutes=5), "some-other-secret-0123456789abcdef", algorithm="HS256")
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


def test_token_for_a_user_that_does_not_exist_is_401(client):
    token = jwt.encode(_claims(987654, minutes=5), SECRET, algorithm="HS256")
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


def test_token_of_a_user_deactivated_afterwards_is_401(client, db, login):
    email = _make_user(db, UserStatus.active)
    headers = login(client, email)
    assert client.get("/users/me", headers=headers).status_code == 200
    user = db.scalars(select(User).where(User.email == email)).one()
    user.status = UserStatus.inactive
    db.commit()
    _assert_not_authenticated(client.get("/users/me", headers=headers))


# --- /users/me -----------------------------------------------------------------------------------------------

def test_me_admin(client, admin_headers):
    response = client.get("/users/me", headers=admin_headers)
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == ADMIN
    assert me["role"] == "admin"
    assert me["language"] == "fr"
    assert me["status"] == "active"
    assert me["full_name"] == "SNTest DemoPortal"
    assert me["account"]["name"] == "CANON UK LTD"
    assert me["account"]["city"] == "Uxbridge"
    assert "password_hash" not in me


def test_me_user(client, user_headers):
    me = client.get("/users/me", headers=user_headers).json()
    assert (me["email"], me["role"], me["language"]) == (USER, "user", "en")
    assert me["account"]["name"] == "CANON UK LTD"


def test_me_other_account_admin(client, other_headers):
    me = client.get("/users/me", headers=other_headers).json()
    assert (me["email"], me["role"], me["language"]) == (OTHER_ADMIN, "admin", "fr")
    assert me["account"]["name"] == "NORTHWIND IMPRIMERIE SARL"


def test_token_without_expiry_is_401(client, db):
    claims = _claims(_user_id(db, ADMIN), minutes=5)
    claims.pop("exp")
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


def test_malformed_json_body_is_a_422_naming_the_body(client, admin_headers):
    response = client.post("/cases", content=b"{not json", headers={**admin_headers, "content-type": "application/json"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "body"


# --- revocation: the token version -----------------------------------------------------------------------------

def test_a_password_change_revokes_the_tokens_issued_before(client, db, login):
    email = _make_user(db, UserStatus.active)
    old = login(client, email)
    response = client.post("/users/me/password", headers=old,
                           json={"current_password": PASSWORD, "new_password": "An0ther-long-passphrase"})
    assert response.status_code == 204, response.text
    _assert_not_authenticated(client.get("/users/me", headers=old))
    new = login(client, email, "An0ther-long-passphrase")
    assert client.get("/users/me", headers=new).status_code == 200


def test_deactivation_bumps_the_token_version(client, db, admin_headers, login):
    email = _make_user(db, UserStatus.active)
    headers = login(client, email)
    before = client.get("/users/me", headers=headers).json()["token_version"]
    assert client.post(f"/users/{_user_id(db, email)}/deactivate", headers=admin_headers).status_code == 200
    db.expire_all()
    assert db.scalars(select(User).where(User.email == email)).one().token_version == before + 1
    _assert_not_authenticated(client.get("/users/me", headers=headers))


def test_a_portal_token_of_an_older_version_is_401(client, db):
    user_id = _user_id(db, ADMIN)
    claims = {**_claims(user_id, minutes=5), "ver": 41}
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": f"Bearer {jwt.encode(claims, SECRET)}"}))


# --- assistant tokens: minted per call by the action server for a verified chat user ---------------------------
ASSISTANT_KEY = "backend-tests-assistant-key-0123456789abcdef"  # = ASSISTANT_KEY set by conftest


def _assistant(user_id: int, *, seconds: int = 60, version: int = 0, key: str = ASSISTANT_KEY, **extra) -> dict:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": str(user_id), "ver": version, "aud": "portal-assistant", "iat": now, "exp": now + seconds, **extra}
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='HS256')}"}


def test_an_assistant_token_acts_for_its_user(client, db):
    response = client.get("/users/me", headers=_assistant(_user_id(db, USER)))
    assert response.status_code == 200
    assert response.json()["email"] == USER


@pytest.mark.parametrize("variant", ["portal_key", "other_key", "expired", "too_long_lived", "old_version",
                                     "no_version", "other_audience"])
def test_assistant_tokens_are_refused_unless_exactly_right(client, db, variant):
    user_id = _user_id(db, USER)
    now = int(datetime.now(UTC).timestamp())
    headers = {
        "portal_key": _assistant(user_id, key=SECRET),  # the portal's key cannot mint assistant tokens
        "other_key": _assistant(user_id, key="x" * 40),
        "expired": _assistant(user_id, seconds=-1),
        "too_long_lived": _assistant(user_id, seconds=3600),
        "old_version": _assistant(user_id, version=-1),
        "other_audience": _assistant(user_id, aud="something-else"),
    }.get(variant)
    if variant == "no_version":
        claims = {"sub": str(user_id), "aud": "portal-assistant", "iat": now, "exp": now + 60}
        headers = {"Authorization": f"Bearer {jwt.encode(claims, ASSISTANT_KEY)}"}
    _assert_not_authenticated(client.get("/users/me", headers=headers))


def test_a_portal_token_with_an_audience_is_refused(client, db):
    claims = {**_claims(_user_id(db, ADMIN), minutes=5), "aud": "portal-assistant"}
    _assert_not_authenticated(client.get("/users/me", headers={"Authorization": f"Bearer {jwt.encode(claims, SECRET)}"}))


def test_the_signing_keys_can_come_from_files(tmp_path):
    """A deployment mounts its keys as files (SECRET_KEY_FILE, ASSISTANT_KEY_FILE, CHANNEL_KEY_FILE); a key set in
    the environment wins over its file."""
    from backend.core.config import Settings

    for name in ("secret", "assistant", "channel"):
        (tmp_path / f"{name}.key").write_text(f"{name}-key-from-a-mounted-file\n")
    settings = Settings(secret_key="", assistant_key="", channel_key="", secret_key_file=tmp_path / "secret.key",
                        assistant_key_file=tmp_path / "assistant.key", channel_key_file=tmp_path / "channel.key")
    assert settings.resolved_secret_key() == "secret-key-from-a-mounted-file"
    assert settings.resolved_assistant_key() == "assistant-key-from-a-mounted-file"
    assert settings.resolved_channel_key() == "channel-key-from-a-mounted-file"
    assert Settings(secret_key="from-env", secret_key_file=tmp_path / "secret.key").resolved_secret_key() == "from-env"
