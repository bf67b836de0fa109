from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_index.base import VectorIndex
from knowledge_index.faiss_index import FaissVectorIndex


def unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_add_search_replace_remove():
    rng = np.random.default_rng(0)
    vectors = unit(rng, 5)
    index = FaissVectorIndex(8)
    assert isinstance(index, VectorIndex) and index.dim == 8 and len(index) == 0
    assert index.search(vectors[:1], 3) == [[]]

    index.add([10, 20, 30, 40, 50], vectors)
    assert len(index) == 5 and sorted(index.ids()) == [10, 20, 30, 40, 50] and 30 in index
    hits = index.search(vectors[2], 3)[0]
    assert hits[0][0] == 30 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(index.search(vectors, 100)[0]) == 5  # k is capped at the index size

    # Re-adding an id replaces its vector instead of duplicating it.
    index.add([30], vectors[0])
    assert len(index) == 5
    top_two = {doc_id for doc_id, _ in index.search(vectors[0], 2)[0]}
    assert top_two == {10, 30}
    assert all(doc_id != 30 for doc_id, _ in index.search(vectors[2], 5)[0][:1])

    # Duplicate ids inside one batch: the last one wins.
    index.add([60, 60], vectors[[3, 4]])
    assert len(index) == 6
    assert index.search(vectors[4], 2)[0][0][1] == pytest.approx(1.0, abs=1e-5)

    assert index.remove([20, 999]) == 1
    assert len(index) == 5 and 20 not in index
    assert all(doc_id != 20 for doc_id, _ in index.search(vectors[1], 5)[0])
    assert index.remove([]) == 0


def test_shape_checks():
    index = FaissVectorIndex(8)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.add([1], np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        index.add([1, 2], np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(ValueError):
        FaissVectorIndex(0)


def test_save_load_round_trip(tmp_path: Path):
    rng = np.random.default_rng(1)
    vectors = unit(rng, 20)
    index = FaissVectorIndex(8)
    index.add(list(range(100, 120)), vectors)
    index.remove([105])
    index.save(tmp_path)
    assert (tmp_path / "index.faiss").is_file() and (tmp_path / "index_meta.json").is_file()

    loaded = FaissVectorIndex.load(tmp_path)
    assert loaded.dim == 8 and len(loaded) == 19 and sorted(loaded.ids()) == sorted(index.ids())
    queries = unit(rng, 4)
    assert loaded.search(queries, 5) == index.search(queries, 5)
    loaded.add([105], vectors[5])  # the loaded index is still updatable
    assert loaded.search(vectors[5], 1)[0][0][0] == 105
