"""User management (admin): list with statuses, invitations, access requests, approve/reject, upgrade and
downgrade, deactivation, password resets; isolation between accounts; idempotency."""
from __future__ import annotations

import logging
import re
import uuid

import pytest
from sqlalchemy import select

from backend.core.security import hash_password, verify_password
from backend.models import Role, User, UserStatus, UserToken

ADMIN = "sntestportaldemo@outlook.com"
OTHER_ADMIN = "admin@northwind-imprimerie.fr"


def _make_user(db, status=UserStatus.active, role=Role.user, account_of=ADMIN, password="Target-password-1"):
    account_id = db.scalar(select(User.account_id).where(User.email == account_of))
    user = User(account_id=account_id, email=f"users-{uuid.uuid4().hex[:10]}@canon-uk-demo.example",
                full_name="Managed Person", status=status, role=role, language="en",
                password_hash=hash_password(password) if password else None)
    db.add(user)
    db.commit()
    return user


def _link_token(caplog, email: str, last: bool = False) -> str:
    for record in reversed(caplog.records) if last else caplog.records:
        message = record.getMessage()
        if email in message and "token=" in message:
            return re.search(r"token=(\S+)", message).group(1)
    raise AssertionError(f"no link logged for {email}")


def test_list_users_with_statuses(client, admin_headers):
    response = client.get("/users", headers=admin_headers)
    assert response.status_code == 200
    by_email = {u["email"]: u for u in response.json()}
    assert by_email[ADMIN]["status"] == "active"
    assert by_email[ADMIN]["status_label"] == {"fr": "ACTIF", "en": "ACTIVE"}
    alan = by_email["alan.stane@canon-uk-demo.example"]
    assert (alan["full_name"], alan["status"]) == ("Alan Inactive_Stane", "inactive")
    pending = by_email["priya.pending@canon-uk-demo.example"]
    assert (pending["status"], pending["origin"], pending["status_label"]["fr"]) == (
        "pending", "access_request", "En attente")
    assert OTHER_ADMIN not in by_email
    assert all("password" not in key for u in response.json() for key in u)


def test_other_account_cannot_see_or_manage_canon_users(client, db, other_headers):
    emails = {u["email"] for u in client.get("/users", headers=other_headers).json()}
    assert emails == {OTHER_ADMIN}
    target = _make_user(db, status=UserStatus.pending)
    for action in ("approve", "reject", "upgrade", "downgrade", "deactivate", "password-reset"):
        response = client.post(f"/users/{target.id}/{action}", headers=other_headers)
        assert response.status_code == 404, action
        assert response.json()["code"] == "not_found"
    db.refresh(target)
    assert target.status == UserStatus.pending


def test_invitation_creates_a_pending_user_and_never_returns_a_password(client, admin_headers, caplog):
    email = f"New.Person-{uuid.uuid4().hex[:6]}@Example.com"
    with caplog.at_level(logging.INFO, logger="backend.services.users"):
        response = client.post("/users/invitations", json={"email": email, "full_name": "New Person"},
                               headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["email"], body["status"], body["role"], body["origin"]) == (
        email.lower(), "pending", "user", "invitation")
    assert "token" not in response.text and "password" not in response.text
    token = _link_token(caplog, email.lower())
    # The invitation link lets the person choose a password; the token works once.
    assert client.post("/auth/invitations/accept", json={"token": token, "new_password": "short"}).status_code == 422
    assert client.post("/auth/invitations/accept",
                       json={"token": token, "new_password": "Welcome-portal-2026"}).status_code == 204
    assert client.post("/auth/invitations/accept",
                       json={"token": token, "new_password": "Welcome-portal-2026"}).status_code == 400
    login = client.post("/auth/token", data={"username": email, "password": "Welcome-portal-2026"})
    assert login.status_code == 200


