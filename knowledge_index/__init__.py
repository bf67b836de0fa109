"""Semantic search over the bilingual (FR/EN) copier-troubleshooting knowledge base.

Typical backend use::

    searcher = KnowledgeSearcher.load(Path("var/knowledge_index"))
    hits = searcher.search("le copieur fait un bruit de grincement", lang="fr", product_model="iR-ADV C5560i")
"""

from .base import VectorIndex
from .corpus import Article, CorpusError, corpus_fingerprint, load_corpus
from .embedder import DEFAULT_MODEL, embed, load_embedder
from .faiss_index import FaissVectorIndex
from .store import BuildInfo, IndexedArticle, KnowledgeSearcher, SearchHit, build_index, is_stale

__all__ = [
    "DEFAULT_MODEL",
    "Article",
    "BuildInfo",
    "CorpusError",
    "FaissVectorIndex",
    "IndexedArticle",
    "KnowledgeSearcher",
    "SearchHit",
    "VectorIndex",
    "build_index",
    "corpus_fingerprint",
    "embed",
    "is_stale",
    "load_corpus",
    "load_embedder",
]
