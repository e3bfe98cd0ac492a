"""Real documents written by real writers, for the import tests: a PDF by reportlab (running header
and footer, numbered articles, a two-column page, a word hyphenated at a line end), a scanned PDF (an
image of text, no text layer), a .docx by python-docx and a web page.

The texts are made up for the tests (a fictitious chamber's export voucher); they are never
written into the shipped knowledge.
"""

from __future__ import annotations

from pathlib import Path

TITLE = "Bando voucher per l'internazionalizzazione delle micro e piccole imprese"
HEADER = "Camera di Commercio di Esempio – Bando voucher export 2026"

# (heading, paragraphs, page it must start on)
ARTICLES: list[tuple[str, list[str], int]] = [
    ("Art. 1 – Finalità", [
        "La Camera di Commercio di Esempio sostiene le micro e piccole imprese che vogliono avviare o "
        "rafforzare la loro presenza sui mercati esteri. Il bando concede voucher per servizi di "
        "accompagnamento all'export, consulenza e partecipazione a fiere internazionali.",
        "Le risorse disponibili ammontano complessivamente a 400.000 euro.",
    ], 1),
    ("Art. 2 – Soggetti beneficiari", [
        "Possono presentare domanda le micro e piccole imprese con sede legale o unità locale nella "
        "circoscrizione della Camera, iscritte al Registro delle imprese e in regola con il pagamento "
        "del diritto annuale.",
        "Sono escluse le imprese in stato di liquidazione o sottoposte a procedure concorsuali.",
    ], 1),
    ("Art. 3 – Spese ammissibili", [
        "Sono ammissibili le spese per la partecipazione a fiere internazionali in Italia e all'estero, "
        "per servizi di consulenza sull'internazionalizzazione, per la traduzione di siti web e "
        "cataloghi e per la formazione del personale addetto all'export.",
        "Le spese devono essere sostenute dopo la data di presentazione della domanda e pagate con "
        "strumenti tracciabili.",
    ], 2),
]
# Page 3 is laid out in two columns under a full-width heading.
TWO_COLUMN_HEADING = "Art. 4 – Entità del contributo"
# Art. 4 runs from the bottom of the left column into the right one, with "inter-" / "nazionalizzazione"
# hyphenated across the column break; Art. 5 follows in the right column.
LEFT_TEXT = (
    "Il voucher copre il cinquanta per cento delle spese ammissibili, fino a un massimo di 5.000 euro per "
    "impresa. Alle imprese in possesso del rating di legalità è riconosciuta una premialità di 250 euro. Il "
    "contributo è concesso in regime de minimis e non è cumulabile con altri aiuti pubblici per le stesse "
    "spese. La Camera liquida il voucher dopo la verifica della rendicontazione, completa delle fatture "
    "quietanzate e della relazione sulle attività svolte per l'inter-"
)
RIGHT_CONTINUED = "nazionalizzazione dell'impresa. L'investimento minimo è di 2.000 euro."
RIGHT_HEADING = "Art. 5 – Come presentare la domanda"
RIGHT_TEXT = (
    "Le domande si presentano esclusivamente in via telematica attraverso lo sportello online della Camera, "
    "firmate digitalmente dal legale rappresentante. Ogni impresa può presentare una sola domanda. Le "
    "domande sono esaminate in ordine cronologico di arrivo fino all'esaurimento delle risorse disponibili."
)
LAST: tuple[str, list[str]] = ("Art. 6 – Informazioni e contatti", [
    "Per informazioni sul bando le imprese possono rivolgersi all'ufficio promozione della Camera "
    "di Commercio di Esempio, dal lunedì al venerdì in orario d'ufficio.",
])
PDF_HEADINGS = [a[0] for a in ARTICLES] + [TWO_COLUMN_HEADING, RIGHT_HEADING, LAST[0]]
PDF_PAGES = {ARTICLES[0][0]: 1, ARTICLES[1][0]: 1, ARTICLES[2][0]: 2, TWO_COLUMN_HEADING: 3, RIGHT_HEADING: 3,
             LAST[0]: 4}


