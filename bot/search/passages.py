"""Passages: what the index stores and retrieval returns (FAQ entries and chunks of document
sections), and the one sentence splitter every part of Sportello uses."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.knowledge.load import Knowledge
from bot.knowledge.sentences import split_sentences
from bot.search import analyzer

@dataclass(frozen=True)
class Passage:
    """One retrievable unit: a chunk of a document section, a FAQ entry, or a chunk of a measure."""

    id: str                  # "doc#section/2", "faq:id" or "measure:id#section/chunk"
    kind: str                # "passage" | "faq" | "measure"
    text: str                # what the user reads
    title: str               # document or measure title (for FAQ: the document it rests on)
    heading: str             # section heading
    area: str                # main area id
    source_ref: str          # "doc#section", or "measure:id" (one answer per measure)
    question: str | None = None
    phrasings: tuple[str, ...] = ()
    url: str | None = None
    measure_id: str | None = None
    page: int | None = None  # the page of the original a document section starts on (imported PDFs)
    # Where a document's passages and its FAQ entries apply (canonical region names); empty: everywhere.
    # Measures leave it empty: their own regions, in the measure, follow the offer rules.
    regions: tuple[str, ...] = ()
    # A measure whose title names one line of a call ("Linea D.1.1.a"): what its text says that line
    # is (see `own_line`); searched with the title, not shown.
    line: str = ""

    def __post_init__(self) -> None:
        # Read back from passages.json (index.py, diff.py) as lists: kept as tuples, so a Passage stays hashable.
        object.__setattr__(self, "phrasings", tuple(self.phrasings))
        object.__setattr__(self, "regions", tuple(self.regions))

    @property
    def source(self) -> str:
        """How the source is shown to users: the document's title and section (for a FAQ entry, the
        section it rests on), and its page when the original has pages. Internal ids never appear here."""
        return f"{self.title}, «{self.heading}»" + (f", p. {self.page}" if self.page else "")

    def embedding_texts(self) -> list[str]:
        """Texts whose vectors stand for this passage in the dense index."""
        if self.kind == "faq":
            return [self.question or "", *self.phrasings, self.text]
        if self.kind == "measure":
            return [f"{self._titled()}. {self.heading}. {self.text}"]
        return [f"{self.heading}. {self.text}"]

    def lexical_text(self) -> str:
        """Text indexed for lexical search."""
        if self.kind == "faq":
            return " ".join([self.question or "", *self.phrasings, self.text])
        if self.kind == "measure":
            return f"{self._titled()}. {self.heading}. {self.text}"
        return f"{self.heading}. {self.text}"

    def _titled(self) -> str:
        return f"{self.title}. {self.line}" if self.line else self.title


def passages(knowledge: Knowledge, max_chars: int = 700) -> list[Passage]:
    """FAQ entries first, then document sections chunked at sentence ends, then measures (their
    sections chunked the same way; a measure without sections is its summary)."""
    out: list[Passage] = []
    for entry in knowledge.faqs:
        doc = knowledge.document(entry.document_id)
        sec = knowledge.section(entry.document_id, entry.section_id)
        assert doc is not None and sec is not None  # guaranteed by validation
        out.append(Passage(
            id=f"faq:{entry.id}", kind="faq", text=entry.answer.strip(), title=doc.title, heading=sec.heading,
            area=entry.area, source_ref=entry.source, question=entry.question,
            phrasings=tuple(entry.phrasings), url=entry.url or doc.url, page=sec.page, regions=tuple(doc.regions),
        ))
    for doc in knowledge.documents:
        for sec in doc.sections:
            area = sec.areas[0] if sec.areas else doc.areas[0] if doc.areas else ""
            for n, chunk in enumerate(chunk_text(sec.text, max_chars)):
                out.append(Passage(
                    id=f"{doc.id}#{sec.id}/{n}", kind="passage", text=chunk, title=doc.title,
                    heading=sec.heading, area=area, source_ref=f"{doc.id}#{sec.id}", url=doc.url, page=sec.page,
                    regions=tuple(doc.regions),
                ))
    for measure in knowledge.measures:
        area = measure.areas[0] if measure.areas else ""
        sections = [(s.heading, s.text) for s in measure.sections] or [(measure.title, measure.summary)]
        line = own_line(measure.title, [text for _, text in sections])
        for i, (heading, text) in enumerate(sections):
            for n, chunk in enumerate(chunk_text(text, max_chars)):
                out.append(Passage(
                    id=f"measure:{measure.id}#{i}/{n}", kind="measure", text=chunk, title=measure.title,
                    heading=heading, area=area, source_ref=f"measure:{measure.id}", url=measure.url,
                    measure_id=measure.id, line=line,
                ))
    return out


_LINE_END = re.compile(r";|\.(?:\s|$)")


def own_line(title: str, texts: Iterable[str]) -> str:
    """What `texts` say of the one line of a call that `title` names by its code, or "".

    A call split into lines is often catalogued as one record per line, each with the whole call's
    text: "…su due linee: - Linea D.1.1.a Interventi di riqualificazione dei locali…; - Linea D.1.1.b
    Sviluppo digitale della gestione aziendale." Only the title tells the records apart, by code; the
    words after that code in a text listing several codes, up to the end of the clause (";" or the
    sentence's end) and before the next code, say what this record's line is about; the first such
    description counts."""
    named = analyzer.codes(title)
    if len(named) != 1:
        return ""
    for text in texts:
        found = list(analyzer.CODE.finditer(text))
        if len({analyzer.whole(m) for m in found}) < 2:
            continue
        for n, match in enumerate(found):
            if analyzer.whole(match) not in named:
                continue
            stop = found[n + 1].start() if n + 1 < len(found) else len(text)
            end = _LINE_END.search(text, match.end(), stop)
            if end is None:  # "…per la Linea D.1.1.a e di 500 euro per la Linea D.1.1.b": no description
                continue
            words = text[match.end(): end.start()].strip(" -–:,\n")
            if len(words.split()) >= 3:
                return words
    return ""


def chunk_text(text: str, max_chars: int = 700) -> list[str]:
    """Pack whole sentences into chunks of at most `max_chars` (a longer sentence is split at words)."""
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        for piece in _split_long(sentence, max_chars):
            if current and len(current) + 1 + len(piece) > max_chars:
                chunks.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return _balance(chunks, max_chars)


def _split_long(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts, current = [], ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > max_chars:
            parts.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return parts + ([current] if current else [])


def _balance(chunks: list[str], max_chars: int) -> list[str]:
    """Give a short last chunk whole sentences from the one before, so no passage is a lone fragment.

    Sentences move instead of the two chunks merging, which would break the `max_chars` promise.
    """
    if len(chunks) < 2 or len(chunks[-1]) >= max_chars // 4:
        return chunks
    head, tail = split_sentences(chunks[-2]), chunks[-1]
    while len(head) > 1 and len(tail) < max_chars // 4 and len(head[-1]) + 1 + len(tail) <= max_chars:
        tail = f"{head.pop()} {tail}"
    return chunks[:-2] + [" ".join(head), tail]
