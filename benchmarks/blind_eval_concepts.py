"""What the blind-conversation runner (benchmarks/blind_eval.py) knows about the assistant's questions, written
from the domain (domain/*.yml slot and response names) and the action server's buttons — never from the blind
batch's phrasings.

- `SLOT_CONCEPTS`: each slot a form can ask (`requested_slot`) -> the fact concept of the batch schema that
  answers it (facts.device, facts.description, facts.meters, ...), and what a person answers when the facts
  say nothing (e.g. "no phone number", "deliver to the account address");
- `OUTCOME_FORMS` / `OUTCOME_INTENTS`: which forms and intents lead to each expected outcome (a form outside
  them is "off the path" of the conversation's goal);
- text helpers: accent/case folding, ordinal and synonym folding, fuzzy word overlap, used to match a fact to
  a button title, a meter name or a created object's labels.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

# --- fact concepts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    name: str
    # keys looked up, in order, in the conversation's facts and facts.other (names normalised)
    facts: Tuple[str, ...]
    # what a person answers when the facts are silent: None (no default: a fact is needed), or
    # "deny" / "affirm" (click or type no / yes), or "button:<payload prefix>" (click the button whose payload
    # starts with it)
    default: Optional[str] = None
    kind: str = "text"  # text | yesno | confirm | meter | kb_feedback | device | number
    # facts.other keys are the batch writer's own words ("numéro de série", "how many people"): a key answers
    # this concept when it contains all the words of one of these (folded, synonyms applied)
    other_keys: Tuple[str, ...] = ()


DEVICE_KEYS = ("serie", "serial", "appareil", "device", "machine", "asset", "actif")
C = Concept
SLOT_CONCEPTS: Dict[str, Concept] = {
    # fault report (domain/core.yml)
    "fault_asset": C("device", ("device",), kind="device", other_keys=DEVICE_KEYS),
    "fault_description": C("description", ("description",), other_keys=("description", "probleme", "problem")),
    "fault_category": C("category", ("category",), other_keys=("category", "categorie", "type")),
    "fault_subcategory": C("category", ("subcategory", "category"),
                           other_keys=("ou", "where", "scenario", "subcategory", "sous categorie")),
    "kb_feedback": C("knowledge_helped", ("knowledge_helped",), default="deny", kind="kb_feedback"),
    "fault_confirm": C("confirm", (), kind="confirm"),
    # meter readings and meter queries (domain/meters.yml)
    "meter_asset": C("device", ("device",), kind="device", other_keys=DEVICE_KEYS),
    "meter_current": C("meters", ("meters",), kind="meter"),
    "meter_confirm": C("confirm", (), kind="confirm"),
    "meter_query_asset": C("device", ("device",), kind="device", other_keys=DEVICE_KEYS),
    "meter_query_code": C("meter", ("meter", "meter_code", "meters"), other_keys=("meter",)),
    "meter_query_description": C("description", ("request_details", "description", "question")),
    "meter_query_confirm": C("confirm", (), kind="confirm"),
    # consumables order, order enquiry, training (domain/orders.yml)
    "order_asset": C("device", ("device",), kind="device", other_keys=DEVICE_KEYS),
    "order_item": C("item", ("item", "consumable"), other_keys=("item", "article", "consumable", "consommable")),
    "order_quantity": C("quantity", ("quantity",), kind="number", other_keys=("quantity", "quantite", "combien")),
    "order_more": C("more_items", ("more_items", "another_item", "more"), default="deny", kind="yesno"),
    "order_delivery": C("delivery", ("delivery", "address", "delivery_address"),
                        default="button:/inform{\"order_delivery\":\"account\"}",
                        other_keys=("adresse", "address", "livraison", "delivery")),
    "order_address": C("address", ("address", "delivery_address"), other_keys=("adresse", "address")),
    "order_contact": C("order_contact", ("contact", "order_contact"),
                       default="button:/inform{\"order_contact\":\"me\"}", other_keys=("contact",)),
    "order_contact_person": C("contact_person", ("contact_person", "contact", "name"), other_keys=("contact",)),
    "order_confirm": C("confirm", (), kind="confirm"),
    "order_enquiry_number": C("order_number", ("order", "order_number"), other_keys=("order",)),
    "order_enquiry_kind": C("order_problem", ("order_problem", "problem", "kind", "request_details", "description"),
                            other_keys=("probleme", "problem")),
    "order_enquiry_description": C("description", ("description", "request_details")),
    "order_enquiry_confirm": C("confirm", (), kind="confirm"),
    "order_training_topic": C("topic", ("topic", "training_topic", "request_details", "description"),
                              other_keys=("training", "topic", "sujet")),
    "order_training_asset": C("device", ("device",), default="deny", kind="device", other_keys=DEVICE_KEYS),
    "order_training_attendees": C("attendees", ("attendees", "participants"), kind="number",
                                  other_keys=("personnes", "people", "participants", "attendees", "combien",
                                              "how many")),
    "order_training_date": C("date", ("date", "preferred_date"), default="deny",
                             other_keys=("date", "disponibilites", "when", "quand", "availability")),
    "order_training_confirm": C("confirm", (), kind="confirm"),
    # requests (domain/requests.yml)
    "request_category": C("category", ("category", "request_type"), other_keys=("type", "category")),
    "request_subcategory": C("category", ("subcategory", "category", "request_type"),
                             other_keys=("service", "combien", "how many", "subcategory")),
    "request_asset": C("device", ("device",), default="deny", kind="device", other_keys=DEVICE_KEYS),
    "request_description": C("request_details", ("request_details", "description")),
    "request_confirm": C("confirm", (), kind="confirm"),
    # cases (domain/cases.yml)
    "case_status_number": C("case", ("case", "case_number"),
                            other_keys=("numero ticket", "ticket number", "case number", "numero dossier")),
    "case_comment_number": C("case", ("case", "case_number"),
                             other_keys=("numero ticket", "ticket number", "case number", "numero dossier")),
    "case_comment_text": C("comment", ("comment",), other_keys=("comment", "commentaire")),
    "case_comment_confirm": C("confirm", (), kind="confirm"),
    # devices (domain/assets.yml)
    "assets_alias_asset": C("device", ("device",), kind="device", other_keys=DEVICE_KEYS),
    "assets_alias_value": C("alias", ("alias", "new_alias"), other_keys=("alias",)),
    "assets_alias_confirm": C("confirm", (), kind="confirm"),
    "assets_contact_asset": C("device", ("device",), kind="device", other_keys=DEVICE_KEYS),
    "assets_contact_action": C("contact_action", ("contact_action",)),
    "assets_contact_person": C("name", ("contact_person", "name", "email"), other_keys=("contact",)),
    "assets_contact_name": C("name", ("name", "contact_name")),
    "assets_contact_email": C("email", ("email",), default="deny", other_keys=("email", "mail")),
    "assets_contact_link": C("name", ("contact_person", "name", "email"), other_keys=("contact",)),
    "assets_contact_confirm": C("confirm", (), kind="confirm"),
    # user administration (domain/admin.yml)
    "admin_user_operation": C("operation", ("operation",)),
    "admin_user_target": C("person", ("email", "name", "person", "user")),
    "admin_user_decision": C("decision", ("decision",)),
    "admin_user_confirm": C("confirm", (), kind="confirm"),
    "admin_invite_email": C("email", ("email",), other_keys=("email", "mail")),
    "admin_invite_name": C("name", ("name", "full_name"), other_keys=("nom", "name")),
    "admin_invite_phone": C("phone", ("phone", "telephone"), default="deny", other_keys=("phone", "telephone")),
    "admin_invite_confirm": C("confirm", (), kind="confirm"),
    # callback (domain/general.yml)
    "handoff_confirm": C("confirm", (), kind="confirm"),
}

# Responses (bot events' `utter_action`) that ask a question outside a form's requested slot.
PROPOSAL_RESPONSES = {"utter_propose_fault"}            # "this is: <type>. Right?" (yes/no)
SWITCH_RESPONSES = {"utter_offer_switch"}                # "drop X for Y?" (yes/no)
HIGH_READING_RESPONSES = {"utter_ask_meter_pending"}     # "much higher than the last reading: confirm?"
RETRY_RESPONSES = {"utter_submit_failed"}                # the portal did not answer: "yes" retries
SUGGESTION_RESPONSES = {"utter_suggest_intents"}         # low confidence: "did you mean" + intent buttons

# --- outcomes ------------------------------------------------------------------------------------------------

CREATING_OUTCOMES = {"case", "meter_reading", "order", "order_enquiry", "training_request", "request", "comment",
                     "user_invited", "user_changed", "profile_changed", "handoff", "asset_changed"}
NON_CREATING_OUTCOMES = {"answer_only", "refused"}
OUTCOMES = CREATING_OUTCOMES | NON_CREATING_OUTCOMES

OUTCOME_FORMS: Dict[str, Tuple[str, ...]] = {
    "case": ("fault_report_form", "meter_query_form"),
    "meter_reading": ("meter_reading_form", "meter_query_form"),  # a question on a reading is its other form
    "order": ("order_consumables_form",),
    "order_enquiry": ("order_enquiry_form",),
    "training_request": ("order_training_form",),
    # the batch's convention: an alias or a device contact set directly counts for a request
    # a callback asked for is the "Callback request" type, written by the handoff
    "request": ("request_form", "meter_query_form", "order_enquiry_form", "assets_alias_form", "assets_contacts_form",
                "handoff_form"),
    "comment": ("case_comment_form",),
    "user_invited": ("admin_invite_form",),
    "user_changed": ("admin_user_form",),
    "profile_changed": (),
    "handoff": ("handoff_form",),
    "asset_changed": ("assets_alias_form", "assets_contacts_form"),
    "answer_only": ("case_status_form",),  # "status of my case?" may ask which case
    "refused": (),
}

OUTCOME_INTENTS: Dict[str, Tuple[str, ...]] = {
    "case": ("report_fault", "query_meter_reading"),
    "meter_reading": ("submit_meter_reading", "query_meter_reading"),
    "order": ("order_consumables",),
    "order_enquiry": ("order_enquiry",),
    "training_request": ("order_training",),
    "request": ("request_change", "contract_question", "invoice_question", "general_enquiry",
                "product_information", "product_move", "query_meter_reading", "set_asset_alias",
                "manage_asset_contacts"),
    "comment": ("add_case_comment",),
    "user_invited": ("invite_user",),
    "user_changed": ("approve_access_request", "upgrade_user", "deactivate_user", "reset_user_password"),
    "profile_changed": ("change_language", "set_notifications"),
    "handoff": ("human_handoff",),
    "asset_changed": ("set_asset_alias", "manage_asset_contacts"),
    "answer_only": (),
    "refused": (),
}

# Yes / no typed when no button offers it.
YES = {"fr": "oui", "en": "yes"}
NO = {"fr": "non", "en": "no"}

# --- text folding and fuzzy matching -------------------------------------------------------------------------

STOPWORDS = set("""
a an the of to in on at for from by with and or is it its this that my our your me i we you be do does please
le la les l un une des du de d au aux en et ou est ce cet cette mon ma mes notre nos votre vos je nous vous il elle
sur dans pour par avec sans plus qui que quoi y a s n ne pas
""".split())

# Words made equal before comparing (both languages map onto one token).
SYNONYMS = {
    "first": "1", "1st": "1", "premier": "1", "premiere": "1", "1er": "1", "1re": "1", "1ere": "1",
    "second": "2", "2nd": "2", "deuxieme": "2", "2e": "2", "2eme": "2", "seconde": "2",
    "third": "3", "3rd": "3", "troisieme": "3", "3e": "3", "3eme": "3",
    "etage": "floor", "etages": "floor", "floors": "floor", "niveau": "floor",
    "accueil": "reception", "reception": "reception",
    "copieur": "copier", "copieurs": "copier", "photocopieur": "copier", "photocopieuse": "copier",
    "imprimante": "printer", "imprimantes": "printer", "printers": "printer",
    "noir": "black", "noire": "black", "noirs": "black", "n&b": "mono", "nb": "mono", "b&w": "mono", "bw": "mono",
    "mono": "mono", "monochrome": "mono",
    "couleur": "colour", "couleurs": "colour", "color": "colour", "colours": "colour", "colors": "colour",
    "grand": "large", "grands": "large", "grande": "large", "a3": "large",
    "petit": "small", "petits": "small", "petite": "small", "a4": "small",
    "cartouche": "toner", "cartouches": "toner", "toners": "toner", "cartridge": "toner", "cartridges": "toner",
    "tambour": "drum", "drums": "drum", "agrafes": "staples", "agrafe": "staples", "staple": "staples",
    "recuperation": "waste", "usage": "waste",
    "bourrage": "jam", "bourrages": "jam", "jams": "jam", "jammed": "jam", "jamming": "jam", "coince": "jam",
    "tiroir": "drawer", "bac": "tray", "plateau": "tray", "trays": "tray", "drawers": "drawer", "cassette": "drawer",
    "bruit": "noise", "noisy": "noise", "odeur": "smell",
    "qualite": "quality", "impression": "print", "imprimer": "print", "printing": "print",
    "numeriser": "scan", "numerisation": "scan", "scanning": "scan", "scanner": "scan",
    "contrat": "contract", "enquiry": "question", "renseignement": "question", "query": "question", "dysfonctionnement": "malfunction",
    "defaillance": "failure", "facture": "invoice", "factures": "invoice", "invoices": "invoice",
    "demenagement": "move", "deplacement": "move", "transfert": "move", "deplacer": "move", "demenager": "move",
    "moving": "move", "relocate": "move", "relocation": "move",
    "logiciel": "software", "pilote": "driver", "drivers": "driver",
    "manquant": "missing", "manquants": "missing", "manquante": "missing", "manque": "missing",
    "incorrect": "wrong", "incorrects": "wrong", "mauvais": "wrong", "errone": "wrong",
    "compteur": "meter", "compteurs": "meter", "meters": "meter", "releve": "reading", "releves": "reading",
    "readings": "reading", "formation": "training", "commande": "order", "commandes": "order", "orders": "order",
    "approuver": "approve", "approve": "approve", "rejeter": "reject", "refuser": "reject",
    "administrateur": "admin", "administrator": "admin", "administrators": "admin", "admins": "admin",
    "desactiver": "deactivate", "mot": "password", "passe": "password", "reinitialiser": "reset",
    "ajouter": "add", "supprimer": "remove", "retirer": "remove", "enlever": "remove", "delete": "remove",
}


def fold(text: Any) -> str:
    """Lower case, no accents, typographic quotes made plain."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return text.lower().replace("’", "'")


