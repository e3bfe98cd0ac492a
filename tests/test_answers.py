"""Reply formatting: escaping, cutting long answers, splitting under Telegram's limit, callback data."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import re

from bot.answers import CALLBACK_LIMIT, CallbackData, answer_reply, cut, split_html
from bot.knowledge import Passage
from bot.messages import IT
from bot.retrieval import Hit, SearchResult


def _hit(text: str, pid: str = "faq:x", question: str | None = "Domanda <b>?") -> Hit:
    passage = Passage(pid, "faq", text, "Titolo & <co>", "Sezione", "area", "doc#sec", question=question)
    return Hit(passage, 0.9, 0.9, 1.0)


def test_answer_is_escaped_with_source_on_its_own_line_and_buttons():
    result = SearchResult("q", "answer", 0.9, [_hit("Sì <b>& no</b>"), _hit("altra", "faq:y")],
                          related=[_hit("r", "faq:z")])
    reply = answer_reply(result, 7, IT, "Chiedi & basta")
    lines = reply.text.split("\n")
    assert lines[0] == "Sì &lt;b&gt;&amp; no&lt;/b&gt;"
    assert lines[-1] == "<i>Fonte: FAQ x — Titolo &amp; &lt;co&gt;, «Sezione»</i>"
    data = [b.data for row in reply.buttons for b in row]
    assert data == ["fb:+:7", "fb:-:7", "more:7", "ask:faq:z"]


def test_long_answer_is_cut_at_a_sentence_with_continua():
    text = " ".join(f"Frase numero {n} del testo." for n in range(80))
    result = SearchResult("q", "answer", 0.9, [_hit(text)])
    reply = answer_reply(result, 3, IT, "c")
    first = reply.text.split("\n")[0]
    assert first.endswith("testo.…") and len(first) <= 820
    cont = [b for row in reply.buttons for b in row if b.text == IT.continue_]
    offset = int(cont[0].data.rsplit(":", 1)[1])
    assert text[offset:].startswith("Frase numero")


def test_cut_leaves_short_text_alone():
    assert cut("breve.") == ("breve.", None)


def test_split_html_never_breaks_tags_or_entities():
    text = "<b>" + ("parola &amp; altra " * 600) + "</b> fine <i>" + "x" * 5000 + "</i>"
    parts = split_html(text, 4096)
    assert len(parts) > 2 and all(len(p) <= 4096 for p in parts)
    for part in parts:
        assert part.count("<b>") == part.count("</b>") and part.count("<i>") == part.count("</i>")
        assert not re.search(r"&(?!amp;)", part)  # no entity cut in half
    joined = re.sub(r"</?[bi]>", "", "".join(parts))
    assert joined == re.sub(r"</?[bi]>", "", text)


def test_split_html_keeps_short_text_whole():
    assert split_html("<b>ciao</b>") == ["<b>ciao</b>"]


def test_callback_data_fits_64_bytes():
    callbacks = CallbackData(size=2)
    short = "ask:faq:export-aiuti"
    assert callbacks.pack(short) == short
    long = "ask:faq:" + "una-domanda-molto-lunga-" * 5
    packed = callbacks.pack(long)
    assert len(packed.encode()) <= CALLBACK_LIMIT and callbacks.unpack(packed) == long
    callbacks.pack(long + "1")
    callbacks.pack(long + "2")
    assert callbacks.unpack(packed) is None  # forgotten: the LRU is bounded
