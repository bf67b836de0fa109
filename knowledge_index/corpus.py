"""Loading and validation of the knowledge-article corpus (``data/knowledge/*.yml``).

Each YAML entry holds one article in both languages; the index works per language, so an entry
becomes two :class:`Article` records with stable numeric ids derived from the article number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAXONOMY = REPO_ROOT / "data" / "taxonomy" / "taxonomy.yml"

LANGUAGES: tuple[str, ...] = ("fr", "en")
# The language index is the last decimal digit of doc_id, so both versions of an article stay
# adjacent and an id can be mapped back to (number, lang) without a lookup table.
LANG_OFFSETS: dict[str, int] = {"fr": 0, "en": 1}

NUMBER_RE = re.compile(r"^KB\d{7}$")
_IDENT = r"[a-z0-9]+(?:_[a-z0-9]+)*"
FAULT_TAG_RE = re.compile(rf"^fault\.({_IDENT})\.({_IDENT})$")
HOWTO_TAG_RE = re.compile(rf"^howto\.{_IDENT}$")


class CorpusError(ValueError):
    """The corpus (or the taxonomy it refers to) is malformed; the message names file and article."""


@dataclass(frozen=True)
class Article:
    doc_id: int
    number: str
    lang: str
    title: str
    summary: str
    body: str
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Text that gets embedded: the title and summary carry most of the meaning, the body adds recall."""
        return "\n".join(part for part in (self.title, self.summary, self.body) if part)


def doc_id_for(number: str, lang: str) -> int:
    """Stable id of one language version of an article (``KB0010001``/en -> 100011)."""
    return int(number[2:]) * 10 + LANG_OFFSETS[lang]


def load_fault_taxonomy(path: Path | None = None) -> dict[str, frozenset[str]]:
    """Map fault category -> allowed subcategories, read from the portal taxonomy."""
    path = Path(path) if path is not None else DEFAULT_TAXONOMY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: cannot read taxonomy: {exc}") from exc
    faults = data.get("faults") if isinstance(data, Mapping) else None
    if not isinstance(faults, Mapping):
        raise CorpusError(f"{path}: taxonomy has no 'faults' mapping")
    return {
        str(cat): frozenset(str(sub) for sub in (spec or {}).get("subcategories") or {})
        for cat, spec in faults.items()
    }


def _corpus_files(directory: Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise CorpusError(f"{directory}: corpus directory does not exist")
    return sorted(p for p in directory.glob("*.yml") if p.is_file())


def read_corpus_files(directory: Path) -> list[tuple[Path, bytes]]:
    """Read every ``*.yml`` once, in sorted order.

    Files are edited while the service runs, so a build parses and fingerprints the *same* bytes
    instead of reading the directory twice and risking a mismatch.
    """
    return [(path, path.read_bytes()) for path in _corpus_files(directory)]


def fingerprint_files(files: list[tuple[Path, bytes]]) -> str:
    digest = hashlib.sha256()
    for path, content in files:
        # Length-prefix each field so that moving bytes between name and content changes the hash.
        name = path.name.encode("utf-8")
        for part in (name, content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def corpus_fingerprint(directory: Path) -> str:
    """sha256 over the sorted ``*.yml`` file names and contents of the corpus directory."""
    return fingerprint_files(read_corpus_files(directory))


def load_corpus(directory: Path, taxonomy_path: Path | None = None) -> list[Article]:
    """Load and validate every ``*.yml`` under ``directory``; one Article per (entry, language)."""
    return parse_corpus_files(read_corpus_files(directory), taxonomy_path)


def parse_corpus_files(
    files: list[tuple[Path, bytes]], taxonomy_path: Path | None = None
) -> list[Article]:
    faults = load_fault_taxonomy(taxonomy_path)
    articles: list[Article] = []
    seen: dict[str, Path] = {}
    for path, content in files:
        for entry in _file_entries(path, content):
            number = entry.get("number")
            where = f"{path.name}: article {number!r}"
            if not isinstance(number, str) or not NUMBER_RE.match(number):
                raise CorpusError(f"{where}: bad number format (expected 'KB' followed by 7 digits)")
            if number in seen:
                raise CorpusError(f"{where}: duplicate number (already defined in {seen[number].name})")
            seen[number] = path
            articles.extend(_entry_articles(entry, number, where, faults))
    return articles


def _file_entries(path: Path, content: bytes) -> list[Mapping[str, Any]]:
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path.name}: invalid YAML (file half-written?): {exc}") from exc
    if data is None:  # an empty file is a file someone has just created: nothing to index yet
        return []
    if not isinstance(data, Mapping) or "articles" not in data:
        raise CorpusError(f"{path.name}: expected a mapping with an 'articles' list at top level")
    entries = data["articles"] or []
    if not isinstance(entries, list):
        raise CorpusError(f"{path.name}: 'articles' must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise CorpusError(f"{path.name}: articles[{i}] must be a mapping")
    return entries


def _str_tuple(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CorpusError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _check_tag(tag: str, where: str, faults: Mapping[str, frozenset[str]]) -> None:
    if HOWTO_TAG_RE.match(tag):
        return
    match = FAULT_TAG_RE.match(tag)
    if not match:
        raise CorpusError(
            f"{where}: bad tag {tag!r} (expected 'fault.<category>.<subcategory>' or 'howto.<topic>')"
        )
    category, sub = match.groups()
    if category not in faults:
        raise CorpusError(f"{where}: tag {tag!r}: unknown fault category {category!r} in taxonomy")
    if sub not in faults[category]:
        raise CorpusError(f"{where}: tag {tag!r}: unknown subcategory {sub!r} of fault category {category!r}")


def _entry_articles(
    entry: Mapping[str, Any], number: str, where: str, faults: Mapping[str, frozenset[str]]
) -> list[Article]:
    tags = _str_tuple(entry, "tags", where)
    for tag in tags:
        _check_tag(tag, where, faults)
    models = _str_tuple(entry, "models", where)
    error_codes = _str_tuple(entry, "error_codes", where)

    result = []
    for lang in LANGUAGES:
        version = entry.get(lang)
        if not isinstance(version, Mapping):
            raise CorpusError(f"{where}: missing '{lang}' version")
        fields: dict[str, str] = {}
        for key in ("title", "summary", "body"):
            value = version.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise CorpusError(f"{where}: '{lang}.{key}' must be a string")
            fields[key] = value.strip()
        if not fields["title"]:
            raise CorpusError(f"{where}: missing '{lang}.title'")
        if not (fields["summary"] or fields["body"]):
            raise CorpusError(f"{where}: '{lang}' version has neither summary nor body")
        result.append(
            Article(
                doc_id=doc_id_for(number, lang),
                number=number,
                lang=lang,
                tags=tags,
                models=models,
                error_codes=error_codes,
                **fields,
            )
        )
    return result
