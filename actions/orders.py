"""Orders ("Commandes" in the portal guide): order consumables, ask about a delivered order (wrong or missing
items), request a training, and show the last consumables orders of a device.

- Consumables (`order_consumables_form`): device → consumable(s) and quantities (1..each item's limit; one message
  may name several lines: "2 noirs, 1 cyan", "one magenta and one yellow") → "another item?" loop (not asked when
  the first message already named what is wanted) → summary with the portal's price ("Obtenir le prix": each line,
  whether the contract covers it, the total), the delivery address (the account's) and the contact (the user) →
  yes/no → order number. At the summary the user may change the delivery address or the contact, or add an item
  (buttons or words); only then is the new address or person asked. A device under eMaintenance is refused with
  the portal's own reason as soon as it is chosen; nothing else is asked and nothing is written.
- Order enquiry (`order_enquiry_form`): order (typed or picked among the last orders) → wrong / missing items →
  description → confirmation → case number.
- Training (`order_training_form`): topic → device (optional) → attendees → preferred date (optional) →
  confirmation → TRN number.
- Last orders (`action_view_orders`, one action so that it also answers inside any form): the device's last 5
  consumables orders.

Extraction rules as in every form (actions/forms.py): an `extract_*` acts only when its slot is asked (or on
the opening message, to reuse what the user already said); a message that is not an answer extracts nothing,
so the form rejects it and the rules answer it.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import digits_of, escape_markdown, plain
from actions.backend_client import BackendClient, BackendError, BackendRejected
from actions.forms import (
    DEFECT_WORDS, MAX_BUTTONS, OPENING_HAND_OVERS, READINGS_INTENT, SUMMARY_QUESTIONS, OpeningMessage, PortalFormValidation, ask_asset,
    asked, bot_response, gives_readings,
    asset_buttons, asset_label, entity, extract_asset, hand_over, intent_of, is_payload, latest_user_message,
    not_an_answer, opening_message, opening_turn, slot_set_in, text_of, turn_message, yes_no_answer,
)
from actions.session import backend, channel_code, language, portal_user, report_backend_error, transcript
from actions.submission import SubmitAction, reset_events

log = logging.getLogger(__name__)

CONSUMABLES_FORM = "order_consumables_form"
ORDER_INTENT = "order_consumables"
ENQUIRY_FORM = "order_enquiry_form"
TRAINING_FORM = "order_training_form"
# Helper slots of each form, forgotten with its answers.
CONSUMABLES_EXTRA = ("order_asset_label", "order_catalogue", "order_ship_to", "order_refusal", "order_lines",
                     "order_request_words", "order_quantity_refused", "order_delivery", "order_contact")
ENQUIRY_EXTRA = ("order_enquiry_order",)
TRAINING_EXTRA = ("order_training_asset_label",)
# Set while the last-orders question "which device?" waits for a typed answer (rules: data/rules/orders.yml).
HISTORY_ASKED = "order_history_asked"

# Free-text answers (an address, a name, a description, a topic) may be classified as any of these intents
# and are still taken as the answer; any other digression or request is not (see not_free_text_answer).
FREE_TEXT_INTENTS = {"search_knowledge", "out_of_scope", "nlu_fallback"}


def not_free_text_answer(tracker: Tracker) -> bool:
    """A free-text question's answer is anything but a digression (help, greet, a case's status, ...) or a
    request that starts another conversation (the switching rules offer it)."""
    return intent_of(tracker) not in FREE_TEXT_INTENTS and not_an_answer(tracker)

MAX_LINES = 20  # PriceRequest.lines
MAX_ORDER_HISTORY_ASSETS = 5  # devices whose last orders are offered as buttons in an order enquiry
MAX_RECENT_ORDERS = 5
MIN_DESCRIPTION_CHARS = 5
MAX_DESCRIPTION_CHARS = 3900  # OrderEnquiryCreate.description is 4000, the portal prefixes "[ORD…] "
MIN_TOPIC_CHARS, MAX_TOPIC_CHARS = 3, 200  # TrainingRequestCreate.topic
MAX_ATTENDEES = 100  # TrainingRequestCreate.attendees
MAX_NAME_CHARS = 200
ORDER_NUMBER = re.compile(r"^ORD\d{7}$")
ORDER_NUMBER_IN_TEXT = re.compile(r"\bORD[\s\-_]?(\d{1,7})\b", re.I)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

# Words the code puts into sentences whose frame is a response of the domain (both languages).
WORDS = {
    "fr": {"covered": "couvert par le contrat", "not_covered": "facturé", "none_device":
           "aucun appareil en particulier", "no_preference": "pas de préférence", "wrong_items":
           "Article(s) incorrect(s) reçu(s)", "missing_items": "Article(s) manquant(s) à la livraison",
           "no_device_button": "Aucun appareil en particulier", "order_max": "Commander {n}",
           "each": "{n} de chaque", "submitted": "envoyée", "delivered": "livrée", "shipped": "expédiée",
           "cancelled": "annulée", "in_progress": "en cours", "unit_price": "l'unité", "people": "pers.",
           "no_date": "date non précisée"},
    "en": {"covered": "covered by your contract", "not_covered": "charged", "none_device":
           "no particular device", "no_preference": "no preference", "wrong_items": "Wrong item(s) received",
           "missing_items": "Item(s) missing from delivery", "no_device_button": "No particular device",
           "order_max": "Order {n}", "each": "{n} of each", "submitted": "submitted", "delivered": "delivered",
           "shipped": "shipped", "cancelled": "cancelled", "in_progress": "in progress", "unit_price": "each",
           "people": "people", "no_date": "no date given"},
}
CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]


# --- small parsers -----------------------------------------------------------------------------------------------
normalize = plain  # the order patterns read folded text


# A question about how many may be ordered ("what's the most drums I can order?", "combien je peux en commander max ?")
LIMIT_QUESTION = re.compile(
    r"\b(combien|how many|what'?s the (most|max\w*)|maximum|max|limite?|limit|at most|au plus|au maximum)\b.*\?|"
    r"\b(quantite|quantity) (max\w*|limite)\b")


# A question about what the order costs or what the contract covers ("c'est pris en charge par le contrat, les
# agrafes ?", "is the toner included?", "how much will that cost us?"): the priced summary answers it
PRICE_QUESTION = re.compile(
    r"\b(couvert\w*|pris en charge par|inclu\w*|compris dans|tout compris|gratuit\w*|factur\w*|payant\w*|payer|"
    r"combien (?:ca|cela|ça) (?:coute|fait)|combien (?:ca|cela) va (?:couter|nous couter)|prix|tarif\w*|covered|included|"
    r"free of charge|for free|is it free|charged for|extra charge|billed|pay for|how much (?:is|does|will|would|are|do)"
    r"(?! \w+ (?:time|days?|weeks?)\b)|price\w*|cost\w*)\b[^?]*\?")


# A new quantity said without the item, for an order of one line: "make that two", "plutôt 3", "finalement deux"
BARE_QUANTITY_CHANGE = re.compile(
    r"\b(?:make (?:that|it)|change (?:that|it) to|(?:plutot|finalement)(?: mettez(?:-en)?| mets(?:-en)?)?|mettez-en|"
    r"mets-en|mettons|passez a|passe a)\s+(?P<count>\d{1,3}|one|two|three|four|five|six|un|une|deux|trois|quatre|cinq|"
    r"six)\b")


def parse_count(text: str, entity_value: Optional[str] = None) -> Optional[int]:
    """A count typed as digits or words ("2", "2 svp", "deux", "two", "x3"). None when there is no number or
    several different ones ("2 ou 3")."""
    if entity_value is not None:
        try:
            value = float(str(entity_value).replace(",", "."))
            if value == int(value):
                return int(value)
        except ValueError:
            found = parse_count(str(entity_value))
            if found is not None:
                return found
    norm = digits_of(normalize(text))
    # a number, not a part of a decimal, a date or a reference ("2, we might" counts; "2,5" and "2/3" do not)
    values = {int(d) for d in re.findall(r"(?<![\w.,/-])x?(\d{1,4})x?(?![\w/]|[.,]\d)", norm)}
    return values.pop() if len(values) == 1 else None


_MONTHS = {
    **{normalize(m): i + 1 for i, m in enumerate(MONTHS_FR)}, **{m.lower(): i + 1 for i, m in enumerate(MONTHS_EN)},
    "janv": 1, "fev": 2, "fevr": 2, "avr": 4, "juil": 7, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
}


class DateError(ValueError):
    pass


def parse_date(text: str, today: date) -> Optional[date]:
    """A date typed as dd/mm/yyyy (also - or .), yyyy-mm-dd, "15 janvier 2027", "January 15, 2027", with or
    without the year (then the next such day). None when the text holds no date; DateError when it names an
    impossible one (31/02/2027)."""
    norm = normalize(text)
    norm = re.sub(r"\b(\d{1,2})(?:er|re|e|st|nd|rd|th)\b", r"\1", norm)
    try:
        m = re.search(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b", norm)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = re.search(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{4}|\d{2}))?(?![\d/.-])", norm)
        if m:
            return _with_year(int(m.group(1)), int(m.group(2)), m.group(3), today)
        for m in re.finditer(r"\b(\d{1,2})\s+(?:of\s+)?([a-z]+)\.?(?:\s+(\d{4}))?\b", norm):
            if m.group(2) in _MONTHS:
                return _with_year(int(m.group(1)), _MONTHS[m.group(2)], m.group(3), today)
        for m in re.finditer(r"\b([a-z]+)\.?\s+(\d{1,2})\b(?:\s*,?\s*(\d{4})\b)?", norm):
            if m.group(1) in _MONTHS:
                return _with_year(int(m.group(2)), _MONTHS[m.group(1)], m.group(3), today)
        m = APPROXIMATE_DATE.search(norm)
        if m and m.group("month") in _MONTHS:  # "mi-janvier", "early February", "fin mars 2027"
            day = next(d for words, d in _APPROXIMATE_DAYS if re.fullmatch(words, m.group("when")))
            return _with_year(day, _MONTHS[m.group("month")], m.group("year"), today)
    except ValueError as exc:
        raise DateError(str(exc)) from exc
    return None


# A time of a month rather than a day: its middle (15), its beginning (1), its end (25); the summary shows the day
_APPROXIMATE_DAYS = ((r"mi|mid|le milieu de|the middle of|middle of", 15),
                     (r"debut|early|beginning of|the beginning of|first week of|the first week of|premiere semaine "
                      r"de|premiere semaine d'|courant|during", 1),
                     (r"fin|late|end of|the end of|last week of|the last week of|derniere semaine de|derniere semaine "
                      r"d'", 25))
APPROXIMATE_DATE = re.compile(
    r"\b(?P<when>" + "|".join(sorted((w for words, _ in _APPROXIMATE_DAYS for w in words.split("|")), key=len,
                                     reverse=True)) + r")(?![a-z])[\s-]*(?:de |d'|of )?"
    r"(?P<month>[a-z]+)\.?(?:\s+(?P<year>\d{4}))?\b")


def _with_year(day: int, month: int, year: Optional[str], today: date) -> date:
    if year:
        return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    candidate = date(today.year, month, day)
    return candidate if candidate >= today else date(today.year + 1, month, day)


POSTCODES = [
    re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I),  # UK: UB11 1AF
    re.compile(r"\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b", re.I),  # Canada: K1A 0B1
    re.compile(r"\b\d{4}\s?[A-Z]{2}\b", re.I),  # Netherlands: 1012 AB
    re.compile(r"\b\d{5}-\d{4}\b"),  # US ZIP+4
    re.compile(r"\b(?:[A-Z]{1,2}-)?\d{4,5}\b", re.I),  # France, Germany, Belgium, ... (also F-69002)
]
HAS_LETTER = re.compile(r"[^\W\d_]")


class AddressError(ValueError):
    """code: format (not enough parts), postcode (none found), country, street, city, too_long."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _postcode(part: str) -> Optional[re.Match]:
    for pattern in POSTCODES:
        found = pattern.search(part)
        if found:
            return found
    return None


