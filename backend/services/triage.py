"""Propose a fault or request type from the user's own words: taxonomy keywords (one scoring for both sections),
then, for a fault, knowledge-base tags; for a request, how many devices the words name."""
from __future__ import annotations

import re
from collections import Counter

from sqlalchemy.orm import Session

from backend.core.errors import ApiError
from backend.schemas import FaultOption, FaultProposal, RequestProposal
from backend.services.knowledge import MIN_QUERY_CHARS, search_articles
from backend.services.text import contains_phrase, normalize
from backend.taxonomy import Category, get_taxonomy

KB_MIN_SCORE = 0.45
LABEL_WEIGHT = 3  # typing an option's own label ("bourrage papier") is the clearest possible answer


def _score(keywords: dict[str, tuple[str, ...]], labels: dict[str, str], text: str) -> int:
    # A phrase is stronger evidence than a single word: weigh a match by its word count. Accented and plain
    # spellings of one keyword count once.
    phrases = {normalize(k) for words in keywords.values() for k in words}
    score = sum(len(p.split()) for p in phrases if contains_phrase(text, p, plural=True))
    # A one-word label ("Print", "Autre") inside a sentence is no choice; typed alone it is.
    names = {normalize(label) for label in labels.values()}
    return score + sum(
        LABEL_WEIGHT for name in names if contains_phrase(text, name) and (len(name.split()) > 1 or text == name)
    )


MAX_ALTERNATIVES = 2


def _unique_best(scores: dict[str, int]) -> str | None:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    return ranked[0][0]


def _keyword_options(text: str, categories: list[Category], chosen: bool = False) -> list[tuple[int, FaultOption]]:
    """Every (sub-)type the words point at, with its score, best first (`chosen`: the category is already known,
    the words only say which sub-type)."""
    options = []
    for category in categories:
        own = _score(category.keywords, category.labels, text)
        subs = {s.code: _score(s.keywords, s.labels, text) for s in category.subcategories.values()}
        # Sub-types whose words say where ("dans la machine", "le bac") only choose among themselves once the
        # category's own words ("bourrage") matched; they never point at the category by themselves.
        evidence = own + sum(score for code, score in subs.items() if not category.subcategories[code].locates)
        if evidence == 0 and not chosen:
            continue
        total = own + sum(subs.values())
        if total == 0:
            continue
        best = _unique_best(subs)
        options.append((total, FaultOption(category=category.code, subcategory=best)))
    return sorted(options, key=lambda item: item[0], reverse=True)


def _by_keywords(text: str, categories: list[Category], chosen: bool = False) -> FaultProposal | None:
    """One type when the words point at it more than at any other; else the tied likeliest as alternatives."""
    options = _keyword_options(text, categories, chosen)
    if not options:
        return None
    alternatives = [option for _, option in options[:MAX_ALTERNATIVES]]
    if len(options) > 1 and options[0][0] == options[1][0]:
        return FaultProposal(category=None, subcategory=None, confident=False, source="keywords",
                             alternatives=alternatives, score=options[0][0])
    best = options[0][1]
    return FaultProposal(category=best.category, subcategory=best.subcategory, confident=True, source="keywords",
                         alternatives=alternatives if len(alternatives) > 1 else [], score=options[0][0])


def _by_knowledge(session: Session, text: str, lang: str | None) -> FaultProposal | None:
    if len(text.strip()) < MIN_QUERY_CHARS:
        return None
    # A fused rank score says "best of this list", not "relevant": threshold on the cosine similarity.
    hits = [h for h in search_articles(session, text, lang, None, limit=3) if h.similarity >= KB_MIN_SCORE]
    votes = Counter(
        tuple(tag.split(".")[1:3]) for hit in hits for tag in hit.tags[:1] if tag.startswith("fault.")
    )
    if not votes:
        return None
    ranked = votes.most_common(MAX_ALTERNATIVES)
    (category, subcategory), count = ranked[0]
    alternatives = [FaultOption(category=c, subcategory=s or None) for (c, s), _ in ranked] if len(ranked) > 1 else []
    return FaultProposal(category=category, subcategory=subcategory, confident=count >= 2, source="knowledge",
                         alternatives=alternatives)


_UNKNOWN = {"faults": ("Type de panne inconnu", "Unknown fault type"),
            "requests": ("Type de demande inconnu", "Unknown request type")}


def _categories(section: str, category: str | None) -> list[Category]:
    """The section's categories, or only `category` (422 when it is not one of them)."""
    categories = get_taxonomy().section(section)
    if category is None:
        return categories
    categories = [c for c in categories if c.code == category]
    if not categories:
        fr, en = _UNKNOWN[section]
        raise ApiError(422, "unknown_category", f"{fr} : {category}.", f"{en}: {category}.")
    return categories


