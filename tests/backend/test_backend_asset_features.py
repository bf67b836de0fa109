"""Assets: detail (address, contract coverage), alias names, device contacts (admin), account contacts."""
from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest


def test_detail_has_address_and_contract(client, admin_headers):
    response = client.get("/assets/WHJ01481", headers=admin_headers)
    assert response.status_code == 200
    asset = response.json()
    assert (asset["asset_number"], asset["model"], asset["emaintenance"]) == ("77996101", "Canon iR-ADV C5560i", False)
    assert asset["account_name"] == "CANON UK LTD"
    assert asset["address"] == {"street": "4 Roundwood Avenue", "city": "Uxbridge", "postcode": "UB11 1AF",
                                "country": "Royaume-Uni", "location": "4 Roundwood Avenue, Uxbridge — 2e étage"}
    assert asset["contract"] == {"number": "CTR-GB-0045812", "end_date": "2028-03-31", "covers_consumables": True,
                                 "covers_service": True}
    assert client.get("/assets/80145861", headers=admin_headers).json()["emaintenance"] is True


def test_list_keeps_its_short_shape(client, admin_headers):
    first = client.get("/assets", headers=admin_headers).json()[0]
    assert set(first) == {"asset_number", "serial", "model", "alias", "location", "emaintenance"}


def test_alias_set_search_and_remove(client, user_headers):
    alias = f"Accueil {uuid.uuid4().hex[:6]}"
    response = client.patch("/assets/53463252/alias", json={"alias": f"  {alias} "}, headers=user_headers)
    assert response.status_code == 200
    assert response.json()["alias"] == alias
    assert client.get(f"/assets/{quote(alias.lower())}", headers=user_headers).json()["asset_number"] == "53463252"
    assert [a["asset_number"] for a in client.get("/assets", params={"q": alias[-6:]}, headers=user_headers).json()] \
        == ["53463252"]
    cleared = client.patch("/assets/53463252/alias", json={"alias": ""}, headers=user_headers)
    assert cleared.json()["alias"] is None


@pytest.mark.parametrize("taken", ["Copieur 2e étage", "copieur 2E ÉTAGE", "WHJ02153", "77996101"])
def test_alias_unique_within_the_account(client, admin_headers, taken):
    response = client.patch("/assets/53463252/alias", json={"alias": taken}, headers=admin_headers)
    assert response.status_code == 409
    assert response.json()["code"] == "alias_taken"


def test_alias_may_repeat_across_accounts(client, other_headers):
    response = client.patch("/assets/91230045/alias", json={"alias": "Copieur 2e étage"}, headers=other_headers)
    assert response.status_code == 200
    assert client.patch("/assets/91230045/alias", json={"alias": "Atelier"}, headers=other_headers).status_code == 200


def test_alias_only_on_visible_assets(client, user_headers, other_headers):
    assert client.patch("/assets/77996101/alias", json={"alias": "Mine"}, headers=user_headers).status_code == 404
    assert client.patch("/assets/WHJ01481/alias", json={"alias": "Mine"}, headers=other_headers).status_code == 404


@pytest.mark.parametrize("body", [{}, {"alias": "x" * 101}, {"alias": "ok", "serial": "X"}])
def test_alias_bad_input(client, admin_headers, body):
    response = client.patch("/assets/53463252/alias", json=body, headers=admin_headers)
    assert response.status_code == 422


# --- device contacts -----------------------------------------------------------------------------------------------

def test_seeded_device_contacts(client, admin_headers):
    contacts = client.get("/assets/77996101/contacts", headers=admin_headers).json()
    by_name = {c["full_name"]: c for c in contacts}
    assert by_name["Alan Inactive_Stane"]["kind"] == "user"
    assert by_name["Jane Facilities"]["kind"] == "contact"


