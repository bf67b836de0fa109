"""Exact cosine-similarity index on FAISS (flat inner product over normalised vectors)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from ._io import atomic_write_bytes, atomic_write_json, read_json
from .base import VectorIndex

INDEX_FILE = "index.faiss"
META_FILE = "index_meta.json"
FORMAT_VERSION = 1
_KIND = "IndexIDMap2(IndexFlatIP)"


def _use_single_thread() -> None:
    # Online queries are one vector against a few thousand: an OpenMP team costs more than it saves
    # and competes with the web workers for the 2 shared cores.
    faiss.omp_set_num_threads(1)


class FaissVectorIndex(VectorIndex):
    """Exact search is fine at knowledge-base scale (thousands of vectors) and needs no training.

    ``IndexIDMap2`` (not ``IndexIDMap``) keeps a reverse map, which makes ``remove_ids`` and
    id-based replacement possible without rebuilding.
    """

    def __init__(self, dim: int, _index: faiss.Index | None = None) -> None:
        if dim <= 0:
            raise ValueError(f"dimension must be positive, got {dim}")
        _use_single_thread()
        self._dim = dim
        self._index = _index if _index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> list[int]:
        return [int(i) for i in faiss.vector_to_array(self._index.id_map)]

    def _as_matrix(self, vectors: np.ndarray) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or matrix.shape[1] != self._dim:
            raise ValueError(f"expected vectors of shape (n, {self._dim}), got {matrix.shape}")
        return np.ascontiguousarray(matrix)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        matrix = self._as_matrix(vectors)
        id_array = np.asarray(list(ids), dtype=np.int64)
        if len(id_array) != len(matrix):
            raise ValueError(f"{len(id_array)} ids for {len(matrix)} vectors")
        if len(id_array) == 0:
            return
        # Within one batch the last occurrence of an id wins, as if added one after another.
        _, last_rev = np.unique(id_array[::-1], return_index=True)
        keep = np.sort(len(id_array) - 1 - last_rev)
        id_array, matrix = id_array[keep], matrix[keep]
        self._index.remove_ids(id_array)  # replace semantics: FAISS itself would keep both copies
        self._index.add_with_ids(matrix, id_array)

    def remove(self, ids: Sequence[int]) -> int:
        id_array = np.asarray(list(ids), dtype=np.int64)
        if len(id_array) == 0:
            return 0
        return int(self._index.remove_ids(id_array))

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        matrix = self._as_matrix(vectors)
        k = min(k, len(self))
        if k <= 0:
            return [[] for _ in range(len(matrix))]
        scores, ids = self._index.search(matrix, k)
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i != -1]
            for row_ids, row_scores in zip(ids, scores)
        ]

    def reconstruct(self, ids: Sequence[int]) -> np.ndarray:
        id_array = np.asarray(list(ids), dtype=np.int64)
        if len(id_array) == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        try:
            # IndexIDMap2 maps external ids back to rows, so no side table is needed.
            return np.asarray(self._index.reconstruct_batch(id_array), dtype=np.float32).reshape(len(id_array), self._dim)
        except RuntimeError as exc:  # FAISS reports an unknown id as a C++ exception
            raise KeyError(f"unknown id among {id_array.tolist()[:10]}") from exc

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        atomic_write_bytes(directory / INDEX_FILE, faiss.serialize_index(self._index).tobytes())
        atomic_write_json(
            directory / META_FILE,
            {"format_version": FORMAT_VERSION, "kind": _KIND, "dim": self._dim, "count": len(self)},
        )

    @classmethod
    def load(cls, directory: Path) -> Self:
        directory = Path(directory)
        meta = read_json(directory / META_FILE)
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != _KIND:
            raise ValueError(f"{directory / META_FILE}: unsupported index format {meta!r}")
        index = faiss.read_index(str(directory / INDEX_FILE))
        if index.d != meta["dim"] or index.ntotal != meta["count"]:
            raise ValueError(
                f"{directory}: {INDEX_FILE} (dim {index.d}, {index.ntotal} vectors) does not match "
                f"{META_FILE} (dim {meta['dim']}, {meta['count']} vectors)"
            )
        return cls(int(meta["dim"]), _index=index)
