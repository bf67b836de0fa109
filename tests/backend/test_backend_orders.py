"""Orders: catalogue, server-side pricing with contract coverage, limits, eMaintenance refusal, ordering,
history (last 5), order enquiries, training requests; isolation and idempotency."""
from __future__ import annotations

import re
import uuid

import pytest


def _line(part, quantity=1):
    return {"part_number": part, "quantity": quantity}


def test_catalogue_for_the_device_model(client, user_headers):
    response = client.get("/assets/53463252/consumables", headers=user_headers)
    assert response.status_code == 200
    items = {c["part_number"]: c for c in response.json()}
    staples = items["0250A013"]
    assert (staples["description"], staples["category"], staples["currency"]) == ("Cartridge-D3-NONE-", "Staples",
                                                                                  "GBP")
    assert {"Toner", "Drum", "Waste toner", "Staples"} == {c["category"] for c in items.values()}
    assert all(c["max_quantity"] >= 1 for c in items.values())


def test_price_charged_when_the_contract_does_not_cover_consumables(client, user_headers):
    response = client.post("/orders/price", json={"asset": "53463252", "lines": [_line("2790B002", 2),
                                                                                 _line("0250A013")]},
                           headers=user_headers)
    assert response.status_code == 200, response.text
    price = response.json()
    assert price["currency"] == "GBP"
    assert [(li["part_number"], li["covered_by_contract"], li["line_total"]) for li in price["lines"]] == [
        ("2790B002", False, "179.00"), ("0250A013", False, "62.00")]
    assert price["total"] == "241.00"


def test_price_zero_for_covered_lines(client, admin_headers):
    price = client.post("/orders/price", json={"asset": "WHJ01481", "lines": [_line("0481C002", 2),
                                                                              _line("1725B001", 1)]},
                        headers=admin_headers).json()
    assert [(li["covered_by_contract"], li["line_total"]) for li in price["lines"]] == [(True, "0.00"),
                                                                                       (False, "54.00")]
    assert price["total"] == "54.00"


@pytest.mark.parametrize(("lines", "code"), [
    ([_line("2790B002", 5)], "quantity_above_limit"),
    ([_line("0481C002")], "unknown_consumable"),  # a C5560i toner for a C5030i
    ([_line("2790B002"), _line("2790b002")], "duplicate_line"),
    ([_line("2790B002", 0)], "validation_error"),
    ([], "validation_error"),
    ([{"part_number": "2790B002"}], "validation_error"),
])
def test_price_bad_lines(client, user_headers, lines, code):
    response = client.post("/orders/price", json={"asset": "53463252", "lines": lines}, headers=user_headers)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_quantity_limit_message_names_the_limit(client, user_headers):
    response = client.post("/orders/price", json={"asset": "53463252", "lines": [_line("2778B003", 3)]},
                           headers=user_headers)
    assert response.json()["message"] == "Maximum quantity for 2778B003 (C-EXV29 Drum Unit Black): 2."
    assert response.json()["max_quantity"] == 2


def test_emaintenance_device_cannot_order(client, admin_headers):
    for call in (lambda: client.post("/orders/price", json={"asset": "80145861", "lines": [_line("0481C002")]},
                                     headers=admin_headers),
                 lambda: client.post("/orders", json={"asset": "WHJ02153", "lines": [_line("0481C002")]},
                                     headers=admin_headers),
                 lambda: client.get("/assets/80145861/orders", headers=admin_headers),
                 lambda: client.get("/assets/80145861/consumables", headers=admin_headers)):
        response = call()
        assert response.status_code == 409
        assert response.json()["code"] == "emaintenance_asset"
        assert "eMaintenance" in response.json()["message"]


def test_order_to_the_account_address(client, user_headers):
    response = client.post("/orders", json={"asset": "GNM75498", "lines": [_line("2794B002", 1)]},
                           headers=user_headers)
    assert response.status_code == 201, response.text
    order = response.json()
    assert re.fullmatch(r"ORD\d{7}", order["number"]) and order["number"] >= "ORD0001234"
    assert order["shipping_address"] == {"recipient": "CANON UK LTD", "street": "4 Roundwood Avenue",
                                         "city": "Uxbridge", "postcode": "UB11 1AF", "country": "Royaume-Uni"}
    assert (order["contact_name"], order["total"], order["status"]) == ("SNTestDM DemoPortal", "145.00", "submitted")
    assert client.get(f"/orders/{order['number']}", headers=user_headers).json() == order
    assert client.get("/assets/53463252/orders", headers=user_headers).json()[0]["number"] == order["number"]


def test_order_to_a_new_delivery_location_with_a_contact(client, admin_headers):
    body = {"asset": "77996101", "lines": [_line("0484C002", 1)],
            "contact": {"full_name": "Jane Facilities", "email": "jane.facilities@example.com"},
            "shipping_address": {"recipient": "Reprographie", "street": "10 Station Road", "city": "Reading",
                                 "postcode": "RG1 1AA", "country": "Royaume-Uni"}}
    order = client.post("/orders", json=body, headers=admin_headers).json()
    assert order["shipping_address"]["city"] == "Reading"
    assert (order["contact_name"], order["total"]) == ("Jane Facilities", "0.00")


