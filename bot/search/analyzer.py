"""Text analysis for lexical search: accents, apostrophes, stop words, stems, synonyms, typos.

What it does to words shapes the BM25 index, so its `fingerprint()` is saved with every index and a
change refuses an index built before it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_ITALIAN

_TOKEN = re.compile(r"[a-z0-9]+")
# A code made of letters and digits joined by dots ("Linea D.1.1.b", "Azione 3.1.a", "n.1019"):
# normalise() splits it into parts that say little ("d", "1", "1", "b"), so it is also kept whole.
CODE = re.compile(r"(?<![a-z0-9.])(?=[a-z0-9.]*[a-z])(?=[a-z0-9.]*[0-9])[a-z0-9]+(?:\.[a-z0-9]+)+", re.IGNORECASE)
# Words that carry no meaning for retrieval on top of the usual stop words: how people phrase a
# question to a help desk ("ci sono aiuti per..."), not what they ask about.
_QUESTION_WORDS = {
    "ci", "ce", "sono", "c", "e", "puo", "posso", "possono", "potrei", "vorrei", "volevo", "sapere",
    "chiedere", "domanda", "qualcosa", "cosa", "cos", "che", "chi", "come", "quale", "quali", "quando",
    "dove", "perche", "quanto", "quanti", "quanta", "quante", "mi", "ti", "si", "ne", "dire", "dici",
    "sai", "fa", "fare", "esiste", "esistono", "ho", "hai", "ha", "abbiamo", "mia", "mio", "miei",
    "mie", "nostra", "nostro", "tua", "tuo", "buongiorno", "salve", "ciao", "grazie", "per", "favore",
    "please", "hi", "hello", "thanks", "there", "any", "can", "could", "would", "does", "do", "what",
    "which", "who", "how", "where", "when", "why", "tell", "me", "about", "is", "are", "anything",
    "un", "una", "uno", "l", "d", "dell", "dall", "nell", "sull", "all", "quest", "quell", "po",
    # How people ask, not what about: "che c'entra", "cosa vuol dire", "mi riguarda", "rientro?".
    "centra", "centrano", "entra", "entrano", "vuol", "vuole", "significa", "significato", "dire",
    "riguarda", "riguardano", "rientro", "rientra", "rientrano", "vale", "valgono", "sapete", "sapere",
    "info", "informazioni", "informazione", "spiegami", "spiegare", "parlami", "parlare",
    "esattamente", "praticamente", "allora", "quindi", "tipo", "ok", "anche", "pure",
    "st", "sto", "sta", "ste", "hanno", "fanno", "c era", "gia", "mean", "means", "explain", "know", "want", "need", "get", "find", "anyone", "someone", "please",
}


def strip_accents(text: str) -> str:
    """'è' -> 'e', 'attività' -> 'attivita'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes and punctuation as spaces: "L'Export" -> 'l export'."""
    text = strip_accents(text.lower())
    return " ".join(_TOKEN.findall(text))


STOPWORDS = frozenset(normalise(w) for w in (*STOPWORDS_ITALIAN, *STOPWORDS_EN)) | _QUESTION_WORDS


# Bump when normalise(), content_words() or tokens() change behaviour in a way the word lists and
# stemmer settings below do not show.
ANALYZER_VERSION = 2
STEM_LANGUAGE = "italian"


def fingerprint() -> str:
    """A digest of everything that decides how text becomes index terms."""
    shape = {
        "version": ANALYZER_VERSION,
        "stemmer": [STEM_LANGUAGE, Stemmer.version()],
        "stopwords": sorted(STOPWORDS),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=2)
def _stemmer(language: str = STEM_LANGUAGE) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


def stem(word: str) -> str:
    """Italian Snowball stem ('imprese' -> 'impres'): the knowledge is Italian, so the index uses it."""
    return _stemmer().stemWord(word)


def stems(word: str) -> set[str]:
    """Italian and English stems of `word`, to recognise a known word in either language."""
    return {_stemmer("italian").stemWord(word), _stemmer("english").stemWord(word)}


def content_words(text: str) -> list[str]:
    """Normalised words of `text` without stop words; a dotted code is followed by its whole form
    ("D.1.1.b" -> 'd', '1', '1', 'b', then 'd11b')."""
    text = CODE.sub(lambda code: f"{code.group(0)} {whole(code)}", strip_accents(text.lower()))
    return [w for w in _TOKEN.findall(text) if (w not in STOPWORDS and len(w) > 1) or w.isdigit()]  # as normalise()


def whole(code: re.Match[str]) -> str:
    """A dotted code found by `CODE` as one word: "D.1.1.b" -> 'd11b'."""
    return code.group(0).lower().replace(".", "")


def codes(text: str) -> set[str]:
    """The whole forms of `text`'s dotted codes ("Linea D.1.1.b" -> {'d11b'}), as content_words has them."""
    return {whole(code) for code in CODE.finditer(strip_accents(text.lower()))}


