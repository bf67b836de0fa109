"""Command line: ``python -m knowledge_index {build,publish,version,search,evaluate}``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .corpus import LANGUAGES, REPO_ROOT, CorpusError
from .embedder import DEFAULT_MODEL, RUNTIMES

# Defaults are anchored at the repo root so the commands work from any directory.
DEFAULT_CORPUS = REPO_ROOT / "data" / "knowledge"
DEFAULT_INDEX = REPO_ROOT / "var" / "knowledge_index"
DEFAULT_QUERIES = REPO_ROOT / "data" / "knowledge_eval" / "queries.yml"
MODES = ("hybrid", "dense", "bm25")  # store.SEARCH_MODES, without importing torch for --help


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge_index", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="embed the corpus and write the index")
    build.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of *.yml articles")
    build.add_argument("--out", type=Path, default=DEFAULT_INDEX, help="index directory")
    build.add_argument("--model", default=DEFAULT_MODEL, help="embedding model name or local path")
    build.add_argument("--taxonomy", type=Path, default=None, help="taxonomy.yml (default: data/taxonomy)")
    build.add_argument("--if-stale", action="store_true", help="do nothing if the index is up to date")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument("--runtime", choices=RUNTIMES, default="auto",
                       help="embedding runtime: onnx (exported once, same vectors, faster), torch, or auto (onnx if it can)")

    publish = commands.add_parser(
        "publish", help="build the corpus once into ROOT/<version>, read-only (nothing to do if already published)")
    publish.add_argument("--root", type=Path, required=True, help="directory of published index versions")
    publish.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of *.yml articles")
    publish.add_argument("--model", default=DEFAULT_MODEL, help="embedding model name or local path")
    publish.add_argument("--taxonomy", type=Path, default=None, help="taxonomy.yml (default: data/taxonomy)")
    publish.add_argument("--expect", default=None, metavar="VERSION",
                         help="fail (exit 3) if the corpus is not this version, e.g. the one the backends are configured with")
    publish.add_argument("--runtime", choices=RUNTIMES, default="auto", help="embedding runtime (as for build)")

    version = commands.add_parser("version", help="print the version name the corpus publishes to (no model loaded)")
    version.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of *.yml articles")
    version.add_argument("--model", default=DEFAULT_MODEL, help="embedding model name or local path")

    search = commands.add_parser("search", help="query the index")
    search.add_argument("query")
    search.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index directory")
    search.add_argument("--lang", choices=LANGUAGES, default=None)
    search.add_argument("--model-name", default=None, help="the user's product model, e.g. 'iR-ADV C5560i'")
    search.add_argument("-k", type=int, default=5, help="number of hits")
    search.add_argument("--min-score", type=float, default=0.0, help="minimum dense cosine similarity")
    search.add_argument("--mode", choices=MODES, default="hybrid")

    evaluate = commands.add_parser("evaluate", help="recall@1, recall@k and MRR of each search mode on labelled queries")
    evaluate.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="YAML query file")
    evaluate.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index directory")
    evaluate.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus, to warn when the index is stale")
    evaluate.add_argument("-k", type=int, default=3, help="recall cut-off of the second recall column")
    evaluate.add_argument("--misses", action="store_true", help="also list, on stderr, queries hybrid misses in the top k")
    return parser


def _build(args: argparse.Namespace) -> int:
    from .embedder import load_encoder
    from .store import build_index, is_stale, read_build_info

    if args.if_stale and not is_stale(args.corpus, args.out, args.model):
        info = read_build_info(args.out)
        print(f"index up to date: {info.count} documents, model {info.model}, built {info.built_at} ({args.out})")
        # The servers embed queries with this encoder: make its ONNX export now rather than on the first search.
        encoder = load_encoder(args.model, args.runtime)
        print(f"query encoder: {encoder.runtime}")
        return 0
    info = build_index(args.corpus, args.out, model=args.model, progress=not args.quiet, taxonomy_path=args.taxonomy,
                       runtime=args.runtime)
    langs = ", ".join(f"{n} {lang}" for lang, n in info.languages.items())
    print(f"built {info.count} documents ({langs}) in {info.build_seconds:.1f} s with model {info.model} "
          f"on {info.encoder_runtime} -> {args.out}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from .store import index_version, publish_index

    if args.expect is not None and index_version(args.corpus, args.model) != args.expect:
        print(f"error: the corpus {args.corpus} is index version {index_version(args.corpus, args.model)}, "
              f"not {args.expect}: set the backends' KNOWLEDGE_INDEX_VERSION to the corpus' version", file=sys.stderr)
        return 3
    published = publish_index(args.corpus, args.root, model=args.model, taxonomy_path=args.taxonomy,
                              runtime=args.runtime)
    state = "published" if published.built else "already published"
    print(f"index version {published.version} {state}: {published.info.count} documents -> {published.path}")
    return 0


def _version(args: argparse.Namespace) -> int:
    from .store import index_version

    print(index_version(args.corpus, args.model))
    return 0


def _search(args: argparse.Namespace) -> int:
    from .store import KnowledgeSearcher

    searcher = KnowledgeSearcher.load(args.index)
    started = time.perf_counter()
    hits = searcher.search(
        args.query, lang=args.lang, product_model=args.model_name, k=args.k, min_score=args.min_score, mode=args.mode
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    for rank, hit in enumerate(hits, 1):
        models = ", ".join(hit.models) or "all models"
        print(f"{rank}. {hit.score:.3f} (cos {hit.similarity:.3f}, bm25 {hit.bm25:.2f})  {hit.number} [{hit.lang}] {hit.title}")
        print(f"   {', '.join(hit.tags)} | {models}")
    print(f"{len(hits)} hit(s) in {elapsed_ms:.0f} ms", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, format_table, load_queries
    from .store import KnowledgeSearcher, is_stale

    if args.k < 1:
        print("error: -k must be at least 1", file=sys.stderr)
        return 2
    if not args.queries.is_file():
        print(f"error: {args.queries}: no query file", file=sys.stderr)
        return 1
    queries = load_queries(args.queries)
    searcher = KnowledgeSearcher.load(args.index)
    if args.corpus.is_dir() and is_stale(args.corpus, args.index, searcher.model_name):
        print(f"warning: {args.index} is stale for {args.corpus}: run `python -m knowledge_index build`", file=sys.stderr)
    result = evaluate(searcher, queries, k=args.k)
    if result.unknown:
        print(f"warning: relevant articles not in the index: {', '.join(result.unknown)}", file=sys.stderr)
    print(format_table(result.metrics, args.k), flush=True)
    if args.misses:
        for query in queries:
            rank = result.ranks[(query.id, "hybrid")]
            if rank is None or rank > args.k:
                hits = searcher.search(query.query, lang=query.lang, product_model=query.asset_model, k=args.k)
                print(f"miss {query.id} [{query.lang}] {query.query!r}: want {', '.join(query.relevant)} "
                      f"(rank {rank}), got {', '.join(h.number for h in hits)}", file=sys.stderr)
    return 0


COMMANDS = {"build": _build, "publish": _publish, "version": _version, "search": _search, "evaluate": _evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CorpusError as exc:
        print(f"corpus error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as exc:  # ValueError: a bad query file, a too-short query
        print(f"error: {exc}", file=sys.stderr)
        return 1
