"""The one sentence splitter of Sportello: chunking documents, cutting long answers and taking a
measure's first sentence all cut text the same way (abbreviations such as "art." stay inside)."""

from __future__ import annotations

import hashlib
import re

# A sentence ends at . ! ? … (optionally followed by a closing quote or bracket), then space, then
# something that can start a sentence. Common Italian abbreviations are not sentence ends.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)]*\s+(?=[\"'“‘«(]?[A-ZÀ-ÖØ-Þ0-9])")
ABBREVIATIONS = ("sig.", "sigg.", "dott.", "dr.", "prof.", "avv.", "ing.", "art.", "artt.", "n.", "nn.",
                  "pag.", "ecc.", "es.", "p.es.", "vs.", "s.p.a.", "s.r.l.", "on.", "geom.", "rag.", "cfr.",
                  "e.g.", "i.e.", "reg.", "d.lgs.", "lgs.", "d.l.", "d.m.", "d.p.r.", "l.r.", "lett.", "co.")


def sentence_starts(text: str) -> list[int]:
    """Offsets in `text` where a new sentence starts (after the first), keeping abbreviations such
    as 'art.' or 'dott.' inside their sentence. The one sentence splitter of Sportello: chunking and
    cutting long answers both use it."""
    starts: list[int] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.start()].rstrip()
        # "(art. 5)", "«dott. Rossi»", "dell'art. 3": a bracket, quote or elision does not hide the abbreviation.
        last_word = re.split(r"[\s\"'“‘’«(\[]", candidate)[-1].lower()
        if last_word in ABBREVIATIONS or re.fullmatch(r"[a-z]\.", last_word):
            continue
        # The match is the closing quotes plus the space: the quotes stay with their sentence.
        starts.append(match.end())
        start = match.end()
    return starts


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (whitespace normalised), keeping abbreviations inside."""
    text = " ".join(text.split())
    bounds = [0, *sentence_starts(text), len(text)]
    pieces = (text[a:b].strip() for a, b in zip(bounds, bounds[1:]))
    return [p for p in pieces if p]


def first_sentence(text: str) -> str:
    """The first sentence of `text`, verbatim (whitespace normalised); the whole text if it has one."""
    text = " ".join(text.split())
    starts = sentence_starts(text)
    return text[: starts[0]].strip() if starts else text


def fingerprint() -> str:
    """A digest of the splitting rule: passages cut by another rule make another index."""
    shape = _SENTENCE_END.pattern + "\0" + "\0".join(sorted(ABBREVIATIONS))
    return hashlib.sha256(shape.encode()).hexdigest()[:16]
