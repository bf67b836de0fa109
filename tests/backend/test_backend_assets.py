"""Assets: who sees what, lookup by number/serial/alias, and resolving assets named in a sentence."""
from __future__ import annotations

from urllib.parse import quote

import pytest

CANON_ASSETS = ["53463252", "77996101", "80145861"]


def _numbers(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [a["asset_number"] for a in response.json()]


# --- listing -------------------------------------------------------------------------------------------------

def test_admin_sees_exactly_the_three_canon_assets(client, admin_headers):
    response = client.get("/assets", headers=admin_headers)
    assert _numbers(response) == CANON_ASSETS  # sorted by asset number
    by_number = {a["asset_number"]: a for a in response.json()}
    assert by_number["77996101"] == {
        "asset_number": "77996101",
        "serial": "WHJ01481",
        "model": "Canon iR-ADV C5560i",
        "alias": "Copieur 2e étage",
        "location": "4 Roundwood Avenue, Uxbridge — 2e étage",
        "emaintenance": False,
    }
    assert by_number["80145861"]["emaintenance"] is True


def test_user_sees_only_the_asset_assigned_to_them(client, user_headers):
    response = client.get("/assets", headers=user_headers)
    assert _numbers(response) == ["53463252"]
    assert response.json()[0]["serial"] == "GNM75498"


def test_other_account_admin_sees_only_their_asset(client, other_headers):
    assert _numbers(client.get("/assets", headers=other_headers)) == ["91230045"]


@pytest.mark.parametrize(("q", "expected"), [("whj", ["77996101", "80145861"]), ("étage", ["77996101"]),
                                             ("5346", ["53463252"]), ("XKL", [])])
def test_admin_search_filters_within_visible_assets(client, admin_headers, q, expected):
    assert _numbers(client.get("/assets", params={"q": q}, headers=admin_headers)) == expected


def test_assets_require_authentication(client):
    response = client.get("/assets")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- one asset -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reference", ["77996101", "WHJ01481", "whj01481", "Copieur 2e étage", "copieur 2E ÉTAGE"])
def test_admin_reads_asset_by_number_serial_or_alias(client, admin_headers, reference):
    response = client.get(f"/assets/{quote(reference)}", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["asset_number"] == "77996101"


def test_user_reads_their_asset_by_serial(client, user_headers):
    response = client.get("/assets/gnm75498", headers=user_headers)
    assert response.status_code == 200
    assert response.json()["asset_number"] == "53463252"


def test_user_asking_for_an_unassigned_asset_gets_the_same_404_as_unknown(client, user_headers):
    hidden = client.get("/assets/77996101", headers=user_headers)
    unknown = client.get("/assets/77777777", headers=user_headers)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["code"] == unknown.json()["code"] == "not_found"
    # Same wording (the user's language, en), only the reference differs.
    assert hidden.json()["message"] == "Device '77996101' not found."
    assert unknown.json()["message"] == "Device '77777777' not found."


def test_admin_cannot_read_another_accounts_asset(client, admin_headers):
    for reference in ("XKL55120", "91230045", "Atelier"):
        response = client.get(f"/assets/{reference}", headers=admin_headers)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": f"Appareil « {reference} » introuvable."}


def test_other_admin_cannot_read_canon_asset(client, other_headers):
    assert client.get("/assets/WHJ01481", headers=other_headers).status_code == 404


# --- resolve -------------------------------------------------------------------------------------------------

def _resolve(client, headers, text):
    response = client.post("/assets/resolve", json={"text": text}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [a["asset_number"] for a in body["matches"]], body["unknown_references"]


@pytest.mark.parametrize(
    "text",
    ["la machine du 2e étage", "c'est la whj01481", "C’est le copieur 77996101", "le copieur du 2E ETAGE"],
)
def test_resolve_names_77996101(client, admin_headers, text):
    assert _resolve(client, admin_headers, text) == (["77996101"], [])


@pytest.mark.parametrize(
    "text",
    ["the printer on the 2nd floor", "the copier on the second floor", "la machine du deuxième étage",
     "l'imprimante du 2ème étage", "2nd-floor copier is jammed"],
)
def test_resolve_alias_through_ordinals_and_floor_words_in_both_languages(client, admin_headers, text):
    assert _resolve(client, admin_headers, text) == (["77996101"], [])


@pytest.mark.parametrize("text", ["the printer on the 3rd floor", "the 2nd printer", "le copieur de l'étage",
                                  "the first time it jammed", "it jammed twice, the second time badly"])
def test_resolve_alias_needs_every_distinctive_word(client, admin_headers, text):
    assert _resolve(client, admin_headers, text) == ([], [])


def test_resolve_alias_that_is_a_serial(client, admin_headers):
    assert _resolve(client, admin_headers, "problème sur WHJ02153") == (["80145861"], [])


def test_resolve_unknown_serial_is_reported(client, admin_headers):
    assert _resolve(client, admin_headers, "WHJ99999") == ([], ["WHJ99999"])


def test_resolve_mixes_known_and_unknown(client, admin_headers):
    matches, unknown = _resolve(client, admin_headers, "la GNM75498 et la abc12345")
    assert matches == ["53463252"]
    assert unknown == ["ABC12345"]


def test_resolve_another_accounts_serial_is_unknown_for_canon_admin(client, admin_headers):
    assert _resolve(client, admin_headers, "c'est la XKL55120") == ([], ["XKL55120"])


def test_resolve_finds_other_accounts_asset_for_its_admin(client, other_headers):
    assert _resolve(client, other_headers, "c'est la xkl55120") == (["91230045"], [])


def test_resolve_for_user_ignores_unassigned_assets(client, user_headers):
    assert _resolve(client, user_headers, "77996101") == ([], ["77996101"])
    assert _resolve(client, user_headers, "la machine du 2e étage") == ([], [])
    assert _resolve(client, user_headers, "the 53463252 please") == (["53463252"], [])


def test_resolve_text_without_reference(client, admin_headers):
    assert _resolve(client, admin_headers, "le copieur fait du bruit") == ([], [])


def test_resolve_empty_text_is_422(client, admin_headers):
    response = client.post("/assets/resolve", json={"text": ""}, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["field"] == "text"


def test_asset_search_treats_like_wildcards_as_plain_characters(client, admin_headers):
    assert client.get("/assets", params={"q": "%"}, headers=admin_headers).json() == []
    assert client.get("/assets", params={"q": "_"}, headers=admin_headers).json() == []
    assert [a["asset_number"] for a in client.get("/assets", params={"q": "whj0"}, headers=admin_headers).json()] \
        == ["77996101", "80145861"]


@pytest.mark.parametrize("text", ["celle de l'accueil fait un bruit", "the one at reception is jammed",
                                  "l imprimante a l accueil", "front desk printer", "the lobby copier"])
def test_resolve_by_the_place_in_the_location(client, admin_headers, text):
    assert _resolve(client, admin_headers, text) == (["53463252"], [])  # location "… — Accueil"


@pytest.mark.parametrize("text, expected", [
    ("la C5030 est en panne", ["53463252"]), ("the 5030i", ["53463252"]),
    ("the C5560 is jammed", ["77996101", "80145861"]),  # two devices of that model: the assistant asks which
    ("the one on the 1st floor", ["80145861"]),
    ("la machine du 1er est en panne", ["80145861"]), ("the one on the 2nd", ["77996101"]),  # a floor by its number
])
def test_resolve_by_model_number_and_floor(client, admin_headers, text, expected):
    assert _resolve(client, admin_headers, text) == (expected, [])


def test_resolve_model_or_place_only_among_visible_devices(client, user_headers):
    assert _resolve(client, user_headers, "the C5560") == ([], [])  # neither C5560 is assigned to her
    assert _resolve(client, user_headers, "the one at reception") == (["53463252"], [])


def test_numbers_that_are_not_a_model_name_nothing(client, admin_headers):
    assert _resolve(client, admin_headers, "compteur 112 : 45210, commande de 2 toners") == ([], [])
