"""'Soumettre une demande' (POST /requests) and 'Mes listes' (action required / mine / all), secondary
contacts (watch list), comments on the activity stream, Canon updates."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.models import Case, CaseStatus
from backend.services.cases import canon_update


def _unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:10]}]"


def _numbers(client, headers, which=None):
    params = {"list": which, "limit": 500} if which else {"limit": 500}
    response = client.get("/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [c["number"] for c in response.json()]


# --- requests ------------------------------------------------------------------------------------------------------

def test_request_creates_a_case(client, user_headers):
    body = {"category": "change_request", "subcategory": "device_configuration", "asset": "GNM75498",
            "description": _unique("Activer le scan vers dossier")}
    response = client.post("/requests", json=body, headers=user_headers)
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["category"], case["subcategory"], case["asset"]["asset_number"]) == (
        "change_request", "device_configuration", "53463252")
    assert case["number"] in _numbers(client, user_headers, "mine")


@pytest.mark.parametrize(("category", "subcategory", "code"), [
    ("paper_jam", "drawer_tray", "wrong_section"),  # a fault, not a request
    ("meter_reading", "query", "wrong_section"),
    ("general_enquiry", "nope", "unknown_category"),
])
def test_request_outside_the_requests_section_is_422(client, admin_headers, category, subcategory, code):
    body = {"category": category, "subcategory": subcategory, "asset": "77996101", "description": "Une demande"}
    response = client.post("/requests", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["code"] == code


@pytest.mark.parametrize("body", [{}, {"category": "general_enquiry", "subcategory": "general_enquiry"},
                                  {"category": "general_enquiry", "subcategory": "general_enquiry",
                                   "description": "ok ok", "priority": 1}])
def test_request_bad_input(client, admin_headers, body):
    assert client.post("/requests", json=body, headers=admin_headers).status_code == 422


def test_request_on_another_accounts_asset_is_404(client, admin_headers):
    body = {"category": "product_information", "subcategory": "how_to", "asset": "XKL55120", "description": "Aide"}
    assert client.post("/requests", json=body, headers=admin_headers).status_code == 404


def test_request_idempotency(client, user_headers):
    headers = {**user_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"category": "general_enquiry", "subcategory": "general_enquiry", "description": _unique("Question")}
    first = client.post("/requests", json=body, headers=headers)
    second = client.post("/requests", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]
    listed = [c for c in client.get("/cases", params={"limit": 500}, headers=user_headers).json()
              if c["description"] == body["description"]]
    assert len(listed) == 1


# --- lists ---------------------------------------------------------------------------------------------------------

def test_seeded_action_required(client, admin_headers, user_headers):
    assert "CS0032499" in _numbers(client, admin_headers, "action_required")
    assert "CS0032499" in _numbers(client, user_headers, "action_required")
    case = client.get("/cases/CS0032499", headers=user_headers).json()
    assert case["status_label"] == "Action required"
    assert case["activities"][-1]["author_name"] == "Canon"


def test_lists_for_the_user(client, user_headers):
    mine = _numbers(client, user_headers, "mine")
    everything = _numbers(client, user_headers, "all")
    assert "CS0032500" in mine and "CS0032499" not in mine  # created by the admin, the user is its contact
    assert {"CS0032499", "CS0032500", "CS0032501", "CS0032497"} <= set(everything)  # 501: watch list
    assert set(mine) <= set(everything)
    assert _numbers(client, user_headers) == everything  # "all" is the default
    assert "CS0032411" not in everything


def test_lists_for_the_admin(client, admin_headers):
    everything = set(_numbers(client, admin_headers, "all"))
    assert {"CS0032411", "CS0032500", "CS0032501"} <= everything and "CS0031877" not in everything
    assert "CS0032500" not in _numbers(client, admin_headers, "mine")


def test_lists_isolation(client, other_headers):
    for which in ("action_required", "mine", "all"):
        assert all(n == "CS0031877" or n > "CS0032501" for n in _numbers(client, other_headers, which))
    assert "CS0031877" in _numbers(client, other_headers, "mine")


@pytest.mark.parametrize(("params", "field"), [({"list": "archived"}, "list"), ({"limit": 0}, "limit"),
                                              ({"limit": 501}, "limit"), ({"limit": "many"}, "limit")])
def test_bad_list_parameters_are_422(client, admin_headers, params, field):
    response = client.get("/cases", params=params, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_canon_update_puts_a_case_in_action_required(client, db, admin_headers, user_headers):
    body = {"category": "malfunction", "subcategory": "unusual_smell", "asset": "53463252",
            "description": _unique("Odeur de brûlé")}
    number = client.post("/cases", json=body, headers=user_headers).json()["number"]
    assert number not in _numbers(client, user_headers, "action_required")
    case = db.scalars(select(Case).where(Case.number == number)).one()
    canon_update(db, case, CaseStatus.awaiting_customer, "Pouvez-vous préciser depuis quand ?")
    assert number in _numbers(client, user_headers, "action_required")
    assert number in _numbers(client, admin_headers, "action_required")
    # The customer answers: the case goes back to Canon and leaves the list.
    response = client.post(f"/cases/{number}/comments", json={"body": "Depuis lundi."}, headers=user_headers)
    assert response.status_code == 201
    assert response.json()["author_name"] == "SNTestDM DemoPortal"
    assert number not in _numbers(client, user_headers, "action_required")
    detail = client.get(f"/cases/{number}", headers=user_headers).json()
    assert detail["status"] == "in_progress"
    assert [a["author_name"] for a in detail["activities"]][-2:] == ["Canon", "SNTestDM DemoPortal"]


# --- comments ------------------------------------------------------------------------------------------------------

def test_comment_bad_input_and_visibility(client, user_headers, other_headers):
    assert client.post("/cases/CS0032500/comments", json={"body": "   "}, headers=user_headers).status_code == 422
    assert client.post("/cases/CS0032500/comments", json={"body": ""}, headers=user_headers).status_code == 422
    assert client.post("/cases/CS0032500/comments", json={}, headers=user_headers).status_code == 422
    assert client.post("/cases/CS0032411/comments", json={"body": "Hello"}, headers=user_headers).status_code == 404
    assert client.post("/cases/CS0032500/comments", json={"body": "Hello"}, headers=other_headers).status_code == 404
    assert client.post("/cases/CS12/comments", json={"body": "Hello"}, headers=user_headers).status_code == 422


def test_comment_idempotency(client, user_headers):
    headers = {**user_headers, "Idempotency-Key": uuid.uuid4().hex}
    text = _unique("Merci pour votre retour")
    first = client.post("/cases/CS0032500/comments", json={"body": text}, headers=headers)
    second = client.post("/cases/CS0032500/comments", json={"body": text}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    bodies = [a["body"] for a in client.get("/cases/CS0032500", headers=user_headers).json()["activities"]]
    assert bodies.count(text) == 1


# --- watch list ----------------------------------------------------------------------------------------------------

def test_watch_list_gives_the_user_the_case(client, admin_headers, user_headers):
    body = {"category": "general_enquiry", "subcategory": "general_enquiry", "description": _unique("Pour info")}
    number = client.post("/requests", json=body, headers=admin_headers).json()["number"]
    assert client.get(f"/cases/{number}", headers=user_headers).status_code == 404
    added = client.post(f"/cases/{number}/watchers", json={"email": "SNTESTDEMOPORTALDM@yopmail.com"},
                        headers=admin_headers)
    assert added.status_code == 201, added.text
    assert [w["full_name"] for w in added.json()["watchers"]] == ["SNTestDM DemoPortal"]
    assert number in _numbers(client, user_headers, "all")
    assert client.post(f"/cases/{number}/watchers", json={"email": "sntestdemoportaldm@yopmail.com"},
                       headers=admin_headers).status_code == 409
    me = client.get("/users/me", headers=user_headers).json()["id"]
    assert client.delete(f"/cases/{number}/watchers/{me}", headers=admin_headers).status_code == 200
    assert client.get(f"/cases/{number}", headers=user_headers).status_code == 404


def test_watch_list_bad_input_and_isolation(client, admin_headers, other_headers):
    assert client.post("/cases/CS0032411/watchers", json={}, headers=admin_headers).status_code == 422
    assert client.post("/cases/CS0032411/watchers", json={"email": "bad"}, headers=admin_headers).status_code == 422
    # Another account's user, or an inactive user, cannot be added.
    assert client.post("/cases/CS0032411/watchers", json={"email": "admin@northwind-imprimerie.fr"},
                       headers=admin_headers).status_code == 404
    assert client.post("/cases/CS0032411/watchers", json={"email": "alan.stane@canon-uk-demo.example"},
                       headers=admin_headers).status_code == 404
    assert client.post("/cases/CS0032411/watchers", json={"email": "sntestportaldemo@outlook.com"},
                       headers=other_headers).status_code == 404


def test_case_detail_shows_alias_serial_and_contact(client, admin_headers):
    case = client.get("/cases/CS0032498", headers=admin_headers).json()
    assert (case["asset"]["alias"], case["asset"]["serial"]) == ("Copieur 2e étage", "WHJ01481")
    assert case["contact_name"] == "Alan Inactive_Stane"
    assert client.get("/cases/CS0032500", headers=admin_headers).json()["order_number"] == "ORD0001233"


def test_watcher_idempotency(client, admin_headers):
    body = {"category": "general_enquiry", "subcategory": "general_enquiry", "description": _unique("Suivi")}
    number = client.post("/requests", json=body, headers=admin_headers).json()["number"]
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post(f"/cases/{number}/watchers", json={"email": "sntestdemoportaldm@yopmail.com"}, headers=headers)
    second = client.post(f"/cases/{number}/watchers", json={"email": "sntestdemoportaldm@yopmail.com"}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert len(client.get(f"/cases/{number}", headers=admin_headers).json()["watchers"]) == 1


# --- filters: open / closed, one device, paging --------------------------------------------------------------------
def _cases(client, headers, **params):
    response = client.get("/cases", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_open_and_closed_filters_split_the_list(client, admin_headers):
    everything = _cases(client, admin_headers)
    opened, closed = _cases(client, admin_headers, state="open"), _cases(client, admin_headers, state="closed")
    assert {c["status"] for c in opened} <= {"new", "in_progress", "awaiting_customer"} and opened
    assert {c["status"] for c in closed} <= {"resolved", "closed"} and closed
    assert sorted(c["number"] for c in opened + closed) == sorted(c["number"] for c in everything)


def test_device_filter_by_number_serial_or_alias(client, admin_headers):
    by_serial = _cases(client, admin_headers, asset="WHJ01481")
    assert by_serial and all(c["asset"]["serial"] == "WHJ01481" for c in by_serial)
    assert [c["number"] for c in _cases(client, admin_headers, asset="77996101")] == [c["number"] for c in by_serial]
    assert [c["number"] for c in _cases(client, admin_headers, asset="Copieur 2e étage")] == \
        [c["number"] for c in by_serial]


def test_device_filter_on_an_invisible_device_is_404(client, user_headers, admin_headers):
    assert client.get("/cases", params={"asset": "XKL55120"}, headers=admin_headers).status_code == 404  # other account
    assert client.get("/cases", params={"asset": "WHJ01481"}, headers=user_headers).status_code == 404  # not hers


def test_paging_with_offset(client, admin_headers):
    everything = [c["number"] for c in _cases(client, admin_headers)]
    first = [c["number"] for c in _cases(client, admin_headers, limit=3)]
    second = [c["number"] for c in _cases(client, admin_headers, limit=3, offset=3)]
    assert first + second == everything[:6]


@pytest.mark.parametrize("params", [{"state": "pending"}, {"offset": -1}, {"asset": "x" * 101}])
def test_bad_filters_are_422(client, admin_headers, params):
    assert client.get("/cases", params=params, headers=admin_headers).status_code == 422
