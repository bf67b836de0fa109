"""Cases: creation rules (taxonomy, roles, assets, KB feedback), numbering, visibility, idempotency, errors."""
from __future__ import annotations

import re
import uuid

import pytest

ADMIN = "sntestportaldemo@outlook.com"
USER = "sntestdemoportaldm@yopmail.com"
LAST_SEEDED_NUMBER = "CS0032498"


def _unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:10]}]"


def _fault(**overrides) -> dict:
    body = {
        "category": "paper_jam",
        "subcategory": "drawer_tray",
        "asset": "WHJ01481",
        "description": _unique("Bourrage papier dans le tiroir 2"),
    }
    body.update(overrides)
    return body


def _list(client, headers) -> list[dict]:
    response = client.get("/cases", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _with_description(client, headers, description) -> list[dict]:
    return [c for c in _list(client, headers) if c["description"] == description]


@pytest.fixture(scope="module")
def admin_case(client, admin_headers) -> dict:
    """One fault case created by the CANON admin through the API."""
    body = _fault(channel="web", kb_articles_shown=["KB0010200", "KB0010201"], kb_feedback="no",
                  description="  " + _unique("Bourrage papier dans le tiroir 2") + "  ")
    response = client.post("/cases", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    return {"request": body, "response": response.json()}


# --- creation ------------------------------------------------------------------------------------------------

def test_create_fault_case_number(admin_case):
    number = admin_case["response"]["number"]
    assert re.fullmatch(r"CS\d{7}", number)
    assert number > LAST_SEEDED_NUMBER
    assert int(number[2:]) > int(LAST_SEEDED_NUMBER[2:])


def test_create_fault_case_response_fields(admin_case):
    case, request = admin_case["response"], admin_case["request"]
    assert case["status"] == "new"
    assert case["status_label"] == "Nouveau"  # the admin's language is fr
    assert (case["category"], case["subcategory"]) == ("paper_jam", "drawer_tray")
    assert case["category_label"] == "Bourrage papier"
    assert case["subcategory_label"] == "Dans le tiroir ou le plateau"
    assert case["asset"]["asset_number"] == "77996101"
    assert case["asset"]["serial"] == "WHJ01481"
    assert case["requester"] == {"email": ADMIN, "full_name": "SNTest DemoPortal"}
    assert case["contact_name"] == "SNTest DemoPortal"
    assert case["channel"] == "web"
    assert case["priority"] == 3
    assert case["kb_articles_shown"] == ["KB0010200", "KB0010201"]
    assert case["kb_feedback"] == "no"
    assert case["description"] == request["description"].strip()
    assert [a["body"] for a in case["activities"]] == [request["description"].strip()]
    assert case["activities"][0]["author_name"] == "SNTest DemoPortal"


def test_create_defaults(client, admin_headers):
    response = client.post("/cases", json=_fault(asset="77996101"), headers=admin_headers)
    assert response.status_code == 201
    case = response.json()
    assert case["channel"] == "api"
    assert case["kb_articles_shown"] == []
    assert case["kb_feedback"] is None


def test_numbers_increase_with_each_creation(client, admin_headers):
    first = client.post("/cases", json=_fault(), headers=admin_headers).json()["number"]
    second = client.post("/cases", json=_fault(), headers=admin_headers).json()["number"]
    assert int(second[2:]) == int(first[2:]) + 1


def test_asset_by_alias_on_creation(client, admin_headers):
    response = client.post("/cases", json=_fault(asset="copieur 2e étage"), headers=admin_headers)
    assert response.status_code == 201
    assert response.json()["asset"]["asset_number"] == "77996101"


def test_labels_follow_the_users_language(client, user_headers):
    response = client.post("/cases", json=_fault(asset="53463252", category="malfunction",
                                                 subcategory="unusual_noise"), headers=user_headers)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["category_label"] == "Malfunction or failure"
    assert case["subcategory_label"] == "Unusual noise"
    assert case["status_label"] == "New"
    assert case["requester"]["email"] == USER


# --- reading -------------------------------------------------------------------------------------------------

def test_get_created_case(client, admin_headers, admin_case):
    number = admin_case["response"]["number"]
    response = client.get(f"/cases/{number}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["number"] == number
    assert response.json()["description"] == admin_case["response"]["description"]


def test_get_case_accepts_lower_case_number(client, admin_headers, admin_case):
    number = admin_case["response"]["number"]
    response = client.get(f"/cases/{number.lower()}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["number"] == number


def test_list_cases_newest_first_and_contains_created(client, admin_headers, admin_case):
    numbers = [c["number"] for c in _list(client, admin_headers)]
    assert admin_case["response"]["number"] in numbers
    assert numbers == sorted(numbers, reverse=True)
    assert "CS0031877" not in numbers  # another account's case


def test_seeded_case_details(client, admin_headers):
    case = client.get("/cases/CS0032498", headers=admin_headers).json()
    assert case["status"] == "closed"
    assert case["status_label"] == "Terminé"
    assert (case["category"], case["subcategory"]) == ("malfunction", "unusual_noise")
    assert case["category_label"] == "Dysfonctionnement ou défaillance"
    assert case["asset"]["asset_number"] == "77996101"
    assert case["contact_name"] == "Alan Inactive_Stane"


def test_user_cannot_read_admins_case_on_other_asset(client, user_headers, admin_case):
    number = admin_case["response"]["number"]
    response = client.get(f"/cases/{number}", headers=user_headers)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": f"Case {number} not found."}
    assert number not in [c["number"] for c in _list(client, user_headers)]


def test_user_reads_cases_on_their_asset(client, user_headers):
    response = client.get("/cases/CS0032497", headers=user_headers)
    assert response.status_code == 200
    case = response.json()
    assert case["asset"]["asset_number"] == "53463252"
    assert case["requester"]["email"] == ADMIN  # created by the admin, visible through the asset
    numbers = {c["number"] for c in _list(client, user_headers)}
    assert {"CS0032413", "CS0032497"} <= numbers
    # Cases without an asset or on assets not assigned to the user stay hidden.
    assert numbers.isdisjoint({"CS0032411", "CS0032412", "CS0032414", "CS0032498", "CS0031877"})


def test_user_sees_case_they_created(client, user_headers):
    body = _fault(asset="GNM75498")
    created = client.post("/cases", json=body, headers=user_headers)
    assert created.status_code == 201
    number = created.json()["number"]
    assert client.get(f"/cases/{number}", headers=user_headers).status_code == 200


def test_other_account_admin_gets_404_for_canon_cases(client, other_headers, admin_case):
    for number in (admin_case["response"]["number"], "CS0032498", "CS0032411"):
        response = client.get(f"/cases/{number}", headers=other_headers)
        assert response.status_code == 404
        assert response.json()["message"] == f"Dossier {number} introuvable."
    listed = _list(client, other_headers)
    assert "CS0031877" in [c["number"] for c in listed]
    assert admin_case["response"]["number"] not in [c["number"] for c in listed]
    assert all(c["requester"]["email"] == "admin@northwind-imprimerie.fr" for c in listed)


def test_canon_admin_gets_404_for_other_accounts_case(client, admin_headers):
    response = client.get("/cases/CS0031877", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("number", ["CS12", "XX0032498", "CS00324981", "0032498", "CS003249A"])
def test_invalid_case_number_is_422(client, admin_headers, number):
    response = client.get(f"/cases/{number}", headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_case_number"
    assert "n'est pas un numéro de dossier valide" in body["message"]


def test_invalid_case_number_in_users_language(client, user_headers):
    response = client.get("/cases/CS12", headers=user_headers)
    assert response.status_code == 422
    assert response.json()["message"].startswith("'CS12' is not a valid case number")


def test_cases_require_authentication(client):
    assert client.get("/cases").status_code == 401
    response = client.post("/cases", json=_fault())
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- business rules ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("category", "subcategory"),
                         [("paper_jam", "nope"), ("nope", "drawer_tray"), ("paper_jam", "unusual_noise")])
def test_unknown_category_or_subcategory_is_422(client, admin_headers, category, subcategory):
    response = client.post("/cases", json=_fault(category=category, subcategory=subcategory), headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_category"
    assert body["message"] == f"Type de demande inconnu : {category} / {subcategory}."


def test_fault_without_asset_is_422(client, admin_headers):
    body = _fault()
    del body["asset"]
    response = client.post("/cases", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json() == {"code": "asset_required", "message": "Indiquez l'appareil concerné par la panne."}
    assert _with_description(client, admin_headers, body["description"]) == []


def test_request_without_asset_is_allowed(client, admin_headers):
    response = client.post("/cases", json={"category": "general_enquiry", "subcategory": "general_enquiry",
                                           "description": _unique("Question générale")}, headers=admin_headers)
    assert response.status_code == 201
    assert response.json()["asset"] is None
    assert response.json()["category_label"] == "Demande générale"


def test_asset_not_visible_is_404_and_creates_nothing(client, user_headers, admin_headers):
    before_user = len(_list(client, user_headers))
    body = _fault(asset="77996101")
    response = client.post("/cases", json=body, headers=user_headers)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Device '77996101' not found."}
    assert len(_list(client, user_headers)) == before_user
    # Not created at all (the admin sees every CANON case).
    assert _with_description(client, admin_headers, body["description"]) == []


def test_other_accounts_asset_is_404_for_admin(client, admin_headers):
    response = client.post("/cases", json=_fault(asset="XKL55120"), headers=admin_headers)
    assert response.status_code == 404


def test_kb_feedback_yes_is_problem_solved(client, admin_headers):
    body = _fault(kb_articles_shown=["KB0010200"], kb_feedback="yes")
    response = client.post("/cases", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "problem_solved"
    assert _with_description(client, admin_headers, body["description"]) == []


@pytest.mark.parametrize(("category", "subcategory"),
                         [("contract_question", "contract_copy"), ("invoice_question", "service"),
                          ("product_move", "one_to_five")])
def test_user_cannot_submit_admin_only_requests(client, user_headers, category, subcategory):
    body = {"category": category, "subcategory": subcategory, "description": _unique("Merci de m'envoyer")}
    response = client.post("/cases", json=body, headers=user_headers)
    assert response.status_code == 403
    assert response.json() == {"code": "forbidden_for_role",
                               "message": "Only an administrator can submit this type of request."}
    assert _with_description(client, user_headers, body["description"]) == []


def test_admin_can_submit_contract_question(client, admin_headers):
    body = {"category": "contract_question", "subcategory": "contract_copy",
            "description": _unique("Merci de nous envoyer une copie du contrat.")}
    response = client.post("/cases", json=body, headers=admin_headers)
    assert response.status_code == 201
    case = response.json()
    assert case["category_label"] == "Question sur mon contrat"
    assert case["subcategory_label"] == "Copie du contrat"
    assert case["asset"] is None


def test_user_can_submit_a_non_admin_request(client, user_headers):
    body = {"category": "change_request", "subcategory": "installation", "description": _unique("Install")}
    assert client.post("/cases", json=body, headers=user_headers).status_code == 201


# --- validation errors ---------------------------------------------------------------------------------------

def test_extra_unknown_field_is_422(client, admin_headers):
    response = client.post("/cases", json=_fault(status="closed"), headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == ["status"]


def test_short_description_is_422_in_french_for_admin(client, admin_headers):
    response = client.post("/cases", json=_fault(description="ab"), headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "Le champ « description » doit contenir au moins 3 caractères."
    assert body["errors"] == [{"field": "description", "message": body["message"]}]


def test_validation_language_is_the_users_profile_not_accept_language(client, admin_headers, user_headers):
    # The admin's profile says fr: an English Accept-Language does not change that.
    admin = client.post("/cases", json=_fault(description="ab"), headers={**admin_headers, "Accept-Language": "en"})
    assert admin.json()["message"] == "Le champ « description » doit contenir au moins 3 caractères."
    # The user's profile says en: English even when the browser asks for French.
    user = client.post("/cases", json=_fault(description="ab", asset="53463252"),
                       headers={**user_headers, "Accept-Language": "fr"})
    assert user.status_code == 422
    assert user.json()["message"] == "The field 'description' must have at least 3 characters."


def test_a_display_language_header_overrides_the_profile(client, admin_headers):
    # The assistant sends the language the conversation is in: a French profile chatting in English.
    english = {**admin_headers, "X-Display-Language": "en"}
    created = client.post("/cases", json=_fault(), headers=english)
    assert created.status_code == 201, created.text
    assert created.json()["status_label"] == "New"
    shown = client.get(f"/cases/{created.json()['number']}", headers=english).json()
    assert (shown["status_label"], shown["category_label"]) == ("New", created.json()["category_label"])
    assert client.get(f"/cases/{created.json()['number']}", headers=admin_headers).json()["status_label"] == "Nouveau"
    invalid = client.post("/cases", json=_fault(description="ab"), headers=english)
    assert invalid.json()["message"] == "The field 'description' must have at least 3 characters."
    # an unsupported value is ignored: the profile's language again
    other = client.post("/cases", json=_fault(description="ab"), headers={**admin_headers, "X-Display-Language": "de"})
    assert other.json()["message"] == "Le champ « description » doit contenir au moins 3 caractères."


def test_business_errors_use_the_users_language(client, admin_headers, user_headers):
    body = _fault()
    del body["asset"]
    user = client.post("/cases", json=body, headers={**user_headers, "Accept-Language": "fr"})
    assert user.json() == {"code": "asset_required", "message": "Please say which device the fault is about."}
    admin = client.post("/cases", json=body, headers={**admin_headers, "Accept-Language": "en"})
    assert admin.json()["message"] == "Indiquez l'appareil concerné par la panne."


def test_missing_fields_are_all_reported(client, admin_headers):
    response = client.post("/cases", json={}, headers=admin_headers)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"category", "subcategory", "description"}


@pytest.mark.parametrize(("field", "value"), [("priority", 0), ("priority", 6), ("channel", "Fax!"), ("channel", "x" * 21),
                                              ("kb_feedback", "maybe"), ("kb_articles_shown", ["KB"] * 21)])
def test_invalid_field_values_are_422(client, admin_headers, field, value):
    response = client.post("/cases", json=_fault(**{field: value}), headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_malformed_json_is_422_not_500(client, admin_headers):
    response = client.post("/cases", content=b"{not json", headers={**admin_headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


# --- idempotency ---------------------------------------------------------------------------------------------

def test_same_idempotency_key_returns_the_first_case(client, user_headers):
    key = uuid.uuid4().hex
    body = _fault(asset="53463252")
    headers = {**user_headers, "Idempotency-Key": key}
    before = len(_list(client, user_headers))
    first = client.post("/cases", json=body, headers=headers)
    second = client.post("/cases", json=body, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["number"] == first.json()["number"]
    assert len(_list(client, user_headers)) == before + 1
    assert len(_with_description(client, user_headers, body["description"])) == 1


def test_idempotent_retry_for_admin_creates_one_case(client, admin_headers):
    body = _fault()
    headers = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    numbers = {client.post("/cases", json=body, headers=headers).json()["number"] for _ in range(3)}
    assert len(numbers) == 1
    assert [c["number"] for c in _with_description(client, admin_headers, body["description"])] == list(numbers)


def test_same_key_for_different_users_creates_separate_cases(client, admin_headers, user_headers):
    key = uuid.uuid4().hex
    body = _fault(asset="53463252")
    by_admin = client.post("/cases", json=body, headers={**admin_headers, "Idempotency-Key": key})
    by_user = client.post("/cases", json=body, headers={**user_headers, "Idempotency-Key": key})
    assert by_admin.status_code == by_user.status_code == 201
    assert by_admin.json()["number"] != by_user.json()["number"]
    assert by_admin.json()["requester"]["email"] == ADMIN
    assert by_user.json()["requester"]["email"] == USER


def test_different_keys_create_different_cases(client, admin_headers):
    body = _fault()
    a = client.post("/cases", json=body, headers={**admin_headers, "Idempotency-Key": uuid.uuid4().hex})
    b = client.post("/cases", json=body, headers={**admin_headers, "Idempotency-Key": uuid.uuid4().hex})
    assert a.status_code == b.status_code == 201
    assert a.json()["number"] != b.json()["number"]


def test_idempotency_key_too_long_is_422(client, admin_headers):
    response = client.post("/cases", json=_fault(), headers={**admin_headers, "Idempotency-Key": "k" * 101})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
