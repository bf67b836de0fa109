"""Backend-neutral vector index interface, so the search layer does not depend on FAISS directly."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np


class VectorIndex(ABC):
    """An id -> vector store with top-k similarity search (higher score = more similar)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector dimension."""

    @abstractmethod
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert vectors; an id already present is replaced."""

    @abstractmethod
    def remove(self, ids: Sequence[int]) -> int:
        """Delete ids (unknown ids are ignored); return how many were removed."""

    @abstractmethod
    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each query vector, up to ``k`` ``(id, score)`` pairs, best first."""

    @abstractmethod
    def reconstruct(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of ``ids`` as an ``(len(ids), dim)`` array; KeyError for an unknown id."""

    @abstractmethod
    def ids(self) -> list[int]:
        """All stored ids."""

    @abstractmethod
    def __len__(self) -> int: ...

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in set(self.ids())

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Persist to ``directory`` (created if needed)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path) -> Self:
        """Read an index written by :meth:`save`."""
