"""Synthetic knowledge at any size, in realistic Italian, for the scale benchmarks.

The text comes from a word-bigram model trained on the real sources: the incentivi.gov.it records
(/work/shared/data/incentivi-gov-it/records.json, or --records) and every text of knowledge/
(the press release, FAQ answers, measures). Generated sentences therefore use the vocabulary and
phrasing of public-support texts ("contributo a fondo perduto per le PMI ...") without copying them.
The output is a valid knowledge folder: the real areas, synonyms and eval sets, plus generated
documents (one passage per section) and FAQ entries whose sources name generated sections.

    python bench/synthetic.py OUT --sections 8000 --faq 2000     # 10k passages
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import shutil
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
RECORDS = Path("/work/shared/data/incentivi-gov-it/records.json")
SECTIONS_PER_DOCUMENT = 25
FAQ_PER_FILE = 250


def source_sentences(records: Path = RECORDS, knowledge: Path = REPO / "knowledge") -> list[list[str]]:
    """The real sentences to learn from, as word lists."""
    texts: list[str] = []
    if records.is_file():
        for doc in json.loads(records.read_text(encoding="utf-8"))["docs"]:
            for key, value in doc.items():
                if key.startswith(("zs_", "tum_")) and not key.endswith(("_url", "_link", "_date")):
                    texts.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    for path in sorted(knowledge.rglob("*.yaml")):
        if "eval" not in path.parts:
            texts.extend(_strings(yaml.safe_load(path.read_text(encoding="utf-8"))))
    sentences = []
    for text in texts:
        plain = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()
        for s in re.split(r"(?<=[.;!?])\s+", plain):
            words = s.split()
            if 5 <= len(words) <= 60 and not any(w.startswith("http") for w in words):
                sentences.append(words)
    return sentences


def _strings(data: object) -> list[str]:
    if isinstance(data, str):
        return [data] if len(data) > 40 else []
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


class Bigrams:
    """A word-bigram model: sentences that read like the sources, word by word."""

    def __init__(self, sentences: list[list[str]], rng: random.Random):
        self.rng = rng
        self.next: dict[str, list[str]] = defaultdict(list)
        self.starts = [s[0] for s in sentences if s[0][:1].isupper()]
        for words in sentences:
            for a, b in zip(["<s>", *words], [*words, "</s>"]):
                self.next[a].append(b)

    def sentence(self, low: int = 10, high: int = 35) -> str:
        words = [self.rng.choice(self.starts)]
        for _ in range(4 * high):  # bounded: some words are only ever followed by the sentence's end
            following = self.next.get(words[-1])
            if not following or len(words) >= high:
                break
            word = self.rng.choice(following)
            if word == "</s>":
                if len(words) >= low:
                    break
                continue
            words.append(word)
        text = " ".join(words).rstrip(",;:")
        return text if text.endswith((".", "?", "!")) else text + "."

    def passage(self, max_chars: int = 650) -> str:
        text = self.sentence()
        while len(text) < 250:
            more = self.sentence()
            if len(text) + 1 + len(more) > max_chars:
                break
            text += " " + more
        return text[:max_chars]

    def phrase(self, low: int = 4, high: int = 9) -> str:
        return self.sentence(low, high).rstrip(".!?")


def generate(out: Path, sections: int, faq: int, seed: int = 12) -> None:
    """Write a knowledge folder with `sections` document passages and `faq` FAQ entries."""
    rng = random.Random(seed)
    model = Bigrams(source_sentences(), rng)
    real = REPO / "knowledge"
    if out.exists():
        shutil.rmtree(out)
    (out / "documents").mkdir(parents=True)
    (out / "faq").mkdir()
    for name in ("areas.yaml", "synonyms.yaml"):
        shutil.copy(real / name, out / name)
    shutil.copytree(real / "eval", out / "eval")  # the tuning sets: `sportello build` fits on them
    areas = [a["id"] for a in yaml.safe_load((real / "areas.yaml").read_text(encoding="utf-8"))["areas"]]
    refs: list[str] = []
    for d in range(max(1, -(-sections // SECTIONS_PER_DOCUMENT))):
        count = min(SECTIONS_PER_DOCUMENT, sections - d * SECTIONS_PER_DOCUMENT)
        if count <= 0:
            break
        doc_id = f"sintetico-{d:05d}"
        document = {
            "id": doc_id, "title": model.phrase(), "source": "Testo sintetico per i benchmark (bench/synthetic.py)",
            "language": "it", "areas": [rng.choice(areas)],
            "sections": [{"id": f"s{i}", "heading": model.phrase(), "text": model.passage()} for i in range(count)],
        }
        refs.extend(f"{doc_id}#s{i}" for i in range(count))
        _dump(out / "documents" / f"{doc_id}.yaml", document)
    if not refs:  # FAQ entries need a section to cite
        _dump(out / "documents" / "sintetico-00000.yaml", {
            "id": "sintetico-00000", "title": model.phrase(), "source": "Testo sintetico", "language": "it",
            "areas": [areas[0]], "sections": [{"id": "s0", "heading": model.phrase(), "text": model.passage()}]})
        refs.append("sintetico-00000#s0")
    for f in range(-(-faq // FAQ_PER_FILE)):
        entries = []
        for i in range(f * FAQ_PER_FILE, min(faq, (f + 1) * FAQ_PER_FILE)):
            entries.append({
                "id": f"faq-sintetica-{i:06d}", "question": model.phrase(6, 14) + "?",
                "phrasings": [model.phrase(3, 8) for _ in range(2)], "answer": model.passage(500),
                "area": rng.choice(areas), "source": rng.choice(refs),
            })
        _dump(out / "faq" / f"sintetiche-{f:04d}.yaml", {"entries": entries})


def _dump(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sections", type=int, default=800)
    parser.add_argument("--faq", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    generate(args.out, args.sections, args.faq, args.seed)
    print(f"wrote {args.out}: {args.sections} document passages, {args.faq} FAQ entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
