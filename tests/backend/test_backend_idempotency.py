"""Issue 19 §3, Idempotency-Key scoping, tried as an attacker (or a buggy client) would: before the fix a key used on
POST /cases and sent again on POST /requests answered with the first case (nothing was requested), the same key with
another payload silently returned the first creation, and the deflection endpoint had its own mechanism."""
from __future__ import annotations

import uuid


def _key() -> str:
    return f"idem-{uuid.uuid4().hex}"


def _case(description: str) -> dict:
    return {"category": "general_enquiry", "subcategory": "general_enquiry", "description": description}


def test_a_key_used_on_cases_means_nothing_on_requests(client, admin_headers):
    key = _key()
    headers = {**admin_headers, "Idempotency-Key": key}
    case = client.post("/cases", json=_case(f"Question {key}"), headers=headers)
    assert case.status_code == 201
    request = client.post("/requests", json=_case(f"Another question {key}"), headers=headers)
    assert request.status_code == 201, request.text  # created, not the first case replayed
    assert request.json()["number"] != case.json()["number"]
    assert request.json()["description"] == f"Another question {key}"


def test_the_same_key_with_another_payload_is_refused(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": _key()}
    first = client.post("/cases", json=_case("Première question"), headers=headers)
    assert first.status_code == 201
    other = client.post("/cases", json=_case("Une tout autre question"), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["message"].startswith("Cette clé d'idempotence a déjà servi")
    english = client.post("/cases", json=_case("Une tout autre question"),
                          headers={**headers, "Accept-Language": "en", "X-Display-Language": "en"})
    assert english.json()["message"] == "This Idempotency-Key was already used for another request: use a new one."


def test_a_retry_with_the_same_payload_gets_the_first_answer(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": _key()}
    body = _case(f"Question {uuid.uuid4().hex}")
    first = client.post("/requests", json=body, headers=headers)
    again = client.post("/requests", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]


def test_keys_are_per_user(client, admin_headers, user_headers):
    key = _key()
    mine = client.post("/cases", json=_case("La même clé"), headers={**admin_headers, "Idempotency-Key": key})
    theirs = client.post("/cases", json=_case("La même clé"), headers={**user_headers, "Idempotency-Key": key})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["number"] != theirs.json()["number"]


def test_deflections_use_the_same_mechanism(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": _key()}
    body = {"description": "Résolu par l'article", "kb_articles_shown": ["KB0010209"]}
    first = client.post("/knowledge/deflections", json=body, headers=headers)
    again = client.post("/knowledge/deflections", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = client.post("/knowledge/deflections", json={**body, "description": "autre chose"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    # and a deflection's key is not a case's
    case = client.post("/cases", json=_case("Pas résolu finalement"), headers=headers)
    assert case.status_code == 201


def test_a_retry_whose_transcript_grew_is_still_the_same_request(client, admin_headers):
    # the assistant retries after a failure with the conversation grown by the retry's own turns
    headers = {**admin_headers, "Idempotency-Key": _key()}
    body = {**_case(f"Question {uuid.uuid4().hex}"), "transcript": "user: question"}
    first = client.post("/cases", json=body, headers=headers)
    again = client.post("/cases", json={**body, "transcript": "user: question\nbot: failed\nuser: retry"},
                        headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
