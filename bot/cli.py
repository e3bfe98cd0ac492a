"""The `sportello` command. Turns the project's errors into clear messages and exit codes.

argparse (standard library) is enough for a handful of subcommands and keeps `main(argv)` easy to
call in-process from the tests, which then load the model once instead of once per command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import index as search_index  # first: imports faiss before anything imports torch
from bot.config import Settings
from bot.errors import IndexMissing, KnowledgeError, SportelloError

logger = logging.getLogger("bot")

EXIT_OK = 0
EXIT_ERROR = 1  # knowledge mistakes, missing or mismatched index, unavailable model, bad settings
EXIT_USAGE = 2  # argparse's own code for a wrong command line


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    """Run one `sportello` command; return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        settings = Settings.load(args.config, environ if environ is not None else dict(os.environ))
        return args.func(args, settings)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was built.", file=sys.stderr)
        return EXIT_ERROR
    except SportelloError as exc:
        print(f"sportello: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    def options(for_command: bool) -> argparse.ArgumentParser:
        # The options are accepted before and after the command. The command's copy sets no
        # defaults: argparse would let them overwrite the value given in `sportello --config FILE ask`.
        unset = argparse.SUPPRESS if for_command else None
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--config", type=Path, default=unset,
                            help="settings file (default: ./sportello.yaml if present)")
        common.add_argument("-v", "--verbose", action="store_true", default=unset if for_command else False,
                            help="log what happens")
        return common

    parser = argparse.ArgumentParser(prog="sportello", description=__doc__.splitlines()[0], parents=[options(False)])
    common = options(True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace, Settings], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(func=func)
        return p

    command("validate", cmd_validate, "check the knowledge files and list every mistake as file:line")
    command("build", cmd_build, "build the search index from the knowledge files (atomically)")
    ask = command("ask", cmd_ask, "answer one question from the index")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print a machine-readable result")
    ask.add_argument("--mode", choices=["hybrid", "dense", "lexical"], help="retrieval mode (default: settings)")
    command("chat", cmd_chat, "ask questions in a loop, for staff to try the knowledge")
    _add_more_commands(command)
    return parser


def _add_more_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Commands that live in their own modules (evaluation, the Telegram bot)."""
    from bot import evaluation  # light: heavy imports happen inside the command

    evaluation.add_command(command)
    try:
        from bot import app
    except ImportError:  # pragma: no cover - the bot module is always shipped
        return
    app.add_command(command)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Third-party chatter (HTTP requests carry the bot token in their URL) stays quiet.
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "huggingface_hub", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- commands -------------------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    """Check the knowledge files."""
    from bot.knowledge import load_knowledge

    knowledge = load_knowledge(settings.paths.knowledge)
    print(
        f"OK: {len(knowledge.files)} files, {len(knowledge.documents)} documents "
        f"({sum(len(d.sections) for d in knowledge.documents)} sections), {len(knowledge.faqs)} FAQ entries, "
        f"{len(knowledge.areas)} areas, {len(knowledge.synonyms)} synonym groups."
    )
    return EXIT_OK


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    """Build the index and switch it in."""
    from bot.embedding import Embedder

    folder = search_index.build(settings, Embedder(settings.embedding), progress=sys.stderr.isatty())
    meta = search_index.read_meta(settings.paths.index)
    counts = meta["counts"]
    print(
        f"Index built: {counts['faq']} FAQ entries, {counts['document_passages']} document passages, "
        f"{counts['vectors']} vectors of dimension {meta['model']['dimension']} ({meta['model']['name']}).\n"
        f"In use: {folder}"
    )
    return EXIT_OK


def open_retriever(settings: Settings, build_if_missing: bool = True):  # noqa: ANN201 - Retriever
    """Load the retriever, building the index first if there is none yet."""
    from bot.embedding import Embedder
    from bot.retrieval import Retriever

    embedder = Embedder(settings.embedding)
    try:
        retriever = Retriever.open(settings, embedder)
    except IndexMissing:
        if not build_if_missing:
            raise
        print("No index yet: building it from the knowledge files…", file=sys.stderr)
        search_index.build(settings, embedder, progress=sys.stderr.isatty())
        retriever = Retriever.open(settings, embedder)
    if retriever.index.warning:
        print(f"sportello: warning: {retriever.index.warning}", file=sys.stderr)
    return retriever


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Answer one question."""
    retriever = open_retriever(settings)
    result = retriever.search(args.question, mode=args.mode)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_result(result, settings.messages.contact))
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Ask questions in a loop until an empty line or end of input."""
    retriever = open_retriever(settings)
    interactive = sys.stdin.isatty()
    if interactive:
        print("Sportello — scrivi una domanda (riga vuota o Ctrl-D per uscire).")
    while True:
        try:
            question = input("> " if interactive else "")
        except EOFError:
            break
        if not question.strip():
            break
        print(format_result(retriever.search(question), settings.messages.contact))
        print()
    return EXIT_OK


def format_result(result, contact: str) -> str:  # noqa: ANN001 - SearchResult
    """A result as plain text for the terminal, in Italian like the bot."""
    lines: list[str] = []
    if result.answered:
        best, *others = result.answers
        lines += [best.text, f"Fonte: {best.source}", f"Punteggio: {best.score:.2f}"]
        if others:
            lines += ["", "Altre risposte:"]
            for n, hit in enumerate(others, start=2):
                lines += [f"{n}. {_short(hit.text)}", f"   Fonte: {hit.source} — punteggio {hit.score:.2f}"]
    else:
        lines.append(f"Non ho una risposta affidabile a questa domanda (confidenza {result.confidence:.2f}).")
        if result.suggestions:
            lines += ["Forse cercavi:"] + [f"- {h.passage.question}" for h in result.suggestions]
        lines.append(contact)
    return "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