def tokens(text: str) -> list[str]:
    """Stemmed content words: what lexical search indexes and queries."""
    return [stem(w) for w in content_words(text)]


class Synonyms:
    """Groups of equivalent terms; a query mentioning one term is widened with the others."""

    def __init__(self, groups: Iterable[Iterable[str]]):
        self.groups = [[normalise(term) for term in group if normalise(term)] for group in groups]

    def extra_terms(self, text: str) -> list[str]:
        """Terms of every group that `text` mentions, which `text` does not already contain."""
        padded = f" {normalise(text)} "
        extra: list[str] = []
        for group in self.groups:
            if any(f" {term} " in padded for term in group):
                extra += [term for term in group if f" {term} " not in padded and term not in extra]
        return extra

    def covered(self, text: str) -> set[str]:
        """The words of `text` that are part of a term of several words in some group ('camera',
        'di', 'commercio' in "la camera di commercio"): there they name the term, not themselves."""
        padded = f" {normalise(text)} "
        return {word for group in self.groups for term in group if " " in term and f" {term} " in padded
                for word in term.split()}


def correct(words: list[str], vocabulary: set[str], max_distance: int = 1) -> list[str]:
    """Replace each unknown word by the closest known one (edit distance ≤ 1, or 2 for long words).

    Words under five letters are left alone: at that length one edit turns most words into others
    ("spid" -> "spin"), and a wrong correction makes an unknown question look known.
    """
    return Speller(vocabulary, max_distance).correct(words)


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class Speller:
    """`correct` against one vocabulary, fast enough for a vocabulary of 100,000 words.

    A word's letter counts change by at most 2 per edit (a substitution), so a known word whose
    counts differ from the unknown one's by more than 2 × the allowed distance cannot be within it:
    that test runs on all known words at once (numpy), and the exact distance only on the few left.
    The result is the one the plain scan over every known word gives."""

    def __init__(self, vocabulary: Iterable[str], max_distance: int = 1):
        self.vocabulary = frozenset(vocabulary)
        self.max_distance = max_distance
        self._words = sorted(self.vocabulary)
        width = max((len(w) for w in self._words), default=1) or 1
        chars = np.array(self._words, dtype=f"S{width}").view(np.uint8).reshape(len(self._words), width)
        self._lengths = np.array([len(w) for w in self._words], dtype=np.int16)
        self._first = chars[:, 0] if len(self._words) else np.empty(0, dtype=np.uint8)
        # Letter counts of every known word (characters outside the alphabet do not occur here:
        # words come from normalise()).
        self._counts = np.stack([(chars == ord(c)).sum(axis=1, dtype=np.int16) for c in _ALPHABET], axis=1) \
            if len(self._words) else np.zeros((0, len(_ALPHABET)), dtype=np.int16)
        self._cache: dict[str, str] = {}

    def correct(self, words: list[str]) -> list[str]:
        """Each unknown word of five letters or more replaced by the closest known word, if any is near."""
        out = []
        for word in words:
            if word in self.vocabulary or len(word) < 5 or word.isdigit():
                out.append(word)
                continue
            fixed = self._cache.get(word)
            if fixed is None:
                fixed = self._closest(word)
                if len(self._cache) < 100_000:  # bounded: questions bring new words forever
                    self._cache[word] = fixed
            out.append(fixed)
        return out

    def _closest(self, word: str) -> str:
        limit = self.max_distance + (1 if len(word) >= 8 else 0)
        near = np.abs(self._lengths - len(word)) <= limit
        if len(word) < 6:
            near &= self._first == ord(word[0])
        counts = np.array([word.count(c) for c in _ALPHABET], dtype=np.int16)
        rows = np.flatnonzero(near)
        rows = rows[np.abs(self._counts[rows] - counts).sum(axis=1) <= 2 * limit]
        best, best_d = None, limit + 1
        for r in rows:  # ascending: the words are sorted, so the first at the best distance wins ties
            known = self._words[r]
            d = _distance(word, known, limit)
            if d < best_d:
                best, best_d = known, d
        return best if best is not None else word


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, giving up past `limit`."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]