def tokens(text: Any, keep_stopwords: bool = False) -> List[str]:
    folded = re.sub(r"\b(?:noir et blanc|black and white|black & white|noir & blanc)\b", "mono",
                    fold(text).replace("'", " "))
    words = re.findall(r"[a-z0-9&]+(?:-[a-z0-9]+)*", folded)
    out = []
    for word in words:
        if re.fullmatch(r"c\d{4}i", word):  # model numbers: "C5030i" is "the C5030"
            word = word[:-1]
        word = SYNONYMS.get(word, word)
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = SYNONYMS.get(word[:-1], word[:-1])
        if keep_stopwords or word not in STOPWORDS:
            out.append(word)
    return out


def overlap(needle: Any, haystack: Any) -> float:
    """Share of the needle's content words found in the haystack (0..1)."""
    wanted = set(tokens(needle))
    if not wanted:
        return 0.0
    return len(wanted & set(tokens(haystack))) / len(wanted)


def _ungroup(text: str) -> str:
    """Digit grouping removed ("2 380", "15,230" -> "2380", "15230")."""
    return re.sub(r"(?<=\d)[\s,.'](?=\d{3}(?!\d))", "", text)


def contains_folded(haystack: str, needle: str) -> bool:
    """`needle` in `haystack`, case, accents and digit grouping ignored."""
    return _ungroup(fold(needle).strip()) in _ungroup(fold(haystack))