def test_add_and_remove_user_and_non_registered_contact(client, admin_headers, user_headers):
    me = client.get("/users/me", headers=user_headers).json()
    added = client.post("/assets/77996101/contacts", json={"user_id": me["id"]}, headers=admin_headers)
    assert added.status_code == 201, added.text
    assert (added.json()["kind"], added.json()["user_id"]) == ("user", me["id"])
    # The user now sees the device...
    assert client.get("/assets/77996101", headers=user_headers).status_code == 200
    assert client.post("/assets/77996101/contacts", json={"user_id": me["id"]}, headers=admin_headers).status_code == 409
    # ... and no longer once removed.
    removed = client.delete(f"/assets/77996101/contacts/{added.json()['id']}", headers=admin_headers)
    assert removed.status_code == 204
    assert client.get("/assets/77996101", headers=user_headers).status_code == 404

    name = f"Night Guard {uuid.uuid4().hex[:6]}"
    new = client.post("/assets/77996101/contacts",
                      json={"contact": {"full_name": name, "email": "guard@example.com", "phone": "0123"}},
                      headers=admin_headers)
    assert new.status_code == 201
    assert (new.json()["kind"], new.json()["email"]) == ("contact", "guard@example.com")
    assert name in [c["full_name"] for c in client.get("/contacts", headers=admin_headers).json()]
    again = client.post("/assets/53463252/contacts", json={"contact_id": new.json()["contact_id"]},
                        headers=admin_headers)
    assert again.status_code == 201


@pytest.mark.parametrize("body", [{}, {"user_id": 1, "contact_id": 1}, {"contact": {"full_name": ""}},
                                  {"contact": {"full_name": "Ok Name", "email": "bad"}}, {"user_id": "x"}])
def test_device_contact_bad_input(client, admin_headers, body):
    assert client.post("/assets/77996101/contacts", json=body, headers=admin_headers).status_code == 422


def test_device_contacts_isolation(client, admin_headers, other_headers, db):
    from sqlalchemy import select

    from backend.models import Contact, User

    northwind_admin = db.scalar(select(User.id).where(User.email == "admin@northwind-imprimerie.fr"))
    marc = db.scalar(select(Contact.id).where(Contact.full_name == "Marc Atelier"))
    # A Canon admin cannot attach another account's user or contact, nor see another account's device contacts.
    assert client.post("/assets/77996101/contacts", json={"user_id": northwind_admin},
                       headers=admin_headers).status_code == 404
    assert client.post("/assets/77996101/contacts", json={"contact_id": marc}, headers=admin_headers).status_code == 404
    assert client.get("/assets/91230045/contacts", headers=admin_headers).status_code == 404
    assert client.get("/assets/77996101/contacts", headers=other_headers).status_code == 404
    assert "Jane Facilities" not in [c["full_name"] for c in client.get("/contacts", headers=other_headers).json()]
    canon_link = client.get("/assets/77996101/contacts", headers=admin_headers).json()[0]["id"]
    assert client.delete(f"/assets/91230045/contacts/{canon_link}", headers=other_headers).status_code == 404


def test_device_contact_idempotency(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"contact": {"full_name": f"Retry {uuid.uuid4().hex[:6]}"}}
    first = client.post("/assets/53463252/contacts", json=body, headers=headers)
    second = client.post("/assets/53463252/contacts", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    names = [c["full_name"] for c in client.get("/assets/53463252/contacts", headers=admin_headers).json()]
    assert names.count(body["contact"]["full_name"]) == 1


def test_contact_idempotency_and_bad_input(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    name = f"Contact {uuid.uuid4().hex[:6]}"
    first = client.post("/contacts", json={"full_name": name}, headers=headers)
    second = client.post("/contacts", json={"full_name": name}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert [c["full_name"] for c in client.get("/contacts", headers=admin_headers).json()].count(name) == 1
    assert client.post("/contacts", json={"full_name": "A"}, headers=admin_headers).status_code == 422


def test_inactive_user_cannot_become_a_device_contact(client, admin_headers, db):
    from sqlalchemy import select

    from backend.models import User

    alan = db.scalar(select(User.id).where(User.full_name == "Alan Inactive_Stane"))
    response = client.post("/assets/53463252/contacts", json={"user_id": alan}, headers=admin_headers)
    assert response.status_code == 409
    assert response.json()["code"] == "user_inactive"
