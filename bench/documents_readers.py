"""Measure the PDF and HTML readers Sportello could use, on real files, and print what the README quotes.

PDF: pypdf (text only), pdfminer.six (text only) and pdfplumber (words with position, size, font: what
bot/documents/pdf.py uses) on two real PDFs shipped by Debian packages (a texinfo manual and a DocBook
spec, whose outlines give the true headings) and on the tests' bando with a two-column page. Reported:
time as a ratio to pypdf in the same run, headings found against the PDF's own outline, and whether
the two-column page reads in order. HTML: selectolax (lexbor) vs trafilatura on the tests' page.

    .venv/bin/python bench/documents_readers.py
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

REAL_PDFS = [Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
             Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf")]


def timed(fn, repeat: int = 3) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def pdf_rows(path: Path) -> None:
    import pdfplumber
    import pypdf
    from pdfminer.high_level import extract_text

    from bot.documents.pdf import read_pdf

    def with_pypdf() -> str:
        return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(path).pages)

    def with_plumber_words() -> int:
        with pdfplumber.open(path) as pdf:
            return sum(len(p.extract_words(extra_attrs=["size", "fontname"])) for p in pdf.pages)

    base = timed(with_pypdf)
    miner = timed(lambda: extract_text(str(path)))
    plumber = timed(with_plumber_words)
    ours = timed(lambda: read_pdf(path), repeat=1)
    reader = pypdf.PdfReader(path)
    outline = []

    def walk(items) -> None:  # noqa: ANN001
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                outline.append(" ".join(str(item.title).split()))

    walk(reader.outline)
    doc = read_pdf(path)
    found = {" ".join(s.heading.split()).lower() for s in doc.sections}
    hit = sum(1 for t in outline if t.lower() in found or any(t.lower() in f or f in t.lower() for f in found if len(f) > 6))
    print(f"{path.name}: {len(reader.pages)} pages; time vs pypdf: pdfminer.six {miner / base:.2f}x, "
          f"pdfplumber words {plumber / base:.2f}x, Sportello's reader (pdfplumber + layout) {ours / base:.2f}x "
          f"(pypdf {base * 1000:.0f} ms); outline headings found: {hit}/{len(outline)}, sections {len(doc.sections)}")


def two_column() -> None:
    import pypdf
    from pdfminer.high_level import extract_text

    import documents_files as files
    from bot.documents.pdf import read_pdf

    with tempfile.TemporaryDirectory() as tmp:
        path = files.make_pdf(Path(tmp) / "bando.pdf")
        page3 = pypdf.PdfReader(path).pages[2].extract_text() or ""
        miner = extract_text(str(path), page_numbers=[2])
        want = ("rating di legalità", "Art. 5 – Come presentare")

        def in_order(text: str) -> bool:
            flat = " ".join(text.split())
            return all(w in flat for w in want) and flat.index(want[0]) < flat.index(want[1])

        doc = read_pdf(path)
        ours = [s.heading for s in doc.sections] == files.PDF_HEADINGS and \
            "internazionalizzazione dell'impresa" in doc.sections[3].text
        joined = "internazionalizzazione" in " ".join(page3.split())
        print(f"two-column page (written row by row across columns): pypdf in order {in_order(page3)} "
              f"(hyphen joined {joined}), pdfminer.six in order {in_order(miner)}, Sportello's reader "
              f"headings and order right {ours}")


def html_rows() -> None:
    import trafilatura

    import documents_files as files
    from bot.documents.webpage import read_html

    with tempfile.TemporaryDirectory() as tmp:
        path = files.make_html(Path(tmp) / "page.html")
        raw = path.read_text(encoding="utf-8")
        ours = timed(lambda: read_html(path), repeat=20)
        theirs = timed(lambda: trafilatura.extract(raw, output_format="markdown", include_formatting=True), repeat=20)
        extracted = trafilatura.extract(raw, output_format="markdown") or ""
        headings = sum(1 for h, _ in files.HTML_SECTIONS if f"# {h}" in extracted)
        doc = read_html(path)
        print(f"HTML page: trafilatura {theirs / ours:.1f}x selectolax's time; headings kept: trafilatura "
              f"{headings}/{len(files.HTML_SECTIONS)}, selectolax reader "
              f"{sum(1 for s in doc.sections if s.heading in dict(files.HTML_SECTIONS))}/{len(files.HTML_SECTIONS)}")


def main() -> None:
    logging.disable(logging.WARNING)
    for path in REAL_PDFS:
        if path.is_file():
            pdf_rows(path)
        else:
            print(f"{path}: missing (Debian packages shared-mime-info, libtasn1-doc)")
    two_column()
    html_rows()


if __name__ == "__main__":
    main()
