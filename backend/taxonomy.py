"""The seed guide's request taxonomy, loaded once from data/taxonomy/taxonomy.yml."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from backend.core.config import get_settings

SECTIONS = ("faults", "requests", "other_cases")


@dataclass(frozen=True)
class Subcategory:
    code: str
    labels: dict[str, str]
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Its keywords say where ("dans le bac"), not what: they choose this sub-type once its category's own words
    # matched, and never point at the category by themselves.
    locates: bool = False


@dataclass(frozen=True)
class Category:
    code: str
    section: str
    labels: dict[str, str]
    admin_only: bool
    subcategories: dict[str, Subcategory]
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Taxonomy:
    categories: dict[str, Category]

    def section(self, name: str) -> list[Category]:
        return [c for c in self.categories.values() if c.section == name]

    def get(self, category: str, subcategory: str) -> tuple[Category, Subcategory] | None:
        cat = self.categories.get(category)
        sub = cat.subcategories.get(subcategory) if cat else None
        return (cat, sub) if cat and sub else None

    def is_fault(self, category: str) -> bool:
        cat = self.categories.get(category)
        return bool(cat and cat.section == "faults")


def load_taxonomy(path: Path) -> Taxonomy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    categories: dict[str, Category] = {}
    for section in SECTIONS:
        for code, spec in (raw.get(section) or {}).items():
            if code in categories:
                raise ValueError(f"{path}: category code {code!r} is defined twice")
            subs = {
                sub_code: Subcategory(
                    code=sub_code,
                    labels={"fr": sub["fr"], "en": sub["en"]},
                    keywords={lang: tuple(words) for lang, words in (sub.get("keywords") or {}).items()},
                    locates=bool(sub.get("locates", False)),
                )
                for sub_code, sub in spec["subcategories"].items()
            }
            categories[code] = Category(
                code=code,
                section=section,
                labels={"fr": spec["fr"], "en": spec["en"]},
                admin_only=bool(spec.get("admin_only", False)),
                subcategories=subs,
                keywords={lang: tuple(words) for lang, words in (spec.get("keywords") or {}).items()},
            )
    return Taxonomy(categories)


@lru_cache
def get_taxonomy() -> Taxonomy:
    return load_taxonomy(get_settings().taxonomy_path)
