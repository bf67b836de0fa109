"""The seed's "Rôles utilisateurs" table: every row checked for both roles against the real endpoint."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.core.security import hash_password
from backend.models import Role, User, UserStatus
from backend.permissions import PERMISSION_LABELS, ROLE_PERMISSIONS, Permission

ADMIN = "sntestportaldemo@outlook.com"


def _make_user(db, status=UserStatus.active, role=Role.user) -> int:
    canon_id = db.scalar(select(User.account_id).where(User.email == ADMIN))
    user = User(account_id=canon_id, email=f"perm-{uuid.uuid4().hex[:10]}@canon-uk-demo.example",
                full_name="Permission Target", status=status, role=role, language="en",
                password_hash=hash_password("Target-password-1"))
    db.add(user)
    db.commit()
    return user.id


def _unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:10]}]"


# One real call per row; (expected status for an admin, for a user).
def _search(client, h, db):
    return client.get("/knowledge/search", params={"q": "bourrage papier"}, headers=h)


def _help(client, h, db):
    return client.post("/faults/classify", json={"text": "bourrage papier dans le tiroir"}, headers=h)


def _request(client, h, db):
    return client.post("/requests", json={"category": "general_enquiry", "subcategory": "general_enquiry",
                                          "description": _unique("Question générale")}, headers=h)


def _order(client, h, db):
    return client.post("/orders/price", json={"asset": "53463252", "lines": [{"part_number": "2790B002",
                                                                               "quantity": 1}]}, headers=h)


def _meters(client, h, db):
    return client.get("/assets/53463252/meters", headers=h)


def _asset(client, h, db):
    return client.get("/assets/53463252", headers=h)


def _cases(client, h, db):
    return client.get("/cases", params={"list": "mine"}, headers=h)


def _password(client, h, db):  # allowed = the endpoint checks the current password (wrong here: 400)
    return client.post("/users/me/password", json={"current_password": "not-mine", "new_password": "Another-pass-42"},
                       headers=h)


def _notifications(client, h, db):
    return client.patch("/users/me/profile", json={"email_notifications": True}, headers=h)


def _approve(client, h, db):
    return client.post(f"/users/{_make_user(db, status=UserStatus.pending)}/approve", headers=h)


def _invite(client, h, db):
    return client.post("/users/invitations", json={"email": f"invite-{uuid.uuid4().hex[:8]}@example.com",
                                                   "full_name": "Invited Person"}, headers=h)


def _contact(client, h, db):
    return client.post("/contacts", json={"full_name": "New Contact", "email": "new.contact@example.com"}, headers=h)


def _asset_contact(client, h, db):
    return client.post("/assets/53463252/contacts",
                       json={"contact": {"full_name": _unique("Device Contact"), "phone": "0100"}}, headers=h)


def _upgrade(client, h, db):
    return client.post(f"/users/{_make_user(db)}/upgrade", headers=h)


def _deactivate(client, h, db):
    return client.post(f"/users/{_make_user(db)}/deactivate", headers=h)


def _reset(client, h, db):
    return client.post(f"/users/{_make_user(db)}/password-reset", headers=h)


ROWS = {
    Permission.SEARCH_KNOWLEDGE: (_search, 200, 200),
    Permission.GET_HELP: (_help, 200, 200),
    Permission.SUBMIT_REQUESTS: (_request, 201, 201),
    Permission.PLACE_ORDERS: (_order, 200, 200),
    Permission.METER_READINGS: (_meters, 200, 200),
    Permission.VIEW_ASSETS: (_asset, 200, 200),
    Permission.TRACK_CASES: (_cases, 200, 200),
    Permission.CHANGE_PASSWORD: (_password, 400, 400),
    Permission.EMAIL_NOTIFICATIONS: (_notifications, 200, 200),
    Permission.APPROVE_ACCESS_REQUESTS: (_approve, 200, 403),
    Permission.INVITE_USERS: (_invite, 201, 403),
    Permission.ADD_CONTACTS: (_contact, 201, 403),
    Permission.ADD_ASSET_CONTACTS: (_asset_contact, 201, 403),
    Permission.UPGRADE_USERS: (_upgrade, 200, 403),
    Permission.DEACTIVATE_USERS: (_deactivate, 200, 403),
    Permission.RESET_PASSWORDS: (_reset, 202, 403),
}


def test_one_permission_per_row_of_the_seed_table():
    assert len(Permission) == 16 == len(ROWS) == len(PERMISSION_LABELS)
    assert PERMISSION_LABELS[Permission.RESET_PASSWORDS]["fr"] == "Réinitialiser les mots de passe"
    assert ROLE_PERMISSIONS[Role.admin] == frozenset(Permission)
    assert len(ROLE_PERMISSIONS[Role.user]) == 9


@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
@pytest.mark.parametrize("role", ["admin", "user"])
def test_permission_row_on_the_real_endpoint(client, db, admin_headers, user_headers, permission, role):
    call, admin_status, user_status = ROWS[permission]
    headers = admin_headers if role == "admin" else user_headers
    expected = admin_status if role == "admin" else user_status
    assert (permission in ROLE_PERMISSIONS[Role(role)]) == (expected != 403)
    response = call(client, headers, db)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json() == {"code": "forbidden",
                                   "message": "Your role does not allow this action. Please contact your administrator."}


def test_user_403_changes_nothing(client, db, user_headers):
    target = _make_user(db)
    assert client.post(f"/users/{target}/deactivate", headers=user_headers).status_code == 403
    assert client.post(f"/users/{target}/upgrade", headers=user_headers).status_code == 403
    db.expire_all()
    user = db.get(User, target)
    assert (user.status, user.role) == (UserStatus.active, Role.user)


def test_my_permissions(client, admin_headers, user_headers):
    admin = client.get("/users/me/permissions", headers=admin_headers).json()
    assert admin["role"] == "admin"
    assert len(admin["permissions"]) == 16
    assert admin["restricted_request_categories"] == []
    user = client.get("/users/me/permissions", headers=user_headers).json()
    codes = [p["code"] for p in user["permissions"]]
    assert "invite_users" not in codes and "search_knowledge" in codes and len(codes) == 9
    assert sorted(user["restricted_request_categories"]) == ["contract_question", "invoice_question", "product_move"]
    label = next(p["label"] for p in user["permissions"] if p["code"] == "track_cases")
    assert label == {"fr": "Suivre des dossiers", "en": "Track cases"}
    assert client.get("/users/me/permissions").status_code == 401


@pytest.mark.parametrize(("category", "subcategory"), [("contract_question", "contract_copy"),
                                                       ("invoice_question", "other"), ("product_move", "more_than_five")])
def test_asterisk_user_cannot_submit_contract_invoice_or_move_requests(client, user_headers, admin_headers,
                                                                      category, subcategory):
    body = {"category": category, "subcategory": subcategory, "description": _unique("Demande réservée")}
    response = client.post("/requests", json=body, headers=user_headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_for_role"
    assert client.post("/requests", json=body, headers=admin_headers).status_code == 201
