"""How long a broadcast of one alert to N subscribers takes, against Telegram's limit.

The floor is N / 30 seconds: Telegram lets a bot send about 30 messages a second overall. The script
queues one alert for each of N subscribers in a fresh database and delivers them with the bot's own
outbox code (`Outreach.deliver`: pacing, one row marked 'sending' per call, SQLite writes) through
python-telegram-bot with the bot's rate limiter, to the fake Bot API on 127.0.0.1 (tests/fake_bot_api.py,
in a process of its own).

It prints two runs: one with the limits lifted (what the outbox, PTB and the fake server can do on
this machine: the overhead, which must be far below the floor), and one with the settings' limits
(alerts.messages_per_second, telegram.messages_per_second), reported as a ratio to the floor.

    python bench/broadcast.py [--subscribers 10000] [--failures 0.0]

With --failures F a share F of the calls fail (429 with retry_after, 500, 502); every subscriber
still gets exactly one message, which the script checks. Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup  # noqa: E402
from telegram.ext import ApplicationBuilder  # noqa: E402

from bot.alert_store import OutboxItem, Queued  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.measures.schema import Measure  # noqa: E402
from bot.storage import Storage  # noqa: E402
from bot.telegram.app import RetryingRateLimiter  # noqa: E402
from bot.telegram.outbox import Outreach  # noqa: E402
from bot.telegram.outreach_replies import alert_reply  # noqa: E402
from bot.telegram.outreach_texts import IT as OT  # noqa: E402
from bot.telegram.texts import IT  # noqa: E402
from fake_bot_api import FakeBotApi  # noqa: E402

TOKEN = "7000001:AAH-bench-token_0123456789abcdefXYZ"
FIRST = 1_000_000
TELEGRAM_LIMIT = 30.0  # messages a second, overall, for one bot


def load_measure() -> Measure:
    import yaml

    path = REPO / "knowledge" / "measures" / "3265-voucher-3i-investire-in-innovazione.yaml"
    return Measure.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


async def broadcast(subscribers: int, alerts_rate: float, telegram_rate: float, failures: float,
                    folder: Path) -> tuple[float, dict[str, int], int]:
    """Seconds to deliver one alert to each subscriber, the outbox states, and the chats reached
    more than once (must be 0)."""
    settings = Settings.load(None, {
        "SPORTELLO_ALERTS__MESSAGES_PER_SECOND": str(alerts_rate),
        "SPORTELLO_TELEGRAM__MESSAGES_PER_SECOND": str(telegram_rate),
        "SPORTELLO_MEASURES__TODAY": "2026-11-25",
    }, cwd=folder)
    settings.alerts.quiet_hours = ""  # a benchmark runs at any hour
    storage = Storage(folder / "bench.db", b"bench-key", 180)
    measure = load_measure()
    for n in range(subscribers):
        storage.remember_contact(FIRST + n, FIRST + n, "it")
    storage.queue([Queued(storage.pseudonym(FIRST + n), "open:bench", "open", measure.id) for n in range(subscribers)])
    reply = alert_reply("open", measure, settings.today(), 14, IT, OT, "it")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, url=b.url) if b.url else
                                      InlineKeyboardButton(b.text, callback_data="sv:bench") for b in row]
                                     for row in reply.buttons])

    def render(item: OutboxItem) -> tuple[str, InlineKeyboardMarkup]:
        return reply.text, keyboard

    # The fake server runs in a process of its own, as Telegram would: in this one it would compete
    # with the bot for the interpreter lock and make the bot look slower than it is.
    conn, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(child, failures), daemon=True)
    server.start()
    base_url = conn.recv()
    application = (ApplicationBuilder().token(TOKEN).base_url(base_url)
                   .rate_limiter(RetryingRateLimiter(overall_max_rate=telegram_rate)).build())
    await application.initialize()
    outreach = Outreach(settings, storage)
    start = time.perf_counter()
    while storage.pending_count():  # rows put back after a failure wait for their back-off
        await outreach.deliver(application.bot, render)
        if storage.pending_count():
            await asyncio.sleep(0.2)
    seconds = time.perf_counter() - start
    await application.shutdown()
    conn.send("done")
    chats: dict[int, int] = conn.recv()
    server.join(30)
    repeated = sum(1 for n in chats.values() if n > 1) + (subscribers - len(chats))
    states = storage.outbox_counts()
    storage.close()
    return seconds, states, repeated


def serve(conn: Connection, failures: float) -> None:
    """The fake Bot API, in a child process: sends its address, then, when told, the messages per chat."""
    with FakeBotApi(TOKEN) as fake:
        if failures:
            fake.flaky(failures, seed=3)
        conn.send(fake.base_url)
        conn.recv()
        chats: dict[int, int] = {}
        for message in fake.sent():
            chats[message.chat_id] = chats.get(message.chat_id, 0) + 1
        conn.send(chats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--failures", type=float, default=0.0, help="share of Bot API calls that fail")
    args = parser.parse_args()
    n = args.subscribers
    defaults = Settings()
    floor = n / TELEGRAM_LIMIT
    print(f"broadcast of one alert to {n} subscribers; floor {floor:.1f} s ({n} / {TELEGRAM_LIMIT:.0f} msg/s)")
    runs = [("limits lifted (overhead)", 100_000.0, 100_000.0),
            (f"settings' limits ({defaults.alerts.messages_per_second:g} alerts/s, "
             f"{defaults.telegram.messages_per_second:g} calls/s)",
             defaults.alerts.messages_per_second, defaults.telegram.messages_per_second)]
    for label, alerts_rate, telegram_rate in runs:
        with tempfile.TemporaryDirectory() as folder:
            seconds, states, wrong = asyncio.run(broadcast(n, alerts_rate, telegram_rate, args.failures, Path(folder)))
        print(f"  {label}: {seconds:.1f} s = {seconds / floor:.2f} × floor, {n / seconds:.0f} msg/s; "
              f"outbox {states}; chats not reached exactly once: {wrong}")


if __name__ == "__main__":
    main()
