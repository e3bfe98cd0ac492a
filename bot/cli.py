"""The `sportello` command: every subcommand, with clear messages and exit codes.

It turns the project's errors into messages; nothing imports it.

argparse (standard library) is enough for a handful of subcommands and keeps `main(argv)` easy to
call in-process from the tests, which then load the model once instead of once per command.
"""

from __future__ import annotations

import faiss  # noqa: F401 - first, before anything imports torch (their OpenMP runtimes clash)

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
import typing
from typing import TYPE_CHECKING

import yaml

from bot.config import Settings
from bot.errors import EvalFileError, KnowledgeError, SportelloError

from bot.measures.card import card

if TYPE_CHECKING:
    from bot.search.retriever import Retriever, SearchResult

logger = logging.getLogger("bot")

EXIT_OK = 0
EXIT_ERROR = 1  # knowledge mistakes, missing or mismatched index, unavailable model, bad settings
EXIT_USAGE = 2  # argparse's own code for a wrong command line
TODAY_HELP = "the date measure status is computed for, YYYY-MM-DD (default: measures.today, else the clock)"


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (write YYYY-MM-DD)") from None


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
    except EvalFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} in the question sets; nothing was measured.",
              file=sys.stderr)
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

    check = command("validate", cmd_validate, "check the knowledge files and list every mistake as file:line "
                                              "(and warnings, which do not fail)")
    check.add_argument("--deep", action="store_true", help="also warn about near-duplicate FAQ questions and FAQ "
                                                           "entries no eval question reaches (loads the model)")
    check.add_argument("--today", type=_date, help=TODAY_HELP)
    command("build", cmd_build, "build the search index from the knowledge files (atomically)")
    ask = command("ask", cmd_ask, "answer one question from the index")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument("--json", action="store_true", help="print a machine-readable result")
    ask.add_argument("--mode", choices=["hybrid", "dense", "lexical"], help="retrieval mode (default: settings)")
    ask.add_argument("--today", type=_date, help=TODAY_HELP)
    chat = command("chat", cmd_chat, "ask questions in a loop, for staff to try the knowledge")
    chat.add_argument("--today", type=_date, help=TODAY_HELP)
    p = command("eval", cmd_eval, "measure answer quality on question sets (YAML: - {q: ..., expect: [regex]})")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="print a machine-readable report")
    p.add_argument("--compare", action="store_true",
                   help="run dense, lexical and hybrid side by side, with every embedding backend (the other "
                        "backends' indexes are built under INDEX/backends/ the first time)")
    p.add_argument("--mode", choices=["dense", "lexical", "hybrid"], help="retrieval mode (default: settings)")
    p.add_argument("--sweep", action="store_true", help="show how the answer threshold trades the two errors")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the confidence model and thresholds on these questions; print the settings")
    p.add_argument("--min-declined", type=float, default=0.9,
                   help="with --calibrate: share of out-of-scope questions to decline at least (default 0.9)")
    p.add_argument("--today", type=_date, help=TODAY_HELP + "; overrides the today: of the question files")
    imp = command("import", cmd_import, "import support measures (incentivi.gov.it JSON or a staff CSV) into "
                                        "knowledge/measures/, or official documents (PDF, .docx, HTML, Markdown) "
                                        "into knowledge/documents/")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--format", choices=["incentivi", "csv"], help="the files' format (default: detected)")
    run = command("run", cmd_run, "run the Telegram bot (long polling, or a webhook with --webhook)")
    run.add_argument("--webhook", action="store_true", help="receive updates on a webhook instead of polling")
    run.add_argument("--webhook-url", help="public HTTPS URL Telegram posts to (default: telegram.webhook_url)")
    run.add_argument("--listen", help="address the webhook server listens on (default: telegram.listen)")
    run.add_argument("--port", type=int, help="port of the webhook server (default: telegram.port)")
    report = command("report", cmd_report, "list the questions the bot could not answer, most frequent first; "
                                           "with -o/--csv also write the HTML report (charts, groups by meaning)")
    report.add_argument("--limit", type=int, default=50, help="how many questions to list (default 50)")
    report.add_argument("-o", "--output", type=Path, help="write the HTML report to this file (e.g. report.html)")
    report.add_argument("--csv", type=Path, metavar="DIR", help="write groups.csv and daily.csv into DIR")
    report.add_argument("--since", type=_date, help="only questions asked on or after this day, YYYY-MM-DD")
    suggest = command("suggest", cmd_suggest, "write draft FAQ entries (draft: true) for the largest groups of "
                                              "unanswered or 👎 questions into knowledge/faq/bozze.yaml")
    suggest.add_argument("--since", type=_date, help="only questions asked on or after this day, YYYY-MM-DD")
    suggest.add_argument("--min-count", type=int, help="only groups asked at least this often "
                                                       "(default: report.suggest_min_count)")
    suggest.add_argument("--limit", type=int, default=10, help="at most this many drafts (default 10)")
    command("diff", cmd_diff, "what `sportello build` would change in the index: entries added, removed, changed")
    return parser


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
    from bot.knowledge.load import load_knowledge

    knowledge = load_knowledge(settings.paths.knowledge)
    # Warnings never fail validation: they are what staff should look at (drafts, imports to review,
    # measures long closed or not updated; with --deep near-duplicates and FAQ entries no eval reaches).
    from bot.report import checks

    today = args.today or settings.today()
    warnings = knowledge.warnings + checks.measure_warnings(
        knowledge, today, settings.report.closed_days, settings.report.stale_months)
    if args.deep:
        from bot import evaluation

        retriever = _retriever(settings)
        warnings += checks.duplicate_warnings(knowledge, retriever.embedder, checks.duplicate_threshold_for(
            settings.embedding.backend, settings.report.duplicate_similarity))
        eval_files = sorted((settings.paths.knowledge / "eval").glob("*.yaml"))
        # Only questions the bot should answer: an out-of-scope one "reaching" an entry says nothing.
        questions = [(i.question, i.today or today) for i in evaluation.load_items(eval_files) if i.in_scope] \
            if eval_files else []
        warnings += checks.unreached_warnings(knowledge, retriever, questions)
    for warning in sorted(warnings, key=lambda p: (str(p.path), p.line)):
        print(warning)
    print(
        f"OK: {len(knowledge.files)} files, {len(knowledge.documents)} documents "
        f"({sum(len(d.sections) for d in knowledge.documents)} sections), {len(knowledge.faqs)} FAQ entries, "
        f"{len(knowledge.areas)} areas, {len(knowledge.synonyms)} synonym groups"
        + (f"; {len(warnings)} warning{'s' if len(warnings) != 1 else ''}." if warnings else ".")
        # Those two need the model and a built index, so they are asked for: say they exist.
        + ("" if args.deep else " `sportello validate --deep` also looks for near-duplicate FAQ questions and "
                                "FAQ entries no eval question reaches (it loads the model and the index).")
    )
    return EXIT_OK


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    """Build the index and switch it in."""
    from bot.search import index as search_index
    from bot.search.embedding import Embedder
    from bot.search.service import build_index

    folder = build_index(settings, Embedder(settings.embedding), progress=sys.stderr.isatty())
    meta = search_index.read_meta(settings.paths.index)
    counts = meta["counts"]
    print(
        f"Index built: {counts['faq']} FAQ entries, {counts['document_passages']} document passages, "
        f"{counts['measures']} measures ({counts['measure_passages']} passages), "
        f"{counts['vectors']} vectors of dimension {meta['model']['dimension']} ({meta['model']['name']})."
    )
    found = meta.get("thesaurus")
    if found and found.get("found"):
        print(f"Thesaurus: {found['words']} everyday words with synonyms in the knowledge, from {found['source']}.")
    elif found:
        print(f"No thesaurus at {found['source']} (Debian: apt-get install mythes-it, then build again): "
              "questions are widened with knowledge/synonyms.yaml only.")
    fitted = meta.get("calibration")
    if fitted:
        errors = fitted["errors"]
        print(f"Calibration fitted on {fitted['questions']} tuning questions ({', '.join(fitted['fitted_on'])}): "
              f"answer threshold {fitted['answer_threshold']}, in-scope declined {errors['in_scope_declined']:.3f}, "
              f"out-of-scope answered {errors['out_of_scope_answered']:.3f}, dense floor {fitted.get('dense_floor', 0.0)}.")
        if meta.get("scope"):
            print(f"Scope signal: {meta['scope']['examples']} judged examples "
                  f"({meta['scope']['in_scope']} in scope), weight {fitted['calibration'].get('scope', 0.0)}.")
    else:
        print("No tuning sets with both kinds of question: the calibration in the settings applies.")
    print(f"In use: {folder}")
    return EXIT_OK


