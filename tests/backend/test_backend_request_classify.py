"""POST /requests/classify: a request's type and sub-type from the user's own words (the taxonomy keywords, the
fault triage's scoring), and how many devices the words name."""
from __future__ import annotations

import pytest


def _classify(client, headers, **body):
    response = client.post("/requests/classify", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("text", "category", "subcategory"), [
    # access to a function of a device
    ("Mon collègue Paul n'a plus accès à la numérisation sur le copieur de l'accueil", "change_request",
     "access_management"),
    ("a new starter needs her badge enabled on the printers", "change_request", "access_management"),
    # billing address
    ("Nous avons déménagé le siège : il faut changer notre adresse de facturation", "contract_question",
     "billing_address_update"),
    ("our invoices should go to a new address from next month", "contract_question", "billing_address_update"),
    # installation of drivers / laptops
    ("pouvez-vous installer le pilote d'impression sur cinq PC portables ?", "change_request", "installation"),
    ("we got new laptops, please set them up so they can print", "change_request", "installation"),
    # a move, its size from the number of devices
    ("il faudrait déménager 3 imprimantes au nouveau bâtiment", "product_move", "one_to_five"),
    ("we are relocating twelve copiers to another building", "product_move", "more_than_five"),
    # invoice lines
    ("sur la dernière facture il y a une ligne de toner que nous n'avons jamais commandé", "invoice_question",
     "consumable_order"),
    ("we were invoiced for cartridges we never ordered", "invoice_question", "consumable_order"),
    ("the technician visit was billed although our contract covers it", "invoice_question", "service"),
    # contract questions
    ("quelle est la date de fin de notre contrat ?", "contract_question", "contract_end_date"),
    ("je voudrais une copie du contrat de location", "contract_question", "contract_copy"),
    # no specific type for a contact's details: a general enquiry
    ("merci de mettre à jour le numéro de téléphone de notre contact", "general_enquiry", "general_enquiry"),
    ("please change the mobile number of our contact person", "general_enquiry", "general_enquiry"),

    # where scans go is the configuration of an application; a default setting, of the device
    ("on voudrait scanner directement vers notre SharePoint, vous pouvez nous le paramétrer ?", "change_request",
     "application_configuration"),
    ("could you set up scan to a network folder for the finance team", "change_request",
     "application_configuration"),
    ("can the reception machine default to b&w double sided?", "change_request", "device_configuration"),
    ("il faudrait que la mise en veille se fasse plus tard sur le copieur", "change_request", "device_configuration"),
    # invoices to another address: the billing address, even told as a move of the accounts team
    ("notre service comptable a déménagé, il faudrait que les factures soient envoyées désormais au 12 Station Road",
     "contract_question", "billing_address_update"),
    # an invoice line for consumables nobody remembers ordering
    ("I've got an invoice charging us £62 for staples and I don't remember anyone ordering them", "invoice_question",
     "consumable_order"),
    # a move told with the verb's other forms
    ("la compta déménage au 3e, faut monter leur copieur avec eux", "product_move", None),
])
def test_words_name_the_type_and_sub_type(client, admin_headers, text, category, subcategory):
    proposal = _classify(client, admin_headers, text=text)
    assert (proposal["category"], proposal["subcategory"], proposal["confident"], proposal["source"]) == (
        category, subcategory, True, "keywords")


def test_two_types_are_alternatives(client, admin_headers):
    proposal = _classify(client, admin_headers, text="Installation")
    assert proposal["category"] is None and not proposal["confident"]
    assert {(a["category"], a["subcategory"]) for a in proposal["alternatives"]} == {
        ("change_request", "installation"), ("product_information", "installation")}


def test_bare_request_names_nothing(client, user_headers):
    proposal = _classify(client, user_headers, text="j'ai une demande à faire")
    assert (proposal["category"], proposal["source"], proposal["alternatives"]) == (None, "none", [])


@pytest.mark.parametrize(("text", "count", "every"), [
    ("all of them", "mine", True),  # "all": the number of the user's devices
    ("toute les machines", "mine", True),
    ("les trois", 3, False),
    ("all three printers", 3, True),
    ("déplacer deux grosses imprimantes", 2, False),
    ("that is all", None, False),
    ("merci à tous", None, False),
])
def test_device_quantity(client, admin_headers, text, count, every):
    if count == "mine":
        count = len(client.get("/assets", headers=admin_headers).json())
    proposal = _classify(client, admin_headers, text=text, category="product_move")
    assert (proposal["device_count"], proposal["all_devices"]) == (count, every)


def test_within_a_category(client, admin_headers):
    proposal = _classify(client, admin_headers, text="question sur ma facture de toner", category="invoice_question")
    assert (proposal["category"], proposal["subcategory"]) == ("invoice_question", "consumable_order")


def test_unknown_or_fault_category_is_422(client, admin_headers):
    for category in ("nope", "paper_jam"):
        response = client.post("/requests/classify", json={"text": "bourrage", "category": category},
                               headers=admin_headers)
        assert response.status_code == 422
        assert response.json()["code"] == "unknown_category"
    assert "Type de demande inconnu" in response.json()["message"]


def test_needs_a_login(client):
    assert client.post("/requests/classify", json={"text": "copie du contrat"}).status_code == 401


def test_all_my_devices_size_a_move(client, admin_headers):
    count = len(client.get("/assets", headers=admin_headers).json())
    proposal = _classify(client, admin_headers, text="il faut déménager toutes nos imprimantes")
    assert (proposal["category"], proposal["device_count"], proposal["all_devices"]) == ("product_move", count, True)
    assert proposal["subcategory"] == ("one_to_five" if count <= 5 else "more_than_five")


@pytest.mark.parametrize(("text", "fault_wins"), [
    ("the badge reader on the copier stopped reading cards, can you send someone?", True),
    ("le copieur fait un bruit de ferraille, vous pouvez envoyer un technicien ?", True),
    ("a new starter needs her badge enabled on the printers", False),
    ("Mon collègue Paul n'a plus accès à la numérisation sur le copieur de l'accueil", False),
])
def test_scores_compare_a_fault_reading_with_a_request_reading(client, admin_headers, text, fault_wins):
    """The assistant hands a "request" over to the fault form when the words weigh more for a fault type."""
    request = _classify(client, admin_headers, text=text)
    response = client.post("/faults/classify", json={"text": text}, headers=admin_headers)
    fault = response.json()
    assert (fault["score"] > request["score"]) is fault_wins, (fault, request)


@pytest.mark.parametrize("text", ["notre collègue a une nouvelle adresse mail, pouvez-vous la modifier sur son compte ?",
                                  "please update our contact's new email address"])
def test_a_new_email_address_is_no_new_billing_address(client, admin_headers, text):
    assert _classify(client, admin_headers, text=text)["subcategory"] != "billing_address_update"


def test_scan_to_email_address_keeps_its_own_keywords(client, admin_headers):
    found = _classify(client, admin_headers, text="Please set up scan to email address for the finance team")
    assert found["category"] == "change_request"
