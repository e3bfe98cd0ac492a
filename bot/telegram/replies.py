"""Search results -> replies: Telegram HTML text and buttons (their data from `buttons`). No I/O."""

from __future__ import annotations

import datetime as dt
import html

from bot.knowledge.schema import Area
from bot.knowledge.sentences import sentence_starts
from bot.search.passages import Passage
from bot.search.retriever import Hit, SearchResult
from bot.telegram.buttons import Ask, Card, Continue, Feedback, More, Topic, Topics
from bot.telegram.markup import Button, Reply, escape
from bot.telegram.measure_replies import button_title, measure_reply, short_status
from bot.telegram.texts import Lang, Texts

CONTINUE_AFTER = 800       # past this, an answer is cut at a sentence and "Continua" offered



# --- building replies ---------------------------------------------------------------------------

def chosen(result: SearchResult, passage: Passage, top_k: int, related: int) -> SearchResult:
    """The result for a known question the user tapped: that FAQ entry first (the user chose it),
    then the search's other answers and related questions."""
    hits = [h for h in (result.answers or result.ranking) if h.passage.id != passage.id]
    shown = [Hit(passage, 1.0, 1.0, 0.0), *hits[: top_k - 1]]
    ids = {h.passage.id for h in shown}
    near = [h for h in result.ranking if h.passage.kind == "faq" and h.passage.id not in ids][:related]
    return SearchResult(result.question, "answer", 1.0, shown, related=near, ranking=result.ranking,
                        signals=result.signals, today=result.today)


def answer_reply(result: SearchResult, qid: int, t: Texts, contact: str, lang: Lang = "it") -> Reply:
    """The reply to a question: the best answer, its source and buttons, or an honest "I don't know".
    A measure is answered with its card."""
    if not result.answered or not result.answers:
        return no_answer_reply(result, t, contact, lang)
    best = result.answers[0]
    feedback = [Button("👍", Feedback("+", qid).encode()), Button("👎", Feedback("-", qid).encode())]
    if best.measure is not None and best.today is not None:
        card_reply = measure_reply(best.measure, best.today, best.closing_days, t, lang)
        buttons = [*card_reply.buttons, feedback]
        if len(result.answers) > 1:
            buttons.append([Button(t.more, More(qid).encode())])
        buttons += [[faq_button(h.passage)] for h in result.related]
        return Reply(card_reply.text, buttons)
    chunk, rest = cut(best.text)
    lines = [escape(chunk) + ("…" if rest is not None else ""), "", source_line(best, t)]
    buttons = [feedback]
    extra = []
    if rest is not None:
        extra.append(Button(t.continue_, Continue(qid, rest).encode()))
    if len(result.answers) > 1:
        extra.append(Button(t.more, More(qid).encode()))
    if extra:
        buttons.append(extra)
    buttons += [[faq_button(h.passage)] for h in result.related]
    return Reply("\n".join(lines), buttons)


def no_answer_reply(result: SearchResult, t: Texts, contact: str, lang: Lang = "it") -> Reply:
    """Say plainly there is no reliable answer, offer close questions and measures (each measure with
    its status, so a closed one never reads as an offer), and whom to ask."""
    if result.signals.get("listing") and result.today is not None:
        days = int(result.signals.get("closing_within_days", 0))
        until = (result.today + dt.timedelta(days=days)).strftime("%d/%m/%Y")
        return Reply(f"{t.closing_none.format(date=until)}\n\n{escape(contact)}")
    lines = [t.no_answer]
    if result.suggestions:
        lines += ["", t.maybe]
        lines += [short_status(h.measure, h.today, h.closing_days, lang)
                  for h in result.suggestions if h.measure is not None and h.today is not None]
    lines += ["", escape(contact)]
    return Reply("\n".join(lines), [[suggestion_button(h)] for h in result.suggestions])


def suggestion_button(hit: Hit) -> Button:
    """A FAQ entry's question, or a measure's title opening its card."""
    if hit.measure is not None:
        return Button(button_title(hit.measure.title), Card(hit.measure.id).encode())
    return faq_button(hit.passage)


def continuation_reply(result: SearchResult, qid: int, offset: int, t: Texts) -> Reply | None:
    """The best answer's text from `offset`, cut again if still long; None if there is nothing there."""
    if not result.answers or offset <= 0 or offset >= len(result.answers[0].text):
        return None
    chunk, rest = cut(result.answers[0].text[offset:])
    buttons = []
    if rest is not None:
        buttons = [[Button(t.continue_, Continue(qid, offset + rest).encode())]]
    return Reply("…" + escape(chunk) + ("…" if rest is not None else ""), buttons)


def other_answers_reply(result: SearchResult, t: Texts, lang: Lang = "it") -> Reply:
    """The answers after the best one, each shortened, with its source; a measure by its title and
    status, with a button to its card."""
    others = result.answers[1:]
    if not others:
        return Reply(t.no_other_answers)
    parts = [t.other_answers]
    rows = []
    for n, hit in enumerate(others, start=2):
        if hit.measure is not None and hit.today is not None:
            parts.append(f"{n}. {short_status(hit.measure, hit.today, hit.closing_days, lang)}")
            rows.append([Button(f"{n}. {hit.measure.title[:56]}", Card(hit.measure.id).encode())])
            continue
        chunk, rest = cut(hit.text)
        parts.append(f"{n}. {escape(chunk)}{'…' if rest is not None else ''}\n{source_line(hit, t)}")
    return Reply("\n\n".join(parts), rows)


def start_reply(areas: list[Area], examples: list[Passage], t: Texts, lang: str) -> Reply:
    """The welcome: what Sportello knows, example questions as buttons, a privacy line."""
    area_lines = "\n".join(f"• {escape(area_title(a, lang))}" for a in areas)
    text = f"{t.start.format(areas=area_lines)}\n\n{t.privacy_note}\n\n{t.start_examples}"
    return Reply(text, [[faq_button(p)] for p in examples])


def topics_reply(areas: list[Area], t: Texts, lang: str) -> Reply:
    """The list of areas as buttons."""
    return Reply(t.topics, [[Button(area_title(a, lang), Topic(a.id).encode())] for a in areas])


def topic_reply(area: Area, faqs: list[Passage], t: Texts, lang: str) -> Reply:
    """One area: its description and its FAQ questions as buttons."""
    description = area.description_en if lang == "en" else area.description
    text = t.topic.format(title=escape(area_title(area, lang)), description=escape(description))
    if not faqs:
        text += "\n" + t.topic_empty
    rows = [[faq_button(p)] for p in faqs]
    rows.append([Button(t.back_to_topics, Topics().encode())])
    return Reply(text, rows)


def area_title(area: Area, lang: str) -> str:
    return area.title_en if lang == "en" else area.title


def faq_button(passage: Passage) -> Button:
    """A button that asks a known question."""
    return Button(passage.question or passage.heading, Ask(passage.id).encode())


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
    ends = [at for at in sentence_starts(text) if after // 3 <= at <= after]
    if ends:
        at = ends[-1]
    else:
        space = text.rfind(" ", 0, after)
        at = space + 1 if space > after // 3 else after
    return text[:at].rstrip(), at