IDENTIFIER = re.compile(r"\b(?:[A-Z]{2,4}\d{5,8}|\d{8}|\d{4}[A-Z]\d{3}|[A-Z]{2}\d-\d{4}-\d{3}|CS\d{7}|ORD\d{7})\b",
                        re.IGNORECASE)


def best_match(value: Any, candidates: Sequence[Tuple[str, Any]], threshold: float = 0.5,
               ) -> Tuple[Optional[Any], float, str]:
    """The candidate (label, item) whose label matches `value` best: an identifier of the value (serial, part,
    case or order number) found in the label wins outright; else the word overlap, which must reach
    `threshold` and be the single best. Returns (item or None, score, why)."""
    if not candidates:
        return None, 0.0, "no candidate"
    ids = [m.group(0).lower() for m in IDENTIFIER.finditer(str(value))]
    if ids:
        hits = [item for label, item in candidates if any(i in fold(label) for i in ids)]
        if len(hits) == 1:
            return hits[0], 1.0, "identifier"
    scored = sorted(((overlap(value, label), i) for i, (label, _) in enumerate(candidates)), reverse=True)
    top, index = scored[0]
    if top < threshold:
        return None, top, f"best overlap {top:.2f} < {threshold}"
    if len(scored) > 1 and scored[1][0] == top:
        # a tie: the label that has fewer extra words is the closer one
        tied = [i for s, i in scored if s == top]
        lengths = sorted((len(set(tokens(candidates[i][0]))), i) for i in tied)
        if lengths[0][0] == lengths[1][0]:
            return None, top, f"tie at {top:.2f}"
        index = lengths[0][1]
    return candidates[index][1], top, "words"


