"""Knowledge search benchmark (not a test): latency, build throughput, memory, and how they grow.

    .venv-app/bin/python benchmarks/knowledge_search.py [--quick]

1. Embedding throughput on the real corpus (data/knowledge), as `build` embeds it.
2. One search end to end (query embedding included) at ~1k articles = 2k documents: the real
   corpus replicated with perturbed text (shuffled steps, words swapped between articles) for BM25,
   its real vectors replicated with small noise for FAISS (a flat index costs the same whatever
   the vectors hold). Queries: data/knowledge_eval/queries.yml, each in every mode.
3. Growth to 10k documents (BM25 on synthetic text, end-to-end search) and, vector side only, to
   10k and 100k documents (2 vectors each), FAISS flat (exact) vs HNSW with recall@10 against
   flat, on two kinds of synthetic vectors (no text is embedded at these scales):
   - RANDOM normalised vectors: build time, memory and latency. They have no structure at all,
     the worst case for HNSW (every point nearly equidistant): their recall is a floor;
   - "real-like" vectors, each a random mix of 3 real corpus embeddings plus noise, searched with
     the real query embeddings: a fairer recall estimate for an actual knowledge base.

Runs in ~5 minutes on 2 cores (--quick: ~1 minute, smaller scales); run nothing else heavy meanwhile.
Results and the defaults chosen from them: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from knowledge_index.corpus import Article, doc_id_for, load_corpus  # noqa: E402
from knowledge_index.embedder import DEFAULT_MODEL, embed, load_encoder  # noqa: E402
from knowledge_index.evaluation import load_queries  # noqa: E402
from knowledge_index.faiss_index import FaissVectorIndex  # noqa: E402
from knowledge_index.lexical import LexicalIndex  # noqa: E402
from knowledge_index.store import (  # noqa: E402
    FORMAT_VERSION,
    SEARCH_MODES,
    VECTORS_PER_DOC,
    BuildInfo,
    IndexedArticle,
    KnowledgeSearcher,
    _vector_ids,
    embedding_texts,
)

CORPUS = REPO / "data" / "knowledge"
QUERIES = REPO / "data" / "knowledge_eval" / "queries.yml"
HNSW_M = 32  # graph degree: 32 is FAISS' usual choice for ~400-d embeddings
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = (16, 32, 64, 128)
_PROCESS = psutil.Process()


def rss_mb() -> float:
    gc.collect()
    return _PROCESS.memory_info().rss / 2**20


def in_fresh_process(fn: Callable[..., dict[str, object]], *args: object) -> dict[str, object]:
    """Run ``fn`` in a new interpreter: RSS deltas measured in a process that already freed memory
    mean nothing (the allocator reuses its pages), so every memory figure comes from a fresh one."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def percentiles(samples_s: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    p50, p95 = np.percentile(np.asarray(samples_s) * 1000, [50, 95])
    return float(p50), float(p95)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


# --- synthetic corpus ------------------------------------------------------------------------------

def synthetic_articles(real: Sequence[Article], n_articles: int, seed: int = 0) -> list[Article]:
    """``n_articles`` x 2 languages: each a real article with its steps shuffled and ~15% of its
    words swapped with words of other articles in the same language (new vocabulary statistics,
    realistic words)."""
    rng = random.Random(seed)
    by_number: dict[str, dict[str, Article]] = {}
    for article in real:
        by_number.setdefault(article.number, {})[article.lang] = article
    numbers = sorted(by_number)
    vocab = {lang: [w for a in real if a.lang == lang for w in a.text.split()] for lang in ("fr", "en")}

    def perturb(text: str, lang: str) -> str:
        lines = text.splitlines()
        rng.shuffle(lines)
        words = " ".join(lines).split()
        return " ".join(rng.choice(vocab[lang]) if rng.random() < 0.15 else w for w in words)

    out: list[Article] = []
    for i in range(n_articles):
        number = f"KB{2_000_000 + i:07d}"
        for lang, base in by_number[numbers[i % len(numbers)]].items():
            out.append(replace(base, doc_id=doc_id_for(number, lang), number=number,
                               title=perturb(base.title, lang), summary=perturb(base.summary, lang),
                               body=perturb(base.body, lang)))
    return out