def _retriever(settings: Settings) -> Retriever:
    """The retriever for these settings, building the index first if there is none yet."""
    from bot.search.service import open_retriever

    retriever, warnings = open_retriever(
        settings, build_if_missing=True, progress=sys.stderr.isatty(),
        before_build=lambda: print("No index yet: building it from the knowledge files…", file=sys.stderr),
    )
    for warning in warnings:
        print(f"sportello: warning: {warning}", file=sys.stderr)
    return retriever


def _other_backends(settings: Settings) -> list[Settings]:
    """Settings for each embedding backend other than the configured one, with their default model
    and an index of their own under INDEX/backends/<backend> (a stale one is rebuilt)."""
    from bot.config import EmbeddingSettings
    from bot.errors import IndexMismatch, IndexMissing
    from bot.search import index as search_index
    from bot.search.embedding import Embedder
    from bot.search.service import build_index

    out = []
    for backend in typing.get_args(EmbeddingSettings.model_fields["backend"].annotation):
        if backend == settings.embedding.backend:
            continue
        other = settings.model_copy(update={
            "embedding": EmbeddingSettings(backend=backend, batch_size=settings.embedding.batch_size),
            "paths": settings.paths.model_copy(update={"index": settings.paths.index / "backends" / backend}),
        })
        try:
            search_index.check(search_index.read_meta(other.paths.index), other, None)
        except (IndexMissing, IndexMismatch):
            print(f"Building the {backend} index for the comparison…", file=sys.stderr)
            build_index(other, Embedder(other.embedding), progress=sys.stderr.isatty())
        out.append(other)
    return out


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Answer one question."""
    retriever = _retriever(settings)
    result = retriever.search(args.question, mode=args.mode, today=args.today)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_result(result, settings.messages.contact))
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Ask questions in a loop until an empty line or end of input."""
    retriever = _retriever(settings)
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
        print(format_result(retriever.search(question, today=args.today), settings.messages.contact))
        print()
    return EXIT_OK


