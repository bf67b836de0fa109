"""Meter readings ("Relevés compteur"): submit new readings, or ask a question about an existing one.

Submit (`meter_reading_form`): which device → its meters are shown with their last reading and date → each
new value is asked in turn (one short question per meter: voice-friendly) → a summary to confirm → one
atomic POST /assets/{ref}/meter-readings → the submission's reference.

  * The meters are the device's own (GET /assets/{ref}/meters), so one slot holds them (`meter_list`), one
    slot the values collected so far (`meter_values`: code → value, or None for a meter left out) and one
    slot, `meter_current`, is the form's question "the next meter": it stays empty until every meter has an
    answer, then becomes "done" (something to send) or "none" (every meter left out: nothing is sent).
  * Accepted answers: a whole number, thousands separated by spaces, dots, commas or apostrophes
    ("45 300", "45.300", "45,300"); "pareil" / "inchangé" / "same" / "unchanged" = the meter did not move
    (its last value is sent again, which the backend accepts); "passer" / "skip" = leave this meter out (the
    backend takes partial submissions, at least one value); several meters at once ("112: 45300, 113 = 12000",
    also in the message that starts the conversation). Corrections are accepted the same way at the summary.
  * Refused, with the reason: no number, several numbers without meter codes, decimals, negative values,
    values above the backend's limit, and values lower than the last reading (its value and date are quoted).
    A value far above the last one (an extra digit, an asset number typed by mistake) is kept pending and
    confirmed with yes/no first.
  * Asking again for the readings ("je veux saisir mes relevés") inside the form starts the values over;
    naming another device ("oups, c'est la 80145861") starts over on that device.

Query (`meter_query_form`): which device → its last readings are shown and the meter is chosen → that meter's
history is shown and the question asked → a summary to confirm → POST .../meter-readings/query (a case
"meter_reading / query" with the channel and the transcript) → the case number.

Extraction rule of every form (actions/forms.py): an `extract_*` acts only on the message that answers the
question it asked (or the one that opened the form), never on one a digression already answered.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.text import DIGIT_WORDS, digits_of, escape_markdown, plain
from actions.backend_client import BackendError
from actions.forms import (
    OPENING_HAND_OVERS, SUMMARY_QUESTIONS, OpeningMessage, PortalFormValidation, ask_asset, asked, asset_label,
    bot_response, entity, extract_asset,
    NOT_AN_ANSWER, READINGS_INTENT, gives_readings, intent_of, is_payload,
    not_an_answer, opening_turn, text_of, turn_message, yes_no_answer,
)
from actions.session import (
    MAX_DESCRIPTION_CHARS, backend, channel_code, language, report_backend_error, transcript,
)
from actions.submission import SubmitAction, reset_events

log = logging.getLogger(__name__)

FORM = "meter_reading_form"
QUERY_FORM = "meter_query_form"
FORMS = (FORM, QUERY_FORM)
# Helper slots of each form, forgotten with its answers.
EXTRA_SLOTS = ("meter_asset_label", "meter_list", "meter_values", "meter_pending")
QUERY_EXTRA_SLOTS = ("meter_query_asset_label", "meter_query_meters", "meter_query_history")

MAX_READING = 10 ** 12  # the backend's limit (MeterReadingLine.value)
# A value is "implausible" (confirmed first) when it rises by more than JUMP_MIN and is at least
# JUMP_FACTOR times the last reading, or more than max(JUMP_ABSOLUTE, JUMP_PER_DAY x days since the last one).
JUMP_MIN, JUMP_FACTOR, JUMP_ABSOLUTE, JUMP_PER_DAY = 10_000, 10, 100_000, 3_000
HISTORY_SHOWN = 5
MIN_QUESTION_CHARS = 5

DONE, NOTHING = "done", "none"  # values of meter_current once every meter has an answer

# --- reading numbers in a message -----------------------------------------------------------------------------
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[ .,'\u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*")
_RUN = re.compile(r"\d(?:[\d .,'\u00a0\u202f]*\d)?")
_DECIMAL = re.compile(r"\d+[.,]\d+")
_NEGATIVE = re.compile(r"(?:^|[^\w])[-\u2212\u2013]\s*\d")
# A meter code followed by a connector and a value: "112: 45300", "113 = 12 000", "le 122 est a 1600".
# "112: 45300", "112 = 45300", "112 → 45300", "112 - 45300" (a dash followed by a space; "112 -5" stays negative)
# ... and as a correction says it: "123 should be 61,920", "le 122 devrait être 1 600", "113 reads 88,500"
_CONNECTOR = (r"\s*(?:[:=]|->|=>|\u2192|[-\u2013\u2014](?=\s)|\bc\s*'?\s*est\b|\best\s+(?:a|de)\b|\bis\b|\bit\s*'?\s*s\b|"
              r"\bit\s+is\b|"
              r"\bat\b|\ba\b|\bshould\s+(?:be|read|say|show)\b|\bis\s+(?:actually|really|in fact)\b|"
              r"\b(?:reads|says|shows)\b|\b(?:devrait|doit|aurait du)\s+etre\b|\b(?:affiche|indique|vaut)\b|"
              r"\best\s+en\s+fait(?:\s+(?:a|de))?\b)\s*")
_NUMBER = (r"(?P<neg>[-\u2212\u2013]\s*)?(?P<num>\d{1,3}(?P<sep>[ .,'\u00a0\u202f])\d{3}(?!\s*[:=])"
           r"(?:(?P=sep)\d{3}(?!\s*[:=]))*(?!\d)|\d+)(?P<dec>[.,]\d+(?!\d)(?!\s*[:=]))?")
_ANY_PAIR = re.compile(r"(?<![\w.'])(\d{2,4})\s*[:=]\s*[-\u2212\u2013]?\d")
VALUE_FIRST = re.compile(r"^\s*\d")
KEEP_WORDS = re.compile(
    r"\b(pareil|idem|inchangee?s?|identiques?|meme (valeur|chose|qu'avant)|pas (de )?changement|aucun changement"
    r"|(n'a )?pas bouge|rien change|same|unchanged|no change|not changed|hasn'?t changed|didn'?t change"
    r"|hasn'?t moved|has not moved|not moved|didn'?t move|did not move"
    r"|as before|as last time)\b")
SKIP_WORDS = re.compile(
    r"\b(passer|passe|sauter|saute|ignorer|suivant|je (ne )?sais pas|sais pas|aucune idee|pas de releve"
    r"|(je )?(ne )?l'?ai pas|skip|pass|next|don'?t know|dunno|no idea|don'?t have( it)?|not available|n/a)\b")


normalize = plain  # the meter patterns read folded text


# A meter's value said in words ("mille cinq cent soixante-quatre", "six thousand nine hundred and twelve"); a small
# number alone stays a word ("pas un seul", "one of them"): no meter value is below ten.
NUMBER_WORDS_THRESHOLD = 10


# What a speaker says while thinking ("le 113 euh 89 120", "one one three uh 155,980"): not part of a value or code
FILLERS = re.compile(r"(?i)(?<![\w'])(?:euh+|heu+|hum+|uh+|um+|erm+|hmm+)(?![\w'])[,.]?")


def said_numbers(text: str, lang: str) -> str:
    """The answer with numbers said in words as digits, meter codes said digit by digit as codes ("one one two" →
    "112") and fillers left out (a button's payload is left as it is)."""
    if not text or is_payload(text):
        return text
    text = FILLERS.sub(" ", text)
    for pattern, code in _SPOKEN_CODES:
        text = pattern.sub(code, text)
    return digits_of(text, lang, NUMBER_WORDS_THRESHOLD)


def _digits(token: str) -> int:
    return int(re.sub(r"\D", "", token))


# A value corrected in the same answer: "41 120, non pardon 41 920", "2,455 - sorry, 2,545", "then corrected to".
_CORRECTION = re.compile(r"\b(?:non|pardon|plutot|je veux dire|corrige\w*|correction|sorry|i mean|rather|actually|"
                         r"make (?:that|it)|corrected)\b", re.I)


# A value set against the wrong one: "c'est 2 920, pas 2 290", "41,920 not 41,290", "2920 au lieu de 2290"
_NOT_THE_OTHER = re.compile(r"^(?P<kept>.*\d)\s*[,;]?\s*(?:et\s+|and\s+)?(?:pas|non pas|not|plutot que|rather than|instead of|"
                            r"au lieu de)\s+(?:le\s+|the\s+)?\d[\d .,'\u00a0\u202f]*[\s.!]*$")


def parse_value(text: str) -> Tuple[str, Optional[int]]:
    """One answer for one meter → (kind, value). kind: value | keep | skip | negative | decimal | several |
    none. Thousands may be grouped by a space, dot, comma or apostrophe used consistently ("45 300"). A value
    corrected in the same answer ("41 120, non pardon 41 920") is the last one."""
    t = normalize(text)
    if is_payload(t):
        return "none", None
    not_the_other = _NOT_THE_OTHER.match(t)
    if not_the_other:
        return parse_value(not_the_other.group("kept"))
    correction = list(_CORRECTION.finditer(t))
    if correction and re.search(r"\d", t[:correction[-1].start()]) and re.search(r"\d", t[correction[-1].end():]):
        return parse_value(t[correction[-1].end():])
    numbers: List[int] = []
    for run in _RUN.findall(t):
        if run.isdigit() or _GROUPED.fullmatch(run):
            numbers.append(_digits(run))
            continue
        for token in run.split():
            token = token.strip(".,'")
            if not token:
                continue
            if token.isdigit() or _GROUPED.fullmatch(token):
                numbers.append(_digits(token))
            elif _DECIMAL.fullmatch(token):
                return "decimal", None
            else:
                return "several", None
    if len(numbers) > 1:
        return "several", None
    if numbers:
        return ("negative", None) if _NEGATIVE.search(t) else ("value", numbers[0])
    if KEEP_WORDS.search(t):
        return "keep", None
    if SKIP_WORDS.search(t):
        return "skip", None
    return "none", None


def parse_pairs(text: str, codes: Sequence[str]) -> Tuple[List[Tuple[str, str, Optional[int]]], List[str]]:
    """Values given per meter ("112: 45300, 113 = 12 000") → ([(code, kind, value)], unknown codes).
    kind: value | negative | decimal. Only the device's own codes are read; "999: 10" names an unknown one."""
    t = normalize(text)
    if not codes or is_payload(t):
        return [], []
    alternatives = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    # the value ends where the next code starts ("le 112 c'est 15 940 113 89 120": 15 940, then 113)
    pattern = re.compile(rf"(?<![\w.'])(?P<code>{alternatives})(?!\d){_CONNECTOR}{_NUMBER}"
                         rf"(?=\s*(?:$|[^\d\s]|(?:{alternatives})\b))")
    matches = list(pattern.finditer(t))
    # a list with no connector, or only some: "112 6,702 / 113 154,380", "le 112 c'est 15940 le 113 89120 le 122
    # 4388" — a code followed by one number, in a list of two codes at least
    bare = re.compile(rf"(?<![\w.'])(?P<code>{alternatives})\s+{_NUMBER}(?=\s*(?:$|[^\d\s:=]|(?:{alternatives})\b))")
    taken = {m.group("code") for m in matches}
    found = [m for m in bare.finditer(t) if m.group("code") not in taken and not m.group("neg")
             and not any(m.start() < c.end() and c.start() < m.end() for c in matches)]
    if len(taken | {m.group("code") for m in found}) >= 2:
        matches = sorted(matches + found, key=lambda m: m.start())
    pairs: List[Tuple[str, str, Optional[int]]] = []
    for match in matches:
        if match.group("neg"):
            pairs.append((match.group("code"), "negative", None))
        elif match.group("dec"):
            pairs.append((match.group("code"), "decimal", None))
        else:
            pairs.append((match.group("code"), "value", _digits(match.group("num"))))
    unknown = [c for c in _ANY_PAIR.findall(t) if c not in codes]
    return pairs, sorted(set(unknown))


# Meters named by what they count ("N&B grand format 2 547", "colour small: 19,204", "b&w big 2,401"): the colour
# words and the size words, in either order; a device's meter is recognised by the same words in its label.
_MONO = r"(?:n\s*&\s*b|n\s*/\s*b|nb|noir(?:\s*(?:et|&)\s*blanc)?|b\s*&\s*w|b\s*/\s*w|bw|black(?:\s*(?:and|&)\s*white)?" \
        r"|mono(?:chrome)?)"
_COLOUR = r"(?:couleurs?|colou?rs?)"
_LARGE = r"(?:grands?(?:\s+formats?)?|large|big|a3)"
_SMALL = r"(?:petits?(?:\s+formats?)?|small|a4)"
_KINDS = {"mono": _MONO, "colour": _COLOUR}
_SIZES = {"large": _LARGE, "small": _SMALL}
_VALUE = re.compile(r"(?<![\w.'])" + _NUMBER)


def _meter_kind(label: str) -> Optional[Tuple[str, str]]:
    """("mono" | "colour", "large" | "small") of a meter from its label ("112 N&B Grand", "123 Colour Small")."""
    words = normalize(label).lower()
    kind = next((k for k, pattern in _KINDS.items() if re.search(rf"\b{pattern}\b", words)), None)
    size = next((k for k, pattern in _SIZES.items() if re.search(rf"\b{pattern}\b", words)), None)
    return (kind, size) if kind and size else None


def named_pairs(text: str, meters: Sequence[Dict[str, Any]]) -> List[Tuple[str, str, Optional[int]]]:
    """Values given after a meter's name ("N&B petit 42 318", "colour large is unchanged") → [(code, kind, value)]:
    the first number after the name and before the next name; "unchanged" words give its last value."""
    t = normalize(text).lower()
    by_kind = {}
    for meter in meters:
        for label in {meter_name(meter, "fr"), meter_name(meter, "en")}:
            kind = _meter_kind(label)
            if kind:
                by_kind[kind] = meter
    if not by_kind or is_payload(t):
        return []
    mentions = []
    for (kind, size), meter in by_kind.items():
        k, z = _KINDS[kind], _SIZES[size]
        for match in re.finditer(rf"(?<![\w&/])(?:{k}[\s,-]*{z}|{z}[\s,-]*{k})(?![\w&/])", t):
            mentions.append((match.start(), match.end(), meter))
    mentions.sort(key=lambda m: m[0])
    pairs: List[Tuple[str, str, Optional[int]]] = []
    for index, (_, end, meter) in enumerate(mentions):
        if any(code == meter["code"] for code, _, _ in pairs):
            continue
        segment = t[end: mentions[index + 1][0] if index + 1 < len(mentions) else len(t)]
        values = [v for v in _VALUE.finditer(segment) if v.group("num") != meter["code"]]
        if values:
            value = values[0]
            if value.group("neg"):
                pairs.append((meter["code"], "negative", None))
            elif value.group("dec"):
                pairs.append((meter["code"], "decimal", None))
            else:
                pairs.append((meter["code"], "value", _digits(value.group("num"))))
        elif KEEP_WORDS.search(segment) and meter.get("last") is not None:
            pairs.append((meter["code"], "value", meter["last"]))
    return pairs


def meter_pairs(text: str, meters: Sequence[Dict[str, Any]]) -> Tuple[List[Tuple[str, str, Optional[int]]], List[str]]:
    """Values given per meter, by code ("112: 45300") or by name ("N&B grand 45 300") → (pairs, unknown codes)."""
    pairs, unknown = parse_pairs(text, [m["code"] for m in meters])
    given = {code for code, _, _ in pairs}
    return pairs + [p for p in named_pairs(text, meters) if p[0] not in given], unknown


# --- formatting -------------------------------------------------------------------------------------------------
def fmt_number(value: Optional[int], lang: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,}"
    return text.replace(",", " ") if lang == "fr" else text


def _parse_date(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def fmt_date(value: Optional[str], lang: str) -> str:
    parsed = _parse_date(value)
    if parsed is None:
        return "—"
    return parsed.strftime("%d/%m/%Y") if lang == "fr" else parsed.strftime("%d %b %Y")


def meter_name(meter: Dict[str, Any], lang: str) -> str:
    return (meter.get("label") or {}).get(lang) or meter.get("name") or meter["code"]


def compact_meter(raw: Dict[str, Any]) -> Dict[str, Any]:
    """The backend's MeterOut reduced to what the conversation shows."""
    return {"code": raw["code"], "label": raw.get("label") or {"fr": raw["name"], "en": raw["name"]},
            "last": raw.get("last_reading"), "date": raw.get("last_reading_date"),
            "source": raw.get("last_reading_source")}


def bullet(name: str, value: str, lang: str) -> str:
    return f"• {name} : {value}" if lang == "fr" else f"• {name}: {value}"


def meter_lines(meters: List[Dict[str, Any]], lang: str) -> str:
    lines = []
    for m in meters:
        line = bullet(meter_name(m, lang), fmt_number(m["last"], lang), lang)
        if m.get("date"):
            line += f" — {fmt_date(m['date'], lang)}"
        if m.get("source"):
            line += f" ({m['source']})"
        lines.append(line)
    return "\n".join(lines)


def meter_buttons(meters: List[Dict[str, Any]], lang: str) -> List[Dict[str, str]]:
    return [{"title": meter_name(m, lang), "payload": f'/inform{{"meter_code":"{m["code"]}"}}'} for m in meters]


def values_lines(meters: List[Dict[str, Any]], values: Dict[str, Any], lang: str) -> str:
    return "\n".join(bullet(meter_name(m, lang), fmt_number(values[m["code"]], lang), lang)
                     for m in meters if values.get(m["code"]) is not None)


def example_pairs(meters: List[Dict[str, Any]], lang: str) -> str:
    shown = [f"{m['code']} : {fmt_number((m['last'] or 0) + 100, lang)}" for m in meters[:2]]
    return ", ".join(shown)


# --- the conversation's state -----------------------------------------------------------------------------------
def answered_now(tracker: Tracker) -> bool:
    """True when the form runs right after the user's message: no digression (help, greet, ...) answered it
    first. Rules that answer a digression run the form again afterwards, on the same message."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind in ("slot", "active_loop", "user_featurization"):
            continue
        if kind == "action" and event.get("name") in FORMS:
            continue
        return kind == "user"
    return False


def digression(tracker: Tracker) -> bool:
    """Another question or request than the form's; a message the NLU could not place is read by the form (numbers
    the NLU does not know: "le couleur petit c'est 19 420, pas 19 240")."""
    return not_an_answer(tracker) and intent_of(tracker) != "nlu_fallback"


# The user keeps a value refused as lower than the last reading ("that's what the counter says, I've checked it
# twice", "c'est bien ce qui est affiché, je ne change rien"), accents folded
INSISTS = re.compile(
    r"\b(that'?s what (?:it|the \w+(?: \w+)?) (?:says|shows|reads|displays)|i'?(?:ve| have)? (?:double[- ])?checked|"
    r"(?:not|won'?t|am not|i'?m not) (?:going to )?chang\w*|i'?m (?:sure|certain|positive)|(?:it|that)'?s (?:correct|right|"
    r"accurate)|(?:it|that) is (?:correct|right)|c'est bien (?:ca|ce qu\w*|la bonne|le bon|"
    r"exact)|c'est ce qu\w* (?:est )?affich\w*|(?:j'ai|on a) (?:bien |deja )?(?:verifie|regarde|controle)|je (?:ne )?"
    r"(?:change|modifie) (?:rien|pas)|je maintiens|j'en suis (?:sur|certaine?)|c'est (?:correct|juste|exact)|"
    r"l'ecran (?:affiche|indique|dit))\b")


def insists_on_lower(tracker: Tracker) -> bool:
    """The latest message keeps a value the assistant just refused as lower than the meter's last reading."""
    text = text_of(tracker)
    if tracker.get_slot("requested_slot") != "meter_current" or not INSISTS.search(plain(text)) \
            or intent_of(tracker) in NOT_AN_ANSWER:
        return False
    # a new value, "same as last time" or "skip" said with it is an answer, not the refused value kept
    said = said_numbers(text, "fr")
    if parse_value(said)[0] != "none" or parse_pairs(said, [m["code"] for m in GUIDE_METERS])[0]:
        return False
    latest_seen = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if latest_seen:
                return False
            latest_seen = True
        elif latest_seen and bot_response(event) == "utter_meter_value_lower":
            return True
    return False


SUMMARY_QUESTIONS[FORM] = insists_on_lower  # the form answers it, whatever request the words seem to make


def current_meter(meters: List[Dict[str, Any]], values: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The first meter without an answer yet (a meter left out has the answer None)."""
    return next((m for m in meters if m["code"] not in values), None)


def implausible(meter: Dict[str, Any], value: int, now: Optional[datetime] = None) -> bool:
    last = meter.get("last")
    if last is None or value - last <= JUMP_MIN:
        return False
    since = _parse_date(meter.get("date"))
    days = max(1, ((now or datetime.now(timezone.utc)) - since).days) if since else 30
    return value >= JUMP_FACTOR * max(last, 1) or value - last > max(JUMP_ABSOLUTE, JUMP_PER_DAY * days)


def refuse_value(dispatcher: CollectingDispatcher, meter: Dict[str, Any], kind: str, value: Optional[int],
                 lang: str) -> bool:
    """Says why a value cannot be recorded for this meter; False when it can."""
    name = meter_name(meter, lang)
    if kind == "negative":
        dispatcher.utter_message(response="utter_meter_value_negative", meter_name=name)
    elif kind == "decimal":
        dispatcher.utter_message(response="utter_meter_value_not_integer", meter_name=name)
    elif value is not None and value > MAX_READING:
        dispatcher.utter_message(response="utter_meter_value_too_large", meter_name=name)
    elif value is not None and meter.get("last") is not None and value < meter["last"]:
        dispatcher.utter_message(response="utter_meter_value_lower", meter_name=name,
                                 value=fmt_number(value, lang), last_value=fmt_number(meter["last"], lang),
                                 last_date=fmt_date(meter.get("date"), lang))
    else:
        return False
    return True


def progress(meters: List[Dict[str, Any]], values: Dict[str, Any], pending: Dict[str, int]) -> Dict[Text, Any]:
    """The form's question once the answers are recorded: the next meter (None), or every meter answered."""
    state: Dict[Text, Any] = {"meter_values": values, "meter_pending": pending or None, "meter_current": None}
    if not pending and current_meter(meters, values) is None:
        state["meter_current"] = DONE if any(v is not None for v in values.values()) else NOTHING
    return state


async def load_meters(tracker: Tracker, dispatcher: CollectingDispatcher, reference: str,
                      label: str) -> Optional[List[Dict[str, Any]]]:
    """The device's meters, or None after telling the user why there are none to use."""
    try:
        raw = await backend(tracker).meters(reference)
    except BackendError as error:
        report_backend_error(dispatcher, error)
        return None
    if not raw:
        dispatcher.utter_message(response="utter_meter_no_meters", asset_label=label)
        return None
    return [compact_meter(m) for m in raw]


# --- submitting new readings --------------------------------------------------------------------------------------
# A value already in the portal disputed, told with its number ("143,312 in the portal can't be right, can someone
# check it?"): a question about a reading, not a new reading (accents folded).
DISPUTE_WORDS = re.compile(r"\b(can'?t be right|cannot be right|can'?t be correct|doesn'?t look right|not right|seems? "
                           r"(?:wrong|high|off|too high)|looks? (?:wrong|high|off|too high)|too high|incorrect|wrong|dispute\w*|"
                           r"ne peut pas etre (?:bon|juste|correct)|pas possible|impossible|faux|fausse|errone\w*|"
                           r"incoherent\w*|anormal\w*|trop eleve\w*|conteste\w*)\b")
RECORDED_WORDS = re.compile(r"\b(portal|portail|invoice\w*|factur\w*|bill\w*|recorded|enregistre\w*|shows?|showing|affiche\w*|"
                            r"indique\w*|you have|vous avez)\b")
QUERY_INTENT = "query_meter_reading"


def _reading_hand_over(opening: OpeningMessage) -> Optional[Tuple[str, Optional[str]]]:
    plain = normalize(opening.text).lower()
    if DISPUTE_WORDS.search(plain) and RECORDED_WORDS.search(plain):
        return QUERY_INTENT, "utter_meter_reading_is_a_query"
    return None


OPENING_HAND_OVERS[FORM] = _reading_hand_over

# The guide's four meters, by their names: readings told by name ("big black 2,512 / small colour 19,004") are
# recognised before any device is known.
GUIDE_METERS = [{"code": code, "label": {"fr": fr, "en": en}} for code, fr, en in (
    ("112", "N&B Grand", "B&W Large"), ("113", "N&B Petit", "B&W Small"),
    ("122", "Couleur Grand", "Colour Large"), ("123", "Couleur Petit", "Colour Small"))]


# The guide's meter codes said digit by digit ("one one two", "un-un-trois", "1 2 2"): the codes, before the numbers
# said in words are read ("nine hundred and eighty one two two" is 980 then meter 122, not 981 then 2 2)
_SPOKEN_CODES = [(re.compile(r"(?i)(?<![\w-])" + r"[\s-]+".join(
    "(?:" + "|".join([digit, *(word for word, said in DIGIT_WORDS.items() if str(said) == digit)]) + ")"
    for digit in meter["code"]) + r"(?![\w-])"), meter["code"]) for meter in GUIDE_METERS]


def gives_guide_readings(text: str, lang: str) -> bool:
    """Values given for two of the guide's meters or more, by code or by name, typed or said ("one one two is seven
    thousand…", "le cent treize euh quatre-vingt-neuf mille…")."""
    if gives_readings(text or ""):
        return True
    pairs, _ = meter_pairs(said_numbers(text or "", lang), GUIDE_METERS)
    return len(pairs) >= 2


def _query_hand_over(opening: OpeningMessage) -> Optional[Tuple[str, Optional[str]]]:
    """New readings given per meter (by code or by name) opening a question about a reading: the readings form takes
    them, unless the words dispute a value already recorded."""
    plain = normalize(opening.text).lower()
    if DISPUTE_WORDS.search(plain) and RECORDED_WORDS.search(plain):
        return None
    if gives_guide_readings(opening.text, "fr"):
        return READINGS_INTENT, None
    return None


OPENING_HAND_OVERS[QUERY_FORM] = _query_hand_over


class ValidateMeterReadingForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_meter_reading_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        # Every meter left out: nothing to confirm, the form ends and the submit action says nothing was sent.
        if tracker.get_slot("meter_current") == NOTHING:
            return [slot for slot in domain_slots if slot != "meter_confirm"]
        return domain_slots

    async def extract_meter_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not (opening_turn(tracker) or answered_now(tracker)):
            return {}
        selected = await extract_asset(tracker, dispatcher, "meter_asset", "meter_asset_label")
        if not selected.get("meter_asset"):
            return selected
        meters = await load_meters(tracker, dispatcher, selected["meter_asset"], selected["meter_asset_label"])
        if meters is None:
            return {"meter_asset": None, "meter_asset_label": None}
        # meter_values None = nothing asked yet on this device: the first question shows every meter.
        return {**selected, "meter_list": meters, "meter_values": None, "meter_pending": None}

    async def extract_meter_current(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        meters = tracker.get_slot("meter_list") or []
        # The message that started the form or named the device may already give values per meter.
        first = opening_turn(tracker) or (asked(tracker, "meter_asset") and answered_now(tracker))
        if not meters or not (first or (asked(tracker, "meter_current") and answered_now(tracker))):
            return {}
        intent = intent_of(tracker)
        # on the opening turn, the words that asked for the readings (also after a switch from another form)
        lang, text = language(tracker), said_numbers(turn_message(tracker).text, language(tracker))
        # an answer that starts with a number is the value, whatever request it seems to make ("153,665 - same as
        # last time, it hasn't moved" is no request to move a device); help, cancel, ... stay what they are
        values = dict(tracker.get_slot("meter_values") or {})
        pending = dict(tracker.get_slot("meter_pending") or {})
        if not first and insists_on_lower(tracker):  # "that's what the screen says, I'm not changing it"
            meter = current_meter(meters, values)
            if meter is not None and meter.get("last") is not None:
                dispatcher.utter_message(response="utter_meter_lower_maintained", meter_name=meter_name(meter, lang),
                                         last_value=fmt_number(meter["last"], lang),
                                         last_date=fmt_date(meter.get("date"), lang))
                return progress(meters, values, pending)
        if digression(tracker) and (first or intent in NOT_AN_ANSWER or not VALUE_FIRST.match(text)):
            return {}
        if first:  # only values named per meter ("112: 45300"), never a bare number (a serial, a floor...)
            pairs, _ = meter_pairs(text, meters)
            if not pairs:
                return {}
            self._apply_pairs(dispatcher, meters, values, pending, pairs, lang)
            return progress(meters, values, pending)
        if intent == "submit_meter_reading":  # asked again: start the values over
            dispatcher.utter_message(response="utter_meter_restart")
            return {**progress(meters, {}, {}), "meter_values": None}
        if pending:
            if intent == "affirm":
                values.update(pending)
                return progress(meters, values, {})
            if intent == "deny":
                dispatcher.utter_message(response="utter_meter_value_again")
                return progress(meters, values, {})
            pending = {}  # any other answer replaces the doubtful value(s)
        other = await self._other_device(dispatcher, tracker)
        if other is not None:
            return other
        choice = entity(tracker, "meter_choice")  # the buttons "unchanged" / "skip this meter"
        if choice in ("same", "skip"):
            text = choice
        return self._answer(dispatcher, meters, values, pending, text, lang)

    @staticmethod
    async def _other_device(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[Dict[Text, Any]]:
        """"Oops, it's the 80145861": another device named while the values are asked starts over on it."""
        reference = entity(tracker, "asset_ref")
        current = f"{tracker.get_slot('meter_asset')} {tracker.get_slot('meter_asset_label') or ''}".lower()
        if not reference or reference.lower() in current:
            return None
        try:
            matches = (await backend(tracker).resolve_assets(reference))["matches"]
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return {"meter_current": None}
        if len(matches) != 1:
            dispatcher.utter_message(response="utter_asset_not_found", reference=reference)
            return {"meter_current": None}
        label = asset_label(matches[0])
        meters = await load_meters(tracker, dispatcher, matches[0]["asset_number"], label)
        if meters is None:
            return {"meter_current": None}
        dispatcher.utter_message(response="utter_asset_selected", asset_label=label)
        return {"meter_asset": matches[0]["asset_number"], "meter_asset_label": label, "meter_list": meters,
                **progress(meters, {}, {}), "meter_values": None}

    def _answer(self, dispatcher: CollectingDispatcher, meters: List[Dict[str, Any]], values: Dict[str, Any],
                pending: Dict[str, int], text: str, lang: str) -> Dict[Text, Any]:
        codes = [m["code"] for m in meters]
        pairs, unknown = meter_pairs(text, meters)
        if unknown:
            dispatcher.utter_message(response="utter_meter_unknown_code", code=", ".join(unknown),
                                     codes=", ".join(codes))
        if pairs:
            self._apply_pairs(dispatcher, meters, values, pending, pairs, lang)
        if pairs or unknown:
            return progress(meters, values, pending)
        meter = current_meter(meters, values)
        if meter is None:
            return progress(meters, values, pending)
        kind, value = parse_value(text)
        name = meter_name(meter, lang)
        if kind == "keep":
            if meter["last"] is None:
                dispatcher.utter_message(response="utter_meter_no_previous", meter_name=name)
            else:
                values[meter["code"]] = meter["last"]
                dispatcher.utter_message(response="utter_meter_kept", meter_name=name,
                                         value=fmt_number(meter["last"], lang))
        elif kind == "skip":
            values[meter["code"]] = None
            dispatcher.utter_message(response="utter_meter_skipped", meter_name=name)
        elif kind == "several":
            dispatcher.utter_message(response="utter_meter_value_several", example=example_pairs(meters, lang))
        elif kind == "none":
            dispatcher.utter_message(response="utter_meter_value_not_a_number", meter_name=name)
        elif not refuse_value(dispatcher, meter, kind, value, lang):
            if implausible(meter, value):
                pending[meter["code"]] = value
            else:
                values[meter["code"]] = value
        return progress(meters, values, pending)

    @staticmethod
    def _apply_pairs(dispatcher: CollectingDispatcher, meters: List[Dict[str, Any]], values: Dict[str, Any],
                     pending: Dict[str, int], pairs: List[Tuple[str, str, Optional[int]]], lang: str) -> None:
        by_code = {m["code"]: m for m in meters}
        noted: Dict[str, Any] = {}
        for code, kind, value in pairs:
            meter = by_code[code]
            if refuse_value(dispatcher, meter, kind, value, lang):
                continue
            if implausible(meter, value):
                pending[code] = value
            else:
                values[code] = value
                noted[code] = value
        if noted:
            dispatcher.utter_message(response="utter_meter_noted", readings=values_lines(meters, noted, lang))

    async def extract_meter_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "meter_confirm") or not answered_now(tracker):
            return {}
        meters = tracker.get_slot("meter_list") or []
        lang, intent = language(tracker), intent_of(tracker)
        text = said_numbers(text_of(tracker), lang)
        values = dict(tracker.get_slot("meter_values") or {})
        pairs, unknown = meter_pairs(text, meters)
        if pairs or (unknown and (intent == "submit_meter_reading" or not digression(tracker))):
            # a correction at the summary ("le couleur petit c'est 19 420, pas 19 240"): record it, summarise again
            return {**self._answer(dispatcher, meters, values, {}, text, lang), "meter_confirm": None}
        if intent == "submit_meter_reading":  # readings asked for again, no value given: from the first meter
            dispatcher.utter_message(response="utter_meter_restart")
            return {**progress(meters, {}, {}), "meter_values": None, "meter_confirm": None}
        if digression(tracker):
            return {}
        if intent == "nlu_fallback":  # no value in it either: the question is yes or no
            dispatcher.utter_message(response="utter_answer_yes_no")
            return {"meter_confirm": None}
        return yes_no_answer(tracker, dispatcher, "meter_confirm")


class ActionAskMeterAsset(Action):
    def name(self) -> Text:
        return "action_ask_meter_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ended = await ask_asset(tracker, dispatcher, "utter_ask_meter_asset")
        return [*ended, *reset_events(domain, FORM)] if ended is not None else []


class ActionAskMeterCurrent(Action):
    """The overview of the device's meters the first time, then one question per meter (or the
    confirmation of a doubtful value)."""

    def name(self) -> Text:
        return "action_ask_meter_current"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        meters = tracker.get_slot("meter_list") or []
        values = tracker.get_slot("meter_values") or {}
        pending = tracker.get_slot("meter_pending") or {}
        if not meters:  # cannot happen in a normal conversation: end the form, nothing was recorded
            dispatcher.utter_message(response="utter_cancelled")
            return [ActiveLoop(None), SlotSet("requested_slot", None), *reset_events(domain, FORM)]
        if pending:
            by_code = {m["code"]: m for m in meters}
            lines = "\n".join(
                bullet(meter_name(by_code[c], lang), f"{fmt_number(by_code[c]['last'], lang)} → {fmt_number(v, lang)}",
                       lang)
                for c, v in pending.items())
            dispatcher.utter_message(response="utter_ask_meter_pending", readings=lines)
            return []
        events: List[EventType] = []
        if tracker.get_slot("meter_values") is None:  # the first question on this device: every meter first
            dispatcher.utter_message(response="utter_meter_overview", asset_label=tracker.get_slot("meter_asset_label"),
                                     meters=meter_lines(meters, lang), example=example_pairs(meters, lang))
            events.append(SlotSet("meter_values", {}))
        meter = current_meter(meters, values)
        if meter is None:
            return events
        if meter["last"] is None:
            dispatcher.utter_message(response="utter_ask_meter_current_first", meter_name=meter_name(meter, lang))
        else:
            dispatcher.utter_message(response="utter_ask_meter_current", meter_name=meter_name(meter, lang),
                                     last_value=fmt_number(meter["last"], lang),
                                     last_date=fmt_date(meter.get("date"), lang))
        return events


class ActionAskMeterConfirm(Action):
    def name(self) -> Text:
        return "action_ask_meter_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        meters = tracker.get_slot("meter_list") or []
        values = tracker.get_slot("meter_values") or {}
        skipped = [meter_name(m, lang) for m in meters if m["code"] in values and values[m["code"]] is None]
        if skipped:
            dispatcher.utter_message(response="utter_meter_left_out", meters=", ".join(skipped))
        dispatcher.utter_message(response="utter_ask_meter_confirm", asset_label=tracker.get_slot("meter_asset_label"),
                                 readings=values_lines(meters, values, lang), example=example_pairs(meters, lang))
        return []


class ActionSubmitMeterReading(SubmitAction):
    """Sends the confirmed readings in one atomic request with the form's idempotency key."""

    action_name = "action_submit_meter_reading"
    form = FORM
    extra_slots = EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        meters, values = slot("meter_list") or [], slot("meter_values") or {}
        # A value far above the last one reached the values only through the user's yes to the doubtful-value
        # question: the backend refuses it without `confirmed`.
        readings = [{"code": m["code"], "value": values[m["code"]],
                     **({"confirmed": True} if implausible(m, values[m["code"]]) else {})}
                    for m in meters if values.get(m["code"]) is not None]
        if slot("meter_current") == NOTHING or not readings:
            dispatcher.utter_message(response="utter_meter_nothing_to_submit")
            return []
        if slot("meter_confirm") is not True:
            dispatcher.utter_message(response="utter_meter_not_submitted")
            return []
        result = await backend(tracker).submit_meter_readings(slot("meter_asset"), readings, idempotency_key=key)
        lang = language(tracker)
        lines = "\n".join(bullet(r.get("name") or r["code"], fmt_number(r["value"], lang), lang)
                          for r in result.get("readings", []))
        dispatcher.utter_message(response="utter_meter_submitted", reference=str(result["id"]),
                                 asset_label=slot("meter_asset_label"), readings=lines)
        return []


# --- a question about an existing reading ---------------------------------------------------------------------------
def find_meter_code(text: str, meters: List[Dict[str, Any]]) -> Optional[str]:
    """A meter named in words: its code ("le 112") or its name ("couleur grand", "B&W small")."""
    t = normalize(text)
    found = {m["code"] for m in meters if re.search(rf"(?<![\w.,']){re.escape(m['code'])}(?!\d)", t)}
    if not found:
        for m in meters:
            for label in (m.get("label") or {}).values():
                words = normalize(label).replace(m["code"], "").strip()
                if words and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", t):
                    found.add(m["code"])
    return found.pop() if len(found) == 1 else None


class ValidateMeterQueryForm(PortalFormValidation):
    def name(self) -> Text:
        return "validate_meter_query_form"

    async def extract_meter_query_asset(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not (opening_turn(tracker) or answered_now(tracker)):
            return {}
        selected = await extract_asset(tracker, dispatcher, "meter_query_asset", "meter_query_asset_label")
        if not selected.get("meter_query_asset"):
            return selected
        meters = await load_meters(tracker, dispatcher, selected["meter_query_asset"],
                                   selected["meter_query_asset_label"])
        if meters is None:
            return {"meter_query_asset": None, "meter_query_asset_label": None}
        slots = {**selected, "meter_query_meters": meters}
        if len(meters) == 1:  # a single meter is never asked
            slots.update(await self._choose(tracker, selected["meter_query_asset"], meters[0]["code"]))
        return slots

    async def extract_meter_query_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        meters = tracker.get_slot("meter_query_meters") or []
        opening = opening_turn(tracker)
        if tracker.get_slot("meter_query_code") or not meters:
            return {}
        if not (opening or (asked(tracker, "meter_query_code") and answered_now(tracker))):
            return {}
        if not_an_answer(tracker):
            return {}
        message = turn_message(tracker)  # on the opening turn, the words that asked (also after a switch)
        text = message.text
        code = message.entity("meter_code") or (None if is_payload(text) else find_meter_code(text, meters))
        if code in {m["code"] for m in meters}:
            return await self._choose(tracker, tracker.get_slot("meter_query_asset"), code)
        if opening:
            return {}
        dispatcher.utter_message(response="utter_meter_query_code_unknown",
                                 codes=", ".join(m["code"] for m in meters))
        return {"meter_query_code": None}

    @staticmethod
    async def _choose(tracker: Tracker, reference: str, code: str) -> Dict[Text, Any]:
        """The chosen meter and its last readings (shown with the question; optional if the portal fails)."""
        try:
            history = (await backend(tracker).meter_history(reference, code))[:HISTORY_SHOWN]
        except BackendError as error:
            log.warning("meter history unavailable: %s", error)
            history = []
        return {"meter_query_code": code, "meter_query_history": history}

    async def extract_meter_query_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not asked(tracker, "meter_query_description") or not answered_now(tracker):
            return {}
        if not_an_answer(tracker):
            return {}
        text = text_of(tracker)
        if len(text) < MIN_QUESTION_CHARS or is_payload(text):
            dispatcher.utter_message(response="utter_meter_query_description_too_short")
            return {"meter_query_description": None}
        if len(text) > MAX_DESCRIPTION_CHARS:
            dispatcher.utter_message(response="utter_meter_query_description_too_long", max_chars=MAX_DESCRIPTION_CHARS)
            return {"meter_query_description": None}
        return {"meter_query_description": text}

    async def extract_meter_query_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not answered_now(tracker) or not_an_answer(tracker):
            return {}
        return yes_no_answer(tracker, dispatcher, "meter_query_confirm")


def _query_meter(tracker: Tracker) -> Dict[str, Any]:
    code = tracker.get_slot("meter_query_code")
    meters = tracker.get_slot("meter_query_meters") or []
    return next((m for m in meters if m["code"] == code), {"code": code, "label": {}, "last": None})


class ActionAskMeterQueryAsset(Action):
    def name(self) -> Text:
        return "action_ask_meter_query_asset"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ended = await ask_asset(tracker, dispatcher, "utter_ask_meter_query_asset")
        return [*ended, *reset_events(domain, QUERY_FORM)] if ended is not None else []


class ActionAskMeterQueryCode(Action):
    """The device's recent readings (last value, date, source per meter), then which meter."""

    def name(self) -> Text:
        return "action_ask_meter_query_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        meters = tracker.get_slot("meter_query_meters") or []
        if tracker.get_slot("requested_slot") != "meter_query_code":
            dispatcher.utter_message(response="utter_meter_readings_overview",
                                     asset_label=tracker.get_slot("meter_query_asset_label"),
                                     meters=meter_lines(meters, lang))
        dispatcher.utter_message(response="utter_ask_meter_query_code", buttons=meter_buttons(meters, lang))
        return []


class ActionAskMeterQueryDescription(Action):
    def name(self) -> Text:
        return "action_ask_meter_query_description"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        lang = language(tracker)
        history = tracker.get_slot("meter_query_history") or []
        if history and tracker.get_slot("requested_slot") != "meter_query_description":
            lines = "\n".join(
                f"• {fmt_number(r['value'], lang)} — {fmt_date(r.get('read_at'), lang)} ({r.get('source') or '—'})"
                for r in history)
            dispatcher.utter_message(response="utter_meter_history", meter_name=meter_name(_query_meter(tracker), lang),
                                     history=lines)
        dispatcher.utter_message(response="utter_ask_meter_query_description")
        return []


class ActionAskMeterQueryConfirm(Action):
    def name(self) -> Text:
        return "action_ask_meter_query_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_meter_query_confirm",
                                 asset_label=tracker.get_slot("meter_query_asset_label"),
                                 meter_name=meter_name(_query_meter(tracker), language(tracker)),
                                 description=escape_markdown(tracker.get_slot("meter_query_description")))
        return []


class ActionSubmitMeterQuery(SubmitAction):
    """Opens the case "meter_reading / query" with the conversation's channel and transcript."""

    action_name = "action_submit_meter_query"
    form = QUERY_FORM
    extra_slots = QUERY_EXTRA_SLOTS

    async def submit(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     key: str) -> List[EventType]:
        slot = tracker.get_slot
        if slot("meter_query_confirm") is not True:
            dispatcher.utter_message(response="utter_meter_query_not_submitted")
            return []
        name = meter_name(_query_meter(tracker), language(tracker))
        case = await backend(tracker).meter_query(
            slot("meter_query_asset"),
            {"code": slot("meter_query_code"), "description": slot("meter_query_description"),
             "channel": channel_code(tracker), "transcript": transcript(tracker)},
            idempotency_key=key,
        )
        dispatcher.utter_message(response="utter_meter_query_created", case_number=case["number"], meter_name=name,
                                 asset_label=slot("meter_query_asset_label"))
        return []
