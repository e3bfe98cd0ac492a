"""Every text the bot shows, in Italian and English, in one place for staff to change.

Texts are Telegram HTML: anything filled in from outside (questions, knowledge, settings) must be
escaped by the caller with `html.escape`. The Italian texts use "tu", as Italian public-service bots
usually do on Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lang = Literal["it", "en"]


def language(code: str | None) -> Lang:
    """The language to answer in, from the user's Telegram language code (English or else Italian)."""
    return "en" if code and code.lower().startswith("en") else "it"


@dataclass(frozen=True)
class Texts:
    """The bot's texts in one language (placeholders in braces are filled with `str.format`)."""

    start: str              # {areas}: one line per area
    start_examples: str
    privacy_note: str
    help: str
    topics: str
    topic: str              # {title}, {description}
    topic_empty: str
    back_to_topics: str
    source: str             # {source}
    open_link: str
    more: str
    continue_: str
    other_answers: str
    no_other_answers: str
    no_answer: str
    maybe: str
    feedback_up: str
    feedback_down: str
    expired: str
    restart_notice: str     # {question}: the question whose reply may have been lost in a crash
    text_only: str
    empty_question: str
    too_many: str           # {per_minute}
    unknown_command: str
    error: str
    privacy: str            # {count}, {days}
    privacy_questions: str
    privacy_none: str
    forgotten: str          # {count}
    reload_ok: str          # {faqs}, {passages}
    reload_failed: str      # {error}
    stats: str              # {total}, {answered}, {rate}, {suggested}, {declined}, {up}, {down}, {users}
    stats_unanswered: str
    go_to_call: str
    profile_region: str
    profile_size: str
    profile_sector: str
    profile_skip: str
    profile_done: str       # {profile}
    profile_line: str       # {region}, {size}, {sector}
    not_said: str
    for_me: str
    for_me_title: str       # {first}, {last}, {total}
    for_me_no_profile: str
    for_me_none: str
    for_me_more: str
    closing_none: str       # {date}
    privacy_profile: str    # {profile}
    commands: tuple[tuple[str, str], ...]
    admin_commands: tuple[tuple[str, str], ...]  # added to the menu of the admins' own chats


