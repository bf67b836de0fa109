"""Command line: ``python -m knowledge_index {build,search}``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .corpus import LANGUAGES, REPO_ROOT, CorpusError
from .embedder import DEFAULT_MODEL

# Defaults are anchored at the repo root so the commands work from any directory.
DEFAULT_CORPUS = REPO_ROOT / "data" / "knowledge"
DEFAULT_INDEX = REPO_ROOT / "var" / "knowledge_index"


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

    search = commands.add_parser("search", help="query the index")
    search.add_argument("query")
    search.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index directory")
    search.add_argument("--lang", choices=LANGUAGES, default=None)
    search.add_argument("--model-name", default=None, help="the user's product model, e.g. 'iR-ADV C5560i'")
    search.add_argument("-k", type=int, default=5, help="number of hits")
    search.add_argument("--min-score", type=float, default=0.0)
    return parser


def _build(args: argparse.Namespace) -> int:
    from .store import build_index, is_stale, read_build_info

    if args.if_stale and not is_stale(args.corpus, args.out, args.model):
        info = read_build_info(args.out)
        print(f"index up to date: {info.count} documents, model {info.model}, built {info.built_at} ({args.out})")
        return 0
    info = build_index(args.corpus, args.out, model=args.model, progress=not args.quiet, taxonomy_path=args.taxonomy)
    langs = ", ".join(f"{n} {lang}" for lang, n in info.languages.items())
    print(f"built {info.count} documents ({langs}) in {info.build_seconds:.1f} s with model {info.model} -> {args.out}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from .store import KnowledgeSearcher

    searcher = KnowledgeSearcher.load(args.index)
    started = time.perf_counter()
    hits = searcher.search(args.query, lang=args.lang, product_model=args.model_name, k=args.k, min_score=args.min_score)
    elapsed_ms = (time.perf_counter() - started) * 1000
    for rank, hit in enumerate(hits, 1):
        models = ", ".join(hit.models) or "all models"
        print(f"{rank}. {hit.score:.3f}  {hit.number} [{hit.lang}] {hit.title}")
        print(f"   {', '.join(hit.tags)} | {models}")
    print(f"{len(hits)} hit(s) in {elapsed_ms:.0f} ms", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _build(args) if args.command == "build" else _search(args)
    except CorpusError as exc:
        print(f"corpus error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