def parse_address(text: str) -> Dict[str, str]:
    """"[recipient,] street, postcode city (or city postcode, or city, postcode), country" → the portal's
    DeliveryLocation. Raises AddressError naming what is missing."""
    parts = [p.strip(" .") for p in re.split(r"[,;\n]+", text or "") if p.strip(" .")]
    if len(parts) < 3:
        raise AddressError("format")
    country, rest = parts[-1], parts[:-1]
    if re.search(r"\d", country) or not HAS_LETTER.search(country) or len(country) < 2:
        raise AddressError("country" if _postcode(country) else "format")
    last = _postcode(rest[-1])
    before_after = (rest[-1][:last.start()] + " " + rest[-1][last.end():]).strip(" -") if last else ""
    if last and re.fullmatch(r"[A-Z]{2,3}", before_after) and len(rest) >= 3:
        # "Springfield, IL 62704": the state code belongs to the city
        code, city, street_parts = last.group(), f"{rest[-2]} {before_after}", rest[:-2]
    elif last and before_after:  # "69002 Lyon", "Uxbridge UB11 1AF"
        code, city, street_parts = last.group(), before_after, rest[:-1]
    elif last:  # "Uxbridge, UB11 1AF"
        code, city, street_parts = last.group(), rest[-2] if len(rest) >= 2 else "", rest[:-2]
    elif len(rest) >= 2 and _postcode(rest[-2]) and _postcode(rest[-2]).group() == rest[-2].strip():
        code, city, street_parts = rest[-2], rest[-1], rest[:-2]  # "69002, Lyon"
    else:
        raise AddressError("postcode")
    city = re.sub(r"\s+", " ", city).strip(" -")
    if not street_parts:
        raise AddressError("street")
    street, recipient = street_parts[-1], ", ".join(street_parts[:-1])
    if len(street) < 2 or not HAS_LETTER.search(street):
        raise AddressError("street")
    if not city or not HAS_LETTER.search(city):
        raise AddressError("city")
    address = {"recipient": recipient, "street": street, "city": city, "postcode": code.upper().strip(),
               "country": country}
    limits = {"recipient": 200, "street": 200, "city": 100, "postcode": 20, "country": 100}
    if any(len(address[k]) > n for k, n in limits.items()):
        raise AddressError("too_long")
    return address


def parse_person(text: str) -> Tuple[Optional[Dict[str, str]], Optional[str]]:
    """"Jane Facilities, jane@example.com" → ({"full_name", "email"?}, None) or (None, problem) where problem
    is "email" (an address that is not valid) or "name" (no name)."""
    found = EMAIL.search(text or "")
    email = found.group() if found else None
    rest = (text[:found.start()] + " " + text[found.end():]) if found else (text or "")
    if "@" in rest:
        return None, "email"
    name = re.sub(r"[\s,;:<>()\[\]\"]+", " ", rest).strip(" -.")
    name = re.sub(r"^(?:(?:c'est|it's|it is|contact(?:er)?|name|nom|:)\s*)+", "", name, flags=re.I).strip()
    if len(name) < 2 or not HAS_LETTER.search(name) or re.search(r"\d", name) or len(name) > MAX_NAME_CHARS:
        return None, "name"
    person = {"full_name": name}
    if email:
        person["email"] = email
    return person, None


# --- formatting --------------------------------------------------------------------------------------------------
def money(amount: Any, currency: str, lang: str) -> str:
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    if lang == "fr":
        digits = f"{value:,.2f}".replace(",", " ").replace(".", ",")
        return f"{digits} {symbol or currency}"
    digits = f"{value:,.2f}"
    return f"{symbol}{digits}" if symbol else f"{digits} {currency}"


def day_text(value: Any, lang: str) -> str:
    """A date or an ISO timestamp as "22/10/2026" (fr) or "22 Oct 2026" (en)."""
    try:
        if isinstance(value, date):
            day = value
        else:
            day = datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        return str(value)
    if lang == "fr":
        return day.strftime("%d/%m/%Y")
    return f"{day.day} {MONTHS_EN[day.month - 1][:3]} {day.year}"


def long_day_text(day: date, lang: str) -> str:
    if lang == "fr":
        return f"{'1er' if day.day == 1 else day.day} {MONTHS_FR[day.month - 1]} {day.year} ({day:%d/%m/%Y})"
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def item_label(item: Dict[str, Any]) -> str:
    return f"{item['description']} ({item['part_number']})"


def address_text(address: Dict[str, Any]) -> str:
    parts = [address.get("recipient") or address.get("account_name"), address.get("street"),
             f"{address.get('postcode', '')} {address.get('city', '')}".strip(), address.get("country")]
    return ", ".join(escape_markdown(p) for p in parts if p)  # typed by users: shown as typed


def lines_text(lines: Sequence[Dict[str, Any]]) -> str:
    return "\n".join(f"• {line['quantity']} × {item_label(line)}" for line in lines)


def priced_lines_text(price: Dict[str, Any], lang: str) -> str:
    """One line per consumable: covered by the contract, or its total (and unit price when several)."""
    words, currency, out = WORDS[lang], price["currency"], []
    for line in price["lines"]:
        text = f"• {line['quantity']} × {item_label(line)} — "
        if line["covered_by_contract"]:
            text += words["covered"]
        else:
            text += money(line["line_total"], currency, lang)
            if int(line["quantity"]) > 1:
                text += f" ({money(line['unit_price'], currency, lang)} {words['unit_price']})"
        out.append(text)
    return "\n".join(out)


def order_lines_summary(order: Dict[str, Any]) -> str:
    return ", ".join(f"{line['quantity']} × {line['description']}" for line in order.get("lines", []))


def status_text(status: str, lang: str) -> str:
    return WORDS[lang].get(status, status)


# --- consumables catalogue matching ------------------------------------------------------------------------------
# What a typed word names (accents folded, plural "s" dropped): the kind of consumable and its colour. A catalogue
# item's kind and colour are read the same way from its description and category.
KINDS = {  # checked in this order: "waste toner container" is a waste container, "cartouche d'agrafes" staples
    "waste": {"waste", "recuperation", "recup", "recuperateur", "usage", "usagee", "collecteur", "residuel"},
    "staples": {"agrafe", "staple", "agrafage", "stapler"},
    "drum": {"drum", "tambour", "photoconducteur", "cylindre"},
    "toner": {"toner", "encre", "ink", "cartouche", "cartridge"},
}
COLOURS = {
    "black": {"noir", "noire", "black", "bk"}, "cyan": {"cyan", "bleu", "bleue", "blue"},
    "magenta": {"magenta", "rouge", "red", "rose", "pink"}, "yellow": {"jaune", "yellow"},
    "colour": {"couleur", "colour", "color"},
}
# One message may name several lines: "2 noirs, 1 cyan", "one magenta and one yellow", "deux toners noirs et un jaune"
SEGMENT_SPLIT = re.compile(r"[,;+&\n]|\s(?:et|and|plus|ainsi que|avec|with|puis|then)\s")
EACH_WORDS = re.compile(r"\b(de chaque|chacun|chacune|of each|each|apiece|par couleur|per colou?r)\b")
ARTICLE = re.compile(r"\b(a|an)\b")


def _words(text: str) -> List[str]:
    out = []
    for word in re.findall(r"[a-z0-9]+", normalize(text)):
        out.append(word[:-1] if len(word) > 3 and word.endswith(("s", "x")) and not word.endswith("ss") else word)
    return out


def kind_of(text: str) -> Optional[str]:
    words = set(_words(text))
    return next((kind for kind, names in KINDS.items() if words & names), None)


def colours_of(text: str) -> List[str]:
    words = _words(text)
    found = [colour for word in words for colour, names in COLOURS.items() if word in names]
    return list(dict.fromkeys(found))


def _compact(text: str) -> str:
    return re.sub(r"[\s\-_.]", "", normalize(text))


