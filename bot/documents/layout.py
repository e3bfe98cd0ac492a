"""From a PDF page's positioned words to lines in reading order (columns first), with font size and weight.

Kept apart from the PDF library so the rules (where a column gutter is, what a heading looks like)
read as plain code over plain values.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

# "Art. 3", "Articolo 12", "ART. 4 -": the way Italian calls and regulations number their parts.
ARTICLE = re.compile(r"^(art\.?|articolo)\s*\d+", re.IGNORECASE)
# "1.", "2.3", "4)" followed by a capital: a numbered heading when it is also bold or larger.
NUMBERED = re.compile(r"^\d+(\.\d+)*[.)]?\s+[A-ZÀ-Ý]")
PAGE_NUMBER = re.compile(r"^(pagina|pag\.?|page|p\.)?\s*[-–]?\s*#\s*[-–]?(\s*(di|of|/)\s*#)?$")


@dataclass
class Line:
    """One line of text as laid out: what it says, how it looks, where it is."""

    text: str
    size: float
    bold: bool
    top: float
    bottom: float
    page: int
    column: int = 0


def gutter(words: list[dict[str, Any]], width: float) -> float | None:
    """The x of the empty band between two columns, or None on a one-column page.

    Tried every 2 points across the middle 30-70% of the page: the x crossed by the fewest words
    wins if almost no line crosses it (a full-width title may) and each side holds a good share
    of the words.
    """
    if len(words) < 20:
        return None
    best_x, best_crossing = None, len(words)
    x = width * 0.3
    while x <= width * 0.7:
        crossing = sum(1 for w in words if w["x0"] < x < w["x1"])
        if crossing < best_crossing:
            best_x, best_crossing = x, crossing
        x += 2.0
    if best_x is None:
        return None
    left = sum(1 for w in words if w["x1"] <= best_x)
    right = sum(1 for w in words if w["x0"] >= best_x)
    rows = _rows(words)
    # On a one-column page the least-crossed x still falls between two words of most lines, a
    # word space apart; between columns the gap is wide on most lines that have text on both sides.
    gaps = sorted(g for row in rows if (g := _gap(row, best_x)) is not None)
    if (best_crossing <= max(2, 0.1 * len(rows)) and min(left, right) >= 0.2 * len(words)
            and len(gaps) >= 3 and gaps[len(gaps) // 2] >= MIN_GUTTER):
        return best_x
    return None


MIN_GUTTER = 9.0  # points: wider than any word space at body sizes


def _rows(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    rows: dict[int, list[dict[str, Any]]] = {}
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        rows.setdefault(round(w["top"]), []).append(w)
    return [rows[k] for k in sorted(rows)]


def _gap(row: list[dict[str, Any]], x: float) -> float | None:
    """The empty width around `x` in this row (None if the row has no text on one side)."""
    left = [w["x1"] for w in row if w["x1"] <= x]
    right = [w["x0"] for w in row if w["x0"] >= x]
    return min(right) - max(left) if left and right else None


def page_lines(words: list[dict[str, Any]], width: float, page: int) -> list[Line]:
    """The page's lines in reading order: full-width rows where they are, each column top to bottom."""
    split = gutter(words, width)
    if split is None:
        return _lines(words, page, 0)
    # Rows crossing the gutter (a title over both columns) cut the page into bands; within a band
    # the left column is read before the right one.
    out: list[Line] = []
    left: list[dict[str, Any]] = []
    right: list[dict[str, Any]] = []
    for row in _rows(words):
        gap = _gap(row, split)
        # A row crossing the gutter, or with words a word space apart across it (a centred page
        # number), spans the page.
        if any(w["x0"] < split < w["x1"] for w in row) or (gap is not None and gap < MIN_GUTTER):
            out += _lines(left, page, 1) + _lines(right, page, 2)
            left, right = [], []
            out += _lines(row, page, 0)
        else:
            left += [w for w in row if w["x1"] <= split]
            right += [w for w in row if w["x0"] >= split]
    return out + _lines(left, page, 1) + _lines(right, page, 2)


def _lines(words: list[dict[str, Any]], page: int, column: int) -> list[Line]:
    lines: list[list[dict[str, Any]]] = []
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(w["top"] - lines[-1][0]["top"]) <= 0.4 * max(w["size"], 1.0):
            lines[-1].append(w)
        else:
            lines.append([w])
    out = []
    for ws in lines:
        ws.sort(key=lambda w: w["x0"])
        sizes = Counter(round(float(w["size"]), 1) for w in ws)
        out.append(Line(
            text=" ".join(w["text"] for w in ws),
            size=sizes.most_common(1)[0][0],
            bold=all(_is_bold(str(w.get("fontname", ""))) for w in ws),
            top=min(w["top"] for w in ws), bottom=max(w["bottom"] for w in ws), page=page, column=column,
        ))
    return out


def _is_bold(fontname: str) -> bool:
    name = fontname.lower()
    return any(k in name for k in ("bold", "black", "heavy", "semibold", ",b"))


def body_size(lines: list[Line]) -> float:
    """The font size most of the text is set in (weighted by characters)."""
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def is_heading(line: Line, body: float, body_bold: bool) -> bool:
    """Does this line look like a heading: larger than the body, an article number, or a short bold line."""
    text = line.text.strip()
    if not text or len(text) > 140:
        return False
    if line.size >= body * 1.15:
        return True
    if ARTICLE.match(text) and len(text) <= 120:
        return True
    short_bold = line.bold and not body_bold and len(text) <= 110 and not text.endswith((".", ";", ","))
    return short_bold
