"""Propose a fault type from the user's own words: taxonomy keywords first, knowledge-base tags second."""
from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from backend.core.errors import ApiError
from backend.schemas import FaultOption, FaultProposal
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
                             alternatives=alternatives)
    best = options[0][1]
    return FaultProposal(category=best.category, subcategory=best.subcategory, confident=True, source="keywords",
                         alternatives=alternatives if len(alternatives) > 1 else [])


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


def propose_fault(session: Session, text: str, lang: str | None, category: str | None = None) -> FaultProposal:
    """Best fault type for `text`; with `category`, only a sub-type of that category is looked for."""
    faults = get_taxonomy().section("faults")
    if category is not None:
        faults = [c for c in faults if c.code == category]
        if not faults:
            raise ApiError(422, "unknown_category", f"Type de panne inconnu : {category}.",
                           f"Unknown fault type: {category}.")
    proposal = _by_keywords(normalize(text), faults, chosen=category is not None)
    if category is None and (proposal is None or proposal.category is None):
        known = _by_knowledge(session, text, lang)
        if proposal is None:
            proposal = known
        elif known is not None and known.category in {a.category for a in proposal.alternatives}:
            # the knowledge base breaks the keywords' tie; the tied types stay the alternatives
            proposal = known.model_copy(update={"alternatives": proposal.alternatives})
    return proposal or FaultProposal(category=category, subcategory=None, confident=False, source="none")
