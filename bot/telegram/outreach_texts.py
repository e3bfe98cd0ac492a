"""The texts of alerts, saved measures and the handover to a person, in Italian and English.

Kept apart from `texts.py` (the conversation's texts) because they come as one feature; same rules:
Telegram HTML, placeholders in braces, "tu". What staff read in their group is in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.telegram.texts import Lang


@dataclass(frozen=True)
class OutreachTexts:
    """Alerts, saved measures and handover texts in one language."""

    alerts_menu: str            # {quiet}: the quiet hours line
    alerts_quiet: str           # {hours}
    alerts_now: str             # {topics}
    alerts_none: str
    alerts_profile: str         # the "what matches my profile" topic
    alerts_off: str
    alerts_private: str
    alert_open: str
    alert_closing: str          # {days}
    alert_closing_today: str
    alert_opening: str
    alert_footer: str
    save: str
    saved_ok: str
    saved_already: str
    unsave: str
    unsaved_ok: str
    saved_title: str            # {days}
    saved_none: str
    saved_gone: str
    handover: str
    handover_consent: str       # {question}, {attempt}, {profile}
    handover_send: str
    handover_send_named: str
    handover_cancel: str
    handover_cancelled: str
    handover_sent: str          # {case}
    handover_later: str         # {hours}, {when}
    handover_unavailable: str
    handover_no_attempt: str
    handover_no_profile: str
    handover_ask_more: str
    staff_reply: str            # {case}, {text}
    user_reply_sent: str        # {case}
    case_closed: str            # {case}
    case_was_closed: str        # {case}
    privacy_contact: str
    privacy_alerts: str         # {topics}
    privacy_saved: str          # {count}
    privacy_cases: str          # {count}


IT = OutreachTexts(
    alerts_menu=("<b>Avvisi</b>\nTi scrivo quando si apre una misura nuova che ti interessa, con un solo "
                 "messaggio per misura. {quiet}\n\nScegli cosa seguire (tocca per attivare o togliere):"),
    alerts_quiet="Di notte non scrivo: i messaggi tra le {hours} arrivano la mattina.",
    alerts_now="Ora ricevi avvisi su: {topics}.",
    alerts_none="Ora non ricevi avvisi.",
    alerts_profile="Ciò che corrisponde al mio profilo",
    alerts_off="🔕 Disattiva tutti gli avvisi",
    alerts_private="Avvisi, misure salvate e risposte dello sportello arrivano solo in chat privata: scrivimi direttamente.",
    alert_open="🔔 <b>Nuova misura aperta</b>",
    alert_closing="⏰ <b>Promemoria</b>: una misura che hai salvato chiude tra {days} giorni.",
    alert_closing_today="⏰ <b>Promemoria</b>: una misura che hai salvato chiude oggi.",
    alert_opening="🔔 <b>Da oggi è aperta</b> una misura che hai salvato.",
    alert_footer="<i>Cambi o disattivi gli avvisi con /avvisi.</i>",
    save="⭐ Salva",
    saved_ok="Salvata: la ritrovi con /salvati e ti avviso prima che chiuda.",
    saved_already="È già tra le tue misure salvate (/salvati).",
    unsave="Rimuovi",
    unsaved_ok="Rimossa dalle misure salvate.",
    saved_title=("<b>Le tue misure salvate</b>\nTi ricordo la scadenza {days} giorni prima e, per quelle non "
                 "ancora aperte, il giorno in cui aprono."),
    saved_none=("Non hai misure salvate. Tocca ⭐ Salva sotto una misura per ritrovarla qui e ricevere un "
                "promemoria prima che chiuda."),
    saved_gone="non è più nel catalogo",
    handover="🙋 Parla con una persona",
    handover_consent=("<b>Vuoi che ti risponda una persona?</b>\nInvio allo sportello della Camera di Commercio "
                      "la tua domanda e la mia risposta; ti risponderà una persona qui in chat.\n\n"
                      "Ecco esattamente cosa invio:\n<b>Domanda</b>: {question}\n<b>La mia risposta</b>: {attempt}\n"
                      "<b>Profilo</b>: {profile}\n\nLo sportello vede solo un numero di caso, non il tuo nome, a "
                      "meno che tu scelga di mostrarlo."),
    handover_send="✅ Invia",
    handover_send_named="✅ Invia e mostra il mio nome Telegram",
    handover_cancel="Annulla",
    handover_cancelled="Va bene, non ho inviato nulla.",
    handover_sent="Inviato allo sportello: è il caso n. {case}. Ti risponderà una persona qui in chat.",
    handover_later="Lo sportello risponde {hours}: la risposta arriverà da {when} in poi.",
    handover_unavailable="Ora non posso passarti a una persona.",
    handover_no_attempt="nessuna risposta affidabile",
    handover_no_profile="non indicato",
    handover_ask_more="La risposta non ti è stata utile? Può risponderti una persona dello sportello.",
    staff_reply="💬 <b>Dallo sportello</b> (caso n. {case}):\n{text}\n\n<i>Rispondi a questo messaggio per scrivere allo sportello.</i>",
    user_reply_sent="Inoltrato allo sportello (caso n. {case}).",
    case_closed="Lo sportello ha chiuso il caso n. {case}. Per un'altra domanda scrivimi pure.",
    case_was_closed="Il caso n. {case} è chiuso: scrivimi una nuova domanda.",
    privacy_contact=("<b>Avvisi e sportello</b>\nPer scriverti avvisi, promemoria e risposte dello sportello "
                     "tengo l'identificativo di questa chat."),
    privacy_alerts="Avvisi attivi: {topics}.",
    privacy_saved="Misure salvate: {count}.",
    privacy_cases="Domande passate allo sportello: {count}.",
)

EN = OutreachTexts(
    alerts_menu=("<b>Alerts</b>\nI write to you when a new measure that interests you opens, one message per "
                 "measure. {quiet}\n\nChoose what to follow (tap to turn on or off):"),
    alerts_quiet="I don't write at night: messages due {hours} arrive in the morning.",
    alerts_now="You now get alerts about: {topics}.",
    alerts_none="You get no alerts now.",
    alerts_profile="What matches my profile",
    alerts_off="🔕 Turn off all alerts",
    alerts_private="Alerts, saved measures and the desk's replies only work in a private chat: write to me directly.",
    alert_open="🔔 <b>New measure open</b>",
    alert_closing="⏰ <b>Reminder</b>: a measure you saved closes in {days} days.",
    alert_closing_today="⏰ <b>Reminder</b>: a measure you saved closes today.",
    alert_opening="🔔 <b>Open from today</b>: a measure you saved.",
    alert_footer="<i>Change or turn off alerts with /alerts.</i>",
    save="⭐ Save",
    saved_ok="Saved: find it with /saved; I'll remind you before it closes.",
    saved_already="It is already among your saved measures (/saved).",
    unsave="Remove",
    unsaved_ok="Removed from your saved measures.",
    saved_title=("<b>Your saved measures</b>\nI remind you {days} days before one closes and, for those not yet "
                 "open, on the day they open."),
    saved_none=("You have no saved measures. Tap ⭐ Save under a measure to find it here and get a reminder "
                "before it closes."),
    saved_gone="no longer in the catalogue",
    handover="🙋 Talk to a person",
    handover_consent=("<b>Would you like a person to answer?</b>\nI send your question and my answer to the "
                      "Chamber of Commerce desk; a person will answer you here in this chat.\n\n"
                      "Exactly what I send:\n<b>Question</b>: {question}\n<b>My answer</b>: {attempt}\n"
                      "<b>Profile</b>: {profile}\n\nThe desk sees only a case number, not your name, unless "
                      "you choose to show it."),
    handover_send="✅ Send",
    handover_send_named="✅ Send and show my Telegram name",
    handover_cancel="Cancel",
    handover_cancelled="All right, I sent nothing.",
    handover_sent="Sent to the desk: it is case {case}. A person will answer you here in this chat.",
    handover_later="The desk answers {hours}: expect an answer from {when}.",
    handover_unavailable="I cannot put you through to a person right now.",
    handover_no_attempt="no reliable answer",
    handover_no_profile="not given",
    handover_ask_more="Not helpful? A person from the desk can answer you.",
    staff_reply="💬 <b>From the desk</b> (case {case}):\n{text}\n\n<i>Reply to this message to write to the desk.</i>",
    user_reply_sent="Passed on to the desk (case {case}).",
    case_closed="The desk closed case {case}. Write to me any time with another question.",
    case_was_closed="Case {case} is closed: write me a new question.",
    privacy_contact=("<b>Alerts and the desk</b>\nTo send you alerts, reminders and the desk's replies I keep "
                     "the id of this chat."),
    privacy_alerts="Alerts on: {topics}.",
    privacy_saved="Saved measures: {count}.",
    privacy_cases="Questions passed to the desk: {count}.",
)

OUTREACH: dict[Lang, OutreachTexts] = {"it": IT, "en": EN}

# What staff read in their group: both languages, Italian first.
STAFF_CASE = ("📨 <b>Caso n. {case}</b> · {asked}\n<b>Domanda / Question</b>: {question}\n"
              "<b>Risposta del bot / Bot's answer</b>: {attempt}\n<b>Profilo / Profile</b>: {profile}\n"
              "<b>Utente / User</b>: {who}\n\n<i>Rispondi a questo messaggio per rispondere all'utente; /chiudi in "
              "risposta chiude il caso. — Reply to this message to answer the user; /chiudi as a reply closes "
              "the case.</i>")
STAFF_ANONYMOUS = "anonimo (caso n. {case}) / anonymous (case {case})"
STAFF_USER_SAYS = "💬 <b>Caso n. {case}</b> — l'utente scrive / the user writes:\n{text}"
STAFF_CLOSED = "✔️ Caso n. {case} chiuso. / Case {case} closed."
STAFF_ALREADY_CLOSED = "Il caso n. {case} è già chiuso. / Case {case} is already closed."
STAFF_UNDELIVERED = ("⚠️ Caso n. {case}: risposta non consegnata (l'utente ha bloccato il bot o ha cancellato i "
                     "suoi dati). / Case {case}: reply not delivered (the user blocked the bot or erased their data).")
STAFF_CLOSE_HOW = ("Per chiudere un caso rispondi a un suo messaggio con /chiudi. / To close a case, reply to one "
                   "of its messages with /chiudi.")
OFFICE_DAYS = {"it": ("lun", "mar", "mer", "gio", "ven", "sab", "dom"),
               "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def outreach(lang: Lang) -> OutreachTexts:
    """The alerts and handover texts for a language."""
    return OUTREACH[lang]
