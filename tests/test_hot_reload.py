"""Hot reload under load (issue 13, part 4), end to end: the real Application against the fake Bot
API, the real model and FAISS, `sportello build` in its own process.

The knowledge comes in two editions whose every FAQ answer, FAQ question and document title carries
the edition's name ("alfa", "beta"), so each reply says which index it came from, and a reply built
from both would show both names. Promises checked:

- a rebuild in another process, then `/reload`, while hundreds of questions are in flight: every
  question gets exactly one reply, each the right answer from one edition, none from both; questions
  asked after the switch get the new one; the alerts job announces the new edition's measure once;
- a damaged or mismatched new index is refused by `/reload` (the admin is told which file and what to
  run), the old one keeps serving, and the bot will not start on it either;
- a build SIGKILLed mid-embedding leaves the index in use untouched (the bot, started on it, keeps
  serving it; /reload refuses) and the next build succeeds, clearing what a build killed while
  writing its folder leaves behind.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from bot.cli import main
from bot.config import Settings
from bot.errors import IndexMismatch
from bot.search import embed_cache
from bot.search import index as search_index
from bot.search import integrity
from bot.search.embedding import Embedder
from bot.search.retriever import Retriever
from bot.search.service import build_index
from bot.storage import Storage
from bot.telegram.app import load_retriever
from bot.telegram.outreach_texts import IT as OT
from bot.telegram.services import services
from bot.telegram.texts import IT
from bot_harness import ADMIN, PSEUDONYM_KEY, TODAY, TOKEN, RunningBot, bot_settings
from conftest import KNOWLEDGE, REPO, make_settings
from fake_bot_api import FakeBotApi, Sent

DOCUMENT = "protocollo-regione-toscana-unioncamere.yaml"
FAQ_FILES = (("protocollo.yaml", 12), ("internazionalizzazione.yaml", 6))  # (file, entries taken)
EDITION = re.compile(r"\b(alfa|beta)\b")
FAILED = IT.reload_failed.split(":")[0]  # "Non ho ricaricato l'indice, resta in uso quello di prima"
NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("Europe/Rome")).timestamp()  # outside quiet hours
FAST = {  # rate limits raised so hundreds of replies take seconds (the defaults keep to Telegram's)
    "SPORTELLO_TELEGRAM__MESSAGES_PER_SECOND": "5000",
    "SPORTELLO_ALERTS__MESSAGES_PER_SECOND": "5000",
    "SPORTELLO_ALERTS__CHECK_EVERY": "0.2",
}
MEASURE_ID = "9101-voucher-edizione-beta"
SUBSCRIBERS = range(500, 505)
IN_FLIGHT = 200  # questions sent at once just before /reload
USERS = iter(range(10_000, 1_000_000))  # one user per question: the per-user limit is not under test


# --- the two editions -----------------------------------------------------------------------------

def write_edition(knowledge: Path, edition: str, measure: bool = False, filler: int = 0) -> dict[str, str]:
    """Write one edition of the knowledge; return its FAQ answers by question (as users ask it)."""
    (knowledge / "faq").mkdir(parents=True, exist_ok=True)
    (knowledge / "documents").mkdir(exist_ok=True)
    shutil.copy(KNOWLEDGE / "areas.yaml", knowledge / "areas.yaml")
    document = yaml.safe_load((KNOWLEDGE / "documents" / DOCUMENT).read_text(encoding="utf-8"))
    document["title"] += f" (edizione {edition})"
    _dump(knowledge / "documents" / DOCUMENT, document)
    entries, answers = [], {}
    for name, count in FAQ_FILES:
        for entry in yaml.safe_load((KNOWLEDGE / "faq" / name).read_text(encoding="utf-8"))["entries"][:count]:
            answer = f"{entry['answer'].strip()} Edizione {edition}."
            answers[entry["question"]] = answer
            # One phrasing each: fewer vectors, a quicker build; users here ask the question itself.
            entries.append({**entry, "question": f"{entry['question']} ({edition})", "answer": answer,
                            "phrasings": entry["phrasings"][:1]})
    for n in range(filler):  # distinct texts that only make the embedding take longer
        entries.append({"id": f"riempitivo-{n}", "question": f"Domanda di riempimento numero {n} ({edition})?",
                        "phrasings": [f"variante {n} della domanda di riempimento"],
                        "answer": f"Risposta di riempimento {n}, scritta per la prova. Edizione {edition}.",
                        "area": "protocollo", "source": "protocollo-rt-unioncamere#firma"})
    _dump(knowledge / "faq" / "edizione.yaml", {"entries": entries})
    measures = knowledge / "measures"
    shutil.rmtree(measures, ignore_errors=True)
    if measure:
        measures.mkdir()
        (measures / f"{MEASURE_ID}.yaml").write_text(
            f"id: {MEASURE_ID}\n"
            "title: Voucher per l'innovazione delle imprese toscane\n"
            "summary: Contributi a fondo perduto per servizi di innovazione delle micro e piccole imprese.\n"
            "issuer: Regione Toscana\nopen_date: 2026-11-20\nclose_date: 2027-06-30\nregions: [Toscana]\n"
            "sizes: [micro, piccola]\nareas: [innovazione]\nurl: https://www.regione.toscana.it/bandi\n"
            "provenance:\n  source: Regione Toscana\n  captured: 2026-11-20\n", encoding="utf-8")
    return answers


def _dump(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8")


def answered_by(retriever: Retriever, answers: dict[str, str]) -> list[str]:
    """The questions this index answers with their own FAQ entry (the ones a reply can be checked on)."""
    found = []
    for question, answer in answers.items():
        result = retriever.search(question)
        if result.answered and result.answers[0].text.strip() == answer:
            found.append(question)
    return found


def editions(sent: Sent) -> set[str]:
    """The editions a reply shows, in its text and its buttons."""
    return set(EDITION.findall(sent.text + " " + " ".join(text for text, _ in sent.buttons())))


# --- running things -------------------------------------------------------------------------------

def python(settings: Settings, *args: str) -> subprocess.Popen:
    """`python ARGS` in its own process, with the environment of a `sportello` command on this test's
    knowledge and index (output: one text stream)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPORTELLO_", "TELEGRAM_"))}
    env.update(SPORTELLO_PATHS__KNOWLEDGE=str(settings.paths.knowledge), SPORTELLO_PATHS__INDEX=str(settings.paths.index),
               SPORTELLO_PATHS__DATABASE=str(settings.paths.index.parent / "build.db"), SPORTELLO_MEASURES__TODAY=TODAY,
               OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, *args], env=env, cwd=settings.paths.index.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def snapshot(root: Path) -> dict[str, object]:
    """Every file and link under an index folder (but the embedding cache and the lock), with its bytes."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if name.startswith(("cache", ".build.lock")):
            continue
        found[name] = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else "dir"
    return found


def subscribe(settings: Settings) -> None:
    """A few users subscribed to the innovation area (the edition "beta" measure matches them)."""
    db = Storage(settings.paths.database, PSEUDONYM_KEY.encode(), 180)
    for user in SUBSCRIBERS:
        db.remember_contact(user, user, "it")
        db.set_subscriptions(user, ["innovazione"])
    db.close()


def answered(fake: FakeBotApi) -> set[int]:
    """The chats the bot has written to (one pass over the messages, however many)."""
    return {m.chat_id for m in fake.sent()}


def alerts(fake: FakeBotApi) -> list[Sent]:
    return [m for m in fake.sent() if m.text.startswith(OT.alert_open)]


def ask(fake: FakeBotApi, question: str) -> int:
    """A new user asks; return the user (= chat) id."""
    user = next(USERS)
    fake.message(question, user_id=user)
    return user


def reload(fake: FakeBotApi) -> Sent:
    """The admin sends /reload; return the reply."""
    before = len(fake.sent(ADMIN))
    fake.message("/reload", user_id=ADMIN)
    return fake.wait_sent(before + 1, ADMIN, timeout=120)[before]


@pytest.fixture(scope="module")
def alfa_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of edition "alfa", built once for the module (each test works on a copy)."""
    base = tmp_path_factory.mktemp("alfa")
    write_edition(base / "knowledge", "alfa")
    build_index(make_settings(base, base / "knowledge"), embedder)
    return base / "index"