def format_result(result: SearchResult, contact: str) -> str:
    """A result as plain text for the terminal, in Italian like the bot."""
    lines: list[str] = []
    if result.answered:
        best, *others = result.answers
        # A measure's card carries its own source line (with the date of the data).
        lines += [best.text] + ([] if best.measure else [f"Fonte: {best.source}"]) + [f"Punteggio: {best.score:.2f}"]
        if others:
            lines += ["", "Altre risposte:"]
            for n, hit in enumerate(others, start=2):
                if hit.measure is not None:
                    lines += [f"{n}. {hit.measure.title} — {card(hit.measure, hit.today).status_line}"]
                else:
                    lines += [f"{n}. {_short(hit.text)}", f"   Fonte: {hit.source} — punteggio {hit.score:.2f}"]
    elif result.signals.get("listing"):
        days = int(result.signals.get("closing_within_days", 0))
        lines.append(f"Tra le misure che conosco nessuna a cui si possa ancora fare domanda chiude nei prossimi "
                     f"{days} giorni.")
        lines.append(contact)
    else:
        lines.append(f"Non ho una risposta affidabile a questa domanda (confidenza {result.confidence:.2f}).")
        if result.suggestions:
            lines += ["Forse cercavi:"] + [f"- {h.passage.question}" for h in result.suggestions]
        lines.append(contact)
    return "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Measure answer quality, or fit the confidence model with --calibrate."""
    from bot import evaluation

    items = evaluation.load_items(args.files)
    retriever = _retriever(settings)
    if args.calibrate:
        fitted = evaluation.calibrate(retriever, items, args.min_declined)
        errors = fitted.pop("errors")
        print("# Fitted on", ", ".join(map(str, args.files)), f"with model {settings.embedding.model}:")
        print(f"# on these questions: in-scope declined {errors['in_scope_declined']:.3f}, "
              f"out-of-scope answered {errors['out_of_scope_answered']:.3f}")
        print("# Put this in sportello.yaml, then check on a held-back set with `sportello eval`.")
        print(yaml.safe_dump({"retrieval": fitted}, sort_keys=False).rstrip())
        return EXIT_OK
    modes = list(evaluation.MODES) if args.compare else [args.mode or settings.retrieval.mode]
    reports = [evaluation.evaluate(retriever, items, mode, today=args.today) for mode in modes]
    if args.compare:
        for backend in _other_backends(settings):
            other = _retriever(backend)
            reports += [evaluation.evaluate(other, items, mode, today=args.today) for mode in modes]
    if args.json:
        out = {"files": [str(f) for f in args.files], "model": settings.embedding.model,
               "reports": [r.to_json() for r in reports]}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"Model: {settings.embedding.model} — {len(items)} questions from {', '.join(map(str, args.files))}")
    if not args.compare:
        print(evaluation.per_question_text(reports[0]))
    print(evaluation.table_text(reports))
    if args.sweep:
        print(evaluation.sweep_text(reports[-1]))
    return EXIT_OK


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import measures; report added / changed / unchanged / kept hand edits and every bad record."""
    from bot.documents.importer import import_documents, is_document
    from bot.measures.importer import import_files

    # The file type decides: documents go to bot/documents, everything else is a measures file.
    documents = [f for f in args.files if args.format is None and is_document(f)]
    measures = [f for f in args.files if f not in documents]
    ok = True
    if documents:
        doc_report = import_documents(documents, settings.paths.knowledge, today=settings.today())
        print(doc_report)
        ok = doc_report.ok
    if measures:
        report = import_files(measures, settings.paths.knowledge, fmt=args.format, today=settings.today())
        print(report)
        ok = ok and report.ok
    return EXIT_OK if ok else EXIT_ERROR


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Telegram bot until interrupted."""
    from bot.telegram.app import run_bot

    # A service's log should say when it is ready and when the index is reloaded, without -v.
    logging.getLogger("bot").setLevel(min(logging.getLogger("bot").getEffectiveLevel(), logging.INFO))
    tg = settings.telegram
    if args.webhook:
        tg.webhook_url = args.webhook_url or tg.webhook_url
        tg.listen = args.listen or tg.listen
        tg.port = args.port or tg.port
    run_bot(settings, webhook=args.webhook)
    return EXIT_OK


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Print the unanswered questions with how often they were asked."""
    from bot.storage import Storage

    storage = Storage.from_settings(settings)
    try:
        rows = storage.unanswered(args.limit)
        stats = storage.stats()
    finally:
        storage.close()
    print(f"{stats.total} questions, {stats.answered} answered ({stats.answered_rate:.0%}), "
          f"feedback 👍 {stats.up} 👎 {stats.down}.")
    if rows:
        print("Unanswered, most frequent first:")
        for question, count in rows:
            print(f"{count:5d}  {question}")
    if args.output or args.csv:
        _write_report(args, settings)
    return EXIT_OK


def _write_report(args: argparse.Namespace, settings: Settings) -> None:
    """The HTML report (and CSV): figures, charts, and questions grouped with the index's embeddings."""
    from zoneinfo import ZoneInfo

    from bot.knowledge.load import load_knowledge
    from bot.report.build import write_report
    from bot.report.groups import threshold_for
    from bot.search.embedding import Embedder
    from bot.storage import Storage

    knowledge = load_knowledge(settings.paths.knowledge)
    storage = Storage.from_settings(settings)
    try:
        report = write_report(
            storage, knowledge, Embedder(settings.embedding), args.output or Path("report.html"),
            today=settings.today(), now=dt.datetime.now(ZoneInfo(settings.alerts.timezone)), since=args.since,
            csv_dir=args.csv, timezone=settings.alerts.timezone, closing_days=settings.measures.closing_days,
            similarity=threshold_for(settings.embedding.backend, settings.report.group_similarity),
        )
    finally:
        storage.close()
    print(f"Report: {report.html} ({report.figures.total} questions, {len(report.groups)} groups of unanswered "
          f"or 👎 questions)" + "".join(f"; {p}" for p in report.csv))


