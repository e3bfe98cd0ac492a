"""End to end, about support measures: the card, /profilo, "Cosa c'è per me?", closed measures labelled.

The real Application against the fake Bot API on 127.0.0.1; measure status is computed for
2026-11-25 (the harness's measures.today), so the shipped catalogue records have known states.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

from bot.storage import Storage
from bot.telegram.texts import EN, IT
from bot_harness import PSEUDONYM_KEY, RunningBot

VOUCHER = "Voucher 3I - Investire in innovazione"
VOUCHER_URL = "https://www.mimit.gov.it/it/incentivi/voucher-3i-investire-in-innovazione"
MARCHE = "Bando innovazione di prodotto sostenibile e digitale – Regione Marche"
TRASFORMAZIONI = "Avviso Trasformazioni"


def test_a_measure_is_answered_with_its_card_and_a_url_button(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("Ci sono contributi per brevettare un'invenzione?")
        card = fake.wait_sent(1, 42)[0]
    assert card.text.startswith(f"<b>{VOUCHER}</b>")
    assert "✅ Aperto fino al 31/12/2027" in card.text
    assert "esaurimento delle risorse" in card.text            # the window note, beside the dates
    assert "Fonte: incentivi.gov.it (MIMIT), dati aggiornati al 26/03/2025" in card.text
    assert "3265" not in card.text and "measure:" not in card.text  # no internal ids
    assert (IT.go_to_call, VOUCHER_URL) in card.buttons()
    assert [t for t, _ in card.buttons()][1:4] == ["⭐ Salva", "👍", "👎"]  # Salva beside "Vai al bando"


def test_a_closed_measure_asked_by_name_is_labelled_closed(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("il bando della regione marche per l'innovazione di prodotto è ancora aperto?")
        card = fake.wait_sent(1, 42)[0]
    assert card.text.startswith(f"<b>{MARCHE}</b>")
    assert "⛔ Chiuso il 10/05/2024" in card.text and "✅" not in card.text


def test_is_it_still_open_about_a_closed_measure_gets_its_card_saying_closed(fake, settings, retriever):
    """"Is it still open?" asks for one measure's status: the answer is its card, closed, not other
    texts because closed measures were filtered out as for "bandi aperti"."""
    with RunningBot(settings, retriever):
        fake.message("il contributo per la digitalizzazione delle microimprese di bolzano è ancora aperto?")
        italian = fake.wait_sent(1, 42)[0]
        fake.message("is the Bolzano grant for digitising micro firms still open?")
        english = fake.wait_sent(2, 42)[1]
    for card in (italian, english):  # the card speaks the chat's language (Italian here)
        assert card.text.startswith("<b>Interventi per la promozione della digitalizzazione delle microimprese"), card.text
        assert "⛔ Chiuso il 31/12/2024" in card.text and "✅" not in card.text


def test_profile_flow_then_what_is_there_for_me(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("/profilo")
        step = fake.wait_sent(1, 42)[0]
        assert step.text == IT.profile_region
        assert ("Puglia", "pf:region:Puglia") in step.buttons() and len(step.buttons()) == 21  # 20 + Salta
        fake.tap(step, "pf:region:Puglia")
        fake.wait(lambda: step.edits == 1, what="the size question")
        assert step.text == IT.profile_size
        fake.tap(step, "pf:size:micro")
        fake.wait(lambda: step.edits == 2, what="the sector question")
        assert step.text == IT.profile_sector
        fake.tap(step, "pf:sector:-")                         # skipped
        fake.wait(lambda: step.edits == 3, what="the saved profile")
        assert "Regione: Puglia" in step.text and "Dimensione: Microimpresa" in step.text
        assert "Settore: non indicato" in step.text
        fake.tap(step, "me:0")                                # the "Cosa c'è per me?" button
        listing = fake.wait_sent(2, 42)[1]
        fake.message("/privacy")
        privacy = fake.wait_sent(3, 42)[2]
    # Open measures for a Puglia micro-enterprise: Puglia's own first, then national; nothing closed,
    # nothing limited to other regions.
    titles = [t for t, d in listing.buttons() if d.startswith("ms:") or d.startswith("~")]
    assert titles[0].startswith(TRASFORMAZIONI) and titles[1].startswith("Voucher 3I")
    assert "⛔" not in listing.text and "Marche" not in listing.text and "Friuli" not in listing.text
    assert "Regione: Puglia" in privacy.text
    row = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180).profile(42)
    assert row == {"region": "Puglia", "size": "micro", "sector": None}


def test_for_me_filters_by_profile_and_forget_erases_it(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("/profilo")
        step = fake.wait_sent(1, 42)[0]
        fake.tap(step, "pf:region:Toscana")
        fake.wait(lambda: step.edits == 1, what="size")
        fake.tap(step, "pf:size:grande")
        fake.wait(lambda: step.edits == 2, what="sector")
        fake.tap(step, "pf:sector:-")
        fake.wait(lambda: step.edits == 3, what="saved")
        fake.message("/perme")
        listing = fake.wait_sent(2, 42)[1]
        fake.message("/dimentica")
        fake.wait_sent(3, 42)
        fake.message("/perme")
        after = fake.wait_sent(4, 42)[3]
    # A large Tuscan firm: the open measures are micro-only (Voucher 3I) or Puglia-only (Trasformazioni).
    assert listing.text == IT.for_me_none
    assert Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180).profile(42) is None
    assert after.text.startswith(IT.for_me_no_profile) and VOUCHER in after.text


def test_a_measure_card_from_the_list_and_tampered_profile_buttons(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("/forme", lang="en")
        listing = fake.wait_sent(1, 42)[0]
        data = next(d for t, d in listing.buttons() if t.startswith("Voucher 3I"))
        fake.tap(listing, data, lang="en")
        card = fake.wait_sent(2, 42)[1]
        fake.tap(listing, "pf:region:Atlantide")
        fake.tap(listing, "pf:colour:red")
        fake.wait(lambda: len(fake.calls_to("answerCallbackQuery")) == 3, what="three callback answers")
    assert listing.text.startswith(EN.for_me_no_profile)
    assert "✅ Open until 31/12/2027" in card.text and "Source: incentivi.gov.it (MIMIT)" in card.text
    assert (EN.go_to_call, VOUCHER_URL) in card.buttons()
    answers = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert answers[1:] == [IT.expired, IT.expired]


def test_closed_measures_are_labelled_in_other_answers(fake, settings, retriever):
    with RunningBot(settings, retriever):
        fake.message("contributi per la digitalizzazione delle microimprese di bolzano")
        answer = fake.wait_sent(1, 42)[0]
    # Asked about a call that closed: it is shown, and it says so.
    assert "Interventi per la promozione della digitalizzazione delle microimprese 2024" in answer.text
    assert "⛔ Chiuso il 31/12/2024" in answer.text
