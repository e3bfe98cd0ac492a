"""The SQLite database under faults: a kill mid-write, many writers at once (threads and processes),
a locked, missing or unusable file, a full disk (the bot keeps answering and says so in its log),
and retention deleting what is due (questions, and the inbox's handled update ids)."""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import logging
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bot.storage import INBOX_KEEP, UNLOGGED_IDS, Storage, StorageError
from conftest import REPO

KEY = b"storage-faults-key"
SHOWN = [("faq:x", 0.8)]


def child(script: str, *args: str, **kwargs) -> subprocess.Popen:
    """A Python process running `script` (with `db`, `Storage`, `KEY` defined) from the repository."""
    prelude = (f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
               "from bot.storage import Storage\n"
               f"KEY = {KEY!r}\n")
    return subprocess.Popen([sys.executable, "-c", prelude + textwrap.dedent(script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def question_ids(path: Path) -> set[int]:
    with sqlite3.connect(path) as db:
        return {i for (i,) in db.execute("SELECT id FROM questions")}


WRITER = """
db = Storage(sys.argv[1], KEY, 180)
n = 0
while True:
    n += 1
    qid = db.log(n % 50, "it", "domanda numero %d " % n + "x" * 500, "answer", 0.8, [("faq:x", 0.8)])
    db.receive(n, {"update_id": n, "message": {"text": "q"}}, n % 50)
    if n % 3 == 0:
        db.mark_done(n)
    print(qid, n, flush=True)      # acknowledged: committed
"""


def test_a_kill_mid_write_loses_no_committed_row_and_leaves_a_sound_file(tmp_path):
    """Five SIGKILLs of a process writing as fast as it can (questions and inbox rows): the file
    passes SQLite's integrity check each time, and every write acknowledged before the kill is there."""
    path = tmp_path / "kill.db"
    acknowledged: set[int] = set()
    for round_ in range(5):
        proc = child(WRITER, str(path))
        lines = []
        assert proc.stdout is not None
        while len(lines) < 200 + 37 * round_:  # kill at a different point each round
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        acknowledged |= {int(line.split()[0]) for line in lines}
        assert integrity(path) == "ok"
        assert acknowledged <= question_ids(path)
    db = Storage(path, KEY, 180)  # opens again and writes
    assert db.log(1, "it", "dopo", "answer", 0.8, SHOWN) not in acknowledged
    assert integrity(path) == "ok"


def test_forget_is_all_or_nothing(tmp_path):
    """A failure halfway through /forget (here the last DELETE refused by a trigger, as a full disk or
    a crash would) leaves everything as it was, never half-erased."""
    path = tmp_path / "f.db"
    db = Storage(path, KEY, 180)
    db.log(7, "it", "a", "answer", 0.8, SHOWN)
    db.set_profile(7, "region", "Toscana")
    db.remember_contact(7, 7, "it")
    with sqlite3.connect(path) as other:
        other.execute("CREATE TRIGGER no_delete BEFORE DELETE ON questions BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(sqlite3.DatabaseError, match="boom"):
        db.forget(7)
    assert db.profile(7) == {"region": "Toscana", "size": None, "sector": None}
    assert db.contact(7) is not None and len(db.user_questions(7)) == 1
    with sqlite3.connect(path) as other:
        other.execute("DROP TRIGGER no_delete")
    assert db.forget(7) == 1 and db.profile(7) is None and db.contact(7) is None


CONCURRENT = """
db = Storage(sys.argv[1], KEY, 180)
base = int(sys.argv[2])
for n in range(150):
    db.log(base + n, "it", "q", "answer", 0.8, [("faq:x", 0.8)])
    db.receive(base + n, {"update_id": base + n}, base + n)
    db.mark_sending(base + n)
    db.mark_done(base + n)
print("ok", flush=True)
"""


def test_many_writers_at_once_threads_and_processes(tmp_path):
    """4 processes and 4 threads, each with 150 questions and 150 inbox rows through their own
    connection or the shared one: no error, no row lost, a sound file."""
    path = tmp_path / "many.db"
    shared = Storage(path, KEY, 180)
    procs = [child(CONCURRENT, str(path), str(100_000 * (p + 1))) for p in range(4)]
    errors: list[BaseException] = []

    def write(base: int) -> None:
        try:
            for n in range(150):
                shared.log(base + n, "it", "q", "answer", 0.8, SHOWN)
                shared.receive(base + n, {"update_id": base + n}, base + n)
                shared.mark_done(base + n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(1_000_000 * (t + 1),)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    outputs = [p.communicate(timeout=120) for p in procs]
    assert not errors
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    assert len(question_ids(path)) == 8 * 150
    assert shared.inbox_counts() == {"done": 8 * 150}
    assert integrity(path) == "ok"


def test_a_locked_database_costs_the_record_not_the_answer(tmp_path, caplog):
    """Another process holding the write lock longer than the busy timeout: the question is not
    recorded, the caller still gets an id (its answer goes out) and the log says why; once the lock
    is gone, writes are recorded again."""
    path = tmp_path / "locked.db"
    db = Storage(path, KEY, 180, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO profiles (user, updated_at) VALUES ('x', 0)")
    caplog.set_level(logging.ERROR, logger="bot.storage")
    qid = db.log(1, "it", "mentre è bloccato", "answer", 0.8, SHOWN)
    assert qid > UNLOGGED_IDS
    assert any("question not recorded" in r.getMessage() and "locked" in r.getMessage() for r in caplog.records)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db.receive(1, {"update_id": 1}, 1)  # the inbox says so to its caller (bot/telegram/inbox.py logs it)
    holder.execute("COMMIT")
    holder.close()
    assert db.log(1, "it", "dopo", "answer", 0.8, SHOWN) < UNLOGGED_IDS
    assert [q.question for q in db.user_questions(1)] == ["dopo"]


def test_a_missing_or_unusable_database_file(tmp_path):
    """A missing file (and folders) is created; a folder or a file that is not a database in its
    place is refused with an error naming the path, not a traceback."""
    deep = tmp_path / "a" / "b" / "c.db"
    Storage(deep, KEY, 180).log(1, "it", "q", "answer", 0.8, SHOWN)
    assert deep.exists() and integrity(deep) == "ok"
    folder = tmp_path / "folder.db"
    folder.mkdir()
    with pytest.raises(StorageError, match="folder.db: cannot open the database"):
        Storage(folder, KEY, 180)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="garbage.db: cannot open the database"):
        Storage(garbage, KEY, 180)


def test_a_full_database_costs_records_not_answers(tmp_path, caplog):
    """No room left (SQLite's max_page_count at the file's size): every question still gets an id
    (so its answer goes out), each failure is logged, reading still works, and once there is room
    again questions are recorded."""
    path = tmp_path / "full.db"
    db = Storage(path, KEY, 180)
    kept = db.log(1, "it", "prima", "answer", 0.8, SHOWN)
    pages = db._db.execute("PRAGMA page_count").fetchone()[0]
    db._db.execute(f"PRAGMA max_page_count = {pages}")
    recorded = [kept]
    while (qid := db.log(1, "it", "x" * 2000, "answer", 0.8, SHOWN)) < UNLOGGED_IDS:  # the last page's room
        recorded.append(qid)
        assert len(recorded) < 50
    caplog.set_level(logging.ERROR, logger="bot.storage")
    caplog.clear()
    ids = [db.log(1, "it", "x" * 2000, "answer", 0.8, SHOWN) for _ in range(20)]
    assert all(i > UNLOGGED_IDS for i in ids) and len(set(ids) | {qid}) == 21
    assert sum("full" in r.getMessage() for r in caplog.records) == 20
    assert sorted(q.id for q in db.user_questions(1)) == recorded
    db._db.execute(f"PRAGMA max_page_count = {pages * 100}")
    assert db.log(1, "it", "dopo", "answer", 0.8, SHOWN) < UNLOGGED_IDS
    assert integrity(path) == "ok"


FULL_DISK = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # a write past the limit fails with EFBIG instead
db = Storage(sys.argv[1], KEY, 180)
size = sum(os.path.getsize(sys.argv[1] + s) for s in ("", "-wal") if os.path.exists(sys.argv[1] + s))
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 64 * 1024, size + 64 * 1024))
recorded = unrecorded = 0
for n in range(400):
    qid = db.log(1, "it", "y" * 1000, "answer", 0.8, [("faq:x", 0.8)])
    if qid >= 10**12:
        unrecorded += 1
    else:
        recorded += 1
print(recorded, unrecorded, flush=True)
"""


def test_a_full_disk_in_a_real_process(tmp_path):
    """A process whose files may not grow past 64 KB more (RLIMIT_FSIZE, the kernel refusing writes
    as on a full disk): it goes on without an exception, says so on its log, and the file stays sound
    with every recorded question in it."""
    path = tmp_path / "disk.db"
    Storage(path, KEY, 180).close()
    proc = child("import os\n" + FULL_DISK, str(path))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    recorded, unrecorded = map(int, out.split())
    print("full disk figures: recorded", recorded, "unrecorded", unrecorded)
    assert recorded > 0 and unrecorded > 0 and recorded + unrecorded == 400
    assert "question not recorded" in err and "Traceback" not in err
    assert integrity(path) == "ok"
    assert len(question_ids(path)) == recorded


def test_retention_deletes_what_is_due_and_nothing_else(tmp_path):
    """Questions older than the retention period go, newer ones stay; handled update ids go after
    `handled_keep_hours`, while an update still waiting is kept; handled rows keep no text."""
    now = [1_800_000_000.0]
    path = tmp_path / "r.db"
    db = Storage(path, KEY, 30, clock=lambda: now[0])
    db.log(1, "it", "vecchia", "answer", 0.8, SHOWN)
    db.receive(1, {"update_id": 1, "message": {"text": "vecchia"}}, 1)
    db.mark_done(1)
    db.receive(2, {"update_id": 2, "message": {"text": "in attesa"}}, 2)
    db.receive(3, {"update_id": 3, "message": {"text": "risposta forse partita"}}, 3)
    db.mark_sending(3)
    text_kept = "SELECT raw IS NOT NULL, user IS NOT NULL FROM inbox WHERE update_id IN (1, 3) ORDER BY update_id"
    with sqlite3.connect(path) as raw:
        # Handled: no text. Being replied to: kept until handled, to tell its sender after a crash.
        assert raw.execute(text_kept).fetchall() == [(0, 0), (1, 1)]
    assert [p.update_id for p in db.settle_interrupted()] == [3]  # the next start: told, then erased
    with sqlite3.connect(path) as raw:
        assert raw.execute(text_kept).fetchall() == [(0, 0), (0, 0)]
    now[0] += INBOX_KEEP + 60
    db.log(1, "it", "recente", "answer", 0.8, SHOWN)  # a write more than an hour later purges
    assert db.inbox_counts() == {"pending": 1}     # handled ids gone, the waiting update kept
    assert [p.update_id for p in db.pending_updates()] == [2]
    assert [q.question for q in db.user_questions(1)] == ["recente", "vecchia"]
    now[0] += 30 * 86400
    db.log(2, "it", "nuova", "answer", 0.8, SHOWN)
    assert sorted(q for (q,) in sqlite3.connect(path).execute("SELECT question FROM questions")) == ["nuova", "recente"]
    db.forget(2)  # the waiting update's text goes with the user
    assert db.pending_updates() == []


def test_the_bot_keeps_answering_on_a_full_disk_and_says_so(fake, tmp_path, built_settings, retriever, caplog):
    """The real bot with its database full: ten questions from ten users each get their answer (not
    the error message), and the log says what could not be recorded; no handler fails."""
    from bot.telegram.services import KEY as SERVICES
    from bot.telegram.texts import IT
    from bot_harness import RunningBot, bot_settings

    settings = bot_settings(tmp_path, built_settings, fake)
    with RunningBot(settings, retriever) as bot:
        storage = bot.bot_data[SERVICES].storage
        pages = storage._db.execute("PRAGMA page_count").fetchone()[0]
        storage._db.execute(f"PRAGMA max_page_count = {pages}")
        while storage.log(1, "it", "riempitivo " * 200, "answer", 0.8, SHOWN) < UNLOGGED_IDS:
            pass  # fill the room left in the last page
        users = list(range(500_000, 500_010))
        for user in users:
            fake.message("Ci sono aiuti per vendere all'estero?", user_id=user)
        for user in users:
            fake.wait_sent(1, user)
        time.sleep(1.0)
    for user in users:
        assert [m.text != IT.error for m in fake.sent(user)] == [True]
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    # Small rows may still fit in a page's free bytes; the rest is refused, and said.
    assert any("question not recorded" in m and "full" in m for m in messages)
    assert any("not kept in the inbox" in m and "full" in m for m in messages)
    assert not any("error while handling an update" in m for m in messages)
