"""Assets area: the device list / detail, the alias form and the contacts form (admin), against a fake portal
that mirrors the backend's routes (fakes_assets.py)."""
from __future__ import annotations

import shutil
import string
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

import actions.switching as switching
from actions.assets import (
    ActionAskAssetsAliasAsset,
    ActionAskAssetsAliasConfirm,
    ActionAskAssetsAliasValue,
    ActionAskAssetsContactAction,
    ActionAskAssetsContactAsset,
    ActionAskAssetsContactConfirm,
    ActionAskAssetsContactLink,
    ActionAskAssetsContactPerson,
    ActionAssetsList,
    ActionAssetsSubmitAlias,
    ActionAssetsSubmitContact,
    ActionDeviceInfo,
    ValidateAssetsAliasForm,
    ValidateAssetsContactsForm,
)
from actions.roles import ActionCheckRole
from actions.submission import ActionCancelForm, ActionRetrySubmit
from actions_fakes import (
    run, message, assert_switch_request_forgotten, opening_tracker, ASSET_C5030, ASSET_C5560, ROOT, STARTS,
    USER_PROFILE, FakePortal, responses, slot_values,
)
from fakes_assets import ADMIN_PROFILE, ADMIN_TOKEN, AssetsBackend, all_assets

pytestmark = pytest.mark.asyncio

ALIAS_FORM, CONTACTS_FORM = "assets_alias_form", "assets_contacts_form"
LABEL_C5560 = "Copieur 2e étage — Canon iR-ADV C5560i (77996101 / WHJ01481)"
LABEL_C5030 = "Canon iR-ADV C5030i (53463252 / GNM75498)"
ALIAS_SLOTS = ("assets_alias_asset", "assets_alias_value", "assets_alias_confirm", "assets_alias_asset_label",
               "assets_alias_current")
CONTACT_SLOTS = ("assets_contact_asset", "assets_contact_action", "assets_contact_person", "assets_contact_name",
                 "assets_contact_email", "assets_contact_link", "assets_contact_confirm",
                 "assets_contact_asset_label", "assets_contact_person_label")