def make_pdf(path: Path) -> Path:
    """Write the bando as a 4-page PDF with reportlab's canvas (page 3 in two columns)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen.canvas import Canvas

    width, height = A4
    margin = 60.0
    pages_total = 4
    c = Canvas(str(path), pagesize=A4)
    c.setTitle(TITLE)
    page = [1]

    def furniture() -> None:
        c.setFont("Helvetica", 8)
        c.drawString(margin, height - 35, HEADER)
        c.drawCentredString(width / 2, 30, f"Pagina {page[0]} di {pages_total}")

    def new_page() -> float:
        c.showPage()
        page[0] += 1
        furniture()
        return height - 80

    def paragraph(text: str, y: float, x: float = margin, w: float = width - 2 * margin) -> float:
        c.setFont("Helvetica", 10)
        for line in simpleSplit(text, "Helvetica", 10, w):
            c.drawString(x, y, line)
            y -= 13
        return y - 7

    def heading(text: str, y: float, x: float = margin) -> float:
        c.setFont("Helvetica-Bold", 12)
        c.drawString(x, y, text)
        return y - 20

    furniture()
    y = height - 90
    c.setFont("Helvetica-Bold", 17)
    for line in simpleSplit(TITLE, "Helvetica-Bold", 17, width - 2 * margin):
        c.drawString(margin, y, line)
        y -= 22
    y -= 12
    for head, paragraphs, on_page in ARTICLES:
        if on_page > page[0]:
            y = new_page()
        y = heading(head, y)
        for text in paragraphs:
            y = paragraph(text, y)
    y = new_page()
    y = heading(TWO_COLUMN_HEADING, y)
    col_w = (width - 2 * margin - 24) / 2
    right_x = margin + col_w + 24
    # Left column, then right column, drawn row by row as many writers do (the text stream
    # interleaves the columns, so the reader must sort words by column to get reading order).
    left = [("Helvetica", t) for t in _wrap(LEFT_TEXT, col_w)]
    right = ([("Helvetica", t) for t in _wrap(RIGHT_CONTINUED, col_w)] + [("Helvetica-Bold", RIGHT_HEADING)]
             + [("Helvetica", t) for t in _wrap(RIGHT_TEXT, col_w)])
    left_y = right_y = y
    for i in range(max(len(left), len(right))):
        for column, x, at in ((left, margin, "left"), (right, right_x, "right")):
            if i >= len(column):
                continue
            font, text = column[i]
            bold = font.endswith("Bold")
            c.setFont(font, 11 if bold else 9)
            cur = left_y if at == "left" else right_y
            if bold:
                cur -= 6
            c.drawString(x, cur, text)
            cur -= 18 if bold else 12
            if at == "left":
                left_y = cur
            else:
                right_y = cur
    y = new_page()
    y = heading(LAST[0], y)
    for text in LAST[1]:
        y = paragraph(text, y)
    c.save()
    return path


def _wrap(text: str, width: float) -> list[str]:
    """Lines of at most `width` points in Helvetica 9, the columns' type."""
    from reportlab.lib.utils import simpleSplit

    return simpleSplit(text, "Helvetica", 9, width)


def make_scanned_pdf(path: Path) -> Path:
    """A 'scan': the bando's first lines drawn into a picture, the picture put in a PDF; no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    for n, text in enumerate([TITLE, *ARTICLES[0][1]]):
        draw.text((80, 120 + 40 * n), text[:90], fill=0)
    c = Canvas(str(path), pagesize=A4)
    c.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
    c.showPage()
    c.save()
    return path


DOCX_TITLE = "Guida ai servizi per le nuove imprese"
DOCX_SECTIONS: list[tuple[str, list[str]]] = [
    ("Chi può usare i servizi", [
        "Lo sportello nuove imprese della Camera di Commercio di Esempio accompagna gli aspiranti "
        "imprenditori e le imprese costituite da meno di tre anni.",
    ]),
    ("Servizi di orientamento", [
        "Gli esperti dello sportello aiutano a valutare l'idea d'impresa, a scegliere la forma giuridica "
        "e a preparare il business plan.",
        "Gli incontri sono gratuiti e si prenotano online.",
    ]),
    ("Start-up innovative", [
        "Le start-up innovative possono costituirsi con firma digitale e ricevono assistenza "
        "sull'iscrizione nella sezione speciale del Registro delle imprese.",
    ]),
    ("Come prenotare un appuntamento", [
        "L'appuntamento si prenota dal sito della Camera indicando il tema dell'incontro.",
    ]),
]


def make_docx(path: Path) -> Path:
    """Write the guide with python-docx: Title, Heading 1 sections, paragraphs and a small table."""
    import docx

    document = docx.Document()
    document.core_properties.title = DOCX_TITLE
    document.add_heading(DOCX_TITLE, level=0)
    for heading, paragraphs in DOCX_SECTIONS:
        document.add_heading(heading, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
        if heading == "Servizi di orientamento":
            table = document.add_table(rows=2, cols=2)
            for r, (a, b) in enumerate([("Servizio", "Durata"), ("Primo orientamento", "un'ora")]):
                table.cell(r, 0).text, table.cell(r, 1).text = a, b
    document.save(str(path))
    return path


HTML_TITLE = "Contributi per la digitalizzazione delle imprese"
HTML_SECTIONS: list[tuple[str, str]] = [
    ("A chi si rivolge", "Il bando si rivolge alle micro, piccole e medie imprese del commercio e dei servizi."),
    ("Cosa finanzia", "Finanzia l'acquisto di software gestionali, siti di commercio elettronico e servizi "
                      "di sicurezza informatica."),
    ("Come partecipare", "La domanda si presenta online sul portale della Camera di Commercio."),
]


def make_html(path: Path) -> Path:
    """A web page as CMSs write them: navigation, header, the article, a footer, scripts."""
    body = "\n".join(f"<h2>{h}</h2>\n<p>{t}</p>" for h, t in HTML_SECTIONS)
    path.write_text(f"""<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>{HTML_TITLE} | Camera di Commercio di Esempio</title>
<link rel="canonical" href="https://www.example.org/bandi/digitalizzazione">
<script>window.analytics = 1;</script><style>body {{ font-family: sans-serif }}</style></head>
<body><header><nav><a href="/">Home</a> <a href="/bandi">Bandi</a> <a href="/contatti">Contatti</a></nav></header>
<main><article><h1>{HTML_TITLE}</h1>
<p>La Camera di Commercio di Esempio apre il bando 2026 per la trasformazione digitale.</p>
{body}
<ul><li>Domande dal 1 marzo</li><li>Fino a esaurimento delle risorse</li></ul>
</article></main>
<aside>Notizie correlate: <a href="/x">Altro bando</a></aside>
<footer>© Camera di Commercio di Esempio – P.IVA 00000000000 – Privacy – Cookie</footer></body></html>
""", encoding="utf-8")
    return path
