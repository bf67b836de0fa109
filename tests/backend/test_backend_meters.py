"""Meter readings: last readings (seed form), history, atomic submissions, lower values refused, queries."""
from __future__ import annotations

import uuid

import pytest


def _meters(client, headers, ref):
    response = client.get(f"/assets/{ref}/meters", headers=headers)
    assert response.status_code == 200, response.text
    return {m["code"]: m for m in response.json()}


def test_seed_form_values(client, admin_headers):
    meters = _meters(client, admin_headers, "77996101")
    assert list(meters) == ["112", "113", "122", "123"]
    m112 = meters["112"]
    assert m112["last_reading"] == 2380
    assert m112["last_reading_source"] == "e-Maintenance (UGW)"
    assert m112["integration_id"] == "77996101-77995625-112-GBAAP"
    assert m112["name"] == "112 N&B Grand"  # the admin's language is fr
    assert m112["label"] == {"fr": "112 N&B Grand", "en": "112 B&W Large"}
    assert meters["123"]["label"]["en"] == "123 Colour Small"


def test_seed_second_table_values(client, admin_headers):
    meters = _meters(client, admin_headers, "80145861")
    assert {c: m["last_reading"] for c, m in meters.items()} == {"112": 6586, "113": 153665, "122": 9792,
                                                                 "123": 143312}
    assert all(m["last_reading_date"].startswith("2024-02-08") for m in meters.values())


def test_history_newest_first(client, admin_headers):
    response = client.get("/assets/WHJ01481/meters/112/history", headers=admin_headers)
    assert response.status_code == 200
    assert [r["value"] for r in response.json()] == [2380, 2105, 1840]  # no test writes on 77996101's 112
    assert client.get("/assets/WHJ01481/meters/999/history", headers=admin_headers).status_code == 404


def test_submit_several_meters(client, user_headers):
    before = _meters(client, user_headers, "53463252")
    body = {"readings": [{"code": "112", "value": before["112"]["last_reading"] + 100},
                         {"code": "122", "value": before["122"]["last_reading"] + 7}]}
    response = client.post("/assets/GNM75498/meter-readings", json=body, headers=user_headers)
    assert response.status_code == 201, response.text
    submitted = response.json()
    assert submitted["asset_number"] == "53463252"
    assert [(r["code"], r["source"]) for r in submitted["readings"]] == [("112", "Portail"), ("122", "Portail")]
    assert submitted["readings"][0]["name"] == "112 B&W Large"  # the user's language is en
    after = _meters(client, user_headers, "53463252")
    assert after["112"]["last_reading"] == body["readings"][0]["value"]
    assert after["112"]["last_reading_source"] == "Portail"
    assert after["113"]["last_reading"] == before["113"]["last_reading"]
    history = client.get("/assets/53463252/meters/112/history", headers=user_headers).json()
    assert history[0]["submitted_by"] == "SNTestDM DemoPortal"


def test_lower_value_refuses_the_whole_submission(client, admin_headers, user_headers):
    before = _meters(client, admin_headers, "77996101")
    body = {"readings": [{"code": "113", "value": before["113"]["last_reading"] + 50}, {"code": "112", "value": 2000}]}
    response = client.post("/assets/77996101/meter-readings", json=body, headers=admin_headers)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "reading_lower_than_last"
    assert "2380" in error["message"] and "2026-11-02" in error["message"]
    assert error["message"].startswith("Le relevé 2000 du compteur 112 N&B Grand est inférieur")
    assert (error["last_reading"], error["meter"]) == (2380, "112")
    # Nothing was written, not even the valid 113 line.
    assert _meters(client, admin_headers, "77996101")["113"]["last_reading"] == before["113"]["last_reading"]


def test_lower_value_message_in_english(client, user_headers):
    last = _meters(client, user_headers, "53463252")["113"]
    response = client.post("/assets/53463252/meter-readings", json={"readings": [{"code": "113", "value": 1}]},
                           headers=user_headers)
    assert response.status_code == 422
    assert response.json()["message"].startswith(
        f"Reading 1 for meter 113 B&W Small is lower than the last recorded reading: {last['last_reading']} on ")


def test_equal_value_is_accepted(client, admin_headers):
    last = _meters(client, admin_headers, "80145861")["122"]["last_reading"]
    response = client.post("/assets/80145861/meter-readings", json={"readings": [{"code": "122", "value": last}]},
                           headers=admin_headers)
    assert response.status_code == 201


@pytest.mark.parametrize(("body", "code"), [
    ({"readings": [{"code": "999", "value": 10**9}]}, "unknown_meter"),
    ({"readings": [{"code": "112", "value": 10**9}, {"code": "112", "value": 10**9}]}, "duplicate_meter"),
    ({"readings": []}, "validation_error"),
    ({"readings": [{"code": "112", "value": -1}]}, "validation_error"),
    ({"readings": [{"code": "112", "value": "abc"}]}, "validation_error"),
    ({"readings": [{"code": "112"}]}, "validation_error"),
    ({}, "validation_error"),
])
def test_bad_submissions_are_422(client, admin_headers, body, code):
    response = client.post("/assets/77996101/meter-readings", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_submission_idempotency(client, admin_headers):
    last = _meters(client, admin_headers, "77996101")["123"]["last_reading"]
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"readings": [{"code": "123", "value": last + 10}]}
    first = client.post("/assets/77996101/meter-readings", json=body, headers=headers)
    second = client.post("/assets/77996101/meter-readings", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    history = client.get("/assets/77996101/meters/123/history", headers=admin_headers).json()
    assert [r["value"] for r in history].count(last + 10) == 1


def test_meters_isolation(client, user_headers, other_headers, admin_headers):
    assert client.get("/assets/77996101/meters", headers=user_headers).status_code == 404
    assert client.get("/assets/77996101/meters", headers=other_headers).status_code == 404
    assert client.get("/assets/91230045/meters/112/history", headers=admin_headers).status_code == 404
    response = client.post("/assets/91230045/meter-readings", json={"readings": [{"code": "112", "value": 10**9}]},
                           headers=admin_headers)
    assert response.status_code == 404
    assert _meters(client, other_headers, "91230045")["112"]["last_reading"] == 5120


def test_meter_query_creates_a_case(client, user_headers, admin_headers):
    description = f"Le relevé 112 du mois dernier semble trop élevé [{uuid.uuid4().hex[:6]}]"
    headers = {**user_headers, "Idempotency-Key": uuid.uuid4().hex}
    response = client.post("/assets/53463252/meter-readings/query", json={"code": "112", "description": description},
                           headers=headers)
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["category"], case["subcategory"]) == ("meter_reading", "query")
    assert case["asset"]["asset_number"] == "53463252"
    assert "53463252-53460017-112-GBAAP" in case["description"] and description in case["description"]
    retry = client.post("/assets/53463252/meter-readings/query", json={"code": "112", "description": description},
                        headers=headers)
    assert retry.status_code == 200 and retry.json()["number"] == case["number"]
    assert client.get(f"/cases/{case['number']}", headers=admin_headers).status_code == 200


@pytest.mark.parametrize(("body", "status"), [({"code": "999", "description": "Question"}, 422),
                                              ({"code": "112", "description": ""}, 422), ({"code": "112"}, 422)])
def test_meter_query_bad_input(client, user_headers, body, status):
    assert client.post("/assets/53463252/meter-readings/query", json=body, headers=user_headers).status_code == status
