"""A restart after staff edited the knowledge validly but before `sportello build` ran, end to end:
the real Application against the fake Bot API, the real model and FAISS.

Promises checked:

- the restarted bot (its own start-up load, as `sportello run` does) serves the last build, answers
  from it, and logs that the knowledge changed since that build and that `sportello build` is what to
  run; `/reload` keeps refusing until the build has run, then takes the change;
- `sportello run` itself starts on that build and logs the same; `sportello ask` still refuses, saying
  what to run (a maintainer trying an edit must not be shown the old answer as if it were the new);
- a damaged or mixed-up index is refused at start-up all the same, naming the file: the nine kinds of
  damage `/reload` refuses (tests/test_hot_reload.py), with the knowledge edited and not built.
"""

from __future__ import annotations

import faiss  # noqa: F401 - before torch

import logging
import shutil
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.cli import main
from bot.config import Settings
from bot.errors import SportelloError
from bot.knowledge.load import load_knowledge
from bot.search import index as search_index
from bot.search.embedding import Embedder
from bot.telegram.app import load_retriever
from bot.telegram.services import services
from bot.telegram.texts import IT
from bot_harness import ADMIN, PSEUDONYM_KEY, TOKEN, RunningBot, bot_settings
from fake_bot_api import FakeBotApi
from test_hot_reload import DAMAGE

QUESTION = "Ci sono aiuti per vendere all'estero?"  # the one FAQ entry of `small_knowledge`, as written
BUILT = "L'internazionalizzazione è il primo dei tre ambiti di azione del protocollo."
EDITED = "L'internazionalizzazione, cioè vendere all'estero, è il primo ambito del protocollo (testo nuovo)."
FAILED = IT.reload_failed.split(":")[0]  # "Non ho ricaricato l'indice, resta in uso quello di prima"
CHANGED = "changed since the index in use was built"  # the start-up warning (bot/search/index.py, check)


@pytest.fixture
def built(tmp_path: Path, small_knowledge: Path, embedder: Embedder, fake: FakeBotApi, one_model: None) -> Settings:
    """Settings for the bot over a private knowledge folder with its index built (`sportello build`)."""
    settings = bot_settings(tmp_path, None, fake, SPORTELLO_PATHS__KNOWLEDGE=str(small_knowledge))
    search_index.build(settings, embedder)
    return settings


def edit_the_faq(settings: Settings) -> None:
    """Staff rewrite the answer of the FAQ entry: a valid edit (`sportello validate` passes)."""
    faq = settings.paths.knowledge / "faq" / "export.yaml"
    text = faq.read_text(encoding="utf-8")
    assert BUILT in text
    faq.write_text(text.replace(BUILT, EDITED), encoding="utf-8")
    load_knowledge(settings.paths.knowledge)  # raises if the edit did not validate


def ask(fake: FakeBotApi, user: int) -> str:
    """`user` asks the FAQ question; return the reply's text."""
    fake.message(QUESTION, user_id=user)
    return fake.wait_sent(1, user)[0].text


def reload(fake: FakeBotApi) -> str:
    """The admin sends /reload; return the reply's text."""
    before = len(fake.sent(ADMIN))
    fake.message("/reload", user_id=ADMIN)
    return fake.wait_sent(before + 1, ADMIN, timeout=120)[before].text


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and CHANGED in r.getMessage()]


def run_env(settings: Settings, fake: FakeBotApi) -> dict[str, str]:
    """The environment of `sportello run` on these settings."""
    return {"SPORTELLO_PATHS__KNOWLEDGE": str(settings.paths.knowledge),
            "SPORTELLO_PATHS__INDEX": str(settings.paths.index),
            "SPORTELLO_PATHS__DATABASE": str(settings.paths.database), "TELEGRAM_BOT_TOKEN": TOKEN,
            "SPORTELLO_TELEGRAM__BASE_URL": fake.base_url, "SPORTELLO_PRIVACY__PSEUDONYM_KEY": PSEUDONYM_KEY}


