"""Import or update knowledge articles: the database and the search index, without a full rebuild.

    python -m backend.knowledge_admin import [CORPUS_DIR] [--prune]

Each (article, language) of the corpus is inserted or updated in the database (progress bar); only the
changed ones are re-embedded into the index, articles removed with --prune leave both. Running backends
pick the updated index up on their next search (services/knowledge.py watches the index's build file).

With KNOWLEDGE_INDEX_VERSION set (a deployment, deploy/README.md), the index being served is never changed: the
corpus is published as its own index version beside it (`knowledge_index.publish_index`), to be rolled out by
setting KNOWLEDGE_INDEX_VERSION to it. --expect-configured refuses (exit 3, nothing written) a corpus that is not
the configured version: the deployment's job runs it so that the database and the index always match the version
the backends are configured with.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from backend.core.config import get_settings
from backend.core.db import get_session_factory
from backend.models import KnowledgeArticle
from knowledge_index import (
    DEFAULT_MODEL, Article, CorpusError, KnowledgeSearcher, build_index, index_version, load_corpus, publish_index,
)

log = logging.getLogger("backend.knowledge_admin")
FIELDS = ("title", "summary", "body", "tags", "models", "error_codes")


@dataclass
class SyncResult:
    changed: list[Article] = field(default_factory=list)  # inserted or updated language versions
    removed: list[str] = field(default_factory=list)  # article numbers deleted (with --prune)


def _values(article: Article) -> dict[str, object]:
    return {name: list(value) if isinstance(value, tuple) else value
            for name in FIELDS for value in [getattr(article, name)]}


def sync_articles(session: Session, articles: list[Article], prune: bool = False, progress: bool = False) -> SyncResult:
    """Upsert every language version into the database; with `prune`, delete articles absent from `articles`."""
    existing = {(a.number, a.lang): a for a in session.scalars(select(KnowledgeArticle))}
    result = SyncResult()
    for article in tqdm(articles, desc="articles", unit="article", disable=not progress):
        values = _values(article)
        row = existing.get((article.number, article.lang))
        if row is None:
            session.add(KnowledgeArticle(number=article.number, lang=article.lang, **values))
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
        else:
            continue
        result.changed.append(article)
    if prune:
        kept = {a.number for a in articles}
        result.removed = sorted({number for number, _ in existing} - kept)
        if result.removed:
            session.execute(delete(KnowledgeArticle).where(KnowledgeArticle.number.in_(result.removed)))
    session.commit()
    return result


def update_index(index_dir: Path, corpus_dir: Path, result: SyncResult) -> str:
    """Apply a sync to the search index: incremental when it exists, a full build otherwise."""
    if not (index_dir / "build.json").exists():
        build_index(corpus_dir, index_dir, progress=True)
        return "built"
    if not result.changed and not result.removed:
        return "unchanged"
    searcher = KnowledgeSearcher.load(index_dir)
    if result.removed:
        searcher.remove_articles(result.removed)
    if result.changed:
        searcher.add_articles(result.changed)
    searcher.save()
    return "updated"


def publish_version(index_root: Path, corpus_dir: Path, configured: str, model: str) -> str:
    """Publish the corpus as an index version beside the one being served (never changed); say what to roll out."""
    published = publish_index(corpus_dir, index_root, model=model, progress=True)
    state = "published" if published.built else "already published"
    if published.version == configured:
        return f"version {published.version} {state} (the configured one)"
    return (f"version {published.version} {state}; the backends serve {configured}: set KNOWLEDGE_INDEX_VERSION="
            f"{published.version} and roll them out")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="import or update articles from a corpus directory")
    importer.add_argument("corpus", nargs="?", type=Path, default=settings.knowledge_corpus_dir)
    importer.add_argument("--prune", action="store_true", help="delete articles that are not in the corpus")
    importer.add_argument("--expect-configured", action="store_true",
                          help="with KNOWLEDGE_INDEX_VERSION: fail unless the corpus is that version")
    args = parser.parse_args(argv)
    configured, model = settings.knowledge_index_version, settings.knowledge_model or DEFAULT_MODEL
    if args.expect_configured and not configured:
        parser.error("--expect-configured needs KNOWLEDGE_INDEX_VERSION")
    try:
        corpus_version = index_version(args.corpus, model) if args.expect_configured else configured
        if corpus_version != configured:
            print(f"error: the corpus {args.corpus} is index version {corpus_version}, not the configured "
                  f"KNOWLEDGE_INDEX_VERSION={configured}; nothing written", file=sys.stderr)
            return 3
        articles = load_corpus(args.corpus)
    except CorpusError as error:
        print(f"corpus error: {error}", file=sys.stderr)
        return 1
    with get_session_factory()() as session:
        result = sync_articles(session, articles, prune=args.prune, progress=True)
    if configured:
        index = publish_version(settings.knowledge_index_dir, args.corpus, configured, model)
    else:
        index = update_index(settings.knowledge_index_dir, args.corpus, result)
    print(f"{len(result.changed)} article versions written, {len(result.removed)} articles removed; index {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
