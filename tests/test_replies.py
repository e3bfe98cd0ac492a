"""Replies: escaping, cutting long answers, splitting under Telegram's limit, button data."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import re

from bot.telegram.buttons import CALLBACK_LIMIT, Ask, CallbackData, Continue, Feedback, More, Topic, Topics
from bot.telegram.replies import answer_reply, cut
from bot.telegram.send import split_html
from bot.search.passages import Passage
from bot.telegram.texts import IT
from bot.search.retriever import Hit, SearchResult


def _hit(text: str, pid: str = "faq:x", question: str | None = "Domanda <b>?") -> Hit:
    passage = Passage(pid, "faq", text, "Titolo & <co>", "Sezione", "area", "doc#sec", question=question)
    return Hit(passage, 0.9, 0.9, 1.0)


def test_answer_is_escaped_with_source_on_its_own_line_and_buttons():
    result = SearchResult("q", "answer", 0.9, [_hit("Sì <b>& no</b>"), _hit("altra", "faq:y")],
                          related=[_hit("r", "faq:z")])
    reply = answer_reply(result, 7, IT, "Chiedi & basta")
    lines = reply.text.split("\n")
    assert lines[0] == "Sì &lt;b&gt;&amp; no&lt;/b&gt;"
    assert lines[-1] == "<i>Fonte: Titolo &amp; &lt;co&gt;, «Sezione»</i>"
    data = [b.data for row in reply.buttons for b in row]
    assert data == ["fb:+:7", "fb:-:7", "more:7", "ask:faq:z"]


def test_long_answer_is_cut_at_a_sentence_with_continua():
    text = " ".join(f"Frase numero {n} del testo." for n in range(80))
    result = SearchResult("q", "answer", 0.9, [_hit(text)])
    reply = answer_reply(result, 3, IT, "c")
    first = reply.text.split("\n")[0]
    assert first.endswith("testo.…") and len(first) <= 820
    cont = [b for row in reply.buttons for b in row if b.text == IT.continue_]
    offset = Continue.decode(cont[0].data).offset
    assert text[offset:].startswith("Frase numero")


def test_a_long_answer_is_never_cut_after_an_abbreviation():
    # The cut falls where a sentence ends, and "art. 5" does not end one: Continua must not open
    # with "5 del regolamento".
    first = "Il bando sostiene le imprese della regione con contributi a fondo perduto. " * 4
    second = ("Le domande si presentano secondo le modalità " + "e i termini indicati " * 21
              + "dell'art. 5 del regolamento regionale, " + "con gli allegati richiesti " * 12 + "online.")
    text = first + second
    assert 770 < text.index("art. 5") < 800  # where a naive cut would fall
    chunk, rest = cut(text)
    assert rest == len(first) and chunk == first.rstrip()
    assert text[rest:].startswith("Le domande")


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


def test_button_data_round_trips_and_refuses_other_kinds_and_tampering():
    for data in (Feedback("+", 7), More(3), Continue(3, 812), Ask("faq:export-aiuti"), Ask("doc#sec/2"),
                 Topic("innovazione"), Topics()):
        assert type(data).decode(data.encode()) == data
    assert More.decode("fb:+:7") is None            # another kind
    assert Feedback.decode("fb:x:7") is None        # tampered sign
    assert Continue.decode("cont:3:abc") is None    # tampered number
    assert Continue.decode("cont:3") is None        # missing field
    assert Topics.decode("areas:x") is None and Ask.decode("ask:") is None
    callbacks = CallbackData()
    assert callbacks.pattern(More)("more:3") and not callbacks.pattern(More)("more:x")
    assert not callbacks.pattern(More)(None)


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
