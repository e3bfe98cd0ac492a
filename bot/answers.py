"""Search results -> reply texts (Telegram HTML) and button specs. No Telegram I/O here.

Button data is a short string the handlers route on:
  fb:+:<qid> / fb:-:<qid>   feedback on logged question <qid>
  more:<qid>                the other answers to <qid>
  cont:<qid>:<offset>       the best answer to <qid> from character <offset>
  ask:<passage id>          show that FAQ entry (related questions, suggestions, topics)
  area:<area id> / areas    browse the topics
Telegram caps callback data at 64 bytes; `CallbackData` swaps longer data for a short token.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import OrderedDict
from dataclasses import dataclass, field

from bot.knowledge import Area, Passage
from bot.messages import Texts
from bot.retrieval import Hit, SearchResult

TELEGRAM_LIMIT = 4096      # characters in one message
CALLBACK_LIMIT = 64        # bytes of callback data
CONTINUE_AFTER = 800       # past this, an answer is cut at a sentence and "Continua" offered

def escape(text: str) -> str:
    """Escape text for Telegram HTML (quotes stay readable: they need no escaping outside attributes)."""
    return html.escape(text, quote=False)


_SENTENCE_END = re.compile(r"[.!?…:;](?:[»\"')\]]*)\s+")


@dataclass(frozen=True)
class Button:
    """One inline button: it either sends callback data or opens a URL."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message to send: HTML text and rows of buttons."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)


# --- building replies ---------------------------------------------------------------------------

def chosen(result: SearchResult, passage: Passage, top_k: int = 3) -> SearchResult:
    """The result for a known question the user tapped: that FAQ entry first (the user chose it),
    then the search's other answers and related questions."""
    hits = [h for h in (result.answers or result.ranking) if h.passage.id != passage.id]
    shown = [Hit(passage, 1.0, 1.0, 0.0), *hits[: top_k - 1]]
    ids = {h.passage.id for h in shown}
    related = [h for h in result.ranking if h.passage.kind == "faq" and h.passage.id not in ids][:3]
    return SearchResult(result.question, "answer", 1.0, shown, related=related, ranking=result.ranking,
                        signals=result.signals)


def answer_reply(result: SearchResult, qid: int, t: Texts, contact: str) -> Reply:
    """The reply to a question: the best answer, its source and buttons, or an honest "I don't know"."""
    if not result.answered or not result.answers:
        return no_answer_reply(result, t, contact)
    best = result.answers[0]
    chunk, rest = cut(best.text)
    lines = [escape(chunk) + ("…" if rest is not None else ""), "", source_line(best, t)]
    buttons = [[Button("👍", f"fb:+:{qid}"), Button("👎", f"fb:-:{qid}")]]
    extra = []
    if rest is not None:
        extra.append(Button(t.continue_, f"cont:{qid}:{rest}"))
    if len(result.answers) > 1:
        extra.append(Button(t.more, f"more:{qid}"))
    if extra:
        buttons.append(extra)
    buttons += [[faq_button(h.passage)] for h in result.related[:3]]
    return Reply("\n".join(lines), buttons)


def no_answer_reply(result: SearchResult, t: Texts, contact: str) -> Reply:
    """Say plainly there is no reliable answer, offer close questions, and whom to ask."""
    lines = [t.no_answer]
    if result.suggestions:
        lines += ["", t.maybe]
    lines += ["", escape(contact)]
    return Reply("\n".join(lines), [[faq_button(h.passage)] for h in result.suggestions[:3]])


def continuation_reply(result: SearchResult, qid: int, offset: int, t: Texts) -> Reply | None:
    """The best answer's text from `offset`, cut again if still long; None if there is nothing there."""
    if not result.answers or offset <= 0 or offset >= len(result.answers[0].text):
        return None
    chunk, rest = cut(result.answers[0].text[offset:])
    buttons = []
    if rest is not None:
        buttons = [[Button(t.continue_, f"cont:{qid}:{offset + rest}")]]
    return Reply("…" + escape(chunk) + ("…" if rest is not None else ""), buttons)


def other_answers_reply(result: SearchResult, t: Texts) -> Reply:
    """The answers after the best one, each shortened, with its source."""
    others = result.answers[1:]
    if not others:
        return Reply(t.no_other_answers)
    parts = [t.other_answers]
    for n, hit in enumerate(others, start=2):
        chunk, rest = cut(hit.text)
        parts.append(f"{n}. {escape(chunk)}{'…' if rest is not None else ''}\n{source_line(hit, t)}")
    return Reply("\n\n".join(parts))