IT = Texts(
    start=(
        "Ciao! Sono <b>Sportello</b>. Rispondo alle domande delle imprese toscane sul sostegno "
        "pubblico, partendo dai testi ufficiali: il protocollo tra Regione Toscana e "
        "Unioncamere Toscana e le misure del catalogo incentivi.gov.it. Ti indico sempre la fonte e "
        "se una misura è aperta; se non lo so te lo dico.\n\n"
        "Conosco questi temi:\n{areas}"
    ),
    start_examples="Scrivi la tua domanda, oppure prova una di queste:",
    privacy_note="🔒 Tengo traccia delle domande in forma pseudonima per migliorare le risposte: /privacy",
    help=(
        "<b>Come chiedere</b>\n"
        "Scrivi una domanda breve, con parole tue: per esempio «ci sono aiuti per vendere all'estero?».\n"
        "Con /argomenti sfogli le domande frequenti per tema.\n\n"
        "<b>Cosa so fare</b>\n"
        "Rispondo solo con quello che c'è nei testi ufficiali che conosco, e ti indico la fonte. "
        "Delle misure di sostegno ti dico se sono aperte e fino a quando, per chi sono e dove fare domanda: "
        "con /profilo mi dici regione, dimensione e settore, con /perme vedi le misure aperte per te. "
        "Conosco solo le misure del mio catalogo: per il resto ti dico a chi rivolgerti.\n"
        "Leggo solo messaggi di testo.\n\n"
        "<b>Privacy</b>\n"
        "Le domande sono registrate con un codice al posto del tuo nome: /privacy per i dettagli, "
        "/dimentica per cancellarle."
    ),
    topics="Scegli un tema:",
    topic="<b>{title}</b>\n{description}\n\nDomande frequenti:",
    topic_empty="Per questo tema non ho ancora domande frequenti: scrivimi la tua domanda.",
    back_to_topics="« Tutti i temi",
    source="Fonte: {source}",
    open_link="apri il testo",
    more="Altre risposte",
    continue_="Continua",
    other_answers="<b>Altre risposte possibili</b>",
    no_other_answers="Non ho altre risposte per questa domanda.",
    no_answer="Non ho una risposta affidabile a questa domanda.",
    maybe="Forse cercavi:",
    feedback_up="Grazie del riscontro!",
    feedback_down="Grazie: segnalerò che la risposta non ti è stata utile.",
    expired="Questo pulsante non è più valido: riscrivi la domanda.",
    restart_notice=("Mi sono riavviato mentre rispondevo alla tua domanda{question}: se qui sopra non vedi "
                    "la risposta, riscrivimela."),
    text_only="Leggo solo messaggi di testo: scrivimi la tua domanda a parole.",
    empty_question="Scrivimi la domanda nello stesso messaggio, dopo il mio nome.",
    too_many="Mi hai scritto molte domande in poco tempo (più di {per_minute} al minuto): "
             "aspetta un momento e riprova.",
    unknown_command="Non conosco questo comando. Con /aiuto vedi cosa posso fare.",
    error="Scusa, qualcosa non ha funzionato da parte mia. Riprova tra poco.",
    privacy=(
        "<b>Cosa tengo</b>\n"
        "Per ogni domanda: il testo, la data, la lingua, le risposte date con il loro punteggio e il tuo "
        "👍/👎. Al posto del tuo account Telegram registro solo un codice (pseudonimo) da cui non si "
        "risale a te senza una chiave segreta. Non tengo nome, username né numero di telefono.\n"
        "Le domande vengono cancellate dopo {days} giorni. Servono a capire quali domande restano "
        "senza risposta e a migliorare i testi.\n\n"
        "Di te ho {count} domande registrate. Con /dimentica le cancello tutte."
    ),
    privacy_questions="Le più recenti:",
    privacy_none="Di te non ho nessuna domanda registrata.",
    forgotten="Fatto: ho cancellato le {count} domande registrate con il tuo pseudonimo, il tuo profilo, "
              "gli avvisi, le misure salvate e le richieste allo sportello.",
    reload_ok="Indice ricaricato: {faqs} domande frequenti, {passages} brani.",
    reload_failed="Non ho ricaricato l'indice, resta in uso quello di prima: {error}",
    stats=(
        "<b>Statistiche</b>\n"
        "Domande: {total} da {users} utenti\n"
        "Con risposta: {answered} ({rate})\n"
        "Con suggerimenti: {suggested} · Senza risposta: {declined}\n"
        "Riscontri: 👍 {up} · 👎 {down}"
    ),
    stats_unanswered="<b>Domande senza risposta più frequenti</b>",
    go_to_call="🔗 Vai al bando",
    profile_region="<b>Il tuo profilo</b> (1/3)\nIn quale regione ha sede la tua impresa?",
    profile_size="<b>Il tuo profilo</b> (2/3)\nQuanto è grande la tua impresa?",
    profile_sector="<b>Il tuo profilo</b> (3/3)\nIn quale settore lavori?",
    profile_skip="Salta »",
    profile_done=(
        "<b>Profilo salvato</b>\n{profile}\n\nLo uso per mostrarti solo le misure che fanno per te. "
        "Lo cambi con /profilo e lo cancelli con /dimentica."
    ),
    profile_line="Regione: {region}\nDimensione: {size}\nSettore: {sector}",
    not_said="non indicato",
    for_me="🎯 Cosa c'è per me?",
    for_me_title="<b>Misure aperte per te</b> ({first}–{last} di {total})",
    for_me_no_profile="Non mi hai ancora detto regione, dimensione e settore della tua impresa (/profilo): "
                      "ti mostro tutte le misure aperte che conosco.",
    for_me_none="Tra le misure che conosco non ce n'è nessuna aperta che corrisponda al tuo profilo.",
    for_me_more="Altri »",
    closing_none="Tra le misure che conosco nessuna a cui si possa ancora fare domanda chiude entro il {date}.",
    privacy_profile="Il tuo profilo: {profile}",
    commands=(
        ("start", "Cosa sa fare Sportello"),
        ("argomenti", "Sfoglia le domande per tema"),
        ("perme", "Le misure aperte adatte a te"),
        ("profilo", "Regione, dimensione e settore della tua impresa"),
        ("avvisi", "Avvisi sulle nuove misure"),
        ("salvati", "Le misure che hai salvato"),
        ("aiuto", "Come fare una domanda"),
        ("privacy", "Cosa registro di te"),
        ("dimentica", "Cancella le tue domande e il profilo"),
    ),
    admin_commands=(
        ("reload", "Carica l'indice appena ricostruito"),
        ("stats", "Domande, risposte e riscontri"),
    ),
)

