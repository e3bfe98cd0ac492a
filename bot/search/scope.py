"""Out-of-scope questions recognised by example: a confidence signal that does not grow with the knowledge.

Every other confidence signal compares the question with the knowledge, so each inflates as the
knowledge grows: with thousands more passages, some passage shares the question's words or comes
close to it by chance ("quanti giorni di ferie spettano ai dipendenti" finds a quotation about
holidays). The tuning sets hold questions already judged in scope or out of scope. Their vectors are
stored with the index, and a question's *scope signal* says which kind it resembles: the mean cosine
of its nearest out-of-scope examples minus that of its nearest in-scope ones, scaled and clipped to
-1..1 (positive: it looks like what the bot must decline). It depends on the examples only, not on
the knowledge, and the calibration weighs it with the other signals.

An example identical to the question (after normalising) is left out, always: fitting the
calibration on the tuning questions then sees each one as a new question would be seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.search import analyzer

FILE = "scope.npz"
# Chosen by cross-validation on the tuning sets (fit on three, measure on the fourth; shipped and
# grown knowledge, multilingual-e5-small): 1/2/3/5 neighbours × scale 5/10/20/40. Five neighbours at
# scale 20 declined 0.932 of the out-of-scope questions and wrongly declined 0.080 / 0.098 of the
# in-scope ones, against 0.864 / 0.134 (shipped) and 0.818 / 0.205 (grown) without the signal.
NEIGHBOURS = 5
SCALE = 20.0


class ScopeExamples:
    """Questions judged in scope or out of scope, with their vectors (unit length)."""

    def __init__(self, questions: list[str], in_scope: np.ndarray, vectors: np.ndarray,
                 neighbours: int = NEIGHBOURS, scale: float = SCALE):
        if not (len(questions) == len(in_scope) == len(vectors)):
            raise ValueError(f"{len(questions)} questions, {len(in_scope)} labels, {len(vectors)} vectors")
        self.questions = [analyzer.normalise(q) for q in questions]
        self.in_scope = np.asarray(in_scope, dtype=bool)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.neighbours = neighbours
        self.scale = scale
        self._row_of: dict[str, list[int]] = {}
        for row, q in enumerate(self.questions):
            self._row_of.setdefault(q, []).append(row)

    def __len__(self) -> int:
        return len(self.questions)

    def signal(self, vector: np.ndarray, question: str) -> float:
        """How much `question` (its vector: 1×d or d) resembles the out-of-scope examples rather than
        the in-scope ones, in -1..1; 0 when either kind has no example left."""
        sims = self.vectors @ np.asarray(vector, dtype=np.float32).reshape(-1)
        own = self._row_of.get(analyzer.normalise(question))
        if own:
            sims = sims.copy()
            sims[own] = np.nan
        outside = _mean_top(sims[~self.in_scope], self.neighbours)
        inside = _mean_top(sims[self.in_scope], self.neighbours)
        if outside is None or inside is None:
            return 0.0
        return float(np.clip((outside - inside) * self.scale, -1.0, 1.0))

    def describe(self) -> dict[str, float | int]:
        """What meta.json records, and loading checks."""
        return {"examples": len(self), "in_scope": int(self.in_scope.sum()), "neighbours": self.neighbours,
                "scale": self.scale}

    def save(self, folder: Path) -> None:
        np.savez(folder / FILE, questions=np.asarray(self.questions, dtype=str), in_scope=self.in_scope,
                 vectors=self.vectors.astype(np.float16), settings=np.asarray([self.neighbours, self.scale]))

    @classmethod
    def load(cls, path: Path) -> ScopeExamples:
        with np.load(path, allow_pickle=False) as data:
            neighbours, scale = data["settings"].tolist()
            return cls(data["questions"].tolist(), data["in_scope"], data["vectors"].astype(np.float32),
                       int(neighbours), float(scale))


def _mean_top(values: np.ndarray, k: int) -> float | None:
    """The mean of the `k` largest values that are not NaN; None when there are none."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    k = min(k, values.size)
    return float(np.partition(values, values.size - k)[values.size - k:].mean())
