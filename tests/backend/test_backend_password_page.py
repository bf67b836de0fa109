"""The secure "change my password" page the assistant links to (it never asks for a password in the chat):
GET /account/password, its script, and the exact requests the script makes (POST /auth/token when the chat's
token is missing, then POST /users/me/password with the bearer token), answered in the user's language."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.core.security import hash_password
from backend.models import User
from backend.services.users import MIN_PASSWORD_LENGTH

ADMIN = "sntestportaldemo@outlook.com"
PASSWORD = "Page-password-1"
NEW_PASSWORD = "Page-brand-new-2"
WEB = Path(__file__).resolve().parents[2] / "bot" / "web"


@pytest.fixture
def person(client, db):
    """A fresh user of the demo account (changing a seeded user's password would disturb other tests)."""
    def make(language: str = "fr") -> dict:
        account_id = db.scalar(select(User.account_id).where(User.email == ADMIN))
        email = f"pwpage-{uuid.uuid4().hex[:10]}@canon-uk-demo.example"
        db.add(User(account_id=account_id, email=email, full_name="Page Person", language=language,
                    password_hash=hash_password(PASSWORD)))
        db.commit()
        token = client.post("/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
        return {"email": email, "headers": {"Authorization": f"Bearer {token}"}}
    return make


def test_password_page_is_served_with_the_form(client):
    response = client.get("/account/password")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for name in ("current_password", "new_password", "confirm_password"):
        assert re.search(rf'<input[^>]+name="{name}"[^>]+type="password"', html), name
    assert 'autocomplete="current-password"' in html and 'autocomplete="new-password"' in html
    assert '<script src="/chat/password.js"></script>' in html
    # the policy hint comes from the backend's own rule, filled in when the page is served
    assert "__MIN_PASSWORD_LENGTH__" not in html
    assert f"Au moins {MIN_PASSWORD_LENGTH} caractères" in html
    assert f'data-min-length="{MIN_PASSWORD_LENGTH}"' in html


def test_password_page_is_never_cached_nor_framed(client):
    headers = client.get("/account/password").headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_password_page_needs_no_login_and_takes_a_language(client):
    # the page itself is public (the token, or the e-mail + current password, are checked by the API calls)
    assert client.get("/account/password?lang=en").status_code == 200


def test_password_page_assets_are_served(client):
    script = client.get("/chat/password.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/chat/password.css").status_code == 200
    # the script posts to the real endpoints, with the chat's own token key
    chat_key = re.search(r'TOKEN_KEY = "([^"]+)"', (WEB / "demo.js").read_text()).group(1)
    assert f'TOKEN_KEY = "{chat_key}"' in script.text
    assert '"/users/me/password"' in script.text and '"/auth/token"' in script.text
    assert "current_password: current, new_password: fresh" in script.text


def test_password_page_script_is_bilingual():
    script = (WEB / "password.js").read_text()
    fr = script[script.index("fr: {"):script.index("en: {")]
    en = script[script.index("en: {"):script.index("var $ =")]
    keys = lambda block: set(re.findall(r'(?:^|[\s{,])"?(\w+)"?:\s*"', block))  # noqa: E731
    assert keys(fr) == keys(en)
    assert "Changer mon mot de passe" in fr and "Change my password" in en


def test_page_flow_with_the_chat_token(client, person):
    me = person("fr")
    # what the page posts: the current and the new password, with the bearer token of the chat
    wrong = client.post("/users/me/password", headers=me["headers"],
                        json={"current_password": "not-mine", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "Le mot de passe actuel est incorrect."
    weak = client.post("/users/me/password", headers=me["headers"],
                       json={"current_password": PASSWORD, "new_password": "short1"})
    assert weak.status_code == 422
    assert weak.json()["message"].startswith("Mot de passe trop faible")  # shown as is by the page
    done = client.post("/users/me/password", headers=me["headers"],
                       json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 204
    assert client.post("/auth/token", data={"username": me["email"], "password": NEW_PASSWORD}).status_code == 200


def test_page_flow_without_the_chat_token_logs_in_first(client, person):
    me = person("en")
    # the link opened in a new tab: e-mail + current password give a token, then the change
    login = client.post("/auth/token", data={"username": me["email"], "password": PASSWORD})
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    weak = client.post("/users/me/password", headers=headers,
                       json={"current_password": PASSWORD, "new_password": "short1"})
    assert weak.json()["message"].startswith("Password too weak")  # the profile's language
    assert client.post("/users/me/password", headers=headers,
                       json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 204
    bad_login = client.post("/auth/token", data={"username": me["email"], "password": PASSWORD})
    assert bad_login.status_code == 401


def test_page_flow_with_an_expired_token_is_401(client):
    response = client.post("/users/me/password", headers={"Authorization": "Bearer not-a-token"},
                           json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 401
