"""No stored text may hold a NUL character (PostgreSQL's text refuses it, SQLite would store it): a request carrying one
is refused as invalid on every route, before anything is written — never a 500."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("body", [
    {"description": "bourrage\u0000", "kb_articles_shown": []},
    {"description": "bourrage", "kb_articles_shown": ["KB1\u0000"]},
])
def test_a_nul_in_a_json_body_is_refused(client, user_headers, body):
    response = client.post("/knowledge/deflections", json=body, headers={**user_headers, "Accept-Language": "en"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "not allowed" in response.json()["message"]


def test_a_nul_in_a_login_form_or_a_query_is_refused(client, user_headers):
    login = client.post("/auth/token", data={"username": "x\u0000@example.com", "password": "p"})
    assert login.status_code == 422
    search = client.get("/knowledge/search", params={"q": "bourrage\u0000"}, headers=user_headers)
    assert search.status_code == 422


def test_the_characters_backslash_u_0000_typed_as_text_are_accepted(client, user_headers):
    body = {"description": "le code affiché est \\u0000 puis E000", "kb_articles_shown": ["KB0010209"]}
    response = client.post("/knowledge/deflections", json=body, headers=user_headers)
    assert response.status_code in (200, 201), response.text