def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    """Write draft FAQ entries for the largest groups of unanswered or 👎 questions."""
    from zoneinfo import ZoneInfo

    from bot.knowledge.load import load_knowledge
    from bot.report.groups import group_questions, threshold_for, to_group
    from bot.report.suggest import draft_entries, write_drafts
    from bot.search.embedding import Embedder
    from bot.storage import Storage

    knowledge = load_knowledge(settings.paths.knowledge)
    storage = Storage.from_settings(settings)
    zone = ZoneInfo(settings.alerts.timezone)
    try:
        since = dt.datetime.combine(args.since, dt.time(), zone).timestamp() if args.since else None
        rows = to_group(storage.questions_since(since))
    finally:
        storage.close()
    groups = group_questions(rows, knowledge, Embedder(settings.embedding),
                             threshold_for(settings.embedding.backend, settings.report.group_similarity))
    entries = draft_entries(groups, knowledge, args.min_count or settings.report.suggest_min_count, args.limit)
    if not entries:
        print(f"No group of unanswered or 👎 questions is large enough for a draft ({len(groups)} groups).")
        return EXIT_OK
    target = write_drafts(settings.paths.knowledge, entries, settings.today())
    for entry in entries:
        print(f"draft {entry['id']}: «{entry['question']}» (source {entry['source']}, area {entry['area']})")
    print(f"{len(entries)} draft FAQ entr{'ies' if len(entries) != 1 else 'y'} added to {target}: write their "
          "answers, remove 'draft: true', then `sportello validate` and `sportello build`.")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    """Print what a rebuild would add, remove or change in the index, and a thesaurus file changed since."""
    from bot.knowledge.load import load_knowledge
    from bot.report.diff import index_diff
    from bot.search.index import read_meta, thesaurus_drift

    knowledge = load_knowledge(settings.paths.knowledge)
    diff = index_diff(settings.paths.index, knowledge, settings.retrieval.chunk_chars)
    print(diff)
    drift = thesaurus_drift(read_meta(settings.paths.index), settings) if diff.indexed else None
    if drift:
        print(f"Thesaurus: {drift}.")
    if knowledge.drafts:
        print(f"Drafts left out of the index: {', '.join(e.id for e in knowledge.drafts)}.")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
