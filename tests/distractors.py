"""A large set of real, unrelated Italian text, to test that answers stay right as the knowledge grows.

The source is Debian's `fortunes-it` package (a collection of Italian quotations, sayings and jokes):
real Italian prose about anything but public support for businesses, installed offline by `.ci/run`.
Each quotation becomes a FAQ entry, so the distractors compete with the shipped knowledge on its own
terms (question, answer, embedding and BM25).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import yaml

FORTUNES = Path("/usr/share/games/fortunes/it")
INSTALL = "apt-get install fortunes-it (Debian): .ci/run does it"


def quotations(limit: int) -> list[str]:
    """Up to `limit` distinct quotations of 60-600 characters, in a fixed order."""
    files = sorted(FORTUNES.glob("*.u8"))
    if not files:
        raise RuntimeError(f"no Italian fortunes in {FORTUNES}: {INSTALL}")
    seen: set[str] = set()
    out: list[str] = []
    for path in files:
        for raw in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            text = " ".join(line.strip() for line in raw.splitlines() if not line.strip().startswith("--"))
            text = re.sub(r"\s+", " ", text).strip()
            # A few fortunes carry terminal control characters (a bell), which knowledge files refuse.
            invisible = any(unicodedata.category(c) in ("Cc", "Cf") for c in text)
            if 60 <= len(text) <= 600 and text not in seen and re.search(r"[a-zà-ù]{3}", text) and not invisible:
                seen.add(text)
                out.append(text)
    return out[:limit]


def grown_knowledge(shipped: Path, target: Path, count: int) -> Path:
    """A copy of the shipped knowledge with `count` distractor FAQ entries added."""
    shutil.copytree(shipped, target)
    areas = yaml.safe_load((shipped / "areas.yaml").read_text(encoding="utf-8"))["areas"]
    section = _first_section(shipped)
    entries = []
    for n, text in enumerate(quotations(count)):
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        entries.append({"id": f"distrattore-{n:05d}", "question": first[:200], "answer": text,
                         "area": areas[n % len(areas)]["id"], "source": section})
    (target / "faq" / "distractors.yaml").write_text(
        yaml.safe_dump({"entries": entries}, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")
    return target


def _first_section(knowledge: Path) -> str:
    for path in sorted((knowledge / "documents").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return f"{doc['id']}#{doc['sections'][0]['id']}"
    raise RuntimeError("no YAML document in the shipped knowledge")
