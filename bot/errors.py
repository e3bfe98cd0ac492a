"""The project's exceptions. The core raises these; only the edges (CLI, bot) turn them into messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class SportelloError(Exception):
    """Base class for every error Sportello reports to a person instead of a traceback."""


@dataclass(frozen=True)
class Problem:
    """One mistake in one file, at one line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ProblemsError(SportelloError):
    """Files with one or more mistakes; all of them are listed, each with its file and line."""

    what = "the files"

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (str(p.path), p.line, p.message))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {self.what}"
        super().__init__(head + ":\n" + "\n".join(str(p) for p in self.problems))


class KnowledgeError(ProblemsError):
    """The knowledge files have mistakes: nothing is built from them."""

    what = "the knowledge files"


class EvalFileError(ProblemsError):
    """A question set for `sportello eval` has mistakes."""

    what = "the question sets"


class ImportFailed(SportelloError):
    """An import could not read its input at all (not a bad record: those are reported one by one)."""


class ConfigError(SportelloError):
    """The settings file or an environment override is wrong."""


class ModelUnavailable(SportelloError):
    """The embedding model cannot be loaded offline, or its weights are not the expected ones."""


class IndexMissing(SportelloError):
    """There is no built index where the settings say."""


class IndexMismatch(SportelloError):
    """The built index does not match the current knowledge, model or format."""


class IndexBusy(SportelloError):
    """Another build holds the index lock."""
