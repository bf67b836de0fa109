"""Propose a fault type from the user's own words: taxonomy keywords first, knowledge-base tags second."""
from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from backend.core.errors import ApiError
from backend.schemas import FaultProposal
from backend.services.knowledge import MIN_QUERY_CHARS, search_articles
from backend.services.text import contains_phrase, normalize
from backend.taxonomy import Category, get_taxonomy

KB_MIN_SCORE = 0.45
LABEL_WEIGHT = 3  # typing an option's own label ("bourrage papier") is the clearest possible answer


def _score(keywords: dict[str, tuple[str, ...]], labels: dict[str, str], text: str) -> int:
    # A phrase is stronger evidence than a single word: weigh a match by its word count. Accented and plain
    # spellings of one keyword count once.
    phrases = {normalize(k) for words in keywords.values() for k in words}
    score = sum(len(p.split()) for p in phrases if contains_phrase(text, p))
    # A one-word label ("Print", "Autre") inside a sentence is no choice; typed alone it is.
    names = {normalize(label) for label in labels.values()}
    return score + sum(
        LABEL_WEIGHT for name in names if contains_phrase(text, name) and (len(name.split()) > 1 or text == name)
    )


def _unique_best(scores: dict[str, int]) -> str | None:
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    return ranked[0][0]


def _by_keywords(text: str, categories: list[Category]) -> FaultProposal | None:
    sub_scores = {
        c.code: {s.code: _score(s.keywords, s.labels, text) for s in c.subcategories.values()} for c in categories
    }
    cat_scores = {c.code: _score(c.keywords, c.labels, text) + sum(sub_scores[c.code].values()) for c in categories}
    category = _unique_best(cat_scores)
    if category is None:
        return None
    subcategory = _unique_best(sub_scores[category])
    return FaultProposal(category=category, subcategory=subcategory, confident=True, source="keywords")


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
    (category, subcategory), count = votes.most_common(1)[0]
    return FaultProposal(category=category, subcategory=subcategory, confident=count >= 2, source="knowledge")


def propose_fault(session: Session, text: str, lang: str | None, category: str | None = None) -> FaultProposal:
    """Best fault type for `text`; with `category`, only a sub-type of that category is looked for."""
    faults = get_taxonomy().section("faults")
    if category is not None:
        faults = [c for c in faults if c.code == category]
        if not faults:
            raise ApiError(422, "unknown_category", f"Type de panne inconnu : {category}.",
                           f"Unknown fault type: {category}.")
    proposal = _by_keywords(normalize(text), faults)
    if proposal is None and category is None:
        proposal = _by_knowledge(session, text, lang)
    return proposal or FaultProposal(category=category, subcategory=None, confident=False, source="none")
