"""Knowledge search for the portal: the FAISS index is loaded once per process; article text comes from the DB."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.config import get_settings
from backend.core.errors import ApiError
from backend.models import Asset, KnowledgeArticle
from backend.schemas import KnowledgeHit
from knowledge_index import KnowledgeSearcher
from knowledge_index.store import model_matches, published_version

log = logging.getLogger(__name__)
MIN_QUERY_CHARS = 3
_lock = threading.Lock()
_searcher: KnowledgeSearcher | None = None
_loaded_version: float | None = None  # mtime of the index's build.json when it was loaded


def _index_version(index_dir: Path) -> float | None:
    try:
        return (index_dir / "build.json").stat().st_mtime
    except FileNotFoundError:
        return None


def get_searcher() -> KnowledgeSearcher:
    """The index, loaded once per process. Unversioned (`make run`), reloaded when an import or rebuild saved a new
    version of it; a published version (KNOWLEDGE_INDEX_VERSION) never changes and is never looked at again."""
    global _searcher, _loaded_version
    settings = get_settings()
    pinned = settings.knowledge_index_version
    with _lock:
        if pinned and _searcher is not None:
            return _searcher
        index_dir = settings.knowledge_index_path()
        version = _index_version(index_dir)
        if _searcher is None or (version is not None and version != _loaded_version):
            if pinned and published_version(index_dir) != pinned:  # checked on build.json, before loading anything
                log.error("knowledge index version %s not published in %s: not served", pinned,
                          settings.knowledge_index_dir)
                raise knowledge_unavailable()
            try:
                _searcher = KnowledgeSearcher.load(
                    index_dir, model=settings.knowledge_model or None,
                    runtime=settings.knowledge_encoder_runtime, threads=settings.knowledge_encoder_threads,
                )
                _loaded_version = version
            except FileNotFoundError as exc:
                log.error("knowledge index missing: %s", exc)
                raise knowledge_unavailable() from exc
        return _searcher


def knowledge_unavailable() -> ApiError:
    return ApiError(
        503, "knowledge_unavailable",
        "La base de connaissances est indisponible pour le moment.",
        "The knowledge base is unavailable at the moment.",
    )


def reset_searcher() -> None:
    """Forget the loaded index (between tests)."""
    global _searcher, _loaded_version
    with _lock:
        _searcher, _loaded_version = None, None


def check_query(query: str) -> str:
    query = query.strip()
    if len(query) < MIN_QUERY_CHARS:
        raise ApiError(
            422, "query_too_short",
            f"Saisissez au moins {MIN_QUERY_CHARS} caractères pour rechercher.",
            f"Please type at least {MIN_QUERY_CHARS} characters to search.",
        )
    return query




def search_articles(
    session: Session, query: str, lang: str | None, asset: Asset | None, limit: int = 3, tag: str | None = None,
    models_in_scope: list[str] | None = None,
) -> list[KnowledgeHit]:
    """Top articles for a query; the asset's model and a taxonomy `tag` (the fault type chosen) boost ranking.
    `models_in_scope` (the user's devices' models, when the question is about none in particular): articles written
    only for other models are left out."""
    query = check_query(query)
    # With a tag, look deeper so that the chosen fault type's articles are found even when the wording differs;
    # with a scope, so that enough remain after leaving other product lines out.
    pool = max(limit * 4, 40) if tag else (limit * 4 if models_in_scope is not None else limit)
    hits = get_searcher().search(query, lang=lang, product_model=asset.model if asset else None, k=pool)
    if models_in_scope is not None:
        hits = [h for h in hits if not h.models
                or any(model_matches(mine, theirs) for mine in models_in_scope for theirs in h.models)]
    if tag:
        # The user confirmed the fault type: its articles come first, each group by relevance.
        hits = sorted(hits, key=lambda h: (tag in h.tags, h.score), reverse=True)
    hits = hits[:limit]
    if not hits:
        return []
    rows = session.scalars(
        select(KnowledgeArticle).where(KnowledgeArticle.number.in_({h.number for h in hits}))
    ).all()
    by_key = {(row.number, row.lang): row for row in rows}
    results = []
    for hit in hits:
        article = by_key.get((hit.number, hit.lang))
        if article is None:  # index built from a corpus the DB has not imported yet: never show a dead link
            continue
        results.append(
            KnowledgeHit(
                number=article.number,
                lang=article.lang,
                title=article.title,
                summary=article.summary,
                url=f"/kb/{quote(article.number)}?lang={article.lang}",
                tags=article.tags,
                models=article.models,
                score=round(float(hit.score), 4),
                similarity=round(float(hit.similarity), 4),
            )
        )
    return results
