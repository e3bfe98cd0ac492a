"""What a question asks for: a place, a person, a time, an amount, a reason.

Retrieval drops question words ("dove", "who") as stop words, so "where was the agreement signed"
and "who signed the agreement" look the same to BM25, and a FAQ entry whose English phrasing shares
"signed" and "agreement" wins on words alone. A FAQ entry's own question and phrasings say what it
answers; when they ask for the same kind of thing as the user's question, the entry is the likelier
answer. The ranking weighs this lightly (`retrieval.asks_weight`, see `Candidates.asks_factors`);
a question asking for none of these kinds leaves the ranking as it is.
"""

from __future__ import annotations

import re

from bot.search import analyzer

# Patterns on normalised text (lower case, no accents, punctuation as spaces), Italian and English.
_KINDS: dict[str, tuple[str, ...]] = {
    "place": (r"dove", r"where", r"in (?:che|quale) (?:citta|luogo|posto|sede)", r"in which (?:city|place|town)"),
    "person": (r"chi", r"who", r"whom", r"whose"),
    "time": (r"quando", r"when", r"da quanto(?: tempo)?", r"fino a quando", r"entro quando", r"in che anno",
             r"quanto dura", r"how long", r"since when", r"what year"),
    "amount": (r"quant[oiae](?! tempo| dura)", r"how (?:much|many)"),
    "reason": (r"perche", r"why", r"come mai"),
}
_PATTERNS = {kind: re.compile(r"\b(?:" + "|".join(words) + r")\b") for kind, words in _KINDS.items()}


KINDS = tuple(_KINDS)


def kinds(text: str) -> frozenset[str]:
    """The kinds of thing `text` asks for (empty when it asks for none of them)."""
    normal = analyzer.normalise(text)
    return frozenset(kind for kind, pattern in _PATTERNS.items() if pattern.search(normal))


def bits(texts: list[str]) -> int:
    """The kinds any of `texts` asks for, one bit each (in the order of KINDS): for numpy masks."""
    found = frozenset().union(*(kinds(t) for t in texts))
    return sum(1 << n for n, kind in enumerate(KINDS) if kind in found)