def test_a_restart_after_a_valid_unbuilt_edit_serves_the_last_build_and_says_what_to_run(
        fake, built, embedder, caplog, capsys, monkeypatch):
    settings = built
    first_build = search_index.current_folder(settings.paths.index)
    with RunningBot(settings, None):  # the bot loads the index itself at start-up
        assert BUILT in ask(fake, 1)
    assert not warnings_logged(caplog)

    edit_the_faq(settings)
    # Restarted before `sportello build`: it starts, on the last build, and the log says why and what to run.
    with RunningBot(settings, None) as running:
        serving = services(running.bot_data).retriever
        assert serving.index.folder == first_build
        reply = ask(fake, 2)
        assert BUILT in reply and EDITED not in reply, reply
        [warning] = warnings_logged(caplog)
        assert str(settings.paths.knowledge) in warning and "sportello build" in warning, warning
        # /reload refuses the unbuilt change (as in a bot that kept running), and says what to run.
        refused = reload(fake)
        assert refused.startswith(FAILED) and "sportello build" in refused, refused
        assert services(running.bot_data).retriever is serving
        # Built: /reload takes the change, and the next answer is the new one.
        search_index.build(settings, embedder)
        assert reload(fake).startswith(IT.reload_ok.split(":")[0])
        reply = ask(fake, 3)
        assert EDITED in reply and BUILT not in reply, reply

    # `sportello run` (the CLI's own start-up) on the next unbuilt edit: it starts and logs the same.
    faq = settings.paths.knowledge / "faq" / "export.yaml"
    faq.write_text(faq.read_text(encoding="utf-8").replace(EDITED, EDITED + " Rivisto."), encoding="utf-8")
    started: list[Path] = []
    monkeypatch.setattr(Application, "run_polling", lambda application, **kwargs: started.append(
        services(application.bot_data).retriever.index.folder))
    caplog.clear()
    assert main(["run"], run_env(settings, fake)) == 0
    assert started == [search_index.current_folder(settings.paths.index)]
    assert len(warnings_logged(caplog)) == 1
    # `sportello ask` keeps refusing an index its knowledge has moved past (documented in the README).
    capsys.readouterr()
    assert main(["ask", QUESTION], run_env(settings, fake)) == 1
    out, err = capsys.readouterr()
    assert out == "" and "other knowledge" in err and "sportello build" in err, err


def test_a_damaged_index_is_refused_at_start_up_even_while_the_knowledge_is_unbuilt(
        fake, built, embedder, capsys):
    settings = built
    old = search_index.current_folder(settings.paths.index)
    edit_the_faq(settings)
    new = search_index.build(settings, embedder)  # two builds: the damage may mix files of both
    pristine = settings.paths.index.parent / "pristine"
    shutil.copytree(new, pristine)
    knowledge_file = settings.paths.knowledge / "faq" / "export.yaml"
    knowledge_file.write_text(knowledge_file.read_text(encoding="utf-8").replace(EDITED, BUILT), encoding="utf-8")
    load_knowledge(settings.paths.knowledge)
    # Undamaged, the last build starts despite the unbuilt edit: the refusals below are the damage's.
    assert CHANGED in (load_retriever(settings).index.warning or "")
    refused = {}
    for case, (damage, named) in DAMAGE.items():
        shutil.rmtree(new, ignore_errors=True)
        shutil.copytree(pristine, new)
        damage(new, old)
        with pytest.raises(SportelloError) as caught:
            load_retriever(settings)
        refused[case] = str(caught.value)
        assert named in refused[case] and "sportello build" in refused[case], (case, refused[case])
    assert len(refused) == len(DAMAGE) == 9
    # End to end, on a truncated FAISS file: the bot's own start refuses it, and `sportello run`
    # exits 1 naming the file, without a traceback.
    shutil.rmtree(new, ignore_errors=True)
    shutil.copytree(pristine, new)
    DAMAGE["truncated dense.faiss"][0](new, old)
    with pytest.raises(SportelloError, match="dense.faiss"):
        RunningBot(settings, None).__enter__()
    capsys.readouterr()
    assert main(["run"], run_env(settings, fake)) == 1
    error = capsys.readouterr().err
    assert "dense.faiss" in error and "sportello build" in error and "Traceback" not in error, error