def test_invitation_for_an_existing_email_is_409(client, admin_headers):
    response = client.post("/users/invitations", json={"email": ADMIN, "full_name": "Again"}, headers=admin_headers)
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


@pytest.mark.parametrize(("body", "field"), [({"email": "not-an-email", "full_name": "X Y"}, "email"),
                                             ({"email": "a@b.co"}, "full_name"),
                                             ({"email": "a@b.co", "full_name": "X Y", "role": "admin"}, "role")])
def test_invitation_bad_input_is_422_naming_the_field(client, admin_headers, body, field):
    response = client.post("/users/invitations", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_invitation_idempotency(client, admin_headers, db):
    email = f"idem-{uuid.uuid4().hex[:8]}@example.com"
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/users/invitations", json={"email": email, "full_name": "Idem Person"}, headers=headers)
    second = client.post("/users/invitations", json={"email": email, "full_name": "Idem Person"}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert len(db.scalars(select(User).where(User.email == email)).all()) == 1


def test_public_access_request_then_approve(client, admin_headers, db, caplog):
    email = f"asker-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "full_name": "Asking Person", "company": "canon uk ltd"}
    with caplog.at_level(logging.INFO, logger="backend.services.users"):
        first = client.post("/access-requests", json=body, headers={"Idempotency-Key": "k1"})
        again = client.post("/access-requests", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["code"] == "access_requested"
    rows = db.scalars(select(User).where(User.email == email)).all()
    assert len(rows) == 1 and rows[0].status == UserStatus.pending and rows[0].origin == "unverified_request"
    # the requester confirms the address with the (last) link sent to it; then the administrators see the request
    token = _link_token(caplog, email, last=True)
    assert client.post("/access-requests/verify", json={"token": token}).status_code == 204
    db.expire_all()
    assert rows[0].origin == "access_request"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="backend.services.users"):
        approved = client.post(f"/users/{rows[0].id}/approve", headers=admin_headers)
    assert approved.status_code == 200
    assert approved.json()["status"] == "active"
    token = _link_token(caplog, email)  # the approved person chooses a password through a one-time link
    assert client.post("/auth/password-reset/confirm",
                       json={"token": token, "new_password": "Approved-user-77"}).status_code == 204
    # Approving twice: nothing pending any more.
    assert client.post(f"/users/{rows[0].id}/approve", headers=admin_headers).json()["code"] == "not_pending"


def test_access_request_for_unknown_company_says_the_same_and_creates_nothing(client, db):
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    response = client.post("/access-requests", json={"email": email, "full_name": "No Body", "company": "Acme"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 202
    assert response.json()["message"] == ("Your access request is recorded: confirm your e-mail address with the link "
                                          "we sent you, and it will go to your account's administrators.")
    assert db.scalars(select(User).where(User.email == email)).first() is None


def test_access_request_bad_input(client):
    response = client.post("/access-requests", json={"email": "x@y.z", "full_name": "No Body"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "company"


def test_reject_pending(client, admin_headers, db):
    pending = _make_user(db, status=UserStatus.pending)
    response = client.post(f"/users/{pending.id}/reject", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["status"] == "inactive"
    active = _make_user(db)
    assert client.post(f"/users/{active.id}/reject", headers=admin_headers).status_code == 409


def test_upgrade_then_downgrade(client, admin_headers, db):
    target = _make_user(db)
    assert client.post(f"/users/{target.id}/upgrade", headers=admin_headers).json()["role"] == "admin"
    assert client.post(f"/users/{target.id}/downgrade", headers=admin_headers).json()["role"] == "user"
    inactive = _make_user(db, status=UserStatus.inactive)
    assert client.post(f"/users/{inactive.id}/upgrade", headers=admin_headers).json()["code"] == "not_active"


def test_last_admin_cannot_be_downgraded(client, other_headers, db):
    me = db.scalar(select(User.id).where(User.email == OTHER_ADMIN))
    response = client.post(f"/users/{me}/downgrade", headers=other_headers)
    assert response.status_code == 409
    assert response.json()["code"] == "last_admin"


def test_last_admin_cannot_be_deactivated(db):
    """The rule also holds in the service (the route already refuses self-deactivation)."""
    from backend.core.errors import ApiError
    from backend.services.users import deactivate

    admin = db.scalars(select(User).where(User.email == OTHER_ADMIN)).one()
    helper = _make_user(db, account_of=OTHER_ADMIN)  # a non-admin caller is never possible through the API
    with pytest.raises(ApiError) as error:
        deactivate(db, helper, admin)
    assert error.value.code == "last_admin"


def test_cannot_deactivate_yourself(client, admin_headers, db):
    me = db.scalar(select(User.id).where(User.email == ADMIN))
    response = client.post(f"/users/{me}/deactivate", headers=admin_headers)
    assert response.status_code == 409
    assert response.json() == {"code": "cannot_deactivate_self",
                               "message": "Vous ne pouvez pas désactiver votre propre accès."}


def test_deactivated_user_can_no_longer_log_in(client, admin_headers, db):
    target = _make_user(db)
    assert client.post("/auth/token", data={"username": target.email, "password": "Target-password-1"}).status_code == 200
    assert client.post(f"/users/{target.id}/deactivate", headers=admin_headers).json()["status"] == "inactive"
    # the same answer as a wrong password: the right one is not confirmed
    answer = client.post("/auth/token", data={"username": target.email, "password": "Target-password-1"})
    assert answer.status_code == 401


def test_password_reset_flow(client, admin_headers, db, caplog):
    target = _make_user(db)
    with caplog.at_level(logging.INFO, logger="backend.services.users"):
        response = client.post(f"/users/{target.id}/password-reset", headers=admin_headers)
    assert response.status_code == 202
    assert response.json()["code"] == "password_reset_sent"
    token = _link_token(caplog, target.email)
    assert token not in response.text
    stored = db.scalars(select(UserToken).where(UserToken.user_id == target.id)).one()
    assert stored.token_hash != token and len(stored.token_hash) == 64  # only a hash is kept
    weak = client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "abcdefghij"})
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    ok = client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "Fresh-password-9"})
    assert ok.status_code == 204
    db.refresh(target)
    assert verify_password("Fresh-password-9", target.password_hash)
    reused = client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "Other-password-9"})
    assert reused.status_code == 400 and reused.json()["code"] == "invalid_token"


def test_expired_reset_token_is_refused(client, admin_headers, db, caplog):
    from datetime import UTC, datetime, timedelta

    target = _make_user(db)
    with caplog.at_level(logging.INFO, logger="backend.services.users"):
        client.post(f"/users/{target.id}/password-reset", headers=admin_headers)
    token = _link_token(caplog, target.email)
    row = db.scalars(select(UserToken).where(UserToken.user_id == target.id)).one()
    row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.commit()
    response = client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "Fresh-password-9"})
    assert response.status_code == 400


@pytest.mark.parametrize("token", ["x" * 5, "not-a-real-token-at-all"])
def test_bad_reset_token(client, token):
    response = client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "Fresh-password-9"})
    assert response.status_code in (400, 422)


def test_editing_another_users_details_is_a_general_request(client, admin_headers, db):
    target = _make_user(db)
    response = client.patch(f"/users/{target.id}", json={"phone": "123"}, headers=admin_headers)
    assert response.status_code == 405
    body = response.json()
    assert body["code"] == "use_general_request"
    assert "general_enquiry" in body["message"] and "demande générale" in body["message"]
    assert client.patch("/users/me", json={"full_name": "Me"}, headers=admin_headers).status_code == 405


def test_unknown_user_id_is_404_and_bad_id_422(client, admin_headers):
    assert client.post("/users/999999/approve", headers=admin_headers).status_code == 404
    response = client.post("/users/abc/approve", headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "user_id"