def start_reply(areas: list[Area], examples: list[Passage], t: Texts, lang: str) -> Reply:
    """The welcome: what Sportello knows, example questions as buttons, a privacy line."""
    area_lines = "\n".join(f"• {escape(area_title(a, lang))}" for a in areas)
    text = f"{t.start.format(areas=area_lines)}\n\n{t.privacy_note}\n\n{t.start_examples}"
    return Reply(text, [[faq_button(p)] for p in examples])


def topics_reply(areas: list[Area], t: Texts, lang: str) -> Reply:
    """The list of areas as buttons."""
    return Reply(t.topics, [[Button(area_title(a, lang), f"area:{a.id}")] for a in areas])


def topic_reply(area: Area, faqs: list[Passage], t: Texts, lang: str) -> Reply:
    """One area: its description and its FAQ questions as buttons."""
    description = area.description_en if lang == "en" else area.description
    text = t.topic.format(title=escape(area_title(area, lang)), description=escape(description))
    if not faqs:
        text += "\n" + t.topic_empty
    rows = [[faq_button(p)] for p in faqs]
    rows.append([Button(t.back_to_topics, "areas")])
    return Reply(text, rows)


def area_title(area: Area, lang: str) -> str:
    return area.title_en if lang == "en" else area.title


def faq_button(passage: Passage) -> Button:
    """A button that asks a known question."""
    return Button(passage.question or passage.heading, f"ask:{passage.id}")


def source_line(hit: Hit, t: Texts) -> str:
    """The source on its own line, in italics, with a link only if the knowledge gives one."""
    line = f"<i>{escape(t.source.format(source=hit.source))}</i>"
    url = hit.passage.url
    if url and url.startswith(("https://", "http://")):
        line += f' — <a href="{html.escape(url, quote=True)}">{escape(t.open_link)}</a>'
    return line


# --- cutting and splitting ------------------------------------------------------------------------

def cut(text: str, after: int = CONTINUE_AFTER) -> tuple[str, int | None]:
    """Cut `text` at the last sentence end before `after` characters (or a space, if no sentence ends
    there); return the first part and where the rest starts, or None when it is short enough."""
    if len(text) <= after + after // 4:  # a little over is better than a stub of a continuation
        return text, None
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, after + 1) if m.end() >= after // 3]
    if ends:
        at = ends[-1]
    else:
        space = text.rfind(" ", 0, after)
        at = space + 1 if space > after // 3 else after
    return text[:at].rstrip(), at


_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[^<&]+|[<&]")
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9-]+)")


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most `limit` characters, never inside a tag or an
    entity: tags open at a split are closed at its end and reopened in the next message."""
    chunks: list[str] = []
    current = ""
    stack: list[tuple[str, str]] = []  # (name, opening tag as written)

    def closing() -> str:
        return "".join(f"</{name}>" for name, _ in reversed(stack))

    def flush() -> None:
        nonlocal current
        if current.strip():
            chunks.append(current + closing())
        current = "".join(tag for _, tag in stack)

    for token in _TOKEN.findall(text):
        tag = _TAG.match(token) if token.startswith("<") and token.endswith(">") else None
        if tag:
            if len(current) + len(token) + len(closing()) + len(tag.group(2)) + 3 > limit:
                flush()
            current += token
            if tag.group(1):
                if stack and stack[-1][0] == tag.group(2).lower():
                    stack.pop()
            elif not token.endswith("/>"):
                stack.append((tag.group(2).lower(), token))
            continue
        # Plain text or an entity: split text at a newline or space when it does not fit.
        while token:
            room = limit - len(current) - len(closing())
            if len(token) <= room:
                current += token
                break
            if token.startswith("&") or room <= 0:
                flush()
                if len(current) + len(token) + len(closing()) > limit:  # tags alone fill a message
                    raise ValueError("split_html: markup too deeply nested for the limit")
                continue
            piece = token[:room]
            at = max(piece.rfind("\n"), piece.rfind(" "))
            at = at + 1 if at > room // 2 else room
            current += token[:at]
            token = token[at:]
            flush()
    if current.strip() and current != "".join(tag for _, tag in stack):
        chunks.append(current + closing())
    return chunks or [""]


# --- callback data --------------------------------------------------------------------------------

class CallbackData:
    """Keeps callback data under Telegram's 64 bytes: data that fits is used as it is (so buttons
    survive a restart); longer data is replaced by a short token kept in a bounded LRU."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._counter = itertools.count(1)

    def pack(self, data: str) -> str:
        if len(data.encode()) <= CALLBACK_LIMIT and not data.startswith("~"):
            return data
        token = f"~{next(self._counter):x}"
        self._tokens[token] = data
        while len(self._tokens) > self.size:
            self._tokens.popitem(last=False)
        return token

    def unpack(self, data: str) -> str | None:
        """The original data, or None for a token that has been forgotten."""
        if not data.startswith("~"):
            return data
        original = self._tokens.get(data)
        if original is not None:
            self._tokens.move_to_end(data)
        return original