def propose_fault(session: Session, text: str, lang: str | None, category: str | None = None) -> FaultProposal:
    """Best fault type for `text`; with `category`, only a sub-type of that category is looked for."""
    faults = _categories("faults", category)
    proposal = _by_keywords(normalize(text), faults, chosen=category is not None)
    if category is None and (proposal is None or proposal.category is None):
        known = _by_knowledge(session, text, lang)
        if proposal is None:
            proposal = known
        elif known is not None and known.category in {a.category for a in proposal.alternatives}:
            # the knowledge base breaks the keywords' tie; the tied types stay the alternatives
            proposal = known.model_copy(update={"alternatives": proposal.alternatives})
    return proposal or FaultProposal(category=category, subcategory=None, confident=False, source="none")


# --- requests -------------------------------------------------------------------------------------------------------
MOVE, MOVE_SMALL, MOVE_LARGE, MOVE_LIMIT = "product_move", "one_to_five", "more_than_five", 5
_NUMBER_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20, "one": 1, "two": 2, "both": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20,
}
_DEVICE_NOUN = re.compile(r"(imprimantes?|copieurs?|photocopieu(?:rs?|ses?)|machines?|appareils?|produits?|"
                          r"multifonctions?|mfps?|printers?|copiers?|devices?|products?|units?)")
# "all of them", "toutes les machines" (also "toute les"), "l'ensemble des copieurs", "every printer", "tout le parc"
_ALL_DEVICES = re.compile(
    r"(?<!\w)(?:all(?: of)?(?: the| our| my| these| those)?|every|tou(?:te)?s? (?:les|nos|mes|ces)|"
    r"l'ensemble (?:des|de nos|de mes)|la totalite (?:des|de nos))(?: \w+)? " + _DEVICE_NOUN.pattern + r"(?!\w)"
    r"|(?<!\w)(?:all of them|the whole fleet|tout le parc|l'ensemble du parc)(?!\w)"
    r"|^(?:tous|toutes|all|tout)(?: d'entre (?:eux|elles)| of them| les \w+)?$")  # a bare answer: "toutes", "all"
# what may come after a bare number and still say "that many devices": "les trois", "all three of them"
_COUNT_ENDS = {"", "of", "d'entre", "them", "ensemble"}


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() and len(word) <= 3 else _NUMBER_WORDS.get(word)


def device_quantity(norm: str) -> tuple[int | None, bool]:
    """(number of devices the words name, whether they name all of them): "déplacer 3 imprimantes" -> (3, False),
    "all three printers" -> (3, True), "les trois" -> (3, False), "toutes les machines" -> (None, True). A number
    counts when a device noun follows it (one word may sit between: "trois grosses imprimantes") or when it stands
    alone after "les / all / the" ("les trois", "all three of them")."""
    words = re.findall(r"[\w'-]+", norm)
    count = None
    for i, word in enumerate(words):
        value = _number(word)
        if not value:
            continue
        following = words[i + 1:i + 3]
        after_noun = bool(following) and (_DEVICE_NOUN.fullmatch(following[0]) is not None or (
            len(following) == 2 and _number(following[0]) is None and _DEVICE_NOUN.fullmatch(following[1]) is not None))
        alone = i > 0 and words[i - 1] in ("les", "all", "the", "these", "those", "ces", "nos") and (
            (following[0] if following else "") in _COUNT_ENDS)
        if after_noun or alone:
            count = value
            break
    return count, _ALL_DEVICES.search(norm) is not None


def move_size(count: int) -> str:
    return MOVE_SMALL if count <= MOVE_LIMIT else MOVE_LARGE


# An e-mail address is no postal address: "sa nouvelle adresse mail", "our new email address" must not read as a new
# billing address (text already normalized: lower case, no accents)
_EMAIL_ADDRESS_WORDS = re.compile(r"\b(?:(?:nouvelle |new |autre |other |old |ancienne )?(?:adresses? (?:e-?mail|mail|"
                                  r"electronique|courriel|de messagerie)|e-?mail address(?:es)?))\b")


def propose_request(text: str, category: str | None = None, my_device_count: int | None = None) -> RequestProposal:
    """Best request type and sub-type for `text` by the taxonomy keywords (the fault triage's scoring); with
    `category`, only a sub-type of that category is looked for. A product move without size words takes its
    sub-type from the number of devices named ("all of them": `my_device_count`, the user's devices)."""
    norm = _EMAIL_ADDRESS_WORDS.sub(" email ", normalize(text))
    found = _by_keywords(norm, _categories("requests", category), chosen=category is not None)
    count, every = device_quantity(norm)
    if every and count is None:
        count = my_device_count
    proposal = RequestProposal(**found.model_dump()) if found else RequestProposal(
        category=category, subcategory=None, confident=False, source="none")
    if proposal.category == MOVE and proposal.subcategory is None and count:
        proposal.subcategory = move_size(count)
    return proposal.model_copy(update={"device_count": count, "all_devices": every})
