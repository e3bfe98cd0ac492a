"""Italian synonyms from a general thesaurus, for the words the knowledge's own synonym groups miss.

`knowledge/synonyms.yaml` holds the groups staff chose for this domain ("export", "estero",
"internazionalizzazione"). Users bring everyday words no group lists: "fabbrica" for a firm that
the texts call "manifatturiera", "ditta" for "impresa". A general thesaurus knows them. Debian's
`mythes-it` (LibreOffice's Italian thesaurus, GPL) ships one in the MyThes format; `sportello build`
reads it when installed, keeps each word's single-word synonyms that occur in the knowledge, and
stores that subset with the index (so a search never reads the system file). A question's words are
then widened with their synonyms for lexical search, weighing as little as the synonym groups'.

A thesaurus mixes senses ("negozio": bottega, but also affare), which is why expansions weigh little
and only for BM25: dense search reads the question as written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from bot.errors import SportelloError
from bot.search import analyzer

FILE = "thesaurus.json"
MIN_LETTERS = 4  # shorter words are mostly function words and abbreviations


class ThesaurusError(SportelloError):
    """The thesaurus file cannot be read: named with its line."""


def read_mythes(path: Path) -> dict[str, set[str]]:
    """A MyThes `.dat` file as {word: its synonyms}, both normalised (`analyzer.normalise`).

    The format: the first line names the encoding; then each entry is `word|count` followed by
    `count` lines of meanings, `(part of speech)|synonym|synonym…`. Synonyms of several words
    ("punto vendita") are left out: expansions are single words."""
    raw = path.read_bytes()
    first, _, _ = raw.partition(b"\n")
    encoding = first.decode("ascii", errors="replace").strip() or "utf-8"
    try:
        lines = raw.decode(encoding).splitlines()
    except (LookupError, UnicodeDecodeError) as exc:
        raise ThesaurusError(f"{path}:1: cannot be read as {encoding!r}, the encoding its first line names ({exc})")
    found: dict[str, set[str]] = {}
    number = 1
    while number < len(lines):
        head, sep, count = lines[number].rpartition("|")
        if not sep or not count.strip().isdigit():
            raise ThesaurusError(f"{path}:{number + 1}: expected an entry `word|count`, found {lines[number][:60]!r}")
        meanings = lines[number + 1: number + 1 + int(count)]
        if len(meanings) < int(count):
            raise ThesaurusError(f"{path}:{number + 1}: {head!r} announces {count} meanings, the file ends "
                                 f"after {len(meanings)}")
        word = analyzer.normalise(head)
        synonyms = found.setdefault(word, set())
        for meaning in meanings:
            for term in meaning.split("|")[1:]:
                term = analyzer.normalise(term)
                if term and " " not in term and term != word:
                    synonyms.add(term)
        number += 1 + int(count)
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Thesaurus:
    """Words and their synonyms found in the knowledge, for widening a question."""

    def __init__(self, words: dict[str, tuple[str, ...]]):
        self.words = words

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def for_knowledge(cls, entries: dict[str, set[str]], known_stems: Iterable[str]) -> Thesaurus:
        """The entries' synonyms whose stem the knowledge indexes, and not the word's own stem
        ("fabbrica": manifattura, stabilimento…); words left without any are dropped."""
        known = set(known_stems)
        kept: dict[str, tuple[str, ...]] = {}
        for word, synonyms in entries.items():
            if len(word) < MIN_LETTERS:
                continue
            own = analyzer.stem(word)
            useful = sorted(t for t in synonyms if (s := analyzer.stem(t)) in known and s != own)
            if useful:
                kept[word] = tuple(useful)
        return cls(kept)

    def extra_terms(self, text: str, skip: Iterable[str] = ()) -> list[str]:
        """Synonyms of `text`'s content words that `text` does not already contain, first seen first;
        the words in `skip` are not widened."""
        words = analyzer.content_words(text)
        present = set(words)
        skipped = set(skip)
        extra: list[str] = []
        for word in words:
            if word in skipped:
                continue
            for term in self.words.get(word, ()):
                if term not in present and term not in extra:
                    extra.append(term)
        return extra

    def save(self, folder: Path) -> None:
        (folder / FILE).write_text(json.dumps(self.words, ensure_ascii=False, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Thesaurus:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({word: tuple(synonyms) for word, synonyms in data.items()})