METER_CODE = re.compile(r"\b(1[0-9]{2})\b")
METER_WORDS = {  # meter code -> folded words of its French and English names (backend/services/meters.py)
    "112": "112 mono large", "113": "113 mono small", "122": "122 colour large", "123": "123 colour small",
}


def meter_of_key(key: Any) -> Optional[str]:
    """The meter code a fact's meter name designates ("112", "N&B grand", "colour small format", ...): its code,
    else the one meter whose words (mono/colour, large/small) are all in the name."""
    found = METER_CODE.findall(str(key))
    if found:
        return found[0]
    words = set(tokens(key))
    fits = [code for code, name in METER_WORDS.items() if set(name.split()[1:]) <= words]
    return fits[0] if len(fits) == 1 else None


def normalise_key(key: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", fold(key)).strip("_")


def _is_condition(key: str) -> bool:
    """facts.other entries that answer a situation, not a question ("si une demande existe déjà", "if ...",
    "at the summary")."""
    words = fold(key).split()
    return bool(words) and (words[0] in ("si", "if", "at", "au", "quand", "when") and len(words) > 1
                            or "summary" in words or "recapitulatif" in words or "resume" in words)


def candidates(facts: Dict[str, Any], names: Iterable[str], other_keys: Iterable[str] = ()) -> List[Tuple[str, Any]]:
    """Every fact that answers a concept, in the order a person would try them: the named facts (top level,
    then facts.other by name), then facts.other entries whose key contains one of `other_keys`."""
    top = {normalise_key(k): v for k, v in (facts or {}).items() if k != "other"}
    other_raw = (facts or {}).get("other") or {}
    other = {normalise_key(k): v for k, v in other_raw.items()}
    found: List[Tuple[str, Any]] = []
    for name in names:
        for where in (top, other):
            value = where.get(name)
            if value not in (None, "", [], {}) and (name, value) not in found:
                found.append((name, value))
    for key, value in other_raw.items():
        if value in (None, "", [], {}) or _is_condition(key):
            continue
        key_words = set(tokens(key))
        for alias in other_keys:
            alias_words = set(tokens(alias))
            if alias_words and alias_words <= key_words and (f"other.{key}", value) not in found:
                found.append((f"other.{key}", value))
                break
    return found


def lookup(facts: Dict[str, Any], names: Iterable[str], other_keys: Iterable[str] = ()) -> Tuple[Optional[str], Any]:
    found = candidates(facts, names, other_keys)
    return found[0] if found else (None, None)


def conditional_answers(facts: Dict[str, Any]) -> List[Tuple[str, Any]]:
    return [(k, v) for k, v in ((facts or {}).get("other") or {}).items() if _is_condition(k)]


@dataclass
class Button:
    title: str
    payload: str


@dataclass
class BotTurn:
    texts: List[str] = field(default_factory=list)
    buttons: List[Button] = field(default_factory=list)
    responses: List[str] = field(default_factory=list)  # utter_action names of the bot events of this turn
    actions: List[str] = field(default_factory=list)    # actions run in this turn
    active_loop: Optional[str] = None
    requested_slot: Optional[str] = None
    slots: Dict[str, Any] = field(default_factory=dict)
    intent: Optional[str] = None  # the intent the NLU read in the user's message
    tracker_read: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.texts)
