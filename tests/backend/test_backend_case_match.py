"""A case named by its topic (POST /cases/match): "my ticket about the noise on the 2nd floor copier" names the
seeded noise case; words shared by many cases count less; only visible cases are ever matched."""
from __future__ import annotations

import uuid

import pytest

from backend.models import Asset, Case
from backend.services import cases as case_service


def _case(number: str, category: str, subcategory: str, description: str, asset: Asset | None = None) -> Case:
    return Case(number=number, category=category, subcategory=subcategory, description=description, asset=asset,
                asset_id=asset.id if asset else None)


C5560 = Asset(id=1, asset_number="77996101", serial="WHJ01481", model="Canon iR-ADV C5560i",
              alias="Copieur 2e étage", location="Uxbridge — 2e étage")
C5030 = Asset(id=2, asset_number="53463252", serial="GNM75498", model="Canon iR-ADV C5030i", alias=None,
              location="Uxbridge — Accueil")
CASES = [
    _case("CS0000001", "malfunction", "unusual_noise", "Bruit inhabituel", C5560),
    _case("CS0000002", "malfunction", "toner_problem", "Toner renversé dans l'appareil.", C5030),
    _case("CS0000003", "print_quality", "print_scan_copy", "Traînées sur les impressions couleur.", C5030),
    _case("CS0000004", "contract_question", "contract_copy", "Merci de nous envoyer une copie du contrat."),
    _case("CS0000005", "meter_reading", "query", "Question sur le relevé du compteur 112."),
]


@pytest.fixture
def offline(monkeypatch):
    """match_cases over the cases above, the devices named by alias or place."""
    monkeypatch.setattr(case_service, "list_visible_cases", lambda session, user, limit=50: CASES)

    def named(session, user, text):
        lowered = text.lower()
        return ([a for a in (C5560, C5030) if ("2e" in lowered or "2nd" in lowered) == (a is C5560)
                 and any(w in lowered for w in ("2e", "2nd", "accueil", "reception"))], [])
    monkeypatch.setattr(case_service, "resolve_assets_in_text", named)


@pytest.mark.parametrize(("text", "best"), [
    ("où en est le ticket pour le bruit bizarre sur le copieur du 2e ?", "CS0000001"),
    ("any news on the grinding noise case?", "CS0000001"),
    ("whatever happened with the toner that got spilled inside the reception copier?", "CS0000002"),
    ("et mon dossier sur les trainees en couleur ?", "CS0000003"),
    ("did you send the copy of the contract we asked for?", "CS0000004"),
    ("la question sur le compteur 112, du nouveau ?", "CS0000005"),
])
def test_the_words_name_one_case(offline, text, best):
    scored, chosen = case_service.match_cases(None, None, text)
    assert chosen is not None and chosen.number == best, [(c.number, s) for c, s in scored]


@pytest.mark.parametrize("text", ["où en est mon ticket ?", "any update on my case please", "le ticket de la canon"])
def test_words_that_name_no_case_or_several_choose_none(offline, text):
    _, chosen = case_service.match_cases(None, None, text)
    assert chosen is None


def test_a_word_many_cases_share_counts_less(offline):
    rare = dict((c.number, s) for c, s in case_service.match_cases(None, None, "renversé")[0])
    shared = dict((c.number, s) for c, s in case_service.match_cases(None, None, "canon")[0])
    assert list(rare) == ["CS0000002"] and sorted(shared) == ["CS0000001", "CS0000002", "CS0000003"]
    assert rare["CS0000002"] > 1.5 * shared["CS0000002"]


# --- through the API, on the seeded portal ----------------------------------------------------------------------
def test_the_api_names_a_case_by_its_own_words(client, admin_headers):
    word = f"zorg{uuid.uuid4().hex[:6]}"
    body = {"category": "malfunction", "subcategory": "unusual_noise", "asset": "77996101",
            "description": f"Le module {word} claque à chaque impression"}
    number = client.post("/cases", json=body, headers=admin_headers).json()["number"]
    response = client.post("/cases/match", json={"text": f"et le dossier du {word} qui claque ?"},
                           headers=admin_headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["best"] == number and answer["cases"][0]["number"] == number
    assert len(answer["cases"]) == len(answer["scores"]) <= 5


def test_the_api_never_matches_another_accounts_case(client, admin_headers, other_headers):
    word = f"zorg{uuid.uuid4().hex[:6]}"
    body = {"category": "malfunction", "subcategory": "unusual_noise", "asset": "77996101",
            "description": f"Le module {word} claque"}
    assert client.post("/cases", json=body, headers=admin_headers).status_code == 201
    answer = client.post("/cases/match", json={"text": f"le dossier {word}"}, headers=other_headers).json()
    assert answer["best"] is None and all(word not in c["description"] for c in answer["cases"])


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 1001}, {"text": "ok", "extra": 1}, ["text"]])
def test_the_api_refuses_bad_bodies(client, admin_headers, body):
    assert client.post("/cases/match", json=body, headers=admin_headers).status_code in (400, 422)


def test_the_api_needs_a_login(client):
    assert client.post("/cases/match", json={"text": "mon dossier"}).status_code == 401
