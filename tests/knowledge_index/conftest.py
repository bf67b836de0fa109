"""Fixtures for the knowledge_index tests: small bilingual corpora written to tmp dirs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge_index.embedder import load_encoder
from knowledge_index.store import build_index


def entry(
    number: str,
    tags: list[str],
    fr: tuple[str, str, str],
    en: tuple[str, str, str],
    models: list[str] | None = None,
    error_codes: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "number": number,
        "tags": tags,
        "models": models or [],
        "error_codes": error_codes or [],
        "fr": dict(zip(("title", "summary", "body"), fr)),
        "en": dict(zip(("title", "summary", "body"), en)),
    }


NOISE = entry(
    "KB0010001",
    ["fault.malfunction.unusual_noise"],
    fr=("Bruit de grincement provenant de l'unité de fixation",
        "Le copieur émet un grincement pendant l'impression.",
        "Ouvrez la porte droite, vérifiez l'unité de fixation et appelez le support si le bruit persiste."),
    en=("Grinding noise from the fuser unit",
        "The copier makes a grinding or squeaking noise while printing.",
        "Open the right door, inspect the fuser unit and call support if the noise persists."),
    models=["iR-ADV C5560i"],
)
TONER = entry(
    "KB0010002",
    ["fault.malfunction.toner_problem"],
    fr=("Fuite de toner dans l'appareil",
        "De la poudre de toner s'est répandue à l'intérieur du copieur.",
        "Retirez la cartouche de toner avec précaution et nettoyez la poudre avec un chiffon sec."),
    en=("Toner leaking inside the device",
        "Toner powder has spilled inside the copier.",
        "Carefully remove the toner cartridge and wipe the powder with a dry cloth."),
)
DADF_JAM = entry(
    "KB0010003",
    ["fault.paper_jam.dadf"],
    fr=("Bourrage papier dans le chargeur de documents",
        "Les originaux restent coincés dans le chargeur supérieur DADF.",
        "Ouvrez le capot du chargeur et retirez les feuilles coincées."),
    en=("Paper jam in the document feeder",
        "Originals get stuck in the top document feeder (DADF).",
        "Open the feeder cover and remove the stuck sheets."),
    error_codes=["E100-0001"],
)
SCAN_EMAIL = entry(
    "KB0010004",
    ["howto.scan_to_email"],
    fr=("Numériser vers un e-mail",
        "Envoyer un document numérisé par courrier électronique.",
        "Appuyez sur Numériser et envoyer, choisissez un destinataire puis appuyez sur Démarrer."),
    en=("Scan to email",
        "Send a scanned document by email.",
        "Press Scan and Send, choose a recipient and press Start."),
)
SMELL = entry(
    "KB0010005",
    ["fault.malfunction.unusual_smell"],
    fr=("Odeur de brûlé", "L'appareil dégage une odeur de brûlé ou de fumée.",
        "Éteignez immédiatement l'appareil, débranchez-le et contactez le support."),
    en=("Burning smell", "The device gives off a burning or smoke smell.",
        "Switch the device off immediately, unplug it and contact support."),
)

# Two files so that sorted multi-file loading is exercised.
FIXTURE_FILES: dict[str, list[dict[str, Any]]] = {
    "a_faults.yml": [NOISE, TONER, DADF_JAM],
    "b_more.yml": [SCAN_EMAIL, SMELL],
}
FIXTURE_COUNT = 10  # 5 articles x 2 languages


def write_corpus(directory: Path, files: dict[str, list[dict[str, Any]]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, entries in files.items():
        text = yaml.safe_dump({"articles": entries}, allow_unicode=True, sort_keys=False)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def corpus_files() -> dict[str, list[dict[str, Any]]]:
    """A deep copy, so tests may mutate entries freely."""
    return copy.deepcopy(FIXTURE_FILES)


@pytest.fixture
def make_corpus(tmp_path: Path) -> Callable[..., Path]:
    def make(files: dict[str, list[dict[str, Any]]] | None = None, name: str = "corpus") -> Path:
        return write_corpus(tmp_path / name, copy.deepcopy(files if files is not None else FIXTURE_FILES))

    return make


@pytest.fixture(scope="session")
def embedder():
    """The default encoder of the real model (ONNX, exported on first use), loaded once: load_encoder's cache then
    serves every later caller, index builds and loads included."""
    return load_encoder()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """A read-only index of the fixture corpus shared by the tests that do not modify it."""
    root = tmp_path_factory.mktemp("shared")
    corpus = write_corpus(root / "corpus", FIXTURE_FILES)
    build_index(corpus, root / "index", progress=False)
    return root / "index"


@pytest.fixture
def fresh_index(tmp_path: Path, make_corpus, embedder) -> tuple[Path, Path]:
    """(corpus_dir, index_dir) private to one test, for tests that modify the index."""
    corpus = make_corpus()
    out = tmp_path / "index"
    build_index(corpus, out, progress=False)
    return corpus, out
