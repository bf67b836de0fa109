"""GET /taxonomy: the seed guide's request types and sub-types."""
from __future__ import annotations

import pytest

FAULTS = {
    "malfunction": ["unusual_noise", "unusual_smell", "broken_parts", "toner_problem"],
    "cannot_print_scan_fax": ["print", "scan"],
    "paper_jam": ["inside_device", "dadf", "drawer_tray"],
    "print_quality": ["print_scan_copy", "copy_scan_only"],
    "software": ["applications", "card_login_incorrect", "driver", "universal_login", "card_reader", "other"],
}
REQUESTS = {
    "change_request": False,
    "contract_question": True,
    "general_enquiry": False,
    "invoice_question": True,
    "product_information": False,
    "product_move": True,
}


@pytest.fixture(scope="module")
def taxonomy(client) -> dict[str, dict]:
    response = client.get("/taxonomy")  # public: the portal shows it before login
    assert response.status_code == 200
    categories = response.json()
    assert len({c["code"] for c in categories}) == len(categories)
    return {c["code"]: c for c in categories}


def _section(taxonomy, name):
    return {code: c for code, c in taxonomy.items() if c["section"] == name}


def test_fault_categories_and_subcategories(taxonomy):
    faults = _section(taxonomy, "faults")
    assert {code: [s["code"] for s in c["subcategories"]] for code, c in faults.items()} == FAULTS
    assert list(faults) == list(FAULTS)  # the seed's order
    assert not any(c["admin_only"] for c in faults.values())


def test_request_types(taxonomy):
    requests = _section(taxonomy, "requests")
    assert {code: c["admin_only"] for code, c in requests.items()} == REQUESTS


def test_other_case_categories(taxonomy):
    assert set(_section(taxonomy, "other_cases")) == {"meter_reading", "order_enquiry", "assistant_handoff"}
    assert {c["section"] for c in taxonomy.values()} == {"faults", "requests", "other_cases"}


def test_french_labels_of_the_seed(taxonomy):
    assert taxonomy["paper_jam"]["label"] == {"fr": "Bourrage papier", "en": "Paper jam"}
    subs = {s["code"]: s for s in taxonomy["paper_jam"]["subcategories"]}
    assert subs["drawer_tray"]["label"]["fr"] == "Dans le tiroir ou le plateau"
    assert subs["dadf"]["label"]["fr"] == "Dans le chargeur supérieur DADF"
    malfunction = {s["code"]: s for s in taxonomy["malfunction"]["subcategories"]}
    assert malfunction["unusual_noise"]["label"] == {"fr": "Bruit inhabituel", "en": "Unusual noise"}
    assert taxonomy["malfunction"]["label"]["fr"] == "Dysfonctionnement ou défaillance"
    assert taxonomy["contract_question"]["label"]["fr"] == "Question sur mon contrat"


def test_every_label_is_bilingual(taxonomy):
    for category in taxonomy.values():
        assert category["label"]["fr"] and category["label"]["en"]
        assert category["subcategories"]
        for sub in category["subcategories"]:
            assert sub["label"]["fr"] and sub["label"]["en"], (category["code"], sub["code"])


def test_keywords_are_exposed_for_fault_subtypes(taxonomy):
    drawer = next(s for s in taxonomy["paper_jam"]["subcategories"] if s["code"] == "drawer_tray")
    assert "tiroir" in drawer["keywords"]["fr"]
    assert "drawer" in drawer["keywords"]["en"]