@pytest.fixture
def two_editions(tmp_path: Path, fake: FakeBotApi, alfa_index: Path) -> tuple[Settings, dict[str, str]]:
    """Settings over edition "alfa" of the knowledge with its index built, and that edition's answers."""
    knowledge = tmp_path / "knowledge"
    alfa = write_edition(knowledge, "alfa")  # the same bytes as the built one: the index matches it
    shutil.copytree(alfa_index, tmp_path / "index", symlinks=True)
    settings = bot_settings(tmp_path, None, fake, SPORTELLO_PATHS__KNOWLEDGE=str(knowledge),
                            SPORTELLO_PATHS__INDEX=str(tmp_path / "index"), **FAST)
    return settings, alfa


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def answers_of(fake: FakeBotApi, users: list[int] | set[int]) -> dict[int, list[Sent]]:
    """Every reply to each of these users (one pass over the messages)."""
    replies: dict[int, list[Sent]] = {user: [] for user in users}
    for m in fake.sent():
        if m.chat_id in replies:
            replies[m.chat_id].append(m)
    return replies


def check_answer(fake: FakeBotApi, question: str, answers: dict[str, str], edition: str) -> None:
    """Ask once and wait: the answer is this question's, from this edition."""
    user = ask(fake, question)
    reply = fake.wait_sent(1, user)[0]
    assert editions(reply) == {edition} and reply.text.startswith(answers[question][:60]), reply.text