def searcher_for(articles: Sequence[Article], vectors: np.ndarray, encoder) -> KnowledgeSearcher:
    index = FaissVectorIndex(vectors.shape[1])
    index.add(_vector_ids(a.doc_id for a in articles), vectors)
    info = BuildInfo(FORMAT_VERSION, DEFAULT_MODEL, index.dim, len(articles), "", None, {}, 0.0)
    metas = {a.doc_id: IndexedArticle.from_article(a) for a in articles}
    return KnowledgeSearcher(index, metas, encoder, info, lexical=LexicalIndex.from_articles(articles))


def random_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


# --- stages ------------------------------------------------------------------------------------------

def search_latencies(searcher: KnowledgeSearcher, queries: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    faiss.omp_set_num_threads(1)  # as in production (faiss_index._use_single_thread)
    for text, lang in queries[:5]:
        searcher.search(text, lang=lang)  # warm-up: first calls allocate
    out = {}
    for mode in SEARCH_MODES:
        out[mode] = percentiles([timed(lambda: searcher.search(t, lang=l, k=3, mode=mode)) for t, l in queries])
    return out


def real_like(rng: np.random.Generator, base: np.ndarray, n: int, noise: float = 0.01) -> np.ndarray:
    """Unit vectors that live where real embeddings do: Dirichlet mixes of 3 of ``base`` + noise."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 10_000):  # chunks: base[picks] is 3 vectors per row
        m = min(10_000, n - start)
        picks = rng.integers(0, len(base), (m, 3))
        weights = rng.dirichlet(np.ones(3), m).astype(np.float32)
        v = np.einsum("nk,nkd->nd", weights, base[picks]) + rng.normal(0, noise, (m, base.shape[1])).astype(np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def searcher_memory(n_articles: int, dim: int) -> dict[str, object]:
    """RSS of the searcher's own structures (FAISS vectors, BM25, metadata; not the model)."""
    syn = synthetic_articles(load_corpus(CORPUS), n_articles)
    vectors = random_unit(np.random.default_rng(0), len(syn) * VECTORS_PER_DOC, dim)
    before = rss_mb()
    index = FaissVectorIndex(dim)
    index.add(_vector_ids(a.doc_id for a in syn), vectors)
    del vectors
    lexical = LexicalIndex.from_articles(syn)
    metas = {a.doc_id: IndexedArticle.from_article(a) for a in syn}
    mb = rss_mb() - before
    del index, lexical, metas
    return {"mb": mb}


def vector_growth(kind: str, n_docs: int, dim: int, base: np.ndarray, queries: np.ndarray) -> dict[str, object]:
    """Flat vs HNSW on ``n_docs`` documents of ``kind`` vectors: build, memory, latency, HNSW recall@10."""
    rng = np.random.default_rng(n_docs)
    n = n_docs * VECTORS_PER_DOC
    data = random_unit(rng, n, dim) if kind == "random" else real_like(rng, base, n)
    if not len(queries):
        queries = random_unit(rng, 200, dim)
    result: dict[str, object] = {"docs": n_docs, "vectors": n}
    faiss.omp_set_num_threads(2)  # builds may use both cores; searches below use one, as in production

    before = rss_mb()
    flat = faiss.IndexFlatIP(dim)
    result["flat_build_s"] = timed(lambda: flat.add(data))
    result["flat_mb"] = rss_mb() - before

    before = rss_mb()
    hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    result["hnsw_build_s"] = timed(lambda: hnsw.add(data))
    result["hnsw_mb"] = rss_mb() - before

    faiss.omp_set_num_threads(1)
    truth = []
    times = []
    for q in queries:
        started = time.perf_counter()
        _, ids = flat.search(q[None, :], 10)
        times.append(time.perf_counter() - started)
        truth.append(set(ids[0].tolist()))
    result["flat_ms"] = percentiles(times)
    for ef in HNSW_EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        times, hits = [], 0
        for q, want in zip(queries, truth):
            started = time.perf_counter()
            _, ids = hnsw.search(q[None, :], 10)
            times.append(time.perf_counter() - started)
            hits += len(want & set(ids[0].tolist()))
        result[f"hnsw{ef}_ms"] = percentiles(times)
        result[f"hnsw{ef}_recall"] = hits / (10 * len(queries))
    del flat, hnsw, data
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller scales, for a smoke run")
    args = parser.parse_args()
    n_articles_1k, n_docs_10k, vector_scales = (300, 2_000, (2_000, 10_000)) if args.quick else (1_000, 10_000, (10_000, 100_000))
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    print(f"knowledge search benchmark: {os.cpu_count()} cores, query embeddings on one thread as in production, "
          f"FAISS searches on 1 thread{' (--quick)' if args.quick else ''}")
    rss_start = rss_mb()

    # 1. Embedding throughput on the real corpus -----------------------------------------------------
    builder = load_encoder(DEFAULT_MODEL)  # as `knowledge_index build`: default runtime and threads
    encoder = load_encoder(DEFAULT_MODEL, threads=1)  # as the backend embeds queries
    reference = load_encoder(DEFAULT_MODEL, runtime="torch", threads=1)
    for warm in (builder, encoder, reference):
        embed(warm, ["warm-up"])
    rss_model = rss_mb()
    real = load_corpus(CORPUS)
    texts = [t for a in real for t in embedding_texts(a)]
    embed_s = timed(lambda: embed(builder, texts))
    real_vectors = embed(builder, texts)  # (the timing above is the cold-cache figure; reuse here)
    queries = [(q.query, q.lang) for q in load_queries(QUERIES)] if QUERIES.is_file() else \
        [(a.title, a.lang) for a in real]
    embed_one = percentiles([timed(lambda: embed(encoder, [text])) for text, _ in queries[:100]])
    embed_one_torch = percentiles([timed(lambda: embed(reference, [text])) for text, _ in queries[:100]])
    table("Build throughput (real corpus)", ["what", "figure"], [
        ["documents (article x language)", len(real)],
        ["texts embedded (2 per document)", len(texts)],
        [f"embedding time ({builder.runtime}), s", embed_s],
        ["embedding throughput, documents/s", len(real) / embed_s],
        [f"one query embedding p50 / p95 ({encoder.runtime}, 1 thread), ms", "%.1f / %.1f" % embed_one],
        ["one query embedding p50 / p95 (torch, 1 thread), ms", "%.1f / %.1f" % embed_one_torch],
        [f"{encoder.runtime} / torch p50 ratio", f"x{embed_one[0] / embed_one_torch[0]:.2f}"],
    ])

    # 2. ~1k articles: end-to-end search latency, BM25 build, save/load, update --------------------
    syn = synthetic_articles(real, n_articles_1k)
    reps = -(-len(syn) // len(real))
    noisy = np.tile(real_vectors.reshape(len(real), VECTORS_PER_DOC, -1), (reps, 1, 1))[: len(syn)]
    noisy = noisy + rng.normal(0, 0.02, noisy.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=2, keepdims=True)
    bm25_1k_s = timed(lambda: LexicalIndex.from_articles(syn))
    searcher = searcher_for(syn, noisy.reshape(-1, noisy.shape[2]), encoder)
    rss_1k = float(in_fresh_process(searcher_memory, n_articles_1k, real_vectors.shape[1])["mb"])
    lat_1k = search_latencies(searcher, queries)
    with tempfile.TemporaryDirectory() as tmp:
        save_s = timed(lambda: searcher.save(Path(tmp)))
        load_s = timed(lambda: KnowledgeSearcher.load(Path(tmp)))
        bm25_load_s = timed(lambda: LexicalIndex.load(Path(tmp)))
    update_s = timed(lambda: searcher.add_articles(syn[:2]))  # one article, both languages
    lex_update_s = timed(lambda: searcher._lexical.add(syn[:2]))

    # 3. 10k documents: BM25 build and end-to-end search on random vectors ---------------------------
    syn10 = synthetic_articles(real, n_docs_10k // 2, seed=1)
    bm25_10k_s = timed(lambda: LexicalIndex.from_articles(syn10))
    searcher10 = searcher_for(syn10, random_unit(rng, len(syn10) * VECTORS_PER_DOC, encoder.dim), encoder)
    rss_10k = float(in_fresh_process(searcher_memory, n_docs_10k // 2, real_vectors.shape[1])["mb"])
    lat_10k = search_latencies(searcher10, queries)
    lex_update_10k_s = timed(lambda: searcher10._lexical.add(syn10[:2]))
    del searcher10
    table(f"One search, end to end (query embedding included), k=3, {len(queries)} queries", [
        "mode", f"{len(syn)} docs p50 ms", "p95 ms", f"{len(syn10)} docs p50 ms", "p95 ms", "p50 ratio"], [
        [mode, *lat_1k[mode], *lat_10k[mode], f"x{lat_10k[mode][0] / lat_1k[mode][0]:.2f}"] for mode in SEARCH_MODES
    ])
    table("Index build, update and memory", ["what", f"{len(syn)} docs", f"{len(syn10)} docs", "ratio"], [
        ["BM25 build (analysis + bm25s), s", bm25_1k_s, bm25_10k_s, f"x{bm25_10k_s / bm25_1k_s:.1f}"],
        ["BM25 re-index on add (one language), s", lex_update_s, lex_update_10k_s, f"x{lex_update_10k_s / lex_update_s:.1f}"],
        ["add_articles (1 article: embed + FAISS + BM25), s", update_s, "", ""],
        ["save index dir, s", save_s, "", ""],
        ["load index dir (model cached), s", load_s, "", ""],
        ["  of which BM25 load, s", bm25_load_s, "", ""],
        ["RSS of the searcher (vectors + BM25 + metadata), MB", rss_1k, rss_10k, f"x{rss_10k / max(rss_1k, 1e-9):.1f}"],
    ])

    # 4. Vector side only: flat vs HNSW --------------------------------------------------------------
    dim = encoder.dim
    del searcher
    no_queries = np.zeros((0, dim), dtype=np.float32)
    grow = [in_fresh_process(vector_growth, "random", n, dim, real_vectors, no_queries) for n in vector_scales]
    query_vectors = embed(encoder, [text for text, _ in queries])
    like = [in_fresh_process(vector_growth, "real-like", n, dim, real_vectors, query_vectors) for n in vector_scales]
    header = ["index", *(f"{g['docs']} docs ({g['vectors']} vectors)" for g in grow)]
    rows: list[list[object]] = [
        ["flat: build s", *(g["flat_build_s"] for g in grow)],
        ["flat: RSS MB", *(g["flat_mb"] for g in grow)],
        ["flat: search p50 / p95 ms", *("%.2f / %.2f" % g["flat_ms"] for g in grow)],
        [f"HNSW M={HNSW_M} efC={HNSW_EF_CONSTRUCTION}: build s", *(g["hnsw_build_s"] for g in grow)],
        ["HNSW: RSS MB", *(g["hnsw_mb"] for g in grow)],
    ]
    for ef in HNSW_EF_SEARCH:
        rows.append([f"HNSW efSearch={ef}: p50 / p95 ms, recall@10",
                     *("%.2f / %.2f, %.3f" % (*g[f"hnsw{ef}_ms"], g[f"hnsw{ef}_recall"]) for g in grow)])
    rows.append(["flat / HNSW(ef=64) p50 speed-up", *(f"x{g['flat_ms'][0] / g['hnsw64_ms'][0]:.1f}" for g in grow)])
    table("Vector search alone, RANDOM normalised vectors (no text embedded at these scales), 200 queries", header, rows)
    rows = [["flat: search p50 / p95 ms", *("%.2f / %.2f" % g["flat_ms"] for g in like)],
            ["HNSW: build s", *(g["hnsw_build_s"] for g in like)],
            ["HNSW: RSS MB", *(g["hnsw_mb"] for g in like)]]
    for ef in HNSW_EF_SEARCH:
        rows.append([f"HNSW efSearch={ef}: p50 / p95 ms, recall@10",
                     *("%.2f / %.2f, %.3f" % (*g[f"hnsw{ef}_ms"], g[f"hnsw{ef}_recall"]) for g in like)])
    table(f"Same, REAL-LIKE vectors (mixes of real embeddings), {len(query_vectors)} real query embeddings", header, rows)

    print(f"\nRSS of this process: {rss_start:.0f} MB after imports, {rss_model:.0f} MB with the model loaded "
          f"(+{rss_model - rss_start:.0f} MB), {rss_mb():.0f} MB at the end. Structure sizes above come from fresh processes.")
    print(f"benchmark ran in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