# --- fixtures and helpers ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _stable_form_starters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Which intent starts which form, read from the stable rules (faults + assets) only: other areas' rules
    are being written in parallel and must not make these tests depend on them."""
    for name in ("faults.yml", "assets.yml"):
        shutil.copy(ROOT / "data" / "rules" / name, tmp_path / name)
    starters = switching.form_starters.__wrapped__(tmp_path)
    monkeypatch.setattr(switching, "form_starters", lambda *args, **kwargs: starters)


@pytest.fixture
def fake(portal: FakePortal) -> AssetsBackend:
    portal.assets = all_assets()  # copies: the alias route changes them
    return AssetsBackend(portal)


@pytest.fixture
def alias_tracker(make_tracker):
    def make(text: str = "", **kwargs: Any):
        kwargs.setdefault("active_loop", ALIAS_FORM)
        return make_tracker(text, **kwargs)
    return make


@pytest.fixture
def admin_tracker(make_tracker):
    def make(text: str = "", **kwargs: Any):
        kwargs.setdefault("active_loop", CONTACTS_FORM)
        kwargs.setdefault("token", ADMIN_TOKEN)
        kwargs.setdefault("portal_user", ADMIN_PROFILE)
        return make_tracker(text, **kwargs)
    return make






def render(domain: Dict[str, Any], response: str, lang: str, **values: Any) -> str:
    """The text Rasa would send for `response` when the language slot is `lang`."""
    variations = domain["responses"][response]
    chosen = next((v for v in variations if any(c.get("value") == lang for c in v.get("condition") or [])), None)
    chosen = chosen or next(v for v in variations if not v.get("condition"))
    return chosen["text"].format(**values)


def writes(portal: FakePortal) -> List[Dict[str, Any]]:
    return [r for r in portal.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and r["path"] != "/assets/resolve"]


# --- the domain: every response in both languages ---------------------------------------------------------------
async def test_every_assets_response_exists_in_french_and_english():
    raw = yaml.safe_load((ROOT / "domain" / "assets.yml").read_text(encoding="utf-8"))
    for name, variations in raw["responses"].items():
        english = [v for v in variations if v.get("condition") == [{"type": "slot", "name": "language", "value": "en"}]]
        default = [v for v in variations if not v.get("condition")]
        assert len(english) == 1 and len(default) == 1, name
        fields = [{f for _, f, _, _ in string.Formatter().parse(v["text"]) if f} for v in (english[0], default[0])]
        assert fields[0] == fields[1], f"{name}: placeholders differ between EN and FR"
        assert len(english[0].get("buttons") or []) == len(default[0].get("buttons") or []), name
    actions = {name for a in raw["actions"] for name in (a if isinstance(a, dict) else [a])}  # `- x: {send_domain}`
    names = set(raw["responses"]) | set(raw["slots"]) | actions | set(raw["forms"])
    assert all(n.startswith(("utter_assets_", "utter_ask_assets_", "assets_", "action_assets_",
                             "action_ask_assets_", "validate_assets_")) for n in names)


async def test_contacts_form_is_a_guarded_starter_and_alias_form_is_not():
    starters = switching.form_starters()
    assert starters["manage_asset_contacts"] == switching.Starter(CONTACTS_FORM, guarded=True)
    assert starters["set_asset_alias"] == switching.Starter(ALIAS_FORM, guarded=False)


# --- list_assets ----------------------------------------------------------------------------------------------
async def test_admin_sees_one_line_per_device_then_the_admin_hint(fake, portal, make_tracker, domain):
    tracker = make_tracker("quels sont mes appareils ?", intent="list_assets", token=ADMIN_TOKEN,
                           portal_user=ADMIN_PROFILE, active_loop=None)
    dispatcher, events = await run(ActionAssetsList(), tracker, domain)
    assert events == []
    assert responses(dispatcher) == ["utter_assets_list", "utter_assets_hint_admin"]
    listed = message(dispatcher, "utter_assets_list")
    assert listed["count"] == 3
    assert listed["lines"].split("\n") == [
        "• Copieur 2e étage — Canon iR-ADV C5560i · n° d'actif 77996101 · série WHJ01481 · Uxbridge — 2e étage",
        "• (sans alias) — Canon iR-ADV C5030i · n° d'actif 53463252 · série GNM75498 · Uxbridge — Accueil",
        "• (sans alias) — Canon iR-ADV C5560i · n° d'actif 80145861 · série WHJ02153 · Uxbridge — 1er étage"
        " · eMaintenance",
    ]
    assert render(domain, "utter_assets_list", "fr", count=3, lines="…").startswith("Vos appareils (3) :")
    assert portal.calls("GET", "/assets")[0]["headers"]["authorization"] == f"Bearer {ADMIN_TOKEN}"


async def test_list_in_english_for_an_english_user(fake, portal, make_tracker, domain):
    tracker = make_tracker("list my devices", intent="list_assets", slots={"language": "en"}, active_loop=None)
    portal.assets = [ASSET_C5560, dict(ASSET_C5030)]
    dispatcher, _ = await run(ActionAssetsList(), tracker, domain)
    lines = message(dispatcher, "utter_assets_list")["lines"].split("\n")
    assert lines[1] == "• (no alias) — Canon iR-ADV C5030i · asset no. 53463252 · serial GNM75498 · Uxbridge — Accueil"
    assert responses(dispatcher)[-1] == "utter_assets_hint"  # a `user`: no "manage contacts" button
    assert render(domain, "utter_assets_list", "en", count=2, lines="").startswith("Your devices (2):")
    assert portal.calls("GET", "/assets")[0]["headers"]["accept-language"] == "en"


async def test_a_user_with_one_device_gets_its_detail(fake, portal, make_tracker, domain):
    portal.assets = [dict(ASSET_C5030)]  # the backend lists only the devices assigned to a `user`
    tracker = make_tracker("my devices", intent="list_assets", active_loop=None)
    dispatcher, _ = await run(ActionAssetsList(), tracker, domain)
    assert responses(dispatcher) == ["utter_assets_detail", "utter_assets_hint"]
    detail = message(dispatcher, "utter_assets_detail")
    assert {k: v for k, v in detail.items() if k in ("asset_label", "location", "address", "contract", "consumables",
                                                     "service", "emaintenance")} == {
        "asset_label": LABEL_C5030, "location": "Uxbridge — Accueil",
        "address": "4 Roundwood Avenue, UB11 1AF Uxbridge, Royaume-Uni", "contract": "CTR-GB-0045813 (jusqu'au 30/06/2027)",
        "consumables": "non", "service": "oui", "emaintenance": "non (les consommables se commandent sur le portail)"}
    assert portal.calls("GET", "/assets/53463252")


async def test_the_device_named_by_serial_gets_its_detail_in_english(fake, portal, make_tracker, domain):
    tracker = make_tracker("is WHJ02153 on emaintenance", intent="list_assets", entities=[("asset_ref", "WHJ02153")],
                           slots={"language": "en"}, token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, active_loop=None)
    dispatcher, _ = await run(ActionAssetsList(), tracker, domain)
    detail = message(dispatcher, "utter_assets_detail")
    assert detail["contract"] == "CTR-GB-0051190 (until 31 Jan 2029)"
    assert detail["emaintenance"] == "yes (consumables are sent automatically)"
    assert detail["asset_label"] == "Canon iR-ADV C5560i (80145861 / WHJ02153)"
    text = render(domain, "utter_assets_detail", "en", **{k: v for k, v in detail.items() if k != "response"
                                                          and isinstance(v, str)})
    assert "• eMaintenance: yes (consumables are sent automatically)" in text


async def test_the_device_named_by_alias_gets_its_detail(fake, portal, make_tracker, domain):
    tracker = make_tracker("infos sur le copieur 2e étage", intent="list_assets", token=ADMIN_TOKEN,
                           portal_user=ADMIN_PROFILE, active_loop=None)
    dispatcher, _ = await run(ActionAssetsList(), tracker, domain)
    assert message(dispatcher, "utter_assets_detail")["asset_label"] == LABEL_C5560
    assert portal.calls("POST", "/assets/resolve")[0]["json"] == {"text": "infos sur le copieur 2e étage"}


async def test_a_device_the_user_cannot_see_is_reported_then_the_list(fake, portal, make_tracker, domain):
    tracker = make_tracker("info on XKL55120", intent="list_assets", entities=[("asset_ref", "XKL55120")],
                           active_loop=None)
    dispatcher, _ = await run(ActionAssetsList(), tracker, domain)
    assert responses(dispatcher) == ["utter_asset_not_found", "utter_assets_list", "utter_assets_hint"]
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "XKL55120"


async def test_a_button_payload_lists_without_resolving(fake, portal, make_tracker, domain):
    tracker = make_tracker("/list_assets", intent="list_assets", active_loop=None)
    await run(ActionAssetsList(), tracker, domain)
    assert portal.calls("POST", "/assets/resolve") == []


async def test_long_lists_are_cut(fake, portal, make_tracker, domain):
    portal.assets = [dict(ASSET_C5030, asset_number=f"{n:08d}", serial=f"ABC{n:05d}") for n in range(25)]
    dispatcher, _ = await run(ActionAssetsList(), make_tracker("/list_assets", intent="list_assets",
                                                              active_loop=None), domain)
    assert message(dispatcher, "utter_assets_list")["lines"].count("\n") == 19
    assert message(dispatcher, "utter_assets_list_more")["more"] == 5


async def test_no_device(fake, portal, make_tracker, domain):
    portal.assets = []
    dispatcher, _ = await run(ActionAssetsList(), make_tracker("my devices", intent="list_assets",
                                                              active_loop=None), domain)
    assert responses(dispatcher) == ["utter_assets_none"]


async def test_list_with_the_portal_down(fake, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run(ActionAssetsList(), make_tracker("my devices", intent="list_assets",
                                                                   active_loop=None), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"] and events == []


async def test_list_with_an_expired_session(fake, portal, make_tracker, domain):
    dispatcher, _ = await run(ActionAssetsList(), make_tracker("my devices", intent="list_assets",
                                                              token="expired", active_loop=None), domain)
    assert responses(dispatcher) == ["utter_login_required"]


# --- device_info: a question about a device's contract, coverage or consumables --------------------------------
async def test_device_info_answers_for_the_device_named(fake, portal, make_tracker, domain):
    tracker = make_tracker("jusqu'à quand la GNM75498 est sous contrat ?", intent="device_info",
                           token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE, active_loop=None)
    dispatcher, events = await run(ActionDeviceInfo(), tracker, domain)
    assert events == []
    assert responses(dispatcher) == ["utter_assets_detail", "utter_assets_contract_more"]
    detail = message(dispatcher, "utter_assets_detail")
    assert (detail["asset_label"], detail["contract"]) == (LABEL_C5030, "CTR-GB-0045813 (jusqu'au 30/06/2027)")
    assert "/contract_question" in str(domain["responses"]["utter_assets_contract_more"])


async def test_device_info_inside_a_form_is_about_the_forms_device(fake, portal, make_tracker, domain):
    tracker = make_tracker("and do we order the toner for that one ourselves?", intent="device_info",
                           slots={"language": "en", "fault_asset": "80145861"}, token=ADMIN_TOKEN,
                           portal_user=ADMIN_PROFILE, active_loop="fault_report_form")
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    assert responses(dispatcher) == ["utter_assets_detail"]  # no offer inside a form: the form asks again
    detail = message(dispatcher, "utter_assets_detail")
    assert detail["asset_label"] == "Canon iR-ADV C5560i (80145861 / WHJ02153)"
    assert detail["emaintenance"] == "yes (consumables are sent automatically)"


async def test_device_info_after_a_form_is_about_the_last_device(fake, portal, make_tracker, domain):
    tracker = make_tracker("c'est quoi son numéro de contrat ?", intent="device_info", active_loop=None,
                           token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    tracker.events.extend([{"event": "slot", "name": "meter_asset", "value": "77996101"},
                           {"event": "slot", "name": "meter_asset", "value": None}])
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    assert message(dispatcher, "utter_assets_detail")["asset_label"] == LABEL_C5560


async def test_device_info_with_no_device_in_sight_details_each_device(fake, portal, make_tracker, domain):
    tracker = make_tracker("when does our contract end?", intent="device_info", slots={"language": "en"},
                           active_loop=None)
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    details = [m for m in dispatcher.messages if m.get("response") == "utter_assets_detail"]
    assert [d["contract"] for d in details] == ["CTR-GB-0045812 (until 31 Mar 2028)", "CTR-GB-0045813 (until 30 Jun 2027)",
                                                "CTR-GB-0051190 (until 31 Jan 2029)"]
    assert responses(dispatcher)[-1] == "utter_assets_detail"  # a `user` is offered no contract question


async def test_device_info_on_a_large_fleet_asks_which_device(fake, portal, make_tracker, domain):
    portal.assets = [dict(ASSET_C5030, asset_number=f"{n:08d}", serial=f"ABC{n:05d}") for n in range(5)]
    dispatcher, _ = await run(ActionDeviceInfo(), make_tracker("quand finit le contrat ?", intent="device_info",
                                                              active_loop=None), domain)
    assert responses(dispatcher) == ["utter_assets_list", "utter_assets_device_which"]


async def test_device_info_last_reading_of_the_named_meter_inside_the_meter_form(fake, portal, make_tracker, domain):
    from fakes_meters import install as install_meters

    install_meters(portal)
    tracker = make_tracker("au fait c'était combien mon dernier relevé couleur petit ?", intent="device_info",
                           slots={"meter_asset": "53463252"}, active_loop="meter_reading_form")
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    assert responses(dispatcher) == ["utter_assets_last_readings"]
    shown = message(dispatcher, "utter_assets_last_readings")
    assert shown["asset_label"] == LABEL_C5030
    assert shown["meters"] == "• 123 Couleur Petit : 61 175 — 15/10/2026 (Portail)"


async def test_device_info_last_readings_of_every_meter_in_english(fake, portal, make_tracker, domain):
    from fakes_meters import install as install_meters

    install_meters(portal)
    tracker = make_tracker("what were the last meter readings on WHJ02153?", intent="device_info",
                           entities=[("asset_ref", "WHJ02153")], slots={"language": "en"}, active_loop=None)
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    lines = message(dispatcher, "utter_assets_last_readings")["meters"].split("\n")
    assert lines[0] == "• 112 B&W Large: 6,586 — 08 Feb 2024 (e-Maintenance (UGW))" and len(lines) == 4
    text = render(domain, "utter_assets_last_readings", "en", asset_label="X", meters="…")
    assert text.startswith("Last readings of X:")


@pytest.mark.parametrize("text", ["while I've got you - who's down as the contact on that machine?",
                                  "au fait c'est qui la personne rattachée à cette machine en ce moment ?",
                                  "who's the person assigned to that copier?"])
async def test_device_info_contacts_of_the_forms_device_for_an_admin(fake, portal, make_tracker, domain, text):
    tracker = make_tracker(text, intent="device_info",
                           slots={"language": "en", "fault_asset": "77996101"}, token=ADMIN_TOKEN,
                           portal_user=ADMIN_PROFILE, active_loop="fault_report_form")
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    shown = message(dispatcher, "utter_assets_contacts_of")
    assert shown["asset_label"] == LABEL_C5560 and shown["contacts"] != ""
    assert portal.calls("GET", "/assets/77996101/contacts")


async def test_device_info_contacts_are_for_admins_only(fake, portal, make_tracker, domain):
    tracker = make_tracker("qui est le contact de la GNM75498 ?", intent="device_info", active_loop=None)
    dispatcher, _ = await run(ActionDeviceInfo(), tracker, domain)
    assert responses(dispatcher) == ["utter_assets_contacts_admin_only"]
    assert not portal.calls("GET", "/assets/53463252/contacts")


async def test_device_info_with_the_portal_down(fake, portal, make_tracker, domain):
    portal.fail("down")
    dispatcher, events = await run(ActionDeviceInfo(), make_tracker("contrat ?", intent="device_info",
                                                                   active_loop=None), domain)
    assert responses(dispatcher) == ["utter_backend_unavailable"] and events == []


# --- alias form: the device ------------------------------------------------------------------------------------
async def test_alias_opening_a_user_with_one_device_is_not_asked_which(fake, portal, alias_tracker, domain):
    portal.assets = [dict(ASSET_C5030)]
    tracker = alias_tracker("I'd like to rename my printer", intent="set_asset_alias", slots={"language": "en"})
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_alias_asset"] == "53463252"
    assert slots["assets_alias_asset_label"] == LABEL_C5030
    assert slots["assets_alias_current"] == ""
    assert "assets_alias_value" not in slots  # asked next
    assert responses(dispatcher) == ["utter_asset_selected"]


async def test_alias_opening_with_device_and_quoted_name(fake, portal, alias_tracker, domain):
    tracker = alias_tracker("renomme la WHJ01481 en « Copieur compta »", intent="set_asset_alias",
                            entities=[("asset_ref", "WHJ01481")], token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["assets_alias_asset"], slots["assets_alias_value"]) == ("77996101", "Copieur compta")
    assert slots["assets_alias_current"] == "Copieur 2e étage"
    assert responses(dispatcher) == ["utter_asset_selected"]


@pytest.mark.parametrize("text, expected", [
    ("rename GNM75498 to Front desk please", "Front desk"),
    ("call the copier GNM75498 \"Reception\"", "Reception"),
    ("je veux renommer l'imprimante GNM75498 en bas", None),  # "en bas" is not a name
    ("je voudrais en changer le nom GNM75498", None),
    ("je veux que la GNM75498 s'appelle Copieur RH", "Copieur RH"),
    ("rename GNM75498, it should be called Front desk", "Front desk"),
    ("renomme la GNM75498 en 'Accueil RH'", "Accueil RH"),  # single quotes
    ("rename GNM75498 to ‘Front desk’ please", "Front desk"),
    ("rename GNM75498 to Front desk, nobody knows which one it is", "Front desk"),  # the rest of the sentence
    ("je veux renommer la GNM75498 en Copieur compta car personne ne la trouve", "Copieur compta"),
    ("renomme la GNM75498 en l'imprimante d'accueil", "l'imprimante d'accueil"),  # apostrophes are not quotes
    # the name given last, after a sentence saying what is wanted
    ("Can we rename GNM75498 to something people recognise? Call it Finance 1st floor", "Finance 1st floor"),
    ("on voudrait un nom plus parlant pour la GNM75498, appelez-la Compta 1er svp", "Compta 1er"),
])
async def test_alias_opening_reuses_the_name_only_when_clearly_given(fake, alias_tracker, domain, text, expected):
    tracker = alias_tracker(text, intent="set_asset_alias", entities=[("asset_ref", "GNM75498")],
                            token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    _, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events).get("assets_alias_value") == expected


async def test_alias_opening_removal_of_an_existing_alias(fake, alias_tracker, domain):
    tracker = alias_tracker("supprime l'alias de la WHJ01481", intent="set_asset_alias",
                            entities=[("asset_ref", "WHJ01481")], token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    _, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_value"] == "-"


async def test_alias_opening_removal_when_there_is_none(fake, alias_tracker, domain):
    tracker = alias_tracker("remove the alias from GNM75498", intent="set_asset_alias",
                            entities=[("asset_ref", "GNM75498")], token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_value"] is None
    assert "utter_assets_alias_nothing_to_remove" in responses(dispatcher)


async def test_alias_device_answer_checks_a_name_given_earlier(fake, alias_tracker, domain):
    """The name came with the opening message, the device only now: the name is checked against it."""
    tracker = alias_tracker("GNM75498", entities=[("asset_ref", "GNM75498")], requested_slot="assets_alias_asset",
                            slots={"assets_alias_value": "copieur 2E ÉTAGE"}, token=ADMIN_TOKEN,
                            portal_user=ADMIN_PROFILE)
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_alias_asset"] == "53463252" and slots["assets_alias_value"] is None
    assert message(dispatcher, "utter_assets_alias_taken")["other"] == LABEL_C5560


async def test_alias_device_the_portal_does_not_find(fake, alias_tracker, domain):
    dispatcher = CollectingDispatcher()
    result = await ValidateAssetsAliasForm().validate_assets_alias_asset(
        "91230045", dispatcher, alias_tracker("91230045", requested_slot="assets_alias_asset"), domain)
    assert result["assets_alias_asset"] is None
    assert message(dispatcher, "utter_portal_refused")["reason"] == "Appareil « 91230045 » introuvable."


async def test_alias_unknown_device_is_asked_again(fake, alias_tracker, domain):
    tracker = alias_tracker("ZZZ99999", entities=[("asset_ref", "ZZZ99999")], requested_slot="assets_alias_asset")
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_asset"] is None
    assert message(dispatcher, "utter_asset_not_found")["reference"] == "ZZZ99999"


# --- alias form: the name --------------------------------------------------------------------------------------
def at_value(alias_tracker, text: str, intent: str = "inform", current: str = "", asset: str = "53463252",
             **kwargs: Any):
    slots = {"assets_alias_asset": asset, "assets_alias_asset_label": LABEL_C5030, "assets_alias_current": current,
             **kwargs.pop("slots", {})}
    return alias_tracker(text, intent=intent, requested_slot="assets_alias_value", slots=slots, **kwargs)


@pytest.mark.parametrize("text, expected", [
    ("Imprimante compta", "Imprimante compta"),
    ("  Accueil   RDC ", "Accueil RDC"),
    ("appelle-la « Salle de réunion 3 »", "Salle de réunion 3"),
    ("call it Front desk please", "Front desk"),
    ("Le nouveau nom : Copieur RH", "Copieur RH"),
    ("2e étage", "2e étage"),
])
async def test_alias_good_names(fake, alias_tracker, domain, text, expected):
    dispatcher, events = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, text), domain)
    assert slot_values(events)["assets_alias_value"] == expected
    assert dispatcher.messages == []


async def test_alias_a_name_classified_as_fallback_is_still_a_name(fake, alias_tracker, domain):
    _, events = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, "Zone B-12", intent="nlu_fallback"),
                          domain)
    assert slot_values(events)["assets_alias_value"] == "Zone B-12"


@pytest.mark.parametrize("text, response", [
    ("x" * 101, "utter_assets_alias_too_long"),
    ("12345", "utter_assets_alias_not_a_name"),
    ("!!! ???", "utter_assets_alias_not_a_name"),
    ("ABC12345", "utter_assets_alias_looks_like_reference"),
    ("/inform{\"asset_ref\":\"77996101\"}", "utter_choose_an_option"),
])
async def test_alias_bad_names_are_refused_with_the_reason(fake, portal, alias_tracker, domain, text, response):
    dispatcher, events = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, text), domain)
    assert slot_values(events)["assets_alias_value"] is None
    assert responses(dispatcher) == [response]
    assert writes(portal) == []


async def test_alias_too_long_says_the_limit(fake, alias_tracker, domain):
    dispatcher, _ = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, "y" * 150), domain)
    assert message(dispatcher, "utter_assets_alias_too_long")["max_chars"] == 100
    assert "at most 100 characters" in render(domain, "utter_assets_alias_too_long", "en", max_chars=100)
    assert "au plus 100 caractères" in render(domain, "utter_assets_alias_too_long", "fr", max_chars=100)


async def test_alias_same_as_now_is_refused(fake, alias_tracker, domain):
    tracker = at_value(alias_tracker, "copieur 2e étage", asset="77996101", current="Copieur 2e étage",
                       token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_value"] is None
    assert responses(dispatcher) == ["utter_assets_alias_unchanged"]


async def test_alias_used_by_another_visible_device_is_refused(fake, alias_tracker, domain):
    tracker = at_value(alias_tracker, "Copieur 2e étage", token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_value"] is None
    taken = message(dispatcher, "utter_assets_alias_taken")
    assert (taken["alias"], taken["other"]) == ("Copieur 2e étage", LABEL_C5560)


async def test_alias_pre_check_skipped_when_the_list_is_unavailable(fake, portal, alias_tracker, domain):
    portal.fail("down", "GET", "/assets")
    _, events = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, "Imprimante compta"), domain)
    assert slot_values(events)["assets_alias_value"] == "Imprimante compta"  # the portal checks again on saving


@pytest.mark.parametrize("text, intent, entities", [
    ("/inform{\"assets_alias_action\":\"remove\"}", "inform", [("assets_alias_action", "remove")]),
    ("supprimer l'alias", "set_asset_alias", []),
    ("supprime", "cancel", []),  # even if the NLU took it for "cancel"
    ("remove it", "inform", []),
    ("none", "deny", []),
])
async def test_alias_removal_answers(fake, alias_tracker, domain, text, intent, entities):
    tracker = at_value(alias_tracker, text, intent=intent, entities=entities, current="Accueil")
    _, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_value"] == "-"


async def test_alias_removal_without_an_alias(fake, alias_tracker, domain):
    dispatcher, events = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, "remove", current=""), domain)
    assert slot_values(events)["assets_alias_value"] is None
    assert responses(dispatcher) == ["utter_assets_alias_nothing_to_remove"]


@pytest.mark.parametrize("text, intent", [("annuler", "cancel"), ("aide", "help"), ("bonjour", "greet"),
                                         ("my devices", "list_assets"), ("le copieur fait du bruit", "report_fault")])
async def test_alias_digressions_are_not_names(fake, alias_tracker, domain, text, intent):
    """Nothing extracted: the form rejects and the rules answer (or offer to switch to the other request)."""
    dispatcher, events = await run(ValidateAssetsAliasForm(), at_value(alias_tracker, text, intent=intent), domain)
    assert "assets_alias_value" not in slot_values(events)
    assert dispatcher.messages == []


@pytest.mark.parametrize("intent, expected", [("affirm", True), ("deny", False)])
async def test_alias_confirmation(fake, alias_tracker, domain, intent, expected):
    tracker = alias_tracker("oui", intent=intent, requested_slot="assets_alias_confirm", slots={
        "assets_alias_asset": "53463252", "assets_alias_value": "Accueil", "assets_alias_current": ""})
    _, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_confirm"] is expected


async def test_alias_confirmation_needs_yes_or_no(fake, alias_tracker, domain):
    tracker = alias_tracker("peut-être", intent="inform", requested_slot="assets_alias_confirm",
                            slots={"assets_alias_asset": "53463252", "assets_alias_value": "Accueil"})
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    assert slot_values(events)["assets_alias_confirm"] is None
    assert responses(dispatcher) == ["utter_answer_yes_no"]


# --- alias form: the questions ---------------------------------------------------------------------------------
async def test_ask_alias_device_buttons(fake, portal, alias_tracker, domain):
    dispatcher, events = await run(ActionAskAssetsAliasAsset(), alias_tracker(requested_slot="assets_alias_asset"),
                                   domain)
    assert events == []
    (msg,) = dispatcher.messages
    assert msg["response"] == "utter_ask_assets_alias_asset"
    assert msg["buttons"][0] == {"title": LABEL_C5560, "payload": '/inform{"asset_ref":"77996101"}'}
    assert len(msg["buttons"]) == 3


@pytest.mark.parametrize("down", [False, True])
async def test_ask_alias_device_ends_the_form_without_devices_or_portal(fake, portal, alias_tracker, domain, down):
    if down:
        portal.fail("down")
    else:
        portal.assets = []
    tracker = alias_tracker(requested_slot="assets_alias_asset", slots={"assets_alias_value": "Accueil"})
    dispatcher, events = await run(ActionAskAssetsAliasAsset(), tracker, domain)
    assert responses(dispatcher) == ["utter_backend_unavailable" if down else "utter_assets_none"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    slots = slot_values(events)
    assert slots["requested_slot"] is None
    assert all(slots[name] is None for name in ALIAS_SLOTS) and slots["pending_submit"] is False


async def test_ask_alias_value_shows_the_current_alias(fake, alias_tracker, domain):
    dispatcher, _ = await run(ActionAskAssetsAliasValue(), alias_tracker(slots={"assets_alias_current": "Accueil"}),
                              domain)
    assert message(dispatcher, "utter_ask_assets_alias_value")["current"] == "Accueil"
    remove = domain["responses"]["utter_ask_assets_alias_value"][0]["buttons"][0]["payload"]
    assert remove == '/inform{{"assets_alias_action":"remove"}}'  # Rasa renders {{ }} as { }
    dispatcher, _ = await run(ActionAskAssetsAliasValue(), alias_tracker(slots={"assets_alias_current": ""}), domain)
    assert responses(dispatcher) == ["utter_ask_assets_alias_value_first"]


async def test_ask_alias_confirm_summaries(fake, alias_tracker, domain):
    base = {"assets_alias_asset": "77996101", "assets_alias_asset_label": LABEL_C5560,
            "assets_alias_current": "Copieur 2e étage"}
    dispatcher, _ = await run(ActionAskAssetsAliasConfirm(), alias_tracker(
        slots={**base, "assets_alias_value": "Copieur compta"}), domain)
    msg = message(dispatcher, "utter_ask_assets_alias_confirm")
    assert render(domain, "utter_ask_assets_alias_confirm", "fr", asset_label=msg["asset_label"], alias=msg["alias"]) \
        == f"Je vais donner à {LABEL_C5560} le nom d'alias « Copieur compta ». Je l'enregistre ?"
    dispatcher, _ = await run(ActionAskAssetsAliasConfirm(), alias_tracker(slots={**base, "assets_alias_value": "-"}),
                              domain)
    msg = message(dispatcher, "utter_ask_assets_alias_confirm_remove")
    assert render(domain, "utter_ask_assets_alias_confirm_remove", "en", asset_label=msg["asset_label"],
                  current=msg["current"]) == \
        f"I'm about to remove the alias name \"Copieur 2e étage\" of {LABEL_C5560}. Shall I do it?"


# --- alias form: saving ----------------------------------------------------------------------------------------
def complete_alias(value: str, **extra: Any) -> Dict[str, Any]:
    return {"assets_alias_asset": "53463252", "assets_alias_asset_label": LABEL_C5030, "assets_alias_current": "",
            "assets_alias_value": value, "assets_alias_confirm": True, "submission_key": "key-alias-1", **extra}


async def test_save_alias(fake, portal, alias_tracker, domain):
    tracker = alias_tracker("oui", intent="affirm", slots=complete_alias("Imprimante compta"), active_loop=None)
    dispatcher, events = await run(ActionAssetsSubmitAlias(), tracker, domain)
    (patch,) = writes(portal)
    assert (patch["method"], patch["path"], patch["json"]) == ("PATCH", "/assets/53463252/alias",
                                                              {"alias": "Imprimante compta"})
    saved = message(dispatcher, "utter_assets_alias_saved")
    assert saved["asset_label"] == "Imprimante compta — Canon iR-ADV C5030i (53463252 / GNM75498)"
    slots = slot_values(events)
    assert all(slots[name] is None for name in ALIAS_SLOTS)
    assert slots["submission_key"] is None and slots["pending_submit"] is False
    assert next(a for a in portal.assets if a["asset_number"] == "53463252")["alias"] == "Imprimante compta"


async def test_remove_alias_in_english(fake, portal, alias_tracker, domain):
    slots = complete_alias("-", assets_alias_asset="77996101", assets_alias_current="Copieur 2e étage",
                           language="en")
    dispatcher, _ = await run(ActionAssetsSubmitAlias(), alias_tracker("yes", intent="affirm", slots=slots,
                                                                       active_loop=None), domain)
    assert writes(portal)[0]["json"] == {"alias": None}
    assert writes(portal)[0]["headers"]["accept-language"] == "en"
    removed = message(dispatcher, "utter_assets_alias_removed")
    assert render(domain, "utter_assets_alias_removed", "en", asset_label=removed["asset_label"]) == \
        "Done: the alias name was removed. The device is now Canon iR-ADV C5560i (77996101 / WHJ01481)."


async def test_alias_declined_writes_nothing(fake, portal, alias_tracker, domain):
    slots = complete_alias("Imprimante compta", assets_alias_confirm=False)
    dispatcher, events = await run(ActionAssetsSubmitAlias(), alias_tracker("non", intent="deny", slots=slots,
                                                                            active_loop=None), domain)
    assert writes(portal) == [] and responses(dispatcher) == ["utter_assets_alias_not_saved"]
    assert slot_values(events)["assets_alias_value"] is None


async def test_alias_saved_on_retry_after_the_portal_was_down(fake, portal, alias_tracker, domain):
    portal.fail("down")
    tracker = alias_tracker("oui", intent="affirm", slots=complete_alias("Imprimante compta"), active_loop=None)
    dispatcher, events = await run(ActionAssetsSubmitAlias(), tracker, domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    kept = slot_values(events)
    assert kept == {"submission_key": "key-alias-1", "pending_submit": True,
                    "pending_action": "action_assets_submit_alias"}
    portal.recover()
    retry = alias_tracker("oui", intent="affirm", active_loop=None,
                          slots={**complete_alias("Imprimante compta"), **kept})
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert responses(dispatcher) == ["utter_assets_alias_saved"]
    assert slot_values(events)["pending_submit"] is False
    assert [w["json"] for w in writes(portal)] == [{"alias": "Imprimante compta"}] * 2  # the failed try, the retry


async def test_alias_refused_by_the_portal(fake, portal, alias_tracker, domain):
    """A device of the account the user cannot see already has that name: only the backend knows."""
    fake.hidden_assets.append({"asset_number": "99887766", "serial": "QQQ11111", "alias": "Imprimante compta"})
    tracker = alias_tracker("yes", intent="affirm", slots=complete_alias("Imprimante compta", language="en"),
                            active_loop=None)
    dispatcher, events = await run(ActionAssetsSubmitAlias(), tracker, domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == \
        "The alias name 'Imprimante compta' is already used by another device of the account."
    assert slot_values(events)["pending_submit"] is False and slot_values(events)["assets_alias_value"] is None


async def test_cancel_forgets_the_alias_answers(fake, alias_tracker, domain):
    history = [{"event": "active_loop", "name": ALIAS_FORM}, {"event": "active_loop", "name": None}]
    tracker = alias_tracker("annuler", intent="cancel", history=history, active_loop=None,
                            slots=complete_alias("Accueil", assets_alias_confirm=None))
    dispatcher, events = await run(ActionCancelForm(), tracker, domain)
    assert responses(dispatcher) == ["utter_cancelled"]
    assert all(slot_values(events)[name] is None for name in ALIAS_SLOTS)


# --- contacts: who may ------------------------------------------------------------------------------------------
async def test_a_user_is_refused_politely_naming_the_administrators(fake, portal, make_tracker, domain):
    tracker = make_tracker("add a contact to my printer", intent="manage_asset_contacts", slots={"language": "en"},
                           active_loop=None)
    dispatcher, events = await run(ActionCheckRole(), tracker, domain)
    assert slot_values(events) == {"role_allowed": False}
    refusal = message(dispatcher, "utter_admin_only")
    assert refusal["what"] == "manage the contacts of a device"
    assert refusal["administrators"] == "SNTest DemoPortal (sntestportaldemo@outlook.com)"
    assert writes(portal) == []


async def test_a_user_is_refused_in_french(fake, make_tracker, domain):
    tracker = make_tracker("ajouter un contact", intent="manage_asset_contacts", active_loop=None,
                           portal_user=dict(USER_PROFILE, language="fr"))
    dispatcher, _ = await run(ActionCheckRole(), tracker, domain)
    refusal = message(dispatcher, "utter_admin_only")
    assert render(domain, "utter_admin_only", "fr", what=refusal["what"], administrators="X").startswith(
        "Désolé, seul un administrateur de votre compte peut gérer les contacts d'un appareil.")


async def test_an_admin_may(fake, admin_tracker, domain):
    tracker = admin_tracker("ajouter un contact", intent="manage_asset_contacts", active_loop=None)
    dispatcher, events = await run(ActionCheckRole(), tracker, domain)
    assert slot_values(events) == {"role_allowed": True} and dispatcher.messages == []


async def test_the_portal_still_refuses_a_user_who_gets_that_far(fake, portal, make_tracker, domain):
    slots = {"assets_contact_asset": "53463252", "assets_contact_asset_label": LABEL_C5030,
             "assets_contact_action": "add", "assets_contact_person": "user:1", "assets_contact_confirm": True,
             "assets_contact_person_label": "x", "language": "en"}
    dispatcher, events = await run(ActionAssetsSubmitContact(), make_tracker("yes", intent="affirm", slots=slots,
                                                                             active_loop=None), domain)
    assert message(dispatcher, "utter_portal_refused")["reason"] == \
        "Your role does not allow this action. Please contact your administrator."
    assert slot_values(events)["assets_contact_person"] is None


# --- contacts form: opening ------------------------------------------------------------------------------------
async def test_contacts_opening_with_device_and_add(fake, admin_tracker, domain):
    tracker = admin_tracker("ajouter un contact sur la WHJ01481", intent="manage_asset_contacts",
                            entities=[("asset_ref", "WHJ01481")])
    dispatcher, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["assets_contact_asset"], slots["assets_contact_action"]) == ("77996101", "add")
    assert slots["assets_contact_asset_label"] == LABEL_C5560
    assert slots["requested_slot"] == "assets_contact_person"
    assert responses(dispatcher) == ["utter_asset_selected"]


async def test_contacts_opening_naming_the_person_by_email(fake, admin_tracker, domain):
    tracker = admin_tracker("ajoute sntestdemoportaldm@yopmail.com sur la WHJ01481", intent="manage_asset_contacts",
                            entities=[("email", "sntestdemoportaldm@yopmail.com"), ("asset_ref", "WHJ01481")])
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_contact_person"] == "user:2"
    assert slots["assets_contact_person_label"] == \
        "SNTestDM DemoPortal (sntestdemoportaldm@yopmail.com) — utilisateur du portail"
    assert slots["requested_slot"] == "assets_contact_confirm"


async def test_contacts_opening_removing_a_named_contact(fake, admin_tracker, domain):
    tracker = admin_tracker("retire Jane Facilities des contacts de la WHJ01481", intent="manage_asset_contacts",
                            entities=[("person", "Jane Facilities"), ("asset_ref", "WHJ01481")])
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["assets_contact_action"], slots["assets_contact_link"]) == ("remove", "3")
    assert slots["assets_contact_person_label"] == "Jane Facilities (jane.facilities@example.com) — contact non inscrit"
    assert slots["requested_slot"] == "assets_contact_confirm"


async def test_contacts_opening_remove_on_a_device_without_contacts(fake, admin_tracker, domain):
    tracker = admin_tracker("retirer un contact de la 80145861", intent="manage_asset_contacts",
                            entities=[("asset_ref", "80145861")])
    dispatcher, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_contact_action"] is None and slots["requested_slot"] == "assets_contact_action"
    assert "utter_assets_contact_none_to_remove" in responses(dispatcher)


async def test_contacts_opening_without_anything_asks_the_device(fake, admin_tracker, domain):
    tracker = admin_tracker("gérer les contacts d'un appareil", intent="manage_asset_contacts")
    dispatcher, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    assert slot_values(events)["requested_slot"] == "assets_contact_asset"
    assert dispatcher.messages == []


@pytest.mark.parametrize("slots, expected", [
    ({}, ["assets_contact_asset", "assets_contact_action", "assets_contact_person", "assets_contact_link",
          "assets_contact_confirm"]),
    ({"assets_contact_action": "add"}, ["assets_contact_asset", "assets_contact_action", "assets_contact_person",
                                        "assets_contact_confirm"]),
    ({"assets_contact_action": "add", "assets_contact_person": "new"},
     ["assets_contact_asset", "assets_contact_action", "assets_contact_person", "assets_contact_name",
      "assets_contact_email", "assets_contact_confirm"]),
    ({"assets_contact_action": "remove"}, ["assets_contact_asset", "assets_contact_action", "assets_contact_link",
                                           "assets_contact_confirm"]),
])
async def test_contacts_form_asks_only_the_chosen_path(admin_tracker, domain, slots, expected):
    required = await ValidateAssetsContactsForm().required_slots(
        domain["forms"][CONTACTS_FORM]["required_slots"], CollectingDispatcher(), admin_tracker(slots=slots), domain)
    assert required == expected


# --- contacts form: add or remove ------------------------------------------------------------------------------
def at(admin_tracker, requested: str, text: str, intent: str = "inform", asset: str = "77996101", **kwargs: Any):
    slots = {"assets_contact_asset": asset,
             "assets_contact_asset_label": LABEL_C5560 if asset == "77996101" else LABEL_C5030,
             **kwargs.pop("slots", {})}
    return admin_tracker(text, intent=intent, requested_slot=requested, slots=slots, **kwargs)


@pytest.mark.parametrize("text, entities, expected", [
    ("ajouter", [], "add"), ("en retirer un", [], "remove"), ("remove one", [], "remove"),
    ("/inform{\"assets_contact_action\":\"add\"}", [("assets_contact_action", "add")], "add"),
])
async def test_add_or_remove_answers(fake, admin_tracker, domain, text, entities, expected):
    tracker = at(admin_tracker, "assets_contact_action", text, entities=entities)
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_contact_action"] == expected
    assert slots["requested_slot"] == ("assets_contact_person" if expected == "add" else "assets_contact_link")


async def test_add_or_remove_unclear(fake, admin_tracker, domain):
    dispatcher, events = await run(ValidateAssetsContactsForm(), at(admin_tracker, "assets_contact_action", "bof"),
                                   domain)
    assert slot_values(events)["assets_contact_action"] is None
    assert responses(dispatcher) == ["utter_assets_contact_add_or_remove"]


async def test_remove_chosen_on_a_device_without_contacts(fake, admin_tracker, domain):
    tracker = at(admin_tracker, "assets_contact_action", "retirer", asset="80145861")
    dispatcher, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    assert slot_values(events)["assets_contact_action"] is None
    assert responses(dispatcher) == ["utter_assets_contact_none_to_remove"]


async def test_help_is_not_an_answer_to_add_or_remove(fake, admin_tracker, domain):
    dispatcher, events = await run(ValidateAssetsContactsForm(), at(admin_tracker, "assets_contact_action", "aide",
                                                                    intent="help"), domain)
    assert "assets_contact_action" not in slot_values(events) and dispatcher.messages == []


# --- contacts form: who is added --------------------------------------------------------------------------------
def at_person(admin_tracker, text: str, asset: str = "53463252", **kwargs: Any):
    return at(admin_tracker, "assets_contact_person", text, asset=asset,
              slots={"assets_contact_action": "add", **kwargs.pop("slots", {})}, **kwargs)


@pytest.mark.parametrize("text, entities, asset, expected, label", [
    ("/inform{\"assets_contact_person\":\"user:1\"}", [("assets_contact_person", "user:1")], "53463252", "user:1",
     "SNTest DemoPortal (sntestportaldemo@outlook.com) — utilisateur du portail"),
    ("jane", [], "53463252", "contact:1", "Jane Facilities (jane.facilities@example.com) — contact non inscrit"),
    ("c'est SNTestDM DemoPortal", [("person", "SNTestDM DemoPortal")], "77996101", "user:2",
     "SNTestDM DemoPortal (sntestdemoportaldm@yopmail.com) — utilisateur du portail"),
    ("sntestportaldemo@outlook.com", [("email", "sntestportaldemo@outlook.com")], "77996101", "user:1",
     "SNTest DemoPortal (sntestportaldemo@outlook.com) — utilisateur du portail"),
])
async def test_person_answers(fake, admin_tracker, domain, text, entities, asset, expected, label):
    tracker = at_person(admin_tracker, text, asset=asset, entities=entities)
    dispatcher, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["assets_contact_person"], slots["assets_contact_person_label"]) == (expected, label)
    assert slots["requested_slot"] == "assets_contact_confirm"
    assert dispatcher.messages == []


@pytest.mark.parametrize("text", ["nouveau contact", "a new contact", "someone else"])
async def test_person_new_contact(fake, admin_tracker, domain, text):
    _, events = await run(ValidateAssetsContactsForm(), at_person(admin_tracker, text), domain)
    slots = slot_values(events)
    assert slots["assets_contact_person"] == "new" and slots["requested_slot"] == "assets_contact_name"


@pytest.mark.parametrize("text, entities, asset, response", [
    ("Bob Nobody", [], "53463252", "utter_assets_contact_person_unknown"),
    ("Alan", [], "53463252", "utter_assets_contact_person_unknown"),         # deactivated: cannot be added
    ("SNTest", [], "77996101", "utter_assets_contact_person_ambiguous"),     # two users start with it
    ("jane", [], "77996101", "utter_assets_contact_already"),                # already a contact there
    ("/inform{\"assets_contact_person\":\"user:3\"}", [("assets_contact_person", "user:3")], "53463252",
     "utter_choose_an_option"),                                             # a deactivated user's button
    ("/inform{\"assets_contact_person\":\"user:2\"}", [("assets_contact_person", "user:2")], "53463252",
     "utter_assets_contact_already"),
])
async def test_person_bad_answers(fake, portal, admin_tracker, domain, text, entities, asset, response):
    dispatcher, events = await run(ValidateAssetsContactsForm(), at_person(admin_tracker, text, asset=asset,
                                                                           entities=entities), domain)
    slots = slot_values(events)
    assert slots["assets_contact_person"] is None and slots["requested_slot"] == "assets_contact_person"
    assert responses(dispatcher) == [response]
    assert writes(portal) == []


async def test_person_portal_down(fake, portal, admin_tracker, domain):
    portal.fail("down", "GET", "/users")
    dispatcher, events = await run(ValidateAssetsContactsForm(), at_person(admin_tracker, "jane"), domain)
    assert slot_values(events)["assets_contact_person"] is None
    assert responses(dispatcher) == ["utter_backend_unavailable"]


# --- contacts form: a new contact --------------------------------------------------------------------------------
def at_new(admin_tracker, requested: str, text: str, **kwargs: Any):
    return at(admin_tracker, requested, text, asset="53463252",
              slots={"assets_contact_action": "add", "assets_contact_person": "new", **kwargs.pop("slots", {})},
              **kwargs)


async def test_new_contact_name(fake, admin_tracker, domain):
    _, events = await run(ValidateAssetsContactsForm(), at_new(admin_tracker, "assets_contact_name", "Marie Dupont",
                                                              entities=[("person", "Marie Dupont")]), domain)
    slots = slot_values(events)
    assert slots["assets_contact_name"] == "Marie Dupont" and slots["requested_slot"] == "assets_contact_email"


async def test_new_contact_name_and_email_at_once(fake, admin_tracker, domain):
    tracker = at_new(admin_tracker, "assets_contact_name", "Marie Dupont, marie.dupont@example.com",
                     entities=[("email", "marie.dupont@example.com")])
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["assets_contact_name"], slots["assets_contact_email"]) == ("Marie Dupont", "marie.dupont@example.com")
    assert slots["requested_slot"] == "assets_contact_confirm"


@pytest.mark.parametrize("text", ["x", "12", "a" * 201])
async def test_new_contact_bad_names(fake, admin_tracker, domain, text):
    dispatcher, events = await run(ValidateAssetsContactsForm(), at_new(admin_tracker, "assets_contact_name", text),
                                   domain)
    assert slot_values(events)["assets_contact_name"] is None
    assert responses(dispatcher) == ["utter_assets_contact_name_invalid"]


@pytest.mark.parametrize("text, intent, entities, expected", [
    ("marie.dupont@example.com", "inform", [("email", "marie.dupont@example.com")], "marie.dupont@example.com"),
    ("non", "deny", [], "-"),
    ("pas d'adresse e-mail", "inform", [], "-"),
    ("/deny", "deny", [], "-"),
])
async def test_new_contact_email_answers(fake, admin_tracker, domain, text, intent, entities, expected):
    tracker = at_new(admin_tracker, "assets_contact_email", text, intent=intent, entities=entities,
                     slots={"assets_contact_name": "Marie Dupont"})
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_contact_email"] == expected and slots["requested_slot"] == "assets_contact_confirm"


async def test_new_contact_bad_email(fake, admin_tracker, domain):
    tracker = at_new(admin_tracker, "assets_contact_email", "marie at example", slots={"assets_contact_name": "M D"})
    dispatcher, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    assert slot_values(events)["assets_contact_email"] is None
    assert responses(dispatcher) == ["utter_assets_contact_email_invalid"]


# --- contacts form: who is removed ------------------------------------------------------------------------------
def at_link(admin_tracker, text: str, **kwargs: Any):
    return at(admin_tracker, "assets_contact_link", text, slots={"assets_contact_action": "remove"}, **kwargs)


@pytest.mark.parametrize("text, entities", [
    ("/inform{\"assets_contact_link\":\"3\"}", [("assets_contact_link", "3")]),
    ("jane", []),
    ("Jane Facilities", [("person", "Jane Facilities")]),
])
async def test_link_answers(fake, admin_tracker, domain, text, entities):
    _, events = await run(ValidateAssetsContactsForm(), at_link(admin_tracker, text, entities=entities), domain)
    slots = slot_values(events)
    assert slots["assets_contact_link"] == "3"
    assert slots["assets_contact_person_label"] == "Jane Facilities (jane.facilities@example.com) — contact non inscrit"
    assert slots["requested_slot"] == "assets_contact_confirm"


@pytest.mark.parametrize("text, entities, response", [
    ("Bob", [], "utter_assets_contact_link_unknown"),
    ("/inform{\"assets_contact_link\":\"99\"}", [("assets_contact_link", "99")], "utter_choose_an_option"),
])
async def test_link_bad_answers(fake, admin_tracker, domain, text, entities, response):
    dispatcher, events = await run(ValidateAssetsContactsForm(), at_link(admin_tracker, text, entities=entities),
                                   domain)
    assert slot_values(events)["assets_contact_link"] is None
    assert responses(dispatcher) == [response]


# --- contacts form: the questions -----------------------------------------------------------------------------
async def test_ask_contacts_device(fake, admin_tracker, domain):
    dispatcher, events = await run(ActionAskAssetsContactAsset(), admin_tracker(), domain)
    assert events == [] and len(message(dispatcher, "utter_ask_assets_contact_asset")["buttons"]) == 3


@pytest.mark.parametrize("asset, lang, shown", [
    ("77996101", "fr", "Alan Inactive_Stane (alan.stane@canon-uk-demo.example), "
                       "Jane Facilities (jane.facilities@example.com)"),
    ("80145861", "fr", "aucun"),
    ("80145861", "en", "none"),
])
async def test_ask_add_or_remove_shows_the_current_contacts(fake, admin_tracker, domain, asset, lang, shown):
    tracker = admin_tracker(slots={"assets_contact_asset": asset, "assets_contact_asset_label": "L", "language": lang})
    dispatcher, _ = await run(ActionAskAssetsContactAction(), tracker, domain)
    msg = message(dispatcher, "utter_ask_assets_contact_action")
    assert (msg["asset_label"], msg["contacts"]) == ("L", shown)


async def test_ask_person_buttons(fake, admin_tracker, domain):
    tracker = admin_tracker(slots={"assets_contact_asset": "53463252", "assets_contact_asset_label": LABEL_C5030})
    dispatcher, _ = await run(ActionAskAssetsContactPerson(), tracker, domain)
    buttons = message(dispatcher, "utter_ask_assets_contact_person")["buttons"]
    # the user already linked, the deactivated and the pending users are not offered
    assert buttons == [
        {"title": "SNTest DemoPortal (sntestportaldemo@outlook.com) — utilisateur du portail",
         "payload": '/inform{"assets_contact_person":"user:1"}'},
        {"title": "Jane Facilities (jane.facilities@example.com) — contact non inscrit",
         "payload": '/inform{"assets_contact_person":"contact:1"}'},
        {"title": "Nouveau contact", "payload": '/inform{"assets_contact_person":"new"}'},
    ]


async def test_ask_person_buttons_in_english_and_capped(fake, admin_tracker, domain):
    fake.users += [{"id": 100 + n, "email": f"u{n}@x.com", "full_name": f"User {n}", "phone": "", "role": "user",
                    "status": "active"} for n in range(15)]
    tracker = admin_tracker(slots={"assets_contact_asset": "53463252", "language": "en"})
    dispatcher, _ = await run(ActionAskAssetsContactPerson(), tracker, domain)
    buttons = message(dispatcher, "utter_ask_assets_contact_person")["buttons"]
    assert len(buttons) == 10 and buttons[-1]["title"] == "New contact"
    assert buttons[0]["title"].endswith("— portal user")


async def test_ask_link_buttons(fake, admin_tracker, domain):
    tracker = admin_tracker(slots={"assets_contact_asset": "77996101", "assets_contact_asset_label": LABEL_C5560,
                                   "assets_contact_action": "remove"})
    dispatcher, _ = await run(ActionAskAssetsContactLink(), tracker, domain)
    assert [b["payload"] for b in message(dispatcher, "utter_ask_assets_contact_link")["buttons"]] == \
        ['/inform{"assets_contact_link":"2"}', '/inform{"assets_contact_link":"3"}']


async def test_ask_confirm_new_contact_summary(fake, admin_tracker, domain):
    tracker = admin_tracker(slots={"assets_contact_asset": "53463252", "assets_contact_asset_label": LABEL_C5030,
                                   "assets_contact_action": "add", "assets_contact_person": "new",
                                   "assets_contact_name": "Marie Dupont", "assets_contact_email": "-"})
    dispatcher, _ = await run(ActionAskAssetsContactConfirm(), tracker, domain)
    msg = message(dispatcher, "utter_ask_assets_contact_confirm_add")
    assert render(domain, "utter_ask_assets_contact_confirm_add", "fr", person=msg["person"],
                  asset_label=msg["asset_label"]) == \
        f"Je vais ajouter Marie Dupont — nouveau contact non inscrit comme contact de {LABEL_C5030}. Je l'ajoute ?"


async def test_ask_confirm_remove_summary_in_english(fake, admin_tracker, domain):
    label = "Jane Facilities (jane.facilities@example.com) — non-registered contact"
    tracker = admin_tracker(slots={"assets_contact_asset": "77996101", "assets_contact_asset_label": LABEL_C5560,
                                   "assets_contact_action": "remove", "assets_contact_link": "3",
                                   "assets_contact_person_label": label, "language": "en"})
    dispatcher, _ = await run(ActionAskAssetsContactConfirm(), tracker, domain)
    msg = message(dispatcher, "utter_ask_assets_contact_confirm_remove")
    assert render(domain, "utter_ask_assets_contact_confirm_remove", "en", person=msg["person"],
                  asset_label=msg["asset_label"]) == \
        f"I'm about to remove {label} from the contacts of {LABEL_C5560}. Shall I do it?"


# --- contacts form: saving --------------------------------------------------------------------------------------
def complete_add(person: str, **extra: Any) -> Dict[str, Any]:
    return {"assets_contact_asset": "53463252", "assets_contact_asset_label": LABEL_C5030,
            "assets_contact_action": "add", "assets_contact_person": person, "assets_contact_confirm": True,
            "assets_contact_person_label": "Jane Facilities (jane.facilities@example.com) — contact non inscrit",
            "submission_key": "key-contact-1", **extra}


@pytest.mark.parametrize("slots, body", [
    (complete_add("contact:1"), {"contact_id": 1}),
    (complete_add("user:1"), {"user_id": 1}),
    (complete_add("new", assets_contact_name="Marie Dupont", assets_contact_email="marie.dupont@example.com"),
     {"contact": {"full_name": "Marie Dupont", "email": "marie.dupont@example.com"}}),
    (complete_add("new", assets_contact_name="Marie Dupont", assets_contact_email="-"),
     {"contact": {"full_name": "Marie Dupont"}}),
])
async def test_add_contact_sends_exactly_one_kind_with_the_key(fake, portal, admin_tracker, domain, slots, body):
    dispatcher, events = await run(ActionAssetsSubmitContact(), admin_tracker("oui", intent="affirm", slots=slots,
                                                                             active_loop=None), domain)
    (post,) = writes(portal)
    assert (post["path"], post["json"]) == ("/assets/53463252/contacts", body)
    assert post["headers"]["idempotency-key"] == "key-contact-1"
    assert responses(dispatcher) == ["utter_assets_contact_added", "utter_assets_contact_list_now"]
    assert message(dispatcher, "utter_assets_contact_added")["asset_label"] == LABEL_C5030
    added = fake.contact_out(fake.links[-1])
    assert added["full_name"] in message(dispatcher, "utter_assets_contact_list_now")["contacts"]
    reset = slot_values(events)
    assert all(reset[name] is None for name in CONTACT_SLOTS) and reset["submission_key"] is None


async def test_add_new_contact_message_names_it(fake, admin_tracker, domain):
    slots = complete_add("new", assets_contact_name="Marie Dupont", assets_contact_email="marie.dupont@example.com",
                         language="en")
    dispatcher, _ = await run(ActionAssetsSubmitContact(), admin_tracker("yes", intent="affirm", slots=slots,
                                                                        active_loop=None), domain)
    added = message(dispatcher, "utter_assets_contact_added")
    assert render(domain, "utter_assets_contact_added", "en", person=added["person"],
                  asset_label=added["asset_label"]) == \
        f"Done: Marie Dupont (marie.dupont@example.com) — new non-registered contact is now a contact of {LABEL_C5030}."


async def test_add_contact_retried_with_the_same_key_adds_once(fake, portal, admin_tracker, domain):
    tracker = admin_tracker("oui", intent="affirm", slots=complete_add("contact:1"), active_loop=None)
    await run(ActionAssetsSubmitContact(), tracker, domain)
    dispatcher, _ = await run(ActionAssetsSubmitContact(), tracker, domain)  # e.g. the first answer was lost
    assert [w["headers"]["idempotency-key"] for w in writes(portal)] == ["key-contact-1"] * 2
    assert len(fake.links_of("53463252")) == 2  # the seed's link and one new one
    assert "utter_assets_contact_added" in responses(dispatcher)


async def test_add_contact_portal_down_then_retry(fake, portal, admin_tracker, domain):
    portal.fail("down", "POST", "/assets/53463252/contacts")
    tracker = admin_tracker("oui", intent="affirm", slots=complete_add("contact:1"), active_loop=None)
    dispatcher, events = await run(ActionAssetsSubmitContact(), tracker, domain)
    assert responses(dispatcher) == ["utter_submit_failed"]
    kept = slot_values(events)
    assert kept["pending_action"] == "action_assets_submit_contact" and kept["submission_key"] == "key-contact-1"
    portal.recover()
    retry = admin_tracker("oui", intent="affirm", slots={**complete_add("contact:1"), **kept}, active_loop=None)
    dispatcher, events = await run(ActionRetrySubmit(), retry, domain)
    assert "utter_assets_contact_added" in responses(dispatcher)
    assert slot_values(events)["pending_submit"] is False
    assert len(fake.links_of("53463252")) == 2


async def test_a_failed_list_after_the_change_is_not_a_failure(fake, portal, admin_tracker, domain):
    portal.fail("down", "GET", "/assets/53463252/contacts")
    tracker = admin_tracker("oui", intent="affirm", slots=complete_add("contact:1"), active_loop=None)
    dispatcher, events = await run(ActionAssetsSubmitContact(), tracker, domain)
    assert responses(dispatcher) == ["utter_assets_contact_added"]
    assert slot_values(events)["pending_submit"] is False


def complete_remove(**extra: Any) -> Dict[str, Any]:
    return {"assets_contact_asset": "77996101", "assets_contact_asset_label": LABEL_C5560,
            "assets_contact_action": "remove", "assets_contact_link": "3", "assets_contact_confirm": True,
            "assets_contact_person_label": "Jane Facilities (jane.facilities@example.com) — contact non inscrit",
            **extra}


async def test_remove_contact(fake, portal, admin_tracker, domain):
    dispatcher, events = await run(ActionAssetsSubmitContact(), admin_tracker("oui", intent="affirm",
                                                                             slots=complete_remove(),
                                                                             active_loop=None), domain)
    (delete,) = writes(portal)
    assert (delete["method"], delete["path"]) == ("DELETE", "/assets/77996101/contacts/3")
    assert responses(dispatcher) == ["utter_assets_contact_removed", "utter_assets_contact_list_now"]
    assert message(dispatcher, "utter_assets_contact_list_now")["contacts"] == \
        "Alan Inactive_Stane (alan.stane@canon-uk-demo.example)"
    assert slot_values(events)["assets_contact_link"] is None


async def test_remove_retried_after_it_went_through_is_a_success(fake, portal, admin_tracker, domain):
    fake.links = [link for link in fake.links if link["id"] != 3]  # the first DELETE went through, its answer lost
    dispatcher, events = await run(ActionAssetsSubmitContact(), admin_tracker("oui", intent="affirm",
                                                                             slots=complete_remove(),
                                                                             active_loop=None), domain)
    assert responses(dispatcher) == ["utter_assets_contact_removed", "utter_assets_contact_list_now"]
    assert slot_values(events)["pending_submit"] is False


async def test_remove_refused_while_the_contact_is_still_there(fake, portal, admin_tracker, domain):
    portal.fail((404, {"code": "not_found", "message": "Appareil « 77996101 » introuvable."}),
                "DELETE", "/assets/77996101/contacts/3")
    dispatcher, _ = await run(ActionAssetsSubmitContact(), admin_tracker("oui", intent="affirm",
                                                                        slots=complete_remove(),
                                                                        active_loop=None), domain)
    assert responses(dispatcher) == ["utter_portal_refused"]


async def test_contact_change_declined_writes_nothing(fake, portal, admin_tracker, domain):
    dispatcher, events = await run(ActionAssetsSubmitContact(), admin_tracker(
        "non", intent="deny", slots=complete_remove(assets_contact_confirm=False), active_loop=None), domain)
    assert writes(portal) == [] and responses(dispatcher) == ["utter_assets_contact_not_changed"]
    assert slot_values(events)["assets_contact_action"] is None


async def test_contacts_confirmation_yes(fake, admin_tracker, domain):
    tracker = at(admin_tracker, "assets_contact_confirm", "oui", intent="affirm",
                 slots={k: v for k, v in complete_remove().items() if k != "assets_contact_confirm"})
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_contact_confirm"] is True and slots["requested_slot"] is None  # the form is complete


# --- the rules files agree with the actions -----------------------------------------------------------------------
async def test_rules_guard_the_contacts_form_and_cancel_every_form():
    rules = yaml.safe_load((ROOT / "data" / "rules" / "assets.yml").read_text(encoding="utf-8"))["rules"]
    def step(s: Dict[str, Any]) -> Any:
        if "slot_was_set" in s:
            return next(iter(s["slot_was_set"][0].items()))
        return s.get("intent") or s.get("action") or ("active_loop", s.get("active_loop"))

    starts = {tuple(step(s) for s in r["steps"][:3]) for r in rules if not r.get("condition")}
    assert ("manage_asset_contacts", "action_check_role", ("role_allowed", True)) in starts
    assert ("manage_asset_contacts", "action_check_role", ("role_allowed", False)) in starts
    for form in (ALIAS_FORM, CONTACTS_FORM):
        cancel = [r for r in rules if r.get("condition") == [{"active_loop": form}]
                  and r["steps"][0].get("intent") == "cancel"]
        assert cancel and cancel[0]["steps"][-1] == {"action": "action_cancel_form"}


# --- the opening turn after a "yes" to a switch offered inside another form (actions/switching.py) ------------------
@pytest.mark.parametrize("started", STARTS)
async def test_alias_device_and_name_of_the_request_are_taken_however_the_form_started(fake, portal, make_tracker,
                                                                                      domain, started):
    tracker = await opening_tracker(make_tracker, domain, started, "renomme la WHJ01481 en « Copieur compta »",
                                    "set_asset_alias", ALIAS_FORM, entities=[("asset_ref", "WHJ01481")],
                                    token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    dispatcher, events = await run(ValidateAssetsAliasForm(), tracker, domain)
    slots = slot_values(events)
    assert (slots["assets_alias_asset"], slots["assets_alias_value"]) == ("77996101", "Copieur compta")
    assert responses(dispatcher) == ["utter_asset_selected"]
    assert_switch_request_forgotten(events, started)


@pytest.mark.parametrize("started", STARTS)
@pytest.mark.parametrize("text, entities_, expected", [
    ("ajoute sntestdemoportaldm@yopmail.com sur la WHJ01481",
     [("email", "sntestdemoportaldm@yopmail.com"), ("asset_ref", "WHJ01481")],
     {"assets_contact_action": "add", "assets_contact_person": "user:2"}),
    ("retire Jane Facilities des contacts de la WHJ01481", [("person", "Jane Facilities"), ("asset_ref", "WHJ01481")],
     {"assets_contact_action": "remove", "assets_contact_link": "3"}),
])
async def test_contact_change_of_the_request_is_taken_however_the_form_started(fake, make_tracker, domain, started,
                                                                              text, entities_, expected):
    tracker = await opening_tracker(make_tracker, domain, started, text, "manage_asset_contacts", CONTACTS_FORM,
                                    entities=entities_, token=ADMIN_TOKEN, portal_user=ADMIN_PROFILE)
    _, events = await run(ValidateAssetsContactsForm(), tracker, domain)
    slots = slot_values(events)
    assert slots["assets_contact_asset"] == "77996101"
    assert {name: slots.get(name) for name in expected} == expected
    assert slots["requested_slot"] == "assets_contact_confirm"  # nothing asked again
    assert_switch_request_forgotten(events, started)
