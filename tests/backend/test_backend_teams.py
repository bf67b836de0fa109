"""Teams identity links: single-use codes, one tenant per account, revocation, and the channel-only look-up the
Teams channel makes on every message."""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import delete

from backend.models import TeamsLink, TeamsLinkCode, TeamsTenant, User, UserStatus
# set by conftest (which several test folders have: not imported by name)
TEST_CHANNEL_KEY, TEST_ASSISTANT_KEY = os.environ["CHANNEL_KEY"], os.environ["ASSISTANT_KEY"]
USER_EMAIL = "sntestdemoportaldm@yopmail.com"

TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
OTHER_TENANT = "99999999-bbbb-cccc-dddd-eeeeeeeeeeee"
AAD = "9f1e2d3c-0000-4000-8000-00000000abcd"


def channel_headers(key: str = TEST_CHANNEL_KEY, aud: str = "portal-channel", sub: str = "teams",
                    lifetime: int = 60) -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": sub, "aud": aud, "iat": now, "exp": now + lifetime}, key, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _no_links(db):
    yield
    for table in (TeamsLink, TeamsLinkCode, TeamsTenant):
        db.execute(delete(table))
    db.commit()


def code_for(client, tenant: str = TENANT, aad: str = AAD) -> str:
    response = client.post("/teams/link-codes", json={"tenant_id": tenant, "aad_object_id": aad},
                           headers=channel_headers())
    assert response.status_code == 201, response.text
    return response.json()["code"]


def claim(client, headers, code: str):
    return client.post("/teams/links", json={"code": code}, headers=headers)


def confirm(client, number: str, tenant: str = TENANT, aad: str = AAD):
    return client.post("/teams/links/confirm", json={"tenant_id": tenant, "aad_object_id": aad, "number": number},
                       headers=channel_headers())


def link(client, headers, tenant: str = TENANT, aad: str = AAD):
    """The whole linking: the channel's code, claimed on the portal page, the number typed in Teams."""
    claimed = claim(client, headers, code_for(client, tenant, aad))
    if claimed.status_code != 202:
        return claimed
    return confirm(client, claimed.json()["confirmation_number"], tenant, aad)


def identity(client, tenant: str = TENANT, aad: str = AAD):
    return client.post("/teams/identity", json={"tenant_id": tenant, "aad_object_id": aad},
                       headers=channel_headers())


def test_link_with_a_code_and_the_number_typed_in_teams(client, user_headers):
    assert identity(client).status_code == 404
    code = code_for(client)
    claimed = claim(client, user_headers, code)
    assert claimed.status_code == 202
    number = claimed.json()["confirmation_number"]
    assert len(number) == 6 and number.isdigit()
    assert identity(client).status_code == 404  # nothing linked before the number is typed in Teams
    assert client.get("/teams/links/me", headers=user_headers).status_code == 404
    # the number only works for the Teams user the code was made for
    assert confirm(client, number, aad="someone-else").status_code == 400
    confirmed = confirm(client, number)
    assert confirmed.status_code == 201 and confirmed.json()["email"] == USER_EMAIL
    found = identity(client)
    assert found.status_code == 200 and found.json()["email"] == USER_EMAIL
    assert client.get("/teams/links/me", headers=user_headers).json()["tenant_id"] == TENANT
    # single use, both of them
    again = claim(client, user_headers, code)
    assert again.status_code == 400 and again.json()["code"] == "invalid_link_code"
    assert confirm(client, number).status_code == 400


def test_wrong_numbers_spend_the_code(client, user_headers):
    number = claim(client, user_headers, code_for(client)).json()["confirmation_number"]
    wrong = f"{(int(number) + 1) % 10 ** 6:06d}"
    for _ in range(5):
        assert confirm(client, wrong).status_code == 400
    assert confirm(client, number).status_code == 400
    assert identity(client).status_code == 404


def test_only_the_teams_channel_may_ask_codes_and_identities(client, user_headers):
    body = {"tenant_id": TENANT, "aad_object_id": AAD}
    for headers in ({}, user_headers, channel_headers(key=TEST_ASSISTANT_KEY),
                    channel_headers(aud="portal-assistant"), channel_headers(sub="web"),
                    channel_headers(lifetime=3600), channel_headers(lifetime=-10)):
        assert client.post("/teams/link-codes", json=body, headers=headers).status_code == 401
        assert client.post("/teams/identity", json=body, headers=headers).status_code == 401
        assert client.post("/teams/links/confirm", json={**body, "number": "123456"},
                           headers=headers).status_code == 401


def test_an_expired_code_is_refused(client, user_headers, db):
    code = code_for(client)
    for row in db.query(TeamsLinkCode):
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.commit()
    assert claim(client, user_headers, code).status_code == 400
    assert claim(client, user_headers, "made-up-code-123").status_code == 400


def test_one_tenant_one_account(client, user_headers, other_headers, admin_headers):
    assert link(client, user_headers).status_code == 201
    # a user of another account cannot link from this tenant
    refused = link(client, other_headers, aad="another-aad-user")
    assert refused.status_code == 409 and refused.json()["code"] == "teams_tenant_other_account"
    assert identity(client, aad="another-aad-user").status_code == 404
    # and this account cannot link from another tenant
    assert link(client, admin_headers, OTHER_TENANT, "x-aad").status_code == 409
    assert identity(client, OTHER_TENANT, "x-aad").status_code == 404


def test_unlink_by_the_user_and_by_an_admin_of_the_account_only(client, user_headers, admin_headers, other_headers,
                                                                 db):
    assert link(client, user_headers).status_code == 201
    assert client.delete("/teams/links/me", headers=user_headers).status_code == 204
    assert identity(client).status_code == 404
    assert client.delete("/teams/links/me", headers=user_headers).status_code == 404
    assert link(client, user_headers).status_code == 201
    user_id = db.query(User).filter_by(email=USER_EMAIL).one().id
    assert client.delete(f"/teams/links/{user_id}", headers=other_headers).status_code in (403, 404)
    assert identity(client).status_code == 200
    assert client.delete(f"/teams/links/{user_id}", headers=user_headers).status_code == 403
    assert client.delete(f"/teams/links/{user_id}", headers=admin_headers).status_code == 204
    assert identity(client).status_code == 404


def test_a_deactivated_user_is_not_resolved(client, user_headers, db):
    assert link(client, user_headers).status_code == 201
    user = db.query(User).filter_by(email=USER_EMAIL).one()
    user.status = UserStatus.inactive
    db.commit()
    try:
        assert identity(client).status_code == 404
    finally:
        user.status = UserStatus.active
        db.commit()
    assert identity(client).status_code == 200


def test_relinking_replaces_the_earlier_links(client, user_headers, admin_headers):
    assert link(client, user_headers).status_code == 201
    # the same Teams user now links to the admin (same account): the user's link is gone
    assert link(client, admin_headers).status_code == 201
    assert identity(client).json()["role"] == "admin"
    assert client.get("/teams/links/me", headers=user_headers).status_code == 404


def test_teams_keys_are_validated(client):
    response = client.post("/teams/identity", json={"tenant_id": "x" * 65, "aad_object_id": AAD},
                           headers=channel_headers())
    assert response.status_code == 422
