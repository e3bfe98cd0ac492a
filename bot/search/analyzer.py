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

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_ITALIAN

_TOKEN = re.compile(r"[a-z0-9]+")
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
ANALYZER_VERSION = 1
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
    """Normalised words of `text` without stop words."""
    return [w for w in normalise(text).split() if (w not in STOPWORDS and len(w) > 1) or w.isdigit()]


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


def correct(words: list[str], vocabulary: set[str], max_distance: int = 1) -> list[str]:
    """Replace each unknown word by the closest known one (edit distance ≤ 1, or 2 for long words).

    Words under five letters are left alone: at that length one edit turns most words into others
    ("spid" -> "spin"), and a wrong correction makes an unknown question look known.
    """
    out = []
    for word in words:
        if word in vocabulary or len(word) < 5 or word.isdigit():
            out.append(word)
            continue
        limit = max_distance + (1 if len(word) >= 8 else 0)
        best, best_d = None, limit + 1
        for known in vocabulary:
            if abs(len(known) - len(word)) > limit or known[0] != word[0] and len(word) < 6:
                continue
            d = _distance(word, known, limit)
            if d < best_d or d == best_d and best is not None and known < best:
                best, best_d = known, d
        out.append(best if best is not None else word)
    return out


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