EN = Texts(
    start=(
        "Hello! I'm <b>Sportello</b>. I answer Tuscan businesses' questions about public support, "
        "from the official texts: the protocol between Regione Toscana and Unioncamere "
        "Toscana and the measures of the incentivi.gov.it catalogue. I always give the source and say "
        "whether a measure is open; when I don't know, I say so.\n\n"
        "I know about:\n{areas}"
    ),
    start_examples="Write your question, or try one of these (the texts are in Italian):",
    privacy_note="🔒 I keep questions under a pseudonym to improve the answers: /privacy",
    help=(
        "<b>How to ask</b>\n"
        "Write a short question in your own words, e.g. \"is there support for exporting?\".\n"
        "With /topics you can browse the frequent questions by topic.\n\n"
        "<b>What I can do</b>\n"
        "I answer only from the official texts I know, which are in Italian, and give the source. "
        "For support measures I tell you whether they are open and until when, whom they are for and where "
        "to apply: /profile tells me your region, size and sector, /forme lists the open measures for you. "
        "I only know the measures in my catalogue: for anything else I tell you whom to ask.\n"
        "I read text messages only.\n\n"
        "<b>Privacy</b>\n"
        "Questions are stored under a code instead of your name: /privacy for details, /forget to "
        "delete them."
    ),
    topics="Choose a topic:",
    topic="<b>{title}</b>\n{description}\n\nFrequent questions:",
    topic_empty="There are no frequent questions on this topic yet: write me your question.",
    back_to_topics="« All topics",
    source="Source: {source}",
    open_link="open the text",
    more="Other answers",
    continue_="Continue",
    other_answers="<b>Other possible answers</b>",
    no_other_answers="I have no other answers to this question.",
    no_answer="I don't have a reliable answer to this question.",
    maybe="Did you mean:",
    feedback_up="Thanks for the feedback!",
    feedback_down="Thanks: I'll note that the answer didn't help you.",
    expired="This button is no longer valid: please ask again.",
    restart_notice=("I restarted while answering your question{question}: if you don't see the answer above, "
                    "please ask again."),
    text_only="I read text messages only: please write your question in words.",
    empty_question="Write your question in the same message, after my name.",
    too_many="You've sent many questions in a short time (more than {per_minute} a minute): "
             "please wait a moment and try again.",
    unknown_command="I don't know that command. /help shows what I can do.",
    error="Sorry, something went wrong on my side. Please try again shortly.",
    privacy=(
        "<b>What I keep</b>\n"
        "For each question: its text, date and language, the answers given with their scores, and "
        "your 👍/👎. Instead of your Telegram account I store only a code (a pseudonym) that cannot be "
        "traced back to you without a secret key. I keep no name, username or phone number.\n"
        "Questions are deleted after {days} days. They show which questions go unanswered and help "
        "improve the texts.\n\n"
        "I have {count} questions from you. /forget deletes them all."
    ),
    privacy_questions="The most recent:",
    privacy_none="I have no questions stored from you.",
    forgotten="Done: I deleted the {count} questions stored under your pseudonym, your profile, alerts, "
              "saved measures and requests to the desk.",
    reload_ok="Index reloaded: {faqs} frequent questions, {passages} passages.",
    reload_failed="Index not reloaded, the previous one stays in use: {error}",
    stats=(
        "<b>Statistics</b>\n"
        "Questions: {total} from {users} users\n"
        "Answered: {answered} ({rate})\n"
        "With suggestions: {suggested} · Unanswered: {declined}\n"
        "Feedback: 👍 {up} · 👎 {down}"
    ),
    stats_unanswered="<b>Most frequent unanswered questions</b>",
    go_to_call="🔗 Go to the call",
    profile_region="<b>Your profile</b> (1/3)\nIn which region is your business based?",
    profile_size="<b>Your profile</b> (2/3)\nHow large is your business?",
    profile_sector="<b>Your profile</b> (3/3)\nWhich sector do you work in?",
    profile_skip="Skip »",
    profile_done=(
        "<b>Profile saved</b>\n{profile}\n\nI use it to show you only the measures that fit you. "
        "Change it with /profile, delete it with /forget."
    ),
    profile_line="Region: {region}\nSize: {size}\nSector: {sector}",
    not_said="not given",
    for_me="🎯 What is there for me?",
    for_me_title="<b>Open measures for you</b> ({first}–{last} of {total})",
    for_me_no_profile="You haven't told me your business's region, size and sector yet (/profile): "
                      "here are all the open measures I know.",
    for_me_none="None of the measures I know is open and fits your profile.",
    for_me_more="More »",
    closing_none="None of the measures I know that are still open closes by {date}.",
    privacy_profile="Your profile: {profile}",
    commands=(
        ("start", "What Sportello can do"),
        ("topics", "Browse questions by topic"),
        ("forme", "Open measures that fit you"),
        ("profile", "Your business's region, size and sector"),
        ("alerts", "Alerts on new measures"),
        ("saved", "The measures you saved"),
        ("help", "How to ask a question"),
        ("privacy", "What I store about you"),
        ("forget", "Delete your questions and profile"),
    ),
    admin_commands=(
        ("reload", "Load the freshly built index"),
        ("stats", "Questions, answers and feedback"),
    ),
)

TEXTS: dict[Lang, Texts] = {"it": IT, "en": EN}


def texts(lang: Lang) -> Texts:
    """The texts for a language."""
    return TEXTS[lang]