# --- a rebuild and /reload under load --------------------------------------------------------------

def test_rebuild_in_another_process_and_reload_under_load(fake, two_editions, embedder, caplog):
    settings, alfa = two_editions
    old = Retriever.open(settings, embedder)
    steady = answered_by(old, alfa)
    assert len(steady) >= 10, steady
    asked: dict[int, str] = {}  # user -> question

    def burst(count: int, pause: float = 0.0, until: Callable[[], bool] = lambda: False) -> list[int]:
        """Up to `count` new users ask, one every `pause` seconds, until `until()`; return them."""
        users = []
        for n in range(count):
            if until():
                break
            question = both[n % len(both)] if both else steady[n % len(steady)]
            users.append(ask(fake, question))
            asked[users[-1]] = question
            time.sleep(pause)
        return users

    both: list[str] = []
    subscribe(settings)
    with RunningBot(settings, old, clock=lambda: NOON) as running:
        # Staff write edition "beta" (with a new measure). Until it is built, /reload refuses it.
        beta = write_edition(settings.paths.knowledge, "beta", measure=True)
        refused = reload(fake)
        assert refused.text.startswith(FAILED) and "sportello build" in refused.text, refused.text
        # `sportello build` in its own process, while questions keep coming.
        build = python(settings, "-m", "bot.cli", "build")
        during_build = set(burst(10_000, pause=0.25, until=lambda: build.poll() is not None))
        output = build.stdout.read()
        assert build.returncode == 0, output
        fake.wait(lambda: during_build <= answered(fake), 120, "the answers during the build")
        assert services(running.bot_data).retriever is old
        assert not alerts(fake)  # nothing new is announced before the new index is in use

        # Questions both editions answer with their own entry (so every reply can be checked).
        both = [q for q in answered_by(Retriever.open(settings, embedder), beta) if q in steady]
        assert len(both) >= 10, both
        # Hundreds in flight, /reload, more while it loads, then more after the switch.
        burst(IN_FLIGHT)
        pending_at_reload = len(set(asked) - answered(fake))
        fake.message("/reload", user_id=ADMIN)
        burst(IN_FLIGHT // 2, pause=0.01, until=lambda: len(fake.sent(ADMIN)) > 1)
        ack = fake.wait_sent(2, ADMIN, timeout=120)[1]
        after_switch = burst(20)
        fake.wait(lambda: set(asked) <= answered(fake), 180, "every answer")
        fake.wait(lambda: len(alerts(fake)) >= len(SUBSCRIBERS), 60, "the alerts")
        time.sleep(1.0)  # a few more ticks of the alerts job: nothing more may be sent
        assert services(running.bot_data).retriever is not old

    assert ack.text.startswith("Indice ricaricato: "), ack.text
    replies = answers_of(fake, asked)
    assert all(len(r) == 1 for r in replies.values())  # exactly one reply each
    mixed = [r[0].text for r in replies.values() if len(editions(r[0])) > 1]
    assert not mixed, mixed[:3]
    edition_of = {user: editions(r[0]).pop() for user, r in replies.items() if len(editions(r[0])) == 1}
    expected = {"alfa": alfa, "beta": beta}
    failed = [(asked[u], r[0].text) for u, r in replies.items()
              if u not in edition_of or not r[0].text.startswith(expected[edition_of[u]][asked[u]][:60])]
    assert not failed, failed[:3]
    assert {edition_of[u] for u in during_build} == {"alfa"}
    assert {edition_of[u] for u in after_switch} == {"beta"}
    counts = {e: sum(1 for v in edition_of.values() if v == e) for e in ("alfa", "beta")}
    # Sent after the switch from the old index: questions in flight kept the index they started with.
    kept_old = sum(1 for u, r in replies.items() if edition_of[u] == "alfa" and r[0].message_id > ack.message_id)
    # The alerts job read the new index once it was in use: one alert each, for the new measure.
    assert sorted(m.chat_id for m in alerts(fake)) == list(SUBSCRIBERS)
    assert all("Voucher per l'innovazione delle imprese toscane" in m.text for m in alerts(fake))
    no_errors(caplog)
    print(f"\nhot reload: {len(asked)} questions ({len(during_build)} during the build), {pending_at_reload} "
          f"unanswered when /reload was sent, {kept_old} answered from the old index after the switch; "
          f"alfa {counts['alfa']}, beta {counts['beta']}, failed {len(failed)}, mixed {len(mixed)}")


# --- a damaged or mismatched index ---------------------------------------------------------------

def test_integrity_names_the_file_that_is_not_what_meta_json_records(tmp_path: Path) -> None:
    """The checks themselves, on a hand-made folder (fast: no model, no bot)."""
    folder = tmp_path / "build"
    (folder / "lexical").mkdir(parents=True)
    (folder / "passages.json").write_text("[]", encoding="utf-8")
    (folder / "lexical" / "words.json").write_text('["export"]', encoding="utf-8")
    meta = {integrity.FILES: integrity.digests(folder), "counts": {"passages": 2, "vectors": 3, "measures": 0},
            "model": {"dimension": 4}}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert set(meta[integrity.FILES]) == {"passages.json", "lexical/words.json"}  # meta.json is not its own
    integrity.verify_files(folder, meta)
    (folder / "lexical" / "words.json").write_text('["exports"]', encoding="utf-8")
    with pytest.raises(IndexMismatch, match=r"lexical/words.json is damaged or belongs to another build"):
        integrity.verify_files(folder, meta)
    (folder / "lexical" / "words.json").unlink()
    with pytest.raises(IndexMismatch, match=r"lexical/words.json is missing"):
        integrity.verify_files(folder, meta)
    (folder / "lexical" / "words.json").write_text('["export"]', encoding="utf-8")
    (folder / "stray.npy").write_bytes(b"x")
    with pytest.raises(IndexMismatch, match=r"stray.npy is not part of this build"):
        integrity.verify_files(folder, meta)
    integrity.verify_files(folder, {})  # an index from before the digests: nothing to compare
    with pytest.raises(IndexMismatch, match=r"passages.json cannot be read \(Expecting value.*sportello build"):
        integrity.read(folder / "passages.json", lambda path: json.loads(path.read_text()[1:]))
    good = dict(passages=2, vectors=3, dimension=4, rows=np.array([0, 1, 1]), lexical_documents=2, measures=0)
    integrity.verify_parts(folder, meta, **good)
    for wrong, named in ((dict(passages=3, lexical_documents=3), "passages.json holds 3"),
                         (dict(vectors=2), "dense.faiss holds 2 vectors"),
                         (dict(dimension=8), "dimension 8"),
                         (dict(lexical_documents=1), "lexical indexes 1"),
                         (dict(rows=np.array([0, 1, 2])), "dense_rows.npy points to passage 2")):
        with pytest.raises(IndexMismatch, match=named):
            integrity.verify_parts(folder, meta, **{**good, **wrong})



def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_meta(folder: Path, change: Callable[[dict], object]) -> None:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    change(meta)
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _older_index(folder: Path) -> None:
    """What an index written before meta.json recorded its files looks like."""
    _edit_meta(folder, lambda meta: meta.pop("files"))


DAMAGE = {  # what is done to the new build -> what the admin must be told
    "truncated dense.faiss": (lambda new, old: _truncate(new / "dense.faiss"), "dense.faiss"),
    "meta.json of another model": (
        lambda new, old: _edit_meta(new, lambda m: m["model"].update(name="intfloat/other-model")), "intfloat/other-model"),
    "passages.json of another build": (
        lambda new, old: shutil.copy(old / "passages.json", new / "passages.json"), "passages.json"),
    "a BM25 file missing": (lambda new, old: (new / "lexical" / "vocab.index.json").unlink(), "vocab.index.json"),
    "truncated meta.json": (lambda new, old: _truncate(new / "meta.json"), "meta.json"),
    "older index, truncated dense.faiss": (
        lambda new, old: (_older_index(new), _truncate(new / "dense.faiss")), "dense.faiss"),
    "older index, passages.json of another knowledge": (
        lambda new, old: (_older_index(new), (new / "passages.json").write_text(
            json.dumps(json.loads((old / "passages.json").read_text(encoding="utf-8"))[:-1]), encoding="utf-8")),
        "passages.json"),
    "older index, vectors pointing past the passages": (
        lambda new, old: (_older_index(new), np.save(new / "dense_rows.npy", np.load(new / "dense_rows.npy") + 1000)),
        "dense_rows.npy"),
    "current linked to a removed build": (lambda new, old: shutil.rmtree(new), "sportello build"),
}


def test_a_damaged_or_mismatched_index_is_refused_and_the_old_one_keeps_serving(
        fake, two_editions, embedder, one_model, caplog, capsys):
    settings, alfa = two_editions
    old = Retriever.open(settings, embedder)
    steady = answered_by(old, alfa)[:3]
    old_folder = search_index.current_folder(settings.paths.index)
    beta = write_edition(settings.paths.knowledge, "beta")
    new_folder = build_index(settings, embedder)  # `current` now names the new build
    pristine = settings.paths.index.parent / "pristine"
    shutil.copytree(new_folder, pristine)
    told = {}
    with RunningBot(settings, old) as running:
        for case, (damage, named) in DAMAGE.items():
            shutil.rmtree(new_folder, ignore_errors=True)
            shutil.copytree(pristine, new_folder)
            damage(new_folder, old_folder)
            reply = reload(fake)
            told[case] = reply.text
            assert reply.text.startswith(FAILED) and named in reply.text and "sportello build" in reply.text, (
                case, reply.text)
            assert services(running.bot_data).retriever is old, case
            check_answer(fake, steady[0], alfa, "alfa")
        # Mended (a rebuild): the next /reload takes it.
        shutil.rmtree(new_folder, ignore_errors=True)
        shutil.copytree(pristine, new_folder)
        assert reload(fake).text.startswith("Indice ricaricato: ")
        for question in steady:
            check_answer(fake, question, beta, "beta")
    no_errors(caplog)

    # Start-up is a load like /reload: a damaged index stops `sportello run` with the file named and
    # no traceback, and the bot's own start (post_init) refuses it the same way.
    _truncate(new_folder / "dense.faiss")
    env = {"SPORTELLO_PATHS__KNOWLEDGE": str(settings.paths.knowledge), "SPORTELLO_PATHS__INDEX": str(settings.paths.index),
           "SPORTELLO_PATHS__DATABASE": str(settings.paths.database), "TELEGRAM_BOT_TOKEN": TOKEN,
           "SPORTELLO_TELEGRAM__BASE_URL": fake.base_url, "SPORTELLO_PRIVACY__PSEUDONYM_KEY": PSEUDONYM_KEY}
    capsys.readouterr()
    assert main(["run"], env) == 1
    error = capsys.readouterr().err
    assert "dense.faiss" in error and "sportello build" in error and "Traceback" not in error, error
    with pytest.raises(IndexMismatch, match="dense.faiss"):
        RunningBot(settings, None).__enter__()
    print(f"\nrefused reloads: {len(told)} kinds of damage, each named to the admin; the old index served "
          f"every question meanwhile")


# --- a build killed half-way -----------------------------------------------------------------------

# `sportello build`, its embedding done in steps of 32 texts with a line after each, so the test can
# kill it knowingly in the middle (the build itself is the real one: `bot.cli.main(["build"])`).
STEPPED_BUILD = """
import faiss, sys
import numpy as np
from bot import cli
from bot.search import embedding
real = embedding.Embedder.encode_passages
def in_steps(self, texts, progress=False):
    parts = []
    for start in range(0, len(texts), 32):
        parts.append(real(self, texts[start:start + 32]))
        print(f"embedded {start + len(parts[-1])} of {len(texts)}", flush=True)
    return np.concatenate(parts) if parts else real(self, texts)
embedding.Embedder.encode_passages = in_steps
sys.exit(cli.main(["build"]))
"""
STEP = re.compile(r"embedded (\d+) of (\d+)")


def build_killed_mid_embedding(settings: Settings) -> tuple[int, int]:
    """Run `sportello build`, SIGKILL it once it has embedded some texts and has two steps or more to
    go; return (texts embedded, texts to embed) at that moment."""
    build = python(settings, "-c", STEPPED_BUILD)
    lines, shown = [], (0, 0)
    try:
        for line in build.stdout:
            lines.append(line)
            if (step := STEP.search(line)) and int(step[1]) <= int(step[2]) - 2 * 32:
                shown = (int(step[1]), int(step[2]))
                os.kill(build.pid, signal.SIGKILL)
                break
    finally:
        if build.poll() is None and shown == (0, 0):
            build.kill()
        build.wait()
    assert shown != (0, 0) and build.returncode == -signal.SIGKILL, (build.returncode, lines[-10:])
    return shown


def test_a_build_killed_mid_embedding_leaves_the_index_in_use(fake, two_editions, embedder, one_model, caplog):
    settings, alfa = two_editions
    root = settings.paths.index
    steady = answered_by(Retriever.open(settings, embedder), alfa)[:3]
    cache = embed_cache.default_path(root)
    with sqlite3.connect(cache) as db:
        cached_before = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    # The bot loads the index itself at start-up (post_init), as `sportello run` does.
    with RunningBot(settings, None) as running:
        first = services(running.bot_data).retriever
        assert first.index.folder == search_index.current_folder(root)
        check_answer(fake, steady[0], alfa, "alfa")
        before = snapshot(root)
        # A big new edition, so the embedding takes a while; the build is killed in the middle of it.
        beta = write_edition(settings.paths.knowledge, "beta", filler=40)
        done, total = build_killed_mid_embedding(settings)
        assert snapshot(root) == before  # the index in use, every build and the `current` link as they were
        with sqlite3.connect(cache) as db:  # its vectors were never stored: it died while embedding
            assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == cached_before
        # The old index stays in use; /reload refuses (nothing new was built) and says what to run.
        check_answer(fake, steady[1], alfa, "alfa")
        refused = reload(fake)
        assert refused.text.startswith(FAILED) and "sportello build" in refused.text, refused.text
        assert services(running.bot_data).retriever is first
        check_answer(fake, steady[2], alfa, "alfa")
        # A restart now would start on the old index too, logging that the knowledge changed since and
        # that `sportello build` is what to run (tests/test_restart_unbuilt.py).
        restarted = load_retriever(settings)
        assert restarted.index.folder == first.index.folder and "sportello build" in (restarted.index.warning or "")
        # The next build succeeds, and clears what a build killed while writing its folder leaves.
        leftover = root / "builds" / ".tmp-20260101T000000.000000Z-dead00"
        (leftover / "lexical").mkdir(parents=True)
        (leftover / "dense.faiss").write_bytes(b"half")
        os.symlink("builds/.tmp-20260101T000000.000000Z-dead00", root / ".current-dead00")
        build_index(settings, embedder)
        assert not leftover.exists() and not (root / ".current-dead00").is_symlink()
        assert reload(fake).text.startswith("Indice ricaricato: ")
        for question in steady:
            check_answer(fake, question, beta, "beta")
    no_errors(caplog)
    print(f"\nkilled build: SIGKILL after {done} of {total} texts embedded; index untouched; next build ok")
