"""Run the real bot Application in a thread against the fake Bot API, polling or webhook; stop it
gracefully, or kill it (no stop, no shutdown hooks: as if the process died)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.telegram.app import build_application
from bot.config import Settings
from fake_bot_api import FakeBotApi

TOKEN = "7000001:AAH-sportello-TEST-token_0123456789abcdefXYZ"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789"
SECRET = "webhook-secret-42"
ADMIN = 900
TODAY = "2026-11-25"


def bot_settings(tmp: Path, built: Settings | None, fake: FakeBotApi, **env: str) -> Settings:
    """Settings for a bot test: the session's index, a fresh database, the fake server's address."""
    from conftest import make_settings

    defaults = {
        "SPORTELLO_PATHS__INDEX": str(built.paths.index if built else tmp / "index"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "SPORTELLO_TELEGRAM__BASE_URL": fake.base_url,
        "SPORTELLO_TELEGRAM__BASE_FILE_URL": fake.base_file_url,
        "SPORTELLO_TELEGRAM__ADMINS": str(ADMIN),
        "SPORTELLO_TELEGRAM__QUESTIONS_PER_MINUTE": "100",
        "SPORTELLO_PRIVACY__PSEUDONYM_KEY": PSEUDONYM_KEY,
        # Measure status is computed for this day, whatever the machine's clock says.
        "SPORTELLO_MEASURES__TODAY": TODAY,
    }
    return make_settings(tmp, **{**defaults, **env})


def private_knowledge(target: Path, extra: dict[str, str] | None = None) -> Path:
    """A copy of the shipped knowledge at `target`, for an index of a test's own (the shipped files
    may change while the tests run, and /reload rightly refuses an index that no longer matches them),
    without the question sets (a build then fits no calibration: quicker), plus `extra` files (path
    inside the folder -> text)."""
    from conftest import KNOWLEDGE

    shutil.copytree(KNOWLEDGE, target, ignore=shutil.ignore_patterns("eval"))
    for name, text in (extra or {}).items():
        (target / name).write_text(text, encoding="utf-8")
    return target


def full_message(record: logging.LogRecord) -> str:
    """A log record's message with its traceback, if any: all a log handler would write of it."""
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningBot:
    """The Application running in its own thread and event loop, as `sportello run` would run it
    (initialize, post_init, updater, start; then the reverse), so tests can wait synchronously."""

    def __init__(self, settings: Settings, retriever: Any, mode: str = "polling",
                 clock: Callable[[], float] = time.time):
        self.application: Application = build_application(settings, retriever, clock=clock)
        self.mode = mode
        self._killed = False
        self.webhook_url: str | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="bot", daemon=True)

    def __enter__(self) -> RunningBot:
        self._thread.start()
        if not self._ready.wait(120):
            raise AssertionError("the bot did not start")
        if self._error:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the bot did not stop"
        if self._error and not exc[0]:
            raise self._error

    def kill(self) -> None:
        """Stop the bot abruptly: every task is cancelled where it stands (sends in flight included),
        no stop or shutdown hook runs, nothing is flushed."""
        self._killed = True
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the bot did not die"

    @property
    def bot_data(self) -> dict:
        return self.application.bot_data

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        app = self.application
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await app.initialize()
        try:
            await app.post_init(app)
        except BaseException:
            # As run_polling does when the start-up fails: connections closed, the database too.
            await app.shutdown()
            await app.post_shutdown(app)
            raise
        if self.mode == "webhook":
            port = free_port()
            self.webhook_url = f"http://127.0.0.1:{port}/sportello/hook"
            await app.updater.start_webhook(listen="127.0.0.1", port=port, url_path="sportello/hook",
                                            webhook_url=self.webhook_url, secret_token=SECRET,
                                            allowed_updates=Update.ALL_TYPES)
        else:
            # As Application.run_polling does: polling errors go to the error handler.
            await app.updater.start_polling(timeout=1, poll_interval=0, allowed_updates=Update.ALL_TYPES,
                                            error_callback=lambda exc: app.create_task(
                                                app.process_error(error=exc, update=None)))
        await app.start()
        self._ready.set()
        await self._stop.wait()
        if self._killed:
            return  # asyncio.run cancels every remaining task: polling, jobs, alert delivery
        await app.updater.stop()
        await app.stop()
        await app.post_stop(app)
        await app.shutdown()
        await app.post_shutdown(app)
