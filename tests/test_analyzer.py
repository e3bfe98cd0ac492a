"""Normalisation, stop words, stems, synonyms and typo tolerance."""

from __future__ import annotations

from bot.search import analyzer as text


def test_normalise_folds_case_accents_and_apostrophes() -> None:
    assert text.normalise("L'Export è Più FACILE, all'estero!") == "l export e piu facile all estero"
    assert text.normalise("attività  nell’UE") == "attivita nell ue"


def test_elided_articles_and_question_phrasing_are_not_content() -> None:
    assert text.content_words("Ci sono aiuti per l'export?") == ["aiuti", "export"]
    assert text.content_words("che c'entra la camera di commercio") == ["camera", "commercio"]
    assert text.content_words("Is there any help for exporting?") == ["help", "exporting"]


def test_tokens_are_italian_stems() -> None:
    assert text.tokens("imprese") == text.tokens("impresa")
    assert text.tokens("internazionalizzazione") == text.tokens("l'internazionalizzazione")


def test_synonyms_expand_acronyms_and_multiword_terms() -> None:
    synonyms = text.Synonyms([["PMI", "piccole e medie imprese"], ["start up", "startup", "start-up"]])
    assert synonyms.extra_terms("aiuti per le PMI") == ["piccole e medie imprese"]
    assert synonyms.extra_terms("piccole e medie imprese toscane") == ["pmi"]
    # "start-up" normalises to "start up": the other spellings are added, not the one written.
    assert synonyms.extra_terms("una start-up innovativa") == ["startup"]
    assert synonyms.extra_terms("niente di che") == []


def test_synonyms_match_whole_words_only() -> None:
    synonyms = text.Synonyms([["ice", "agenzia ice"]])
    assert synonyms.extra_terms("servizi") == []
    assert synonyms.extra_terms("l'ICE aiuta") == ["agenzia ice"]


def test_a_dotted_code_is_also_kept_whole() -> None:
    # "D.1.1.b" alone would be 'd', '1', '1', 'b', and one-letter words are dropped: the two lines of
    # a call ("Linea D.1.1.a", "Linea D.1.1.b") would read the same.
    assert text.content_words("bando D.1.1.b villafranca") == ["bando", "1", "1", "d11b", "villafranca"]
    assert text.content_words("Linea D.1.1.a.") == ["linea", "1", "1", "d11a"]
    # Dates, amounts and versions (digits only) and abbreviations (letters only) are not codes.
    assert text.content_words("D.G.R. del 28.07.2021, euro 2.500, Industria 4.0") == [
        "28", "07", "2021", "euro", "2", "500", "industria", "4", "0"]
    assert text.codes("Linea D.1.1.b, D.G.R. n.1019 del 28.07.2021") == {"d11b", "n1019"}


def test_words_inside_a_term_of_several_words_are_covered() -> None:
    synonyms = text.Synonyms([["camera di commercio", "cciaa", "camera"]])
    assert synonyms.covered("iscrizione alla Camera di Commercio di Prato") == {"camera", "di", "commercio"}
    # A term of one word says nothing about the sense of the word alone: "camera" may be a room.
    assert synonyms.covered("una camera per le riunioni") == set()


def test_typos_are_corrected_against_known_words() -> None:
    known = {"internazionalizzazione", "commercio", "startup", "camera", "innovazione"}
    fixed = text.correct(["internazionalizazione", "comercio", "stratup", "inovazione"], known)
    assert fixed == ["internazionalizzazione", "commercio", "startup", "innovazione"]


def test_short_or_far_words_are_left_alone() -> None:
    known = {"camera", "commercio"}
    assert text.correct(["iva", "marchio", "camera"], known) == ["iva", "marchio", "camera"]


def test_a_transposition_counts_as_one_edit() -> None:
    # "stratup" is one swap away from "startup" (two plain substitutions): corrected at the 1-edit limit.
    assert text.correct(["stratup"], {"startup", "strato"}) == ["startup"]
    assert text.correct(["abcdef"], {"xyzdef"}) == ["abcdef"]  # three edits away: left alone


def test_the_fingerprint_changes_with_the_stop_words(monkeypatch) -> None:
    before = text.fingerprint()
    assert before == text.fingerprint()
    monkeypatch.setattr(text, "STOPWORDS", text.STOPWORDS | {"bando"})
    assert text.fingerprint() != before


def test_the_fingerprint_is_the_same_in_another_process() -> None:
    import subprocess
    import sys

    code = "from bot.search import analyzer; print(analyzer.fingerprint())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == text.fingerprint()


def test_speller_corrects_as_a_scan_over_every_known_word_would() -> None:
    """The fast speller (letter-count filter, then exact distance) gives the plain scan's answer:
    the closest known word, ties to the first in alphabetical order, nothing for a far word."""
    from bot.search.analyzer import Speller, _distance

    vocabulary = {"contributo", "contributi", "distribuito", "finanziamento", "fondo", "fonda", "impresa",
                  "imprese", "export", "esportazione", "innovazione", "innovativo", "startup"}

    def scan(word: str) -> str:
        if word in vocabulary or len(word) < 5:
            return word
        limit = 1 + (len(word) >= 8)
        near = [(_distance(word, k, limit), k) for k in vocabulary
                if abs(len(k) - len(word)) <= limit and (k[0] == word[0] or len(word) >= 6)]
        best = min((d, k) for d, k in near) if near else (limit + 1, word)
        return best[1] if best[0] <= limit else word

    speller = Speller(vocabulary)
    asked = ["contribtuo", "contributx", "finanziamneto", "imprea", "fondi", "innovazoine", "startap",
             "esportazoine", "xyzzyxyzzy", "impresaaa", "innovatvo", "contributo", "fond"]
    assert speller.correct(asked) == [scan(w) for w in asked]
    assert speller.correct(["contribtuo", "fondi"]) == ["contributo", "fonda"]  # a transposition; a tie
    assert speller.correct(["xyzzyxyzzy"]) == ["xyzzyxyzzy"]
    assert Speller(set()).correct(["qualcosa"]) == ["qualcosa"]