def part_numbers_in(text: str, catalogue: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    compact = _compact(text)
    return [item for item in catalogue if _compact(item["part_number"]) in compact]


def _candidates(catalogue: Sequence[Dict[str, Any]], kind: Optional[str], colour: Optional[str]) -> List[Dict]:
    def fits(item: Dict[str, Any]) -> bool:
        if kind is not None and kind_of(f"{item['description']} {item.get('category', '')}") != kind:
            return False
        has = colours_of(item["description"])
        # a "colour" drum is the cyan, magenta and yellow one; a drum without colour is every colour's
        return colour is None or colour in has or (not has and kind is not None) or \
            ("colour" in has and colour in ("cyan", "magenta", "yellow"))
    return [item for item in catalogue if fits(item)]


def match_items(text: str, catalogue: Sequence[Dict[str, Any]], kind: Optional[str] = None) -> List[Dict[str, Any]]:
    """Catalogue items some words name: a part number, else the kind and colour they say (a colour alone is a toner,
    or the `kind` the rest of the message names). Empty when they name no consumable."""
    exact = part_numbers_in(text, catalogue)
    if exact:
        return exact
    named_kind, colours = kind_of(text), colours_of(text)
    if not named_kind and not colours:
        return []
    found = _candidates(catalogue, named_kind or kind or "toner", colours[0] if colours else None)
    if not named_kind and len(found) > 1:
        found = _candidates(catalogue, "toner", colours[0] if colours else None) or found
    return found


def segment_count(text: str) -> Optional[int]:
    """The quantity some words give ("2", "deux", "x3", "a" / "an" = 1), None when none or several."""
    return parse_count(ARTICLE.sub("one", normalize(text)))


@dataclass
class NamedItems:
    """What a message names: lines (catalogue item, quantity or None), "un de chaque" (a quantity for every item
    named or waiting for its quantity), and the first words that name no item of the device or several."""

    lines: List[Tuple[Dict[str, Any], Optional[int]]] = field(default_factory=list)
    each: Optional[int] = None
    unknown: str = ""
    ambiguous: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def names_items(self) -> bool:
        return bool(self.lines or self.unknown or self.ambiguous)


def read_items(text: str, catalogue: Sequence[Dict[str, Any]]) -> NamedItems:
    """The consumables and quantities of a typed message, one line per part of it ("2 noirs, 1 cyan",
    "one magenta and one yellow", "deux toners noirs et un jaune", "cyan et magenta, un de chaque")."""
    named = NamedItems()
    if not text or is_payload(text):
        return named
    parts = [p.strip() for p in SEGMENT_SPLIT.split(normalize(text)) if p and p.strip()]
    kinds = {kind_of(p) for p in parts} - {None}
    context = kinds.pop() if len(kinds) == 1 else None
    colours_alone = any(colours_of(p) and not kind_of(p) for p in parts)  # "noir", "un jaune"
    quantities: Dict[str, Optional[int]] = {}
    items: Dict[str, Dict[str, Any]] = {}
    for part in parts:
        count = segment_count(part)
        if EACH_WORDS.search(part):
            named.each = count if count is not None else named.each
            continue
        colours = [] if part_numbers_in(part, catalogue) else colours_of(part)
        # "toner cyan magenta": one line per colour; else the words as they are
        asked_for = [f"{kind_of(part) or ''} {colour}" for colour in colours] if len(colours) > 1 else [part]
        for words in asked_for:
            found = match_items(words, catalogue, context)
            if not found:
                if kind_of(part) or colours:
                    named.unknown = named.unknown or part
                continue
            if len(found) > 1:
                if kind_of(part) and not colours and colours_alone and count is None:
                    continue  # "des toners, 2 noirs et 1 cyan": the kind of the colours named alone
                named.ambiguous = named.ambiguous or found
                continue
            item = found[0]
            items[item["part_number"]] = item
            previous = quantities.get(item["part_number"])
            quantities[item["part_number"]] = count if previous is None else previous + (count or 0)
    named.lines = [(items[p], q) for p, q in quantities.items()]
    return named


# --- the consumables order form ---------------------------------------------------------------------------------
ACCOUNT_WORDS = re.compile(r"\b(compte|account|habituel+e?|usual|meme adresse|same address|cette adresse|"
                           r"this address|adresse du compte|account address|default)\b")
ME_WORDS = re.compile(r"^\W*(moi|moi-meme|moi meme|me|myself|c'est moi|it's me|its me|mine|moi svp)\W*$")
MAX_WORDS = re.compile(r"\b(max|maximum|le plus possible|as many as possible)\b")
# At the summary: the contact, the delivery address or one more item, changed by words (accents folded)
CONTACT_CHANGE = re.compile(r"\b(contact|quelqu'un d'autre|quelqu un d'autre|une autre personne|someone else|"
                            r"somebody else|another person|un collegue|a colleague)\b")
CONTACT_AFTER = re.compile(r"\bcontact\b\s*(?:(?:c'est|c’est|est|sera|serait|is|will be|should be|to|pour|=|:)\s*)*"
                           r"(?P<who>.*)$", re.I | re.S)
CONTACT_BEFORE = re.compile(r"^(?P<who>.+?)\s+(?:est|sera|is|will be)\s+(?:le |the )?contact\b", re.I | re.S)
DELIVERY_CHANGE = re.compile(r"\b(livr\w*|adresse|address|deliver\w*|ship\w*|envoy\w*|send|ailleurs|elsewhere|"
                             r"emplacement|location)\b")
DELIVERY_AFTER = re.compile(r"^.*?\b(?:livr\w*|deliver\w*|ship\w*|envoy\w*|send(?:\s+it)?|adresse(?:\s+de\s+livraison)?|"
                            r"address|ailleurs|elsewhere)\b\s*(?:(?:à|a|au|aux|chez|to|at|plutôt|plutot|instead|"
                            r"rather|:|est|is|sera|will be)\s+)*(?P<where>.*)$", re.I | re.S)
ADD_WORDS = re.compile(r"\b(ajout\w*|rajout\w*|add|adding|one more|un autre|une autre|another|en plus|aussi|also)\b")
# "ça sera livré où ?", "where will it be delivered?": a question about the delivery, not a change of it
WHERE_QUESTION = re.compile(r"\b(ou|where|quelle adresse|which address|what address|a quelle adresse)\b[^?]*\?|"
                            r"^\s*(ou|where)\b")


def summary_question(tracker: Tracker) -> bool:
    """At the order's summary: where it will be delivered, a change of address or contact, the most one may order,
    one more consumable of the device ("rajoute un bac de récup") — the form answers these itself (actions/forms.py
    SUMMARY_QUESTIONS)."""
    text = text_of(tracker)
    if not asked(tracker, "order_confirm") or not text or is_payload(text):
        return False
    plain = normalize(text)
    where = WHERE_QUESTION.search(plain) and DELIVERY_CHANGE.search(plain) and not re.search(r"\d", plain)
    more = ADD_WORDS.search(plain) and read_items(plain, tracker.get_slot("order_catalogue") or []).names_items
    return bool(where or more or LIMIT_QUESTION.search(plain) or PRICE_QUESTION.search(plain) or CONTACT_CHANGE.search(plain)
                or (DELIVERY_CHANGE.search(plain) and re.search(r"\b(plutot|instead|rather|change\w*|modifi\w*)\b", plain)))


SUMMARY_QUESTIONS["order_consumables_form"] = summary_question


def pending_items(tracker: Tracker, catalogue: Optional[Sequence[Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
    """The consumables whose quantity is asked: the part numbers of `order_item` (several when named together)."""
    parts = [p for p in str(tracker.get_slot("order_item") or "").split(",") if p]
    by_part = {c["part_number"]: c for c in (catalogue if catalogue is not None
                                               else tracker.get_slot("order_catalogue") or [])}
    return [by_part[p] for p in parts if p in by_part]


def order_line(item: Dict[str, Any], quantity: int) -> Dict[str, Any]:
    return {"part_number": item["part_number"], "description": item["description"], "quantity": quantity}


def quantity_change(dispatcher: CollectingDispatcher, lines: List[Dict[str, Any]], named: "NamedItems",
                    text: str) -> Optional[List[Dict[str, Any]]]:
    """A new quantity for consumables already in the order ("mettez plutôt 3 cyan, pas 2", "make that 3 waste toner
    containers"): the order's lines with it, said to the user; the lines unchanged (and why) when a quantity is
    outside 1..the limit. None when the words are no such change: an item not in the order, one without a quantity,
    or "add"/"rajoute" (more of it, not instead)."""
    in_order = {line["part_number"]: line for line in lines}
    if not named.lines or named.unknown or named.ambiguous or ADD_WORDS.search(normalize(text)) \
            or not all(item["part_number"] in in_order and quantity is not None for item, quantity in named.lines):
        return None
    for item, quantity in named.lines:
        if quantity < 1 or quantity > int(item["max_quantity"]):
            dispatcher.utter_message(response="utter_order_quantity_invalid", max_quantity=item["max_quantity"])
            return lines
    wanted = {item["part_number"]: quantity for item, quantity in named.lines}
    changed = [{**line, "quantity": wanted.get(line["part_number"], line["quantity"])} for line in lines]
    dispatcher.utter_message(response="utter_order_quantity_changed", lines="\n".join(
        f"• {wanted[line['part_number']]} × {item_label(line)}" for line in lines if line["part_number"] in wanted))
    return changed


ENQUIRY_INTENT = "order_enquiry"
# An order already delivered, told as what came ("on a reçu deux magenta", "arrived without the staples") about a
# past order ("la commande de juin", "the July order", ORD…, "we expected"): a problem with that order, not a new one.
DELIVERED_WORDS = re.compile(
    r"\b(recue?s?|livree?s?|arrivee?s?|arrived|received|delivered|came|turned up|showed up|dans le carton|"
    r"in the box|au lieu d\w*|a la place d\w*|instead of|jamais eu|never got|never came|manquai\w*|was missing|"
    r"missing)\b")
PAST_ORDER_WORDS = re.compile(
    r"\b(commande du mois|derniere commande|notre commande|ma commande|the \w+ order|our order|my order|last order|"
    r"ord\s?\d{4,7}|on devait (?:recevoir|avoir)|we (?:expected|were supposed to)|should have (?:been|got|had))\b")
# ... and something went wrong with it
PROBLEM_WORDS = re.compile(
    r"\b(pas|sans|manqu\w*|missing|without|no|not|only|seulement|qu'un|qu'une|instead|au lieu|a la place|wrong|mauvaise?s?|"
    r"jamais|never|devait|expected|supposed|should|cassee?s?|broken|damaged|abime\w*)\b")


# An invoice for an order already placed ("une facture de 179 livres pour deux toners commandés en mai"): a question
# about the invoice, not a new order.
INVOICE_WORDS = re.compile(r"\b(factur\w*|invoic\w*|billed|bill|charged)\b")
PLACED_WORDS = re.compile(r"\b(commandee?s?|ordered|achetee?s?|bought|received|recue?s?)\b")
INVOICE_INTENT = "invoice_question"
HANDED_OVER = {ENQUIRY_INTENT: "utter_order_is_an_enquiry", INVOICE_INTENT: "utter_order_is_an_invoice_question"}


def hand_over_intent(text: str) -> Optional[str]:
    """The request the words of an order really are: a delivery gone wrong (the order enquiry), an invoice for an
    order already placed (an invoice question); None for a new order."""
    if not text or is_payload(text):
        return None
    plain = normalize(text).lower()
    if INVOICE_WORDS.search(plain) and (PLACED_WORDS.search(plain) or months_named(plain)):
        return INVOICE_INTENT
    return ENQUIRY_INTENT if tells_of_a_delivery(text) else None


def tells_of_a_delivery(text: str) -> bool:
    """The words tell what went wrong with an order already placed: what came (DELIVERED_WORDS), which order
    (PAST_ORDER_WORDS or a month) and a problem (PROBLEM_WORDS)."""
    if not text or is_payload(text):
        return False
    plain = normalize(text).lower()
    return bool(DELIVERED_WORDS.search(plain) and PROBLEM_WORDS.search(plain)
                and (PAST_ORDER_WORDS.search(plain) or months_named(plain)))


# --- a change to the order just sent ("ah et rajoute un bac de récup", "actually make the cyan 3") -----------------
FOLLOWUP_TURNS = 2  # the user's messages after an order was sent in which a change still means that order
ORDER_NUMBER_SENT = re.compile(r"\bORD\d{7}\b")
AMEND_WORDS = re.compile(r"\b(rajout\w*|ajout\w*|en plus|aussi|egalement|finalement|plutot|en fait|au lieu|change\w*|"
                         r"modifi\w*|mets|mettez|passe\w* a|add|adding|also|as well|actually|instead|make (?:it|that|the)|"
                         r"one more|another|extra)\b")
# a new total for a line already ordered ("make the cyan 3", "finalement 3 cyans au lieu de 2"), not one more
TOTAL_WORDS = re.compile(r"\b(finalement|plutot|au lieu|change\w*|modifi\w*|passe\w* a|make (?:it|that|the)|instead|"
                         r"actually)\b")
ITEM_WORDS = re.compile(r"\b(toner\w*|cartouche\w*|cartridge\w*|cyan\w*|magenta\w*|jaune\w*|yellow\w*|noir\w*|black\w*|"
                        r"tambour\w*|drum\w*|recup\w*|waste|agrafe\w*|staple\w*|consommable\w*|consumable\w*)\b")


@dataclass(frozen=True)
class SentOrder:
    number: str
    asset: Optional[str]
    asset_label: Optional[str]
    lines: Tuple[Dict[str, Any], ...]


def order_just_sent(tracker: Tracker) -> Optional[SentOrder]:
    """The order this conversation sent within the user's last FOLLOWUP_TURNS messages: its number, device and
    lines (the form's slots before they were forgotten)."""
    events, users = list(tracker.events), 0
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "user":
            users += 1
            if users > FOLLOWUP_TURNS:
                return None
        elif bot_response(event) == "utter_order_created":
            found = ORDER_NUMBER_SENT.search(event.get("text") or "")
            if not found:
                return None
            before = events[:index]
            return SentOrder(found.group(0), slot_set_in(before, "order_asset"),
                             slot_set_in(before, "order_asset_label"), tuple(slot_set_in(before, "order_lines") or ()))
    return None


def amends_order_just_sent(tracker: Tracker) -> Optional[SentOrder]:
    """The latest message changes the order just sent: words of a change and of a consumable, no other device named
    (an order sent to Canon can no longer be changed: a second order takes the difference)."""
    message = latest_user_message(tracker)
    if not message.text or is_payload(message.text) or message.entity("asset_ref"):
        return None
    plain = normalize(message.text).lower()
    if not AMEND_WORDS.search(plain):
        return None
    sent = order_just_sent(tracker)
    if sent is None:
        return None
    if ITEM_WORDS.search(plain) or len(sent.lines) == 1 and parse_count(message.text) is not None:
        return sent  # a consumable named, or a number for the order's only line ("actually make that two")
    return None


def followup_lines(named: "NamedItems", sent: SentOrder, text: str) -> "NamedItems":
    """The lines of the second order: a new total for a consumable already ordered ("make the cyan 3") is the
    difference with what was sent (a total not above it adds nothing); anything else is added as said."""
    if not TOTAL_WORDS.search(normalize(text).lower()):
        return named
    sent_quantities = {line["part_number"]: int(line.get("quantity") or 0) for line in sent.lines}
    lines = []
    for item, quantity in named.lines:
        already = sent_quantities.get(item["part_number"], 0)
        if quantity is not None and already:
            if quantity <= already:
                continue
            quantity -= already
        lines.append((item, quantity))
    return NamedItems(lines=lines, each=named.each, unknown=named.unknown, ambiguous=named.ambiguous)


def _order_hand_over(opening: OpeningMessage) -> Optional[Tuple[str, Optional[str]]]:
    """A delivered order told as a new one ("la commande de juin : on a reçu deux magenta") or its invoice: nothing
    is asked, the order enquiry or the invoice question takes over with the same words."""
    if gives_readings(opening.text):  # readings with an order in passing: the readings first, the order offered after
        return READINGS_INTENT, None
    other = hand_over_intent(opening.text)
    return (other, HANDED_OVER[other]) if other else None


OPENING_HAND_OVERS[CONSUMABLES_FORM] = _order_hand_over

# A training cannot be asked for without a word of teaching; without one, the words of a person to add to the portal
# (an e-mail address, "sur le portail") or of the contract say which request it is (accents folded).
TEACHING_WORDS = re.compile(r"\b(formation\w*|forme[rz]?|training\w*|trainers?|train|initiation|prise en main|tutori\w*|apprend\w*|"
                            r"learn\w*|teach\w*|montre[rz]?|show\w*|expliqu\w*|explain\w*|demonstrat\w*|atelier|workshop|"
                            r"session|cours|course|utiliser|use the|how to)\b")
PORTAL_PERSON_WORDS = re.compile(r"@|\barobase\b|\b(sur le portail|au portail|on the portal|to the portal|portal account|"
                                 r"compte portail|son mail|her e-?mail|his e-?mail|their e-?mail)\b")
CONTRACT_WORDS = re.compile(r"\b(contrat|contract|resiliation|terminat\w*|renouvel\w*|renew\w*)\b")


def _training_hand_over(opening: OpeningMessage) -> Optional[Tuple[str, Optional[str]]]:
    if gives_readings(opening.text):
        return READINGS_INTENT, None
    plain = normalize(opening.text).lower()
    if TEACHING_WORDS.search(plain):
        return None
    if DEFECT_WORDS.search(plain):  # "le ticket des trainees couleur…": streaks on the prints, not a training
        return "report_fault", None
    if PORTAL_PERSON_WORDS.search(plain):
        return "invite_user", None
    if CONTRACT_WORDS.search(plain):
        return "contract_question", None
    return None


OPENING_HAND_OVERS[TRAINING_FORM] = _training_hand_over


class ValidateOrderConsumablesForm(PortalFormValidation):
    """Device → consumable(s) and quantities (several lines from one message) → "another item?" (not when the
    first message already named what is wanted) → summary. The delivery goes to the account address and the user
    is the contact unless changed at the summary (buttons or words), which then asks the new address or person."""

    def name(self) -> Text:
        return "validate_order_consumables_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if tracker.get_slot("order_refusal"):  # eMaintenance device: nothing else is asked
            return [slot for slot in domain_slots if slot == "order_asset"]
        slots = list(domain_slots)
        if tracker.get_slot("order_delivery") != "new":
            slots.remove("order_address")
        if tracker.get_slot("order_contact") != "other":
            slots.remove("order_contact_person")
        return slots

    # --- device (refused at once under eMaintenance) -------------------------------------------------------------
    async def extract_order_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        sent = amends_order_just_sent(tracker) if opening_turn(tracker) and not tracker.get_slot("order_asset") else None
        if sent is not None and sent.asset:  # a change to the order just sent: a second order for the same device
            dispatcher.utter_message(response="utter_order_followup", order_number=sent.number)
            dispatcher.utter_message(response="utter_asset_selected", asset_label=sent.asset_label or sent.asset)
            slots = {"order_asset": sent.asset, "order_asset_label": sent.asset_label}
        else:
            slots = await extract_asset(tracker, dispatcher, "order_asset", "order_asset_label")
        if opening_turn(tracker):  # the item and quantity said with the request are read once the catalogue is known
            opening = opening_message(tracker)
            if not is_payload(opening.text):
                slots["order_request_words"] = {"text": opening.text, "entities": list(opening.entities)}
        return slots

    def _from_request_words(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                            catalogue: List[Dict[str, Any]]) -> Dict[Text, Any]:
        """"2 toners noirs et un jaune pour la C5560 de l'accueil": once the device's catalogue is known, the lines
        the request named (their quantity is asked when not said); "another item?" is then not asked."""
        words = tracker.get_slot("order_request_words")
        if opening_turn(tracker):
            opening = opening_message(tracker)
            words = {"text": opening.text, "entities": list(opening.entities)}
        if not isinstance(words, dict) or not words.get("text") or tracker.get_slot("order_lines"):
            return {}
        named = read_items(words["text"], catalogue)
        sent = amends_order_just_sent(tracker) if opening_turn(tracker) else None
        if sent is not None:
            only = [c for c in catalogue if len(sent.lines) == 1 and c["part_number"] == sent.lines[0]["part_number"]]
            if not named.names_items and only:  # "actually make that two": the order's only line
                named = NamedItems(lines=[(only[0], parse_count(words["text"]))])
            named = followup_lines(named, sent, words["text"])
        if not named.names_items:
            return {"order_request_words": None}
        taken = self._take(dispatcher, tracker, named, [], catalogue, quiet_when_unsure=True) or {}
        said_which = {"order_more": False} if named.lines else {}  # not for "du toner" alone
        return {"order_request_words": None, **said_which, **taken}

    async def validate_order_asset(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not value:
            return {"order_asset": None}
        client = backend(tracker)
        try:
            catalogue = await client.consumables(value)
        except BackendRejected as error:
            if error.code == "emaintenance_asset":
                dispatcher.utter_message(response="utter_order_refused", reason=escape_markdown(error.message))
                return {"order_asset": value, "order_refusal": error.message}
            report_backend_error(dispatcher, error)
            return {"order_asset": None, "order_asset_label": None}
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"order_asset": None, "order_asset_label": None}
        if not catalogue:
            dispatcher.utter_message(response="utter_order_no_catalogue",
                                     asset_label=tracker.get_slot("order_asset_label") or value)
            return {"order_asset": value, "order_refusal": "no_catalogue"}
        try:
            detail = await client.asset(value)
            ship_to = {"account_name": detail.get("account_name", ""), **{
                k: (detail.get("address") or {}).get(k, "") for k in ("street", "city", "postcode", "country")}}
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"order_asset": None, "order_asset_label": None}
        keep = ("part_number", "description", "category", "unit_price", "currency", "max_quantity",
                "covered_by_contract")
        kept = [{k: c.get(k) for k in keep} for c in catalogue]
        return {"order_asset": value, "order_catalogue": kept, "order_ship_to": ship_to,
                "order_lines": tracker.get_slot("order_lines") or [],
                **self._from_request_words(dispatcher, tracker, kept)}

    # --- the lines: consumables and quantities -------------------------------------------------------------------
    def _take(self, dispatcher: CollectingDispatcher, tracker: Tracker, named: NamedItems,
              pending: List[Dict[str, Any]], catalogue: Optional[List[Dict[str, Any]]] = None,
              quiet_when_unsure: bool = False, said: str = "") -> Optional[Dict[Text, Any]]:
        """Adds the lines a message names to the order. A consumable named without a quantity, or above its limit,
        waits for the quantity question (`order_item`); "un de chaque" gives the consumables waiting theirs. When
        the message names a consumable the device has not, several at once, one already ordered (unless the
        message `said` gives it a new quantity: `quantity_change`) or a quantity below 1: a message says so, nothing
        is written and None is returned (on the opening message, naming only
        a kind of consumable without saying which is left to the consumable question: `quiet_when_unsure`)."""
        catalogue = catalogue if catalogue is not None else tracker.get_slot("order_catalogue") or []
        lines = list(tracker.get_slot("order_lines") or [])
        if named.unknown:
            dispatcher.utter_message(response="utter_order_item_unknown")
            return None
        if named.ambiguous:
            if not (quiet_when_unsure and not named.lines):
                dispatcher.utter_message(response="utter_order_item_ambiguous",
                                         choices=", ".join(item_label(c) for c in named.ambiguous[:MAX_BUTTONS]))
            return None
        changed = quantity_change(dispatcher, lines, named, said) if said else None
        if changed is not None:  # a new quantity for a consumable already in the order (or refused): the summary again
            parts = [item["part_number"] for item, _ in named.lines]
            quantities = [line["quantity"] for line in changed if line["part_number"] in parts]
            return {"order_lines": changed, "order_quantity_refused": None, "order_item": ",".join(parts),
                    "order_quantity": quantities[0] if len(quantities) == 1 else quantities}
        for item, _ in named.lines:
            already = next((line for line in lines if line["part_number"] == item["part_number"]), None)
            if already:
                dispatcher.utter_message(response="utter_order_item_already", item=item_label(item),
                                         quantity=already["quantity"])
                return None
        said = {item["part_number"] for item, _ in named.lines}
        wanted = [(item, named.each if quantity is None else quantity) for item, quantity in named.lines]
        wanted += [(item, named.each) for item in pending if item["part_number"] not in said]
        added, waiting, refused = [], [], {}
        refused_before = tracker.get_slot("order_quantity_refused") or {}
        for item, quantity in wanted:
            if quantity is not None and quantity < 1:
                dispatcher.utter_message(response="utter_order_quantity_invalid", max_quantity=item["max_quantity"])
                return None
            limit = int(item["max_quantity"])
            if quantity is not None and quantity > limit and item["part_number"] in refused_before:
                # told the limit and asking above it again: the limit goes in this order, the rest in another one
                dispatcher.utter_message(response="utter_order_quantity_capped", item=item_label(item),
                                         quantity=quantity, max_quantity=limit)
                quantity = limit
            if quantity is None or quantity > limit:
                waiting.append(item)
                if quantity is not None:
                    refused[item["part_number"]] = quantity  # the question then gives the limit and offers it
            else:
                added.append(order_line(item, quantity))
        lines += added
        slots: Dict[Text, Any] = {"order_lines": lines, "order_quantity_refused": refused or None}
        if waiting:
            slots.update(order_item=",".join(item["part_number"] for item in waiting), order_quantity=None)
        else:
            quantities = [line["quantity"] for line in added]
            slots.update(order_item=",".join(line["part_number"] for line in added),
                         order_quantity=quantities[0] if len(quantities) == 1 else quantities)
        if len(lines) >= min(MAX_LINES, len(catalogue)):
            slots["order_more"] = False  # nothing left to add
        return slots

    async def extract_order_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "order_item"):
            return {}
        chosen = entity(tracker, "order_part")
        if chosen:
            return {"order_item": chosen}
        text = text_of(tracker)
        if not_an_answer(tracker) and not read_items(text, tracker.get_slot("order_catalogue") or []).names_items:
            return {}
        return {"order_item": text}

    async def validate_order_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # "add an item" at the summary: the consumable is asked
            return {"order_item": None, "order_quantity": None}
        catalogue = tracker.get_slot("order_catalogue") or []
        text = str(value)
        button = [c for c in catalogue if c["part_number"].upper() == text.strip().upper()]
        named = NamedItems(lines=[(button[0], None)]) if button else read_items(text, catalogue)
        if not named.names_items:
            dispatcher.utter_message(response="utter_order_item_unknown")
            return {"order_item": None}
        return self._take(dispatcher, tracker, named, [], said=text) or {"order_item": None}

    async def extract_order_quantity(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "order_quantity"):
            return {}
        text, value = text_of(tracker), entity(tracker, "quantity")
        if intent_of(tracker) == "affirm" and tracker.get_slot("order_quantity_refused"):
            return {"order_quantity": "max"}  # "yes" to the limit offered
        if value is None and parse_count(text) is None and not MAX_WORDS.search(normalize(text)) \
                and not read_items(text, tracker.get_slot("order_catalogue") or []).names_items \
                and not_an_answer(tracker):
            return {}
        return {"order_quantity": value if is_payload(text) and value is not None else text}

    async def validate_order_quantity(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset with the consumable
            return {"order_quantity": None}
        pending = pending_items(tracker)
        if not pending:  # no consumable chosen: ask it first
            return {"order_quantity": None, "order_item": None}
        text = str(value)
        named = read_items(text, tracker.get_slot("order_catalogue") or [])
        if named.names_items:  # "2 cyan et 1 magenta", "2 black" answered to "how many?"
            return self._take(dispatcher, tracker, named, pending) or {"order_quantity": None}
        if text == "max" or MAX_WORDS.search(normalize(text)):
            named = NamedItems(lines=[(item, int(item["max_quantity"])) for item in pending])
            return self._take(dispatcher, tracker, named, pending) or {"order_quantity": None}
        quantity = parse_count(text, entity(tracker, "quantity"))  # "3", "10 boîtes", "un de chaque"
        if quantity is None or quantity < 1:
            dispatcher.utter_message(response="utter_order_quantity_invalid",
                                     max_quantity=min(int(item["max_quantity"]) for item in pending))
            return {"order_quantity": None}
        return self._take(dispatcher, tracker, NamedItems(each=quantity), pending) or {"order_quantity": None}

    # --- another item? ---------------------------------------------------------------------------------------------
    async def extract_order_more(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "order_more")

    async def validate_order_more(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is True:  # one more line: ask the consumable and its quantity again
            return {"order_more": None, "order_item": None, "order_quantity": None}
        return {"order_more": value}

    # --- a new delivery address (asked only when changed at the summary) ------------------------------------------
    async def extract_order_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "order_address"):
            return {}
        text = text_of(tracker)
        if not is_payload(text) and ACCOUNT_WORDS.search(normalize(text)) and not self._is_address(text):
            return {"order_delivery": "account", "order_address": None}  # "l'adresse habituelle": the account's
        if not_free_text_answer(tracker):
            try:
                parse_address(text)
            except AddressError:
                return {}
        return {"order_address": text}

    async def validate_order_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None or isinstance(value, dict):  # to be asked, or already read
            return {"order_address": value}
        try:
            return {"order_address": parse_address("" if is_payload(str(value)) else str(value))}
        except AddressError as error:
            response = {"postcode": "utter_order_address_no_postcode", "country": "utter_order_address_no_country",
                        "too_long": "utter_order_address_too_long"}.get(error.code, "utter_order_address_invalid")
            dispatcher.utter_message(response=response)
            return {"order_address": None}

    # --- another contact (asked only when changed at the summary) -------------------------------------------------
    async def extract_order_contact_person(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "order_contact_person") or not_free_text_answer(tracker):
            return {}
        return {"order_contact_person": text_of(tracker)}

    async def validate_order_contact_person(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None or isinstance(value, dict):  # to be asked, or already read
            return {"order_contact_person": value}
        text = str(value)
        person, problem = parse_person("" if is_payload(text) else text)
        if problem == "email":
            dispatcher.utter_message(response="utter_order_contact_email_invalid")
            return {"order_contact_person": None}
        if problem:
            dispatcher.utter_message(response="utter_order_contact_name_invalid")
            return {"order_contact_person": None}
        return {"order_contact_person": person}

    # --- the summary: yes / no, or a change ------------------------------------------------------------------------
    async def extract_order_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Yes / no to the summary, or a change before ordering: a button ("change the delivery address / the
        contact", "add an item") or words ("livrer ailleurs", "deliver to 10 Station Road", "le contact c'est
        Karim", "ajoute un toner jaune"). The new address or person is read or asked, the item added or asked,
        then the summary is shown again."""
        if asked(tracker, "order_confirm") and (not not_free_text_answer(tracker) or summary_question(tracker)):
            change = self._summary_change(dispatcher, tracker)
            if change is not None:
                return {**change, "order_confirm": None}
        return yes_no_answer(tracker, dispatcher, "order_confirm")

    def _summary_change(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[Dict[Text, Any]]:
        wanted, text = entity(tracker, "order_change"), text_of(tracker)
        plain = "" if is_payload(text) else normalize(text)
        if wanted == "contact" or (not wanted and (CONTACT_CHANGE.search(plain) or EMAIL.search(plain))):
            return self._contact_change(text if plain else "")
        if not wanted and WHERE_QUESTION.search(plain) and not re.search(r"\d", plain):
            dispatcher.utter_message(response="utter_order_delivery_is",
                                     address=address_text(delivery_address(tracker)))
            return {}  # answered: the summary is asked again
        if wanted == "delivery" or (not wanted and (DELIVERY_CHANGE.search(plain) or self._is_address(text))):
            return self._delivery_change(text if plain else "")
        catalogue = tracker.get_slot("order_catalogue") or []
        if not wanted and LIMIT_QUESTION.search(plain):  # "what's the most I can order?": the limits, then the summary
            ordered = {line["part_number"] for line in tracker.get_slot("order_lines") or []}
            limits = "\n".join(f"• {item_label(item)} : {item['max_quantity']}" for item in catalogue
                               if item["part_number"] in ordered and item.get("max_quantity"))
            dispatcher.utter_message(response="utter_order_limits", limits=limits)
            return {}
        lines = tracker.get_slot("order_lines") or []
        bare = BARE_QUANTITY_CHANGE.search(plain) if not wanted else None
        count = parse_count(bare.group("count")) if bare else None
        if count is not None and len(lines) == 1 and not read_items(plain, catalogue).names_items:
            # "actually make that two": the one line's new quantity (refused above the limit, the summary again)
            item = next((c for c in catalogue if c["part_number"] == lines[0]["part_number"]), None)
            changed = quantity_change(dispatcher, lines, NamedItems(lines=[(item, count)]), text) if item else None
            if changed is not None:
                return {"order_lines": changed, "order_quantity_refused": None}
        if not wanted and PRICE_QUESTION.search(plain) and not ADD_WORDS.search(plain):
            dispatcher.utter_message(response="utter_order_price_in_summary")
            return {}  # answered: the priced summary is asked again
        named = read_items(plain, catalogue)
        if wanted == "item" or (not wanted and (named.names_items or ADD_WORDS.search(plain))):
            taken = {line["part_number"] for line in tracker.get_slot("order_lines") or []}
            if all(item["part_number"] in taken for item in catalogue):
                dispatcher.utter_message(response="utter_order_nothing_left")
                return {}
            return {"order_item": text if named.names_items else None}
        return None

    @staticmethod
    def _is_address(text: str) -> bool:
        try:
            parse_address(text)
        except AddressError:
            return False
        return True

    @staticmethod
    def _contact_change(text: str) -> Dict[Text, Any]:
        """"le contact c'est Karim" → that person (read by the contact question's validation); "the contact is me"
        → the user again; "change the contact" → the person is asked."""
        after, before = CONTACT_AFTER.search(text), CONTACT_BEFORE.search(text)
        who = (after.group("who") if after else text if EMAIL.search(text) else "").strip(" .!")
        if not who and before:
            who = before.group("who").strip(" .!")
        if ME_WORDS.search(normalize(who)):
            return {"order_contact": "me", "order_contact_person": None}
        return {"order_contact": "other", "order_contact_person": who if HAS_LETTER.search(who) else None}

    def _delivery_change(self, text: str) -> Dict[Text, Any]:
        """"livrer à l'adresse du compte" → back to it; "deliver to 1 High Street, …" → that address (read by the
        address question's validation, which says what is missing); "livrer ailleurs" → the address is asked."""
        plain = normalize(text)
        if ACCOUNT_WORDS.search(plain) and not self._is_address(text):
            return {"order_delivery": "account", "order_address": None}
        found = DELIVERY_AFTER.search(text)
        where = (found.group("where") if found else text).strip()
        if not re.search(r"\d", where) and self._is_address(text):
            where = text
        return {"order_delivery": "new", "order_address": where if re.search(r"\d", where) else None}


def delivery_address(tracker: Tracker) -> Dict[str, str]:
    """Where the order goes: the new location (recipient defaulting to the contact) or the account address."""
    if tracker.get_slot("order_delivery") == "new" and isinstance(tracker.get_slot("order_address"), dict):
        address = dict(tracker.get_slot("order_address"))
        if not address.get("recipient"):
            address["recipient"] = contact_person(tracker).get("full_name", "")
        return address
    return dict(tracker.get_slot("order_ship_to") or {})


def contact_person(tracker: Tracker) -> Dict[str, str]:
    person = tracker.get_slot("order_contact_person")
    if tracker.get_slot("order_contact") == "other" and isinstance(person, dict):
        return person
    user = portal_user(tracker) or {}
    return {"full_name": user.get("full_name", ""), "email": user.get("email", "")}


def person_text(person: Dict[str, str]) -> str:
    """The order's contact as a message names them (user-written: escaped)."""
    name = escape_markdown(person.get("full_name", ""))
    return f"{name} ({escape_markdown(person['email'])})" if person.get("email") else name


class ActionAskOrderAsset(Action):
    def name(self) -> Text:
        return "action_ask_order_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ended = await ask_asset(tracker, dispatcher, "utter_ask_order_asset")
        return [*ended, *reset_events(domain, CONSUMABLES_FORM)] if ended is not None else []


class ActionAskOrderItem(Action):
    """The device's consumables not yet in the order, as buttons: description, part number, price or coverage."""

    def name(self) -> Text:
        return "action_ask_order_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        lines = tracker.get_slot("order_lines") or []
        taken = {line["part_number"] for line in lines}
        buttons = []
        for item in tracker.get_slot("order_catalogue") or []:
            if item["part_number"] in taken:
                continue
            price = money(item["unit_price"], item["currency"], lang)
            cover = f" — {WORDS[lang]['covered']}" if item["covered_by_contract"] else ""
            buttons.append({"title": f"{item_label(item)} — {price}{cover}",
                            "payload": f'/inform{{"order_part":"{item["part_number"]}"}}'})
        response = "utter_ask_order_next_item" if lines else "utter_ask_order_item"
        dispatcher.utter_message(response=response, asset_label=tracker.get_slot("order_asset_label") or "",
                                 buttons=buttons[:MAX_BUTTONS])
        return []


class ActionAskOrderQuantity(Action):
    """How many of the consumable (buttons 1..its limit), or of each when several were named together. A quantity
    above the limit is answered here: the limit, and the maximum offered as a button (or "yes")."""

    def name(self) -> Text:
        return "action_ask_order_quantity"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        words = WORDS[language(tracker)]
        pending = pending_items(tracker) or [{"description": "?", "part_number": "?", "max_quantity": 1}]
        refused = tracker.get_slot("order_quantity_refused") or {}
        for item in pending:
            if item["part_number"] in refused:
                limit = int(item["max_quantity"])
                offer = [{"title": words["order_max"].format(n=limit), "payload": f'/inform{{"quantity":"{limit}"}}'}]
                dispatcher.utter_message(response="utter_order_quantity_above_max", item=item_label(item),
                                         quantity=refused[item["part_number"]], max_quantity=limit,
                                         buttons=offer if len(pending) == 1 else [])
        if len(pending) == 1:
            if pending[0]["part_number"] not in refused:
                limit = int(pending[0]["max_quantity"])
                dispatcher.utter_message(response="utter_ask_order_quantity", item=item_label(pending[0]),
                                         max_quantity=limit, buttons=self._buttons(limit, "{n}"))
            return []
        limit = min(int(item["max_quantity"]) for item in pending)
        dispatcher.utter_message(response="utter_ask_order_quantities", buttons=self._buttons(limit, words["each"]),
                                 items="\n".join(f"• {item_label(item)} (1 – {item['max_quantity']})"
                                                  for item in pending))
        return []

    @staticmethod
    def _buttons(limit: int, title: str) -> List[Dict[str, str]]:
        return [{"title": title.format(n=n), "payload": f'/inform{{"quantity":"{n}"}}'}
                for n in range(1, min(limit, 10) + 1)]


class ActionAskOrderMore(Action):
    def name(self) -> Text:
        return "action_ask_order_more"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lines = lines_text(tracker.get_slot("order_lines") or [])
        dispatcher.utter_message(response="utter_ask_order_more", lines=lines)
        return []


class ActionAskOrderConfirm(Action):
    """The portal's price ("Obtenir le prix") of every line, whether the contract covers it, and the total."""

    def name(self) -> Text:
        return "action_ask_order_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        lines = tracker.get_slot("order_lines") or []
        common = {"asset_label": tracker.get_slot("order_asset_label") or tracker.get_slot("order_asset"),
                  "delivery": address_text(delivery_address(tracker)),
                  "contact": person_text(contact_person(tracker))}
        try:
            price = await backend(tracker).price(
                tracker.get_slot("order_asset"),
                [{"part_number": line["part_number"], "quantity": line["quantity"]} for line in lines])
        except BackendError as error:
            report_backend_error(dispatcher, error)
            dispatcher.utter_message(response="utter_ask_order_confirm_unpriced", lines=lines_text(lines), **common)
            return []
        dispatcher.utter_message(response="utter_ask_order_confirm", lines=priced_lines_text(price, lang),
                                 total=money(price["total"], price["currency"], lang), **common)
        return []


class ActionSubmitOrder(SubmitAction):
    """Places the order (Idempotency-Key: the form's key, so a retry never orders twice)."""

    action_name = "action_submit_order"
    form = CONSUMABLES_FORM
    extra_slots = CONSUMABLES_EXTRA

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        if slot("order_refusal"):  # eMaintenance: the reason was given when the device was chosen
            return []
        if slot("order_confirm") is not True:
            dispatcher.utter_message(response="utter_order_not_submitted")
            return []
        body: Dict[str, Any] = {
            "asset": slot("order_asset"),
            "lines": [{"part_number": line["part_number"], "quantity": line["quantity"]}
                      for line in slot("order_lines") or []],
        }
        if slot("order_contact") == "other" and isinstance(slot("order_contact_person"), dict):
            body["contact"] = {k: v for k, v in slot("order_contact_person").items() if k in ("full_name", "email")}
        if slot("order_delivery") == "new" and isinstance(slot("order_address"), dict):
            body["shipping_address"] = {k: delivery_address(tracker).get(k, "")
                                        for k in ("recipient", "street", "city", "postcode", "country")}
        order = await backend(tracker).create_order(body, idempotency_key=key)
        dispatcher.utter_message(response="utter_order_created", order_number=order["number"],
                                 total=money(order["total"], order["currency"], language(tracker)),
                                 asset_label=slot("order_asset_label") or slot("order_asset"))
        return []


# --- order enquiry -------------------------------------------------------------------------------------------------
MISSING_WORDS = re.compile(r"(manqu|missing|absent|pas (ete )?recu|jamais (ete )?recu|pas arrive|not (been )?"
                           r"(received|delivered)|never (arrived|came|received)|didn'?t (arrive|get|receive)|"
                           r"incomplet|incomplete|short|"
                           # what came without it: "came without the staples", "livré sans le cyan", "never turned up"
                           r"\b(?:came|arrived|turned up|showed up|delivered|got here) (?:\w+ )?without\b"
                           r"(?! (?:any |a )?(?:problem|issue|damage|hitch|delay|trouble))|"
                           r"\b(?:livre|arrive|venu|recu)e?s? sans\b(?! (?:probleme|souci|encombre|dommage|incident|retard))|\bnever (?:did|turned up|showed up|came|made it)\b|"
                           r"\b(?:didn'?t|did not|hasn'?t|has not) (?:come|turn up|show up)\b|\bjamais (?:arrive|venu)|"
                           # nothing (or not that) in the box: "were not in it", "just the packing slip", "arrivé vide"
                           r"\b(?:was|were)(?:n'?t| not) in (?:it|the (?:box|parcel|package))|\bno \w+(?: \w+)? in (?:it|the (?:box|"
                           r"parcel|package))|packing slip only|(?:just|only) the (?:packing slip|delivery note)|empty (?:box|parcel)|"
                           r"(?:box|parcel|package) was empty|n'etai(?:t|ent) pas dans|pas dans (?:le|la) (?:colis|carton|boite)|"
                           r"(?:arrive|livre)e? vide|(?:carton|colis) vide|(?:juste|que) le bon de livraison|"
                           # fewer than ordered: "only 1 delivered", "on n'en a recu qu'un", "seulement 2"
                           r"\bonly (\d+|one|two|three|half)\b|\bseulement (\d+|un|une|deux|trois)\b|"
                           r"\bqu'(un|une|\d+) (seul|seule)?|\bjust (\d+|one)\b (came|arrived|delivered))")
WRONG_WORDS = re.compile(r"(incorrect|wrong|mauvais|errone|erreur|pas le bon|pas la bonne|pas les bons|au lieu|"
                         r"instead|not what i ordered|ne correspond|different|autre reference|not the right)")


def order_number_in(text: str, whole_answer: bool) -> Optional[str]:
    """"ORD0001233", "ord 1233" → "ORD0001233"; when the text answers the question, a bare "1233" too."""
    found = ORDER_NUMBER_IN_TEXT.search(text or "")
    if found:
        return f"ORD{int(found.group(1)):07d}"
    if whole_answer and not is_payload(text or ""):
        digits = re.findall(r"\b\d{4,7}\b", text or "")
        if len(digits) == 1:
            return f"ORD{int(digits[0]):07d}"
    return None


# "we ordered black toner but the box had cyan in it", "j'ai commandé du noir et on m'a livré du cyan": what was
# ordered set against what came, with no word saying something is missing, is a wrong item.
ORDERED_BUT = re.compile(r"\b(?:ordered|order was for|asked for|commande\w*|demande\w*)\b.{0,80}"
                         r"\b(?:but|mais|et|and|yet|whereas|alors qu\w*|sauf qu\w*)\b.{0,40}"
                         r"\b(?:got|received|had|came|sent|contained|contenait|recu\w*|livre\w*|envoye\w*|"
                         r"arrive\w*)\b"
                         # ... or what came first: "the box had cyan in it but we ordered black"
                         r"|\b(?:got|received|had|came|sent|contained|contenait|recu\w*|livre\w*|envoye\w*)\b.{0,80}"
                         r"\b(?:but|mais|whereas|alors qu\w*|sauf qu\w*)\b.{0,40}\b(?:ordered|asked for|commande\w*)\b")
MIN_DESCRIBING_WORDS = 10  # a message this long that says what went wrong (and with what) is its description too


def enquiry_kind_in(text: str) -> Optional[str]:
    norm = normalize(text)
    missing, wrong = bool(MISSING_WORDS.search(norm)), bool(WRONG_WORDS.search(norm))
    if not missing and not wrong and ORDERED_BUT.search(norm):
        wrong = True
    if missing == wrong:
        return None
    return "missing_items" if missing else "wrong_items"


def describes_the_problem(text: str) -> bool:
    """A message that says what went wrong with a delivery, at some length: the enquiry's description."""
    return (not is_payload(text) and enquiry_kind_in(text) is not None
            and len(re.findall(r"\w+", text)) >= MIN_DESCRIBING_WORDS and len(text) <= MAX_DESCRIPTION_CHARS)


class ValidateOrderEnquiryForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_order_enquiry_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        """Once the order is known, a case still open about it (the missing item already claimed) is offered instead
        of a second one: add the message to it, its status, or a new case all the same."""
        from actions.cases import offer_open_case, open_case_about_order  # local: cases builds on this module

        known = tracker.get_slot("order_enquiry_number")  # read first: validation updates the tracker's slots
        opening = opening_turn(tracker)  # the words of the claim are in hand: "add my message" adds them
        events = await super().run(dispatcher, tracker, domain)
        number = slot_set_in(events, "order_enquiry_number")
        if not number or known == number or not opening:
            return events
        case = await open_case_about_order(backend(tracker), number)
        kind = tracker.get_slot("order_enquiry_kind")  # validation set it already when the words said it
        if case and kind and case.get("subcategory") and case["subcategory"] != kind:
            return events  # the open case is about another problem with this order ("missing" vs "wrong item")
        offer = offer_open_case(dispatcher, tracker, case, ENQUIRY_INTENT, response="utter_order_case_already_open",
                                order_number=number)
        return events if offer is None else [*events, *offer]  # the offer's requested_slot=None ends the form

    async def extract_order_enquiry_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_enquiry_number"
        if tracker.get_slot(slot) or not (opening_turn(tracker) or asked(tracker, slot)):
            return {}
        message = turn_message(tracker)  # on the opening turn, the words that asked (also after a switch)
        text = message.text
        number = message.entity("order_number") or order_number_in(text, whole_answer=asked(tracker, slot))
        if number:
            return {slot: number}
        if not is_payload(text) and (opening_turn(tracker) or not not_an_answer(tracker)):
            try:  # "the one from July", "la commande du copieur du 2e"
                number = await described_order(backend(tracker), text)
            except BackendError as error:
                log.warning("orders unavailable to find the one described: %s", error)
            if number:
                return {slot: number}
        if opening_turn(tracker) or not_an_answer(tracker):
            return {}
        return {slot: text}

    async def validate_order_enquiry_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        number = str(value or "").strip().upper()
        if not ORDER_NUMBER.match(number):
            dispatcher.utter_message(response="utter_order_number_invalid", reference=str(value or "")[:40])
            return {"order_enquiry_number": None}
        try:
            order = await backend(tracker).order(number)
        except BackendRejected as error:
            if error.status == 404:
                dispatcher.utter_message(response="utter_order_not_found", order_number=number)
            else:
                report_backend_error(dispatcher, error)
            return {"order_enquiry_number": None}
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"order_enquiry_number": None}
        summary = {"number": order["number"], "created_at": order.get("created_at"), "status": order.get("status"),
                   "asset_number": order.get("asset_number"),
                   "lines": [{k: line.get(k) for k in ("part_number", "description", "quantity")}
                             for line in order.get("lines", [])]}
        return {"order_enquiry_number": order["number"], "order_enquiry_order": summary}

    async def extract_order_enquiry_kind(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_enquiry_kind"
        if tracker.get_slot(slot):
            return {}
        if opening_turn(tracker):  # "il manque un article dans ma commande" already says which
            opening = opening_message(tracker)  # also when said inside another form and accepted with a "yes"
            text = opening.text
            kind = enquiry_kind_in(text) if opening.intent == "order_enquiry" and not is_payload(text) else None
            if kind and describes_the_problem(text) and not tracker.get_slot("order_enquiry_description"):
                return {slot: kind, "order_enquiry_description": text.strip()}  # the problem, told already
            return {slot: kind} if kind else {}
        text = text_of(tracker)
        if not asked(tracker, slot):
            return {}
        chosen = entity(tracker, slot)
        if chosen:
            return {slot: chosen}
        kind = None if is_payload(text) else enquiry_kind_in(text)
        if kind and describes_the_problem(text) and not tracker.get_slot("order_enquiry_description"):
            return {slot: kind, "order_enquiry_description": text.strip()}  # the answer tells the whole problem
        if kind:
            return {slot: kind}
        if not_an_answer(tracker):
            return {}
        return {slot: text}

    async def validate_order_enquiry_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value in ("wrong_items", "missing_items"):
            return {"order_enquiry_kind": value}
        dispatcher.utter_message(response="utter_choose_an_option")
        return {"order_enquiry_kind": None}

    async def extract_order_enquiry_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_enquiry_description"
        if not asked(tracker, slot) or not_free_text_answer(tracker):
            return {}
        return {slot: text_of(tracker)}

    async def validate_order_enquiry_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if len(text) < MIN_DESCRIPTION_CHARS or is_payload(text):
            dispatcher.utter_message(response="utter_description_too_short")
            return {"order_enquiry_description": None}
        if len(text) > MAX_DESCRIPTION_CHARS:
            dispatcher.utter_message(response="utter_description_too_long", max_chars=MAX_DESCRIPTION_CHARS)
            return {"order_enquiry_description": None}
        return {"order_enquiry_description": text}

    async def extract_order_enquiry_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "order_enquiry_confirm")


async def recent_orders(client: BackendClient) -> List[Dict[str, Any]]:
    """The newest consumables orders over the user's devices not under eMaintenance."""
    assets = [a for a in await client.assets() if not a.get("emaintenance")][:MAX_ORDER_HISTORY_ASSETS]
    orders: List[Dict[str, Any]] = []
    for asset in assets:
        orders += await client.asset_orders(asset["asset_number"])
    orders.sort(key=lambda o: str(o.get("created_at") or ""), reverse=True)
    return orders[:MAX_RECENT_ORDERS]


# A month named for an order: "the July order", "la commande de mai", "back in May" ("may" / "mai" and "mars" / "mar"
# only after a word that introduces a date, since they are also everyday words).
_DATE_INTRO = r"(?:en|de|d'|du mois de|in|from|of|since|depuis|back in|order|commande)\s+"
_AMBIGUOUS_MONTHS = {"may", "mai", "mar", "mars"}
LATEST_WORDS = re.compile(r"\b(derniere|dernier|la plus recente|last|latest|most recent|newest)\b")


def months_named(text: str) -> List[int]:
    plain = normalize(text).lower()
    found = []
    for word, month in _MONTHS.items():
        if len(word) < 4 and word not in _AMBIGUOUS_MONTHS:
            continue
        pattern = rf"\b{re.escape(word)}\b"
        if word in _AMBIGUOUS_MONTHS:
            pattern = rf"\b{_DATE_INTRO}{re.escape(word)}\b"
        if re.search(pattern, plain) and month not in found:
            found.append(month)
    return found


async def described_order(client: BackendClient, text: str) -> Optional[str]:
    """The one recent order the words describe without its number: its month ("the one from July", "la commande de
    mai"), its device ("for the 2nd floor copier"), its consumables ("the staples order"). None unless the words
    say at least one of these and exactly one order fits them all."""
    if not text or is_payload(text):
        return None
    plain = normalize(text).lower()
    months = months_named(plain)
    items_named = bool(kind_of(plain) or colours_of(plain))
    devices = {a["asset_number"] for a in (await client.resolve_assets(text)).get("matches") or []}
    latest = bool(LATEST_WORDS.search(plain))
    if not (months or items_named or devices or latest):
        return None
    fitting = []
    for order in await recent_orders(client):  # newest first
        if latest and not (months or items_named or devices):
            return order["number"]
        created = str(order.get("created_at") or "")
        if months and (len(created) < 7 or int(created[5:7]) not in months):
            continue
        if devices and order.get("asset_number") not in devices:
            continue
        if items_named and not match_items(plain, order.get("lines") or []):
            continue
        fitting.append(order["number"])
    return fitting[0] if len(fitting) == 1 else None


class ActionAskOrderEnquiryNumber(Action):
    def name(self) -> Text:
        return "action_ask_order_enquiry_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        try:
            orders = await recent_orders(backend(tracker))
        except BackendError as error:  # the number can still be typed
            log.warning("recent orders unavailable: %s", error)
            orders = []
        if not orders:
            dispatcher.utter_message(response="utter_ask_order_enquiry_number_typed")
            return []
        buttons = [{"title": f"{o['number']} — {day_text(o.get('created_at'), lang)} — {order_lines_summary(o)}",
                    "payload": f'/inform{{"order_number":"{o["number"]}"}}'} for o in orders]
        dispatcher.utter_message(response="utter_ask_order_enquiry_number", buttons=buttons)
        return []


class ActionAskOrderEnquiryKind(Action):
    def name(self) -> Text:
        return "action_ask_order_enquiry_kind"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        words = WORDS[language(tracker)]
        order = tracker.get_slot("order_enquiry_order") or {}
        dispatcher.utter_message(
            response="utter_ask_order_enquiry_kind", order_number=tracker.get_slot("order_enquiry_number") or "",
            lines=order_lines_summary(order),
            buttons=[{"title": words[kind], "payload": f'/inform{{"order_enquiry_kind":"{kind}"}}'}
                     for kind in ("wrong_items", "missing_items")])
        return []


class ActionAskOrderEnquiryConfirm(Action):
    def name(self) -> Text:
        return "action_ask_order_enquiry_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        order = tracker.get_slot("order_enquiry_order") or {}
        dispatcher.utter_message(
            response="utter_ask_order_enquiry_confirm", order_number=tracker.get_slot("order_enquiry_number"),
            order_date=day_text(order.get("created_at"), lang), lines=order_lines_summary(order),
            kind=WORDS[lang].get(tracker.get_slot("order_enquiry_kind") or "", ""),
            description=tracker.get_slot("order_enquiry_description"))
        return []


class ActionSubmitOrderEnquiry(SubmitAction):
    """Opens the order_enquiry case (wrong / missing items) with the transcript and the channel."""

    action_name = "action_submit_order_enquiry"
    form = ENQUIRY_FORM
    extra_slots = ENQUIRY_EXTRA

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        if slot("order_enquiry_confirm") is not True:
            dispatcher.utter_message(response="utter_case_not_submitted")
            return []
        case = await backend(tracker).order_enquiry(
            {"order_number": slot("order_enquiry_number"), "subcategory": slot("order_enquiry_kind"),
             "description": slot("order_enquiry_description"), "channel": channel_code(tracker),
             "transcript": transcript(tracker)},
            idempotency_key=key,
        )
        dispatcher.utter_message(response="utter_order_enquiry_created", case_number=case["number"],
                                 order_number=slot("order_enquiry_number"))
        return []


# --- training request ----------------------------------------------------------------------------------------------
NO_DEVICE_WORDS = re.compile(r"\b(aucun|aucune|none|no device|pas d'appareil|sans appareil|general|generale|"
                             r"tous|toutes|all|any|n'importe)\b")
NO_PREFERENCE_WORDS = re.compile(r"(pas de pref|peu importe|n'importe|indifferent|aucune|no pref|any ?time|"
                                 r"whenever|any date|doesn'?t matter|des que possible|asap|as soon as possible|"
                                 r"le plus tot)")
ONLY_ME_WORDS = re.compile(r"\b(juste moi|moi seul|moi seule|only me|just me|myself)\b")
# How many people, in a sentence: "three new starters", "pour 5 personnes", "me and one colleague" (digits_of first)
PEOPLE_COUNT = re.compile(r"\b(?P<n>\d{1,3})\s+(?:\w+\s+){0,2}?(?:people|persons?|personnes?|starters?|colleagues?|"
                          r"collegues?|users?|utilisateurs?|employees?|salaries?|agents?|participants?|attendees?|"
                          r"staff|members?|membres?|nouveaux|nouvelles|recrues?|stagiaires?|interns?)\b")
ME_AND = re.compile(r"\b(?:me|myself|moi|moi-meme)\s+(?:and|et|\+|plus)\s+(?P<n>\d{1,3})\s+(?:\w+\s+)?"
                    r"(?:colleagues?|collegues?|others?|autres?|people|personnes?|coworkers?)\b")
# The words of a training request that say nothing of its subject
TRAINING_GENERIC = set("""
formation formations training session sessions course cours organiser organise book booking arrange could can
we us our nous on peut pourrait est ce que qu il faudrait voudrais would like want need please svp merci hello
bonjour hi some une un des de du la le les pour for on the a an to sur avec with get have avoir faire do
""".split())
MIN_TOPIC_WORDS = 3  # words besides those: an opening message this specific is the training's subject


def attendees_in(text: str) -> Optional[int]:
    """The number of people a sentence names ("three new starters", "me and one colleague" = 2), else None."""
    norm = digits_of(normalize(text)).lower()
    pair = ME_AND.search(norm)
    if pair:
        return int(pair.group("n")) + 1
    found = {int(m.group("n")) for m in PEOPLE_COUNT.finditer(norm)}
    return found.pop() if len(found) == 1 else None


def topic_in(text: str) -> Optional[str]:
    """The opening message as the training's subject, when it says more than "I'd like a training"."""
    words = [w for w in re.findall(r"[^\W\d_]+", normalize(text).lower()) if w not in TRAINING_GENERIC and len(w) > 1]
    cleaned = re.sub(r"\s+", " ", text).strip()
    return cleaned if len(words) >= MIN_TOPIC_WORDS and len(cleaned) <= MAX_TOPIC_CHARS else None


class ValidateOrderTrainingForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_order_training_form"

    async def extract_order_training_topic(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_training_topic"
        if opening_turn(tracker) and not tracker.get_slot(slot):  # the subject, said in the first message
            opening = opening_message(tracker)
            topic = None if is_payload(opening.text) or opening.intent != "order_training" else topic_in(opening.text)
            return {slot: topic} if topic else {}
        if not asked(tracker, slot) or not_free_text_answer(tracker):
            return {}
        return {slot: text_of(tracker)}

    async def validate_order_training_topic(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = re.sub(r"\s+", " ", str(value or "")).strip()
        if is_payload(text) or len(text) < MIN_TOPIC_CHARS or len(text) > MAX_TOPIC_CHARS \
                or not HAS_LETTER.search(text):
            dispatcher.utter_message(response="utter_order_training_topic_invalid", max_chars=MAX_TOPIC_CHARS)
            return {"order_training_topic": None}
        return {"order_training_topic": text}

    async def extract_order_training_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_training_asset"
        if tracker.get_slot(slot):
            return {}
        if opening_turn(tracker):  # only a device the first message names (by number, alias, place, model)
            opening = opening_message(tracker)
            if is_payload(opening.text):
                return {}
            try:
                named = opening.entity("asset_ref") or (
                    await backend(tracker).resolve_assets(opening.text))["matches"]
            except BackendError:
                return {}
            if not named:
                return {}  # the device is optional: asked, with "no particular device"
            return await extract_asset(tracker, dispatcher, slot, "order_training_asset_label")
        if not asked(tracker, slot):
            return {}
        text = text_of(tracker)
        if intent_of(tracker) == "deny" or (not is_payload(text) and NO_DEVICE_WORDS.search(normalize(text))):
            return {slot: "none", "order_training_asset_label": None}
        return await extract_asset(tracker, dispatcher, slot, "order_training_asset_label")

    async def extract_order_training_attendees(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_training_attendees"
        if opening_turn(tracker) and not tracker.get_slot(slot):
            opening = opening_message(tracker)
            count = None if is_payload(opening.text) else attendees_in(opening.text)
            return {slot: count} if count else {}
        if not asked(tracker, slot):
            return {}
        text, value = text_of(tracker), entity(tracker, "quantity")
        if ONLY_ME_WORDS.search(normalize(text)):
            return {slot: 1}
        if value is None and parse_count(text) is None and not_an_answer(tracker):
            return {}
        return {slot: value if value is not None else text}

    async def validate_order_training_attendees(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        count = value if isinstance(value, int) else parse_count(str(value or ""), entity(tracker, "quantity"))
        if count is None or not 1 <= count <= MAX_ATTENDEES:
            dispatcher.utter_message(response="utter_order_training_attendees_invalid", max_attendees=MAX_ATTENDEES)
            return {"order_training_attendees": None}
        return {"order_training_attendees": count}

    async def extract_order_training_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slot = "order_training_date"
        if opening_turn(tracker) and not tracker.get_slot(slot):
            opening = opening_message(tracker)
            try:
                found = None if is_payload(opening.text) else parse_date(opening.text, date.today())
            except DateError:
                found = None
            return {slot: found.isoformat()} if found and found >= date.today() else {}
        if not asked(tracker, slot):
            return {}
        text = text_of(tracker)
        if intent_of(tracker) == "deny" or (not is_payload(text) and NO_PREFERENCE_WORDS.search(normalize(text))):
            return {slot: "none"}
        try:
            found = parse_date(text, date.today())
        except DateError:
            return {slot: text}  # an impossible date (31/02): the validation says so
        if found is None and not_an_answer(tracker):
            return {}
        return {slot: found.isoformat() if found else text}

    async def validate_order_training_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == "none":
            return {"order_training_date": "none"}
        today = date.today()
        try:
            found = parse_date(str(value or ""), today)
        except DateError:
            found = None
        if found is None:
            dispatcher.utter_message(response="utter_order_training_date_invalid")
            return {"order_training_date": None}
        if found < today:
            dispatcher.utter_message(response="utter_order_training_date_past",
                                     date=long_day_text(found, language(tracker)))
            return {"order_training_date": None}
        return {"order_training_date": found.isoformat()}

    async def extract_order_training_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return yes_no_answer(tracker, dispatcher, "order_training_confirm")


class ActionAskOrderTrainingAsset(Action):
    """The user's devices as buttons, plus "no particular device" (the device is optional)."""

    def name(self) -> Text:
        return "action_ask_order_training_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        words = WORDS[language(tracker)]
        try:
            assets = await backend(tracker).assets()
        except BackendError as error:
            log.warning("assets unavailable for the training question: %s", error)
            assets = []
        buttons = asset_buttons(assets)[:MAX_BUTTONS - 1] + [{"title": words["no_device_button"], "payload": "/deny"}]
        dispatcher.utter_message(response="utter_ask_order_training_asset", buttons=buttons)
        return []


def training_date_text(value: Optional[str], lang: str) -> str:
    if not value or value == "none":
        return WORDS[lang]["no_preference"]
    try:
        return long_day_text(date.fromisoformat(value), lang)
    except ValueError:
        return value


TRAINING_SHOWN = 3


def training_lines(requests: Sequence[Dict[str, Any]], lang: str) -> str:
    """One bullet per training request: number, topic, device, attendees, preferred date."""
    words = WORDS[lang]
    lines = []
    for request in requests[:TRAINING_SHOWN]:
        when = day_text(request["preferred_date"], lang) if request.get("preferred_date") else words["no_date"]
        device = f" — {request['asset_number']}" if request.get("asset_number") else ""
        lines.append(f"• {request['number']} — {request['topic']}{device} — {request['attendees']} "
                     f"{words['people']} — {when}")
    return "\n".join(lines)


async def training_already_asked(client: BackendClient, asset: Optional[str]) -> List[Dict[str, Any]]:
    """The training requests still to come on the same device (any device when none is chosen): a duplicate is
    pointed out before another is sent."""
    today = datetime.now().date().isoformat()
    return [r for r in await client.training_requests()
            if (not asset or r.get("asset_number") in (None, asset))
            and (not r.get("preferred_date") or r["preferred_date"] >= today)]


class ActionAskOrderTrainingConfirm(Action):
    def name(self) -> Text:
        return "action_ask_order_training_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang, slot = language(tracker), tracker.get_slot
        asset = slot("order_training_asset") if slot("order_training_asset") not in (None, "none") else None
        try:
            earlier = await training_already_asked(backend(tracker), asset)
        except BackendError as error:  # the summary matters more than the reminder
            log.warning("training requests unavailable: %s", error)
            earlier = []
        if earlier:
            dispatcher.utter_message(response="utter_training_already_requested", requests=training_lines(earlier, lang))
        device = slot("order_training_asset_label") if slot("order_training_asset") not in (None, "none") \
            else WORDS[lang]["none_device"]
        dispatcher.utter_message(response="utter_ask_order_training_confirm",
                                 topic=escape_markdown(slot("order_training_topic")),
                                 asset_label=device, attendees=slot("order_training_attendees"),
                                 date=training_date_text(slot("order_training_date"), lang))
        return []


class ActionSubmitOrderTraining(SubmitAction):
    """'Commander une formation': a training request (TRN number), not a case."""

    action_name = "action_submit_order_training"
    form = TRAINING_FORM
    extra_slots = TRAINING_EXTRA

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        if slot("order_training_confirm") is not True:
            dispatcher.utter_message(response="utter_order_training_not_submitted")
            return []
        body: Dict[str, Any] = {"topic": slot("order_training_topic"),
                                "attendees": int(slot("order_training_attendees")), "description": ""}
        if slot("order_training_asset") not in (None, "none"):
            body["asset"] = slot("order_training_asset")
        if slot("order_training_date") not in (None, "none"):
            body["preferred_date"] = slot("order_training_date")
        training = await backend(tracker).training_request(body, idempotency_key=key)
        dispatcher.utter_message(response="utter_order_training_created", training_number=training["number"],
                                 topic=escape_markdown(training.get("topic", slot("order_training_topic"))))
        return []


# --- last orders of a device ------------------------------------------------------------------------------------
class ActionViewOrders(Action):
    """"Afficher les commandes de consommables": the last 5 orders of a device (number, date, status, lines,
    total). One action, so it also answers inside any form (data/rules/switching.yml): the device comes from
    the message (asset number, serial or alias), or is the user's only device; otherwise the devices are
    offered as buttons that ask again with the device (`/view_orders{"asset_ref": …}`), and a typed answer
    comes back here through the rule on `order_history_asked`."""

    def name(self) -> Text:
        return "action_view_orders"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from actions.assets import current_asset  # local: assets builds on this module

        client = backend(tracker)
        text = text_of(tracker)
        reference = entity(tracker, "asset_ref") or ("" if is_payload(text) else text)
        try:
            resolution = await client.resolve_assets(reference) if reference \
                else {"matches": [], "unknown_references": []}
            matches, unknown = resolution["matches"], resolution["unknown_references"]
            if len(matches) > 1:
                dispatcher.utter_message(response="utter_asset_ambiguous", reference=reference[:60])
                return self._ask(dispatcher, tracker, matches)
            if not matches and (unknown or intent_of(tracker) == "inform"):
                dispatcher.utter_message(response="utter_asset_not_found",
                                         reference=unknown[0] if unknown else reference[:60])
                return self._ask(dispatcher, tracker, await client.assets())
            if matches:
                asset = matches[0]
            else:
                assets = await client.assets()
                # the device the conversation is about: the order a claim is about, else the device a form holds
                about = (tracker.get_slot("order_enquiry_order") or {}).get("asset_number") or current_asset(tracker)
                known = [a for a in assets if about and a["asset_number"] == about]
                if len(assets) != 1 and not known:
                    return self._ask(dispatcher, tracker, assets)
                asset = (known or assets)[0]  # exactly one device: never ask which
            await self._show(dispatcher, tracker, client, asset)
        except BackendError as error:
            report_backend_error(dispatcher, error)
        # always set, asked or not: the rules branch on it (one rule per outcome)
        return [SlotSet(HISTORY_ASKED, False)]

    @staticmethod
    def _ask(dispatcher: CollectingDispatcher, tracker: Tracker, assets: List[Dict[str, Any]]) -> List[EventType]:
        if not assets:
            dispatcher.utter_message(response="utter_no_assets")
            return [SlotSet(HISTORY_ASKED, False)]
        buttons = [{"title": asset_label(a, markdown=False),
                    "payload": f'/view_orders{{"asset_ref":"{a["asset_number"]}"}}'}
                   for a in assets[:MAX_BUTTONS]]
        dispatcher.utter_message(response="utter_ask_order_history_asset", buttons=buttons)
        return [SlotSet(HISTORY_ASKED, True)]

    @staticmethod
    async def _show(dispatcher: CollectingDispatcher, tracker: Tracker, client: BackendClient,
                    asset: Dict[str, Any]) -> None:
        lang, label = language(tracker), asset_label(asset)
        try:
            orders = await client.asset_orders(asset["asset_number"])
        except BackendRejected as error:
            if error.code != "emaintenance_asset":
                raise
            dispatcher.utter_message(response="utter_order_history_refused", reason=escape_markdown(error.message))
            return
        if not orders:
            dispatcher.utter_message(response="utter_order_history_empty", asset_label=label)
            return
        dispatcher.utter_message(response="utter_order_history_intro", asset_label=label, count=len(orders))
        for order in orders[:MAX_RECENT_ORDERS]:
            dispatcher.utter_message(
                response="utter_order_history_entry", order_number=order["number"],
                order_date=day_text(order.get("created_at"), lang), status=status_text(order.get("status", ""), lang),
                lines=order_lines_summary(order), total=money(order.get("total", 0), order.get("currency", ""), lang))
