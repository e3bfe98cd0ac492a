"""Lexical retrieval: BM25 (bm25s) over stemmed Italian/English words, saved as plain files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bm25s
import numpy as np

from bot.search import analyzer

logger = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG when imported; its progress chatter is not ours to print.
logging.getLogger("bm25s").setLevel(logging.WARNING)

VOCABULARY_FILE = "words.json"


class LexicalIndex:
    """BM25 scores for a query against every passage, with typo correction against known words."""

    def __init__(self, bm25: bm25s.BM25, words: set[str]):
        self.bm25 = bm25
        self.words = words  # normalised (unstemmed) words of the corpus, for typo correction
        self.stems = set(bm25.vocab_dict) if bm25.vocab_dict else set()
        # Known in either language: Italian stems of the corpus and both stems of every known word.
        self.known_stems = self.stems | {s for w in words for s in analyzer.stems(w)}
        # Typo correction against the whole vocabulary, fast at any size (see analyzer.Speller).
        self.speller = analyzer.Speller(words)
        # A query word's stem and whether the knowledge knows it in either language: the same few
        # thousand words come back in every question (bounded: questions bring new words forever).
        self._word_info: dict[str, tuple[str, bool]] = {}
        # The last question corrected and its words: a search asks twice (query words, then the best
        # passage's coverage of them). One entry, replaced whole, so threads never see half of it.
        self._last_corrected: tuple[str, tuple[str, ...]] = ("", ())
        # bm25s keeps every passage's score per term as a sparse column (CSC): read directly, the
        # columns of the query terms are summed into one array the way bm25s does (see `scores`).
        self._csc = (bm25.scores["data"], bm25.scores["indices"], bm25.scores["indptr"]) \
            if (bm25.scores and getattr(bm25, "nonoccurrence_array", None) is None
                and np.dtype(bm25.dtype) == np.float32 and bm25.scores["data"].dtype == np.float32) else None

    @classmethod
    def build(cls, documents: list[str], extra_words: set[str] = frozenset()) -> LexicalIndex:
        """Index `documents` (one string per passage)."""
        return cls.from_words([analyzer.content_words(doc) for doc in documents], extra_words)

    @classmethod
    def from_words(cls, words_of: list[list[str]], extra_words: set[str] = frozenset()) -> LexicalIndex:
        """Index documents given as their content words (`analyzer.content_words`, computed once by
        the caller that needs them for something else too)."""
        corpus = [[analyzer.stem(w) for w in words] or ["_"] for words in words_of]
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        return cls(bm25, {w for words in words_of for w in words} | set(extra_words))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(folder), show_progress=False)
        (folder / VOCABULARY_FILE).write_text(json.dumps(sorted(self.words), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        bm25 = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        words = set(json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8")))
        return cls(bm25, words)

    def query_tokens(self, question: str) -> tuple[list[str], float]:
        """Stemmed, typo-corrected query words the corpus knows, and the share of the question's
        content words that the knowledge knows at all (corpus words and synonym terms)."""
        fixed = self.corrected(question)
        if not fixed:
            return [], 0.0
        info = [self._info(w) for w in fixed]
        known = sum(k for _, k in info)
        return [s for s, _ in info if s in self.stems], known / len(fixed)

    def _info(self, word: str) -> tuple[str, bool]:
        """A query word's Italian stem, and whether a stem of it in either language is known."""
        found = self._word_info.get(word)
        if found is None:
            found = (analyzer.stem(word), bool(analyzer.stems(word) & self.known_stems))
            if len(self._word_info) < 100_000:
                self._word_info[word] = found
        return found

    def corrected(self, question: str) -> list[str]:
        """The question's content words, each unknown one corrected to the closest known word."""
        last, words = self._last_corrected
        if question == last and question:
            return list(words)
        found = analyzer.content_words(question)
        fixed = self.speller.correct(found) if found else []
        self._last_corrected = (question, tuple(fixed))
        return fixed

    def scores(self, stems: list[str]) -> np.ndarray:
        """BM25 score of every passage for already-processed query stems (zeros if none)."""
        n = int(self.bm25.scores["num_docs"])
        if not stems:
            return np.zeros(n, dtype=np.float32)
        if self._csc is None:
            return np.asarray(self.bm25.get_scores(stems), dtype=np.float32)
        data, indices, indptr = self._csc
        out = np.zeros(n, dtype=np.float32)
        vocab = self.bm25.vocab_dict
        # Term by term, in query order, as bm25s's np.add.at does: the same float32 sums, bit for bit
        # (a passage appears once in a term's column, so plain indexed addition is that add).
        for term in stems:
            t = vocab.get(term)
            if t is not None:
                start, end = indptr[t], indptr[t + 1]
                out[indices[start:end]] += data[start:end]
        return out

    def passages_with(self, stem: str) -> np.ndarray:
        """The numbers of the passages whose text holds `stem` (BM25 scores them above 0)."""
        if self._csc is None:
            return np.flatnonzero(self.scores([stem]) > 0)
        t = self.bm25.vocab_dict.get(stem)
        if t is None:
            return np.empty(0, dtype=np.int64)
        _, indices, indptr = self._csc
        return np.asarray(indices[indptr[t]:indptr[t + 1]], dtype=np.int64)

    def weighted_scores(self, stems: list[str], extra_stems: list[str], extra_weight: float) -> np.ndarray:
        """`scores(stems) + extra_weight * scores(extra_stems)`: float32, the same values bit for bit."""
        scores = self.scores(stems)
        if not extra_stems:
            return scores
        extra = self.scores(extra_stems)
        # BM25 is above 0 wherever a term occurs; elsewhere adding w × 0 leaves the score as it is.
        touched = np.flatnonzero(extra)
        scores[touched] = scores[touched] + np.float32(extra_weight) * extra[touched]
        return scores

    def top_k(self, stems: list[str], k: int, extra_stems: list[str] | tuple[str, ...] = (), extra_weight: float = 0.0
              ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` passages with the highest BM25 score for `stems` (plus `extra_weight` × the score
        for `extra_stems`, e.g. synonyms), best first: passage numbers (int64) and scores (float32).
        Passages scoring 0 are left out, so fewer than `k` may come back."""
        scores = self.scores(stems)
        if extra_stems and extra_weight:
            scores = scores + np.float32(extra_weight) * self.scores(list(extra_stems))
        return top_k(scores, k)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the `k` highest positive `scores`, best first (ties: lower index first)."""
    positive = np.flatnonzero(scores > 0)
    if k <= 0 or positive.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    values = scores[positive]
    if positive.size > k:
        # argpartition finds the k best in linear time; ties at the cut are then settled by index.
        cut = np.partition(values, positive.size - k)[positive.size - k]
        keep = values >= cut
        positive, values = positive[keep], values[keep]
    order = np.lexsort((positive, -values))[:k]
    return positive[order].astype(np.int64), values[order].astype(np.float32)
