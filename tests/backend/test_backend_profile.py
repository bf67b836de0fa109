"""My profile: language, accessibility, analytics, e-mail notifications; changing my password."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.core.security import hash_password
from backend.models import User

ADMIN = "sntestportaldemo@outlook.com"
PASSWORD = "Profile-password-1"


@pytest.fixture
def me(client, db):
    canon_id = db.scalar(select(User.account_id).where(User.email == ADMIN))
    email = f"profile-{uuid.uuid4().hex[:10]}@canon-uk-demo.example"
    db.add(User(account_id=canon_id, email=email, full_name="Profile Person", language="fr",
                password_hash=hash_password(PASSWORD)))
    db.commit()
    token = client.post("/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
    return {"email": email, "headers": {"Authorization": f"Bearer {token}"}}


def test_default_profile(client, me):
    response = client.get("/users/me/profile", headers=me["headers"])
    assert response.status_code == 200
    assert response.json() == {"language": "fr", "accessibility": False, "analytics": False,
                               "email_notifications": True}


def test_patch_profile_changes_only_the_fields_sent_and_the_language_of_messages(client, me):
    response = client.patch("/users/me/profile", json={"language": "en", "accessibility": True}, headers=me["headers"])
    assert response.status_code == 200
    assert response.json() == {"language": "en", "accessibility": True, "analytics": False,
                               "email_notifications": True}
    response = client.patch("/users/me/profile", json={"analytics": True, "email_notifications": False},
                            headers=me["headers"])
    assert response.json() == {"language": "en", "accessibility": True, "analytics": True,
                               "email_notifications": False}
    assert client.get("/users/me", headers=me["headers"]).json()["language"] == "en"
    # Errors now come in English.
    error = client.get("/cases/CS12", headers=me["headers"])
    assert error.json()["message"].startswith("'CS12' is not a valid case number")


@pytest.mark.parametrize(("body", "field"), [({"language": "de"}, "language"), ({"analytics": "maybe"}, "analytics"),
                                             ({"theme": "dark"}, "theme"), ({"language": None}, "language")])
def test_bad_profile_values_are_422(client, me, body, field):
    response = client.patch("/users/me/profile", json=body, headers=me["headers"])
    assert response.status_code == 422
    error = response.json()
    assert (error["errors"][0]["field"] if "errors" in error else error["field"]) == field


def test_profile_requires_login(client):
    assert client.get("/users/me/profile").status_code == 401
    assert client.patch("/users/me/profile", json={"analytics": True}).status_code == 401


def test_change_password(client, me):
    wrong = client.post("/users/me/password", json={"current_password": "nope", "new_password": "Brand-new-pass-1"},
                        headers=me["headers"])
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "wrong_password"
    assert wrong.json()["message"] == "Le mot de passe actuel est incorrect."
    for weak in ("short1", "onlyletterslong", "1234567890123"):
        response = client.post("/users/me/password", json={"current_password": PASSWORD, "new_password": weak},
                               headers=me["headers"])
        assert response.status_code == 422, weak
        assert response.json()["code"] == "weak_password"
    ok = client.post("/users/me/password", json={"current_password": PASSWORD, "new_password": "Brand-new-pass-1"},
                     headers=me["headers"])
    assert ok.status_code == 204
    assert client.post("/auth/token", data={"username": me["email"], "password": PASSWORD}).status_code == 401
    assert client.post("/auth/token", data={"username": me["email"], "password": "Brand-new-pass-1"}).status_code == 200


def test_password_containing_the_email_name_is_weak(client, me):
    local = me["email"].split("@")[0]
    response = client.post("/users/me/password", json={"current_password": PASSWORD, "new_password": local + "-9"},
                           headers=me["headers"])
    assert response.status_code == 422


def test_change_password_missing_field(client, me):
    response = client.post("/users/me/password", json={"new_password": "Brand-new-pass-1"}, headers=me["headers"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "current_password"
