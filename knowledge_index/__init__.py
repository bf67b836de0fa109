"""Hybrid (dense embeddings + BM25) search over the bilingual (FR/EN) copier-troubleshooting knowledge base.

Typical backend use::

    searcher = KnowledgeSearcher.load(Path("var/knowledge_index"))
    hits = searcher.search("le copieur fait un bruit de grincement", lang="fr", product_model="iR-ADV C5560i")
    relevant = [h for h in hits if h.similarity >= 0.45]  # threshold on the cosine, not on the fused score
"""

from .analysis import analyze
from .base import VectorIndex
from .corpus import Article, CorpusError, corpus_fingerprint, load_corpus
from .embedder import DEFAULT_MODEL, Encoder, OnnxEncoder, TorchEncoder, embed, export_onnx, load_embedder, load_encoder
from .faiss_index import FaissVectorIndex
from .fusion import FusionParams
from .lexical import BM25Params, LexicalIndex
from .store import (
    MIN_QUERY_CHARS,
    SEARCH_MODES,
    BuildInfo,
    IndexedArticle,
    KnowledgeSearcher,
    PublishedIndex,
    SearchHit,
    SearchMode,
    build_index,
    index_version,
    is_stale,
    publish_index,
)

__all__ = [
    "DEFAULT_MODEL",
    "MIN_QUERY_CHARS",
    "SEARCH_MODES",
    "Article",
    "BM25Params",
    "BuildInfo",
    "CorpusError",
    "Encoder",
    "FaissVectorIndex",
    "FusionParams",
    "IndexedArticle",
    "KnowledgeSearcher",
    "LexicalIndex",
    "OnnxEncoder",
    "PublishedIndex",
    "SearchHit",
    "SearchMode",
    "TorchEncoder",
    "VectorIndex",
    "analyze",
    "build_index",
    "corpus_fingerprint",
    "embed",
    "export_onnx",
    "index_version",
    "is_stale",
    "load_corpus",
    "load_embedder",
    "load_encoder",
    "publish_index",
]
