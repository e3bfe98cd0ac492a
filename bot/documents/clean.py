"""Text clean-up shared by the readers: ligatures, hyphenation at line ends, running headers/footers."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Typographic ligatures and look-alikes PDF writers emit; NFKC alone would also fold "²" and "½".
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
              "\ufb06": "st", "\u00ad": "", "\u00a0": " ", "\u2009": " ", "\u202f": " "}
_SPACES = re.compile(r"[ \t]+")
# A word broken at a line end: "inter-" + "nazionale". Only before a lower-case letter, so
# "Regione-Unioncamere" or "2024-" stay as written.
_HYPHEN_END = re.compile(r"(\w)-$")


def clean_chars(text: str) -> str:
    """Replace ligatures, soft hyphens and odd spaces; collapse runs of spaces."""
    for bad, good in _LIGATURES.items():
        text = text.replace(bad, good)
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip()


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one line, re-joining words hyphenated at a line end."""
    out = ""
    for line in (clean_chars(x) for x in lines):
        if not line:
            continue
        if out and _HYPHEN_END.search(out) and line[:1].islower():
            out = out[:-1] + line
        else:
            out = f"{out} {line}" if out else line
    return out


def page_furniture_key(line: str) -> str:
    """A line with its numbers blanked: 'Pagina 3 di 9' and 'Pagina 4 di 9' are the same footer."""
    return re.sub(r"\d+", "#", clean_chars(line).lower())


def repeated_lines(pages: list[list[str]], share: float = 0.5) -> set[str]:
    """Keys of lines found on at least `share` of the pages (at least 3): running headers and footers."""
    if len(pages) < 3:
        # With two pages a repeated line may be a real heading; only page numbers are safe to drop.
        return {k for page in pages for line in page if re.fullmatch(r"[#\s/\-–]*", k := page_furniture_key(line))
                and "#" in k}
    seen = Counter(k for page in pages for k in {page_furniture_key(line) for line in page})
    return {k for k, n in seen.items() if k and n >= max(3, share * len(pages))}
