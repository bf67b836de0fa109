"""GET /users/me/administrators: whom a `user` must ask for what only administrators may do."""
from __future__ import annotations


def test_a_user_sees_the_active_administrators_of_their_own_account(client, user_headers, admin_headers):
    response = client.get("/users/me/administrators", headers=user_headers)
    assert response.status_code == 200
    people = response.json()
    account_users = client.get("/users", headers=admin_headers).json()
    expected = {u["email"] for u in account_users if u["role"] == "admin" and u["status"] == "active"}
    assert {p["email"] for p in people} == expected
    assert "sntestportaldemo@outlook.com" in expected and "admin@northwind-imprimerie.fr" not in expected
    assert all(set(p) == {"email", "full_name"} for p in people)


def test_administrators_require_login(client):
    assert client.get("/users/me/administrators").status_code == 401
