"""Issue 19 §3, found by trying as an attacker would: revoked tokens, unthrottled logins and public requests.

Each test fails on the code before the fix (12-hour tokens kept working after an admin reset or a "logout", every
failed login hashed a password, access requests were unlimited and shown to administrators unverified)."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.core.config import get_settings
from backend.core.security import hash_password, hash_slot
from backend.main import app
from backend.models import RefreshToken, User, UserStatus

ADMIN = "sntestportaldemo@outlook.com"
PASSWORD = "test-password"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: each hash takes a good fraction of a second


def _make_user(db, status: UserStatus = UserStatus.active) -> str:
    canon_id = db.scalar(select(User.account_id).where(User.email == ADMIN))
    email = f"sec-{uuid.uuid4().hex[:10]}@canon-uk-demo.example"
    db.add(User(account_id=canon_id, email=email, full_name="Security Test", status=status, language="en",
                password_hash=_PASSWORD_HASH))
    db.commit()
    return email


def _from(address: str) -> TestClient:
    """A client calling from its own address (throttling counts per address)."""
    return TestClient(app, client=(address, 50000))


def _address() -> str:
    return f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _login(client, email, password=PASSWORD):
    return client.post("/auth/token", data={"username": email, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens outlive revocation ------------------------------------------------------------------------------------

def test_access_tokens_are_short_lived_and_come_with_a_refresh_token(client, db):
    body = _login(client, _make_user(db)).json()
    assert body["expires_in"] == 15 * 60
    assert body["refresh_token"] and body["refresh_token"] != body["access_token"]


def test_logout_ends_the_session_at_once(client, db):
    tokens = _login(client, _make_user(db)).json()
    headers = _bearer(tokens["access_token"])
    assert client.get("/users/me", headers=headers).status_code == 200
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/users/me", headers=headers).status_code == 401  # the stolen copy is dead too
    assert client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_logout_needs_a_valid_token(client):
    assert client.post("/auth/logout").status_code == 401


def test_an_admin_password_reset_ends_the_users_sessions(client, db, admin_headers):
    email = _make_user(db)
    tokens = _login(client, email).json()
    user_id = db.scalar(select(User.id).where(User.email == email))
    assert client.post(f"/users/{user_id}/password-reset", headers=admin_headers).status_code == 202
    assert client.get("/users/me", headers=_bearer(tokens["access_token"])).status_code == 401
    assert client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_a_password_change_also_revokes_the_refresh_token(client, db):
    email = _make_user(db)
    tokens = _login(client, email).json()
    changed = client.post("/users/me/password", headers=_bearer(tokens["access_token"]),
                          json={"current_password": PASSWORD, "new_password": "An0ther-long-passphrase"})
    assert changed.status_code == 204
    assert client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_a_deactivated_users_refresh_token_is_refused(client, db, admin_headers):
    email = _make_user(db)
    tokens = _login(client, email).json()
    user_id = db.scalar(select(User.id).where(User.email == email))
    assert client.post(f"/users/{user_id}/deactivate", headers=admin_headers).status_code == 200
    assert client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_refresh_gives_a_new_pair_and_the_old_refresh_token_is_single_use(client, db):
    email = _make_user(db)
    first = _login(client, email).json()
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    new = second.json()
    assert client.get("/users/me", headers=_bearer(new["access_token"])).json()["email"] == email
    # the old refresh token presented again: a replay (stolen copy) — every token of the user is revoked
    replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_refresh_token"
    assert client.get("/users/me", headers=_bearer(new["access_token"])).status_code == 401
    assert client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code == 401


def test_an_expired_refresh_token_is_refused(client, db):
    tokens = _login(client, _make_user(db)).json()
    row = db.scalars(select(RefreshToken).order_by(RefreshToken.id.desc())).first()
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    assert client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_refresh_tokens_are_stored_hashed(client, db):
    tokens = _login(client, _make_user(db)).json()
    stored = db.scalars(select(RefreshToken.token_hash)).all()
    assert tokens["refresh_token"] not in stored


def test_an_unknown_refresh_token_is_401(client):
    response = client.post("/auth/refresh", json={"refresh_token": "x" * 43}, headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert response.json()["message"] == "Your session has expired: please log in again."


# --- login throttling --------------------------------------------------------------------------------------------

def test_failed_logins_on_one_account_are_throttled_with_retry_after(db):
    email = _make_user(db)
    free = get_settings().login_free_failures_per_account
    for _ in range(free):  # from different addresses: the account itself is protected
        assert _login(_from(_address()), email, "wrong-password-1").status_code == 401
    refused = _login(_from(_address()), email, "wrong-password-1")
    assert refused.status_code == 401  # the failure past the free ones is counted and starts the wait
    blocked = _login(_from(_address()), email, PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert blocked.json()["code"] == "too_many_attempts"
    assert blocked.json()["message"].startswith("Trop de tentatives")
    english = _from(_address()).post("/auth/token", data={"username": email, "password": PASSWORD},
                                      headers={"Accept-Language": "en"})
    assert english.json()["message"].startswith("Too many attempts")


def test_the_wait_doubles_with_each_further_failure(db, monkeypatch):
    from backend.models import Throttle
    from backend.services import throttle
    monkeypatch.setattr(get_settings(), "login_free_failures_per_account", 1)
    email = _make_user(db)
    key, _ = throttle.login_keys(email, "x")
    waits = []
    for _ in range(4):
        db.expire_all()
        row = db.get(Throttle, key)
        if row is not None:  # the wait is over (as if time had passed): one more failure
            row.blocked_until = None
            db.commit()
        _login(_from(_address()), email, "wrong-password-1")
        db.expire_all()
        row = db.get(Throttle, key)
        waits.append(round((row.blocked_until - row.window_start).total_seconds()) if row.blocked_until else 0)
    assert waits[0] == 0
    assert waits[2] > waits[1] > 0


def test_failed_logins_from_one_address_are_throttled_across_accounts(db, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_free_failures_per_ip", 3)
    attacker = _from(_address())
    for _ in range(4):  # spraying many accounts from one address
        assert _login(attacker, f"nobody-{uuid.uuid4().hex[:6]}@example.com", "guess-1234").status_code == 401
    blocked = _login(attacker, _make_user(db))
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers
    assert _login(_from(_address()), _make_user(db)).status_code == 200  # others are not affected


def test_a_throttled_login_hashes_no_password(db, monkeypatch):
    email = _make_user(db)
    for _ in range(get_settings().login_free_failures_per_account + 1):
        _login(_from(_address()), email, "wrong-password-1")
    import backend.core.security as security
    calls = []
    monkeypatch.setattr(security, "_limited", lambda work: calls.append(1) or work())
    assert _login(_from(_address()), email, "wrong-password-1").status_code == 429
    assert calls == []


def test_a_successful_login_clears_the_accounts_failures(db):
    email = _make_user(db)
    for _ in range(get_settings().login_free_failures_per_account - 1):
        _login(_from(_address()), email, "wrong-password-1")
    assert _login(_from(_address()), email).status_code == 200
    for _ in range(get_settings().login_free_failures_per_account - 1):
        assert _login(_from(_address()), email, "wrong-password-1").status_code == 401
    assert _login(_from(_address()), email).status_code == 200


def test_concurrent_password_hashes_are_capped_with_503_and_retry_after(db, monkeypatch):
    monkeypatch.setattr(get_settings(), "password_hash_concurrency", 1)
    monkeypatch.setattr(get_settings(), "password_hash_wait_seconds", 0.2)
    email = _make_user(db)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with hash_slot():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(5)
        busy = _login(_from(_address()), email)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "2"
        assert busy.json()["code"] == "busy"
    finally:
        release.set()
        holder.join()
    assert _login(_from(_address()), email).status_code == 200


# --- public access requests ----------------------------------------------------------------------------------------

def _ask(client, email, company="canon uk ltd"):
    return client.post("/access-requests", json={"email": email, "full_name": "Spam Bot", "company": company})


def _verification_token(caplog, email: str) -> str:
    import re
    for record in reversed(caplog.records):
        if email in record.getMessage() and "token=" in record.getMessage():
            return re.search(r"token=(\S+)", record.getMessage()).group(1)
    raise AssertionError(f"no verification link logged for {email}")


def test_anonymous_access_requests_are_limited_per_address(db):
    limit = get_settings().access_requests_per_ip_per_hour
    spammer = _from(_address())
    for _ in range(limit):
        assert _ask(spammer, f"spam-{uuid.uuid4().hex[:8]}@example.com").status_code == 202
    refused = _ask(spammer, f"spam-{uuid.uuid4().hex[:8]}@example.com")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert _ask(_from(_address()), f"real-{uuid.uuid4().hex[:8]}@example.com").status_code == 202


def test_administrators_see_an_access_request_only_once_its_email_is_verified(client, db, admin_headers, caplog):
    email = f"asker-{uuid.uuid4().hex[:8]}@example.com"
    with caplog.at_level("INFO", logger="backend.services.users"):
        assert _ask(_from(_address()), email).status_code == 202
    listed = {u["email"] for u in client.get("/users", headers=admin_headers).json()}
    assert email not in listed
    user_id = db.scalar(select(User.id).where(User.email == email))
    assert client.post(f"/users/{user_id}/approve", headers=admin_headers).status_code == 404
    assert client.post("/access-requests/verify", json={"token": _verification_token(caplog, email)}).status_code == 204
    listed = {u["email"]: u for u in client.get("/users", headers=admin_headers).json()}
    assert listed[email]["origin"] == "access_request"
    assert client.post(f"/users/{user_id}/approve", headers=admin_headers).status_code == 200


def test_a_verification_link_works_once(client, caplog):
    email = f"asker-{uuid.uuid4().hex[:8]}@example.com"
    with caplog.at_level("INFO", logger="backend.services.users"):
        _ask(_from(_address()), email)
    token = _verification_token(caplog, email)
    assert client.post("/access-requests/verify", json={"token": token}).status_code == 204
    assert client.post("/access-requests/verify", json={"token": token}).status_code == 400


def test_an_unverified_request_does_not_block_an_invitation(client, db, admin_headers):
    email = f"asker-{uuid.uuid4().hex[:8]}@example.com"
    _ask(_from(_address()), email, company="NORTHWIND IMPRIMERIE SARL")  # someone typed the address, never confirmed
    invited = client.post("/users/invitations", headers=admin_headers, json={"email": email, "full_name": "Real One"})
    assert invited.status_code == 201, invited.text


# --- smaller findings ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/cases", "/knowledge/deflections"])
def test_kb_articles_shown_items_are_bounded(client, admin_headers, path):
    body = {"description": "Question with a huge list item", "kb_articles_shown": ["K" * 200_000]}
    if path == "/cases":
        body.update(category="general_enquiry", subcategory="general_enquiry")
    response = client.post(path, json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kb_articles_shown.0"


def _private_admin(db, client) -> dict[str, str]:
    """The administrator of an account of its own (what it invites shows in no other test's lists)."""
    from backend.models import Account, Role
    tag = uuid.uuid4().hex[:8]
    admin = User(email=f"inviter-{tag}@sec.example", full_name="Inviting Admin", role=Role.admin, language="en",
                 password_hash=_PASSWORD_HASH, account=Account(name=f"INVITER {tag}"))
    db.add(admin)
    db.commit()
    return _bearer(_login(client, admin.email).json()["access_token"])


def test_an_invitation_does_not_tell_an_admin_that_an_address_is_another_accounts(client, db, caplog):
    admin = _private_admin(db, client)
    customer_elsewhere = _make_user(db)  # a user of CANON UK
    unknown = f"new-{uuid.uuid4().hex[:8]}@example.com"
    with caplog.at_level("INFO", logger="backend.services.users"):
        taken = client.post("/users/invitations", headers=admin, json={"email": customer_elsewhere, "full_name": "A B"})
        new = client.post("/users/invitations", headers=admin, json={"email": unknown, "full_name": "A B"})
    assert taken.status_code == new.status_code == 201  # before: 409 email_taken for the other account's address
    assert set(taken.json()) == set(new.json())
    assert (taken.json()["status"], taken.json()["origin"]) == ("pending", "invitation")
    listed = {u["email"]: u["status"] for u in client.get("/users", headers=admin).json()}
    assert listed[customer_elsewhere] == listed[unknown] == "pending"
    # the address's owner follows the link: told (they own the address), nothing changes
    link = _verification_token(caplog, customer_elsewhere)
    accepted = client.post("/auth/invitations/accept", json={"token": link, "new_password": "Another-pass-12"})
    assert accepted.status_code == 409
    assert accepted.json()["code"] == "email_registered"
    assert _login(client, customer_elsewhere).status_code == 200  # their own access still works
    assert _login(client, customer_elsewhere, "Another-pass-12").status_code == 401


def test_an_address_of_the_admins_own_account_is_still_409(client, db):
    admin = _private_admin(db, client)
    me = client.get("/users/me", headers=admin).json()["email"]
    answer = client.post("/users/invitations", headers=admin, json={"email": me, "full_name": "Me Again"})
    assert answer.status_code == 409
    assert answer.json()["code"] == "email_taken"