@pytest.mark.parametrize("body", [
    {"lines": [_line("2790B002")]},
    {"asset": "53463252", "lines": [_line("2790B002")], "shipping_address": {"street": "x"}},
    {"asset": "53463252", "lines": [_line("2790B002")], "contact": {"full_name": "Ok Name", "email": "nope"}},
    {"asset": "53463252", "lines": [_line("2790B002")], "total": "0.00"},
])
def test_order_bad_input(client, user_headers, body):
    assert client.post("/orders", json=body, headers=user_headers).status_code == 422


def test_order_idempotency(client, user_headers):
    headers = {**user_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"asset": "53463252", "lines": [_line("2802B002", 1)]}
    first = client.post("/orders", json=body, headers=headers)
    second = client.post("/orders", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]
    numbers = [o["number"] for o in client.get("/assets/53463252/orders", headers=user_headers).json()]
    assert numbers.count(first.json()["number"]) == 1


def test_history_is_the_last_five(client, admin_headers):
    orders = client.get("/assets/53463252/orders", headers=admin_headers).json()
    assert len(orders) == 5
    dates = [o["created_at"] for o in orders]
    assert dates == sorted(dates, reverse=True)
    assert "ORD0001227" not in [o["number"] for o in orders]  # the oldest of the six seeded ones


def test_orders_isolation(client, admin_headers, other_headers, user_headers):
    assert client.get("/orders/ORD0001232", headers=admin_headers).status_code == 404
    assert client.get("/orders/ORD0001232", headers=other_headers).status_code == 200
    assert client.get("/orders/ORD0001233", headers=other_headers).status_code == 404
    assert client.get("/assets/53463252/orders", headers=other_headers).status_code == 404
    assert client.post("/orders", json={"asset": "XKL55120", "lines": [_line("8524B002")]},
                       headers=admin_headers).status_code == 404
    # A user sees orders of their devices, not the other devices' ones.
    assert client.get("/orders/ORD0001230", headers=user_headers).status_code == 404
    assert client.get("/orders/XYZ", headers=user_headers).status_code == 422


def test_order_enquiry_missing_items(client, user_headers):
    headers = {**user_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"order_number": "ord0001229", "subcategory": "wrong_items", "description": "Magenta reçu au lieu du cyan."}
    response = client.post("/orders/enquiries", json=body, headers=headers)
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["category"], case["subcategory"], case["order_number"]) == ("order_enquiry", "wrong_items",
                                                                             "ORD0001229")
    assert case["asset"]["asset_number"] == "53463252"
    assert case["description"].startswith("[ORD0001229]")
    again = client.post("/orders/enquiries", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["number"] == case["number"]


@pytest.mark.parametrize(("body", "status"), [
    ({"order_number": "ORD0001229", "subcategory": "late", "description": "Où est-elle ?"}, 422),
    ({"order_number": "ORD0001232", "subcategory": "missing_items", "description": "Manque"}, 404),
    ({"order_number": "ORD0001229", "subcategory": "missing_items", "description": ""}, 422),
])
def test_order_enquiry_bad_input(client, user_headers, body, status):
    assert client.post("/orders/enquiries", json=body, headers=user_headers).status_code == status


def test_training_requests_listed_as_each_role_may_see_them(client, user_headers, admin_headers, other_headers):
    body = {"topic": "Numérisation vers un dossier", "asset": "53463252", "attendees": 2}
    made = client.post("/training-requests", json=body, headers={**user_headers, "Idempotency-Key": uuid.uuid4().hex})
    assert made.status_code == 201
    admin = [t["number"] for t in client.get("/training-requests", headers=admin_headers).json()]
    user = [t["number"] for t in client.get("/training-requests", headers=user_headers).json()]
    assert admin[0] == made.json()["number"] and "TRN0000101" in admin  # the account's, newest first
    assert made.json()["number"] in user and "TRN0000101" not in user  # the seed's is on a device not hers
    other = [t["number"] for t in client.get("/training-requests", headers=other_headers).json()]
    assert not set(other) & set(admin)  # another account never sees them
    assert client.get("/training-requests?limit=0", headers=admin_headers).status_code == 422
    assert client.get("/training-requests").status_code == 401


def test_training_request(client, user_headers, admin_headers, other_headers):
    headers = {**user_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"topic": "Numérisation vers e-mail", "asset": "53463252", "attendees": 3, "preferred_date": "2027-01-15"}
    first = client.post("/training-requests", json=body, headers=headers)
    second = client.post("/training-requests", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert re.fullmatch(r"TRN\d{7}", first.json()["number"]) and first.json()["asset_number"] == "53463252"
    assert client.post("/training-requests", json={**body, "attendees": 0}, headers=user_headers).status_code == 422
    past = client.post("/training-requests", json={**body, "preferred_date": "2020-01-01"}, headers=user_headers)
    assert past.status_code == 422 and past.json()["code"] == "date_in_past"
    assert client.post("/training-requests", json={**body, "preferred_date": "demain"},
                       headers=user_headers).status_code == 422
    assert client.post("/training-requests", json={"topic": "Scan", "asset": "53463252"},
                       headers=other_headers).status_code == 404
