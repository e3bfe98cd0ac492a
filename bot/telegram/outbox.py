"""Alerts and reminders, delivered from the outbox in the database: checks, pacing, retries, quiet hours.

`Outreach` lives in `bot_data[OUTREACH]`. A JobQueue job (`tick`, every `alerts.check_every`
seconds, at once at start-up and, through `check_soon`, right after /reload) looks at the index in
use and the day: a new index or a new day queues the measure events and reminders (`bot.alerts`
decides; `Storage.queue` records them once, in one transaction). Then one background task sends what
is due, one row at a time marked `sending` just before its Bot API call: a bot killed mid-way leaves
at most the calls in flight undecided, and those are never repeated (see `bot/alert_store.py`). The
clock is injectable: quiet hours and "today" come from it, never from the machine directly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ContextTypes

from bot import alerts
from bot.alert_store import OutboxItem
from bot.config import Settings
from bot.measures.schema import Measure
from bot.storage import Storage
from bot.telegram.outreach_replies import alert_reply
from bot.telegram.outreach_texts import outreach as outreach_texts
from bot.telegram.send import markup, split_html
from bot.telegram.services import services
from bot.telegram.texts import language, texts

logger = logging.getLogger(__name__)

OUTREACH = "outreach"       # its key in bot_data
CONCURRENCY = 32            # Bot API calls of one broadcast in flight at once
BATCH = 200                 # outbox rows read at a time
JOB_NAME = "alerts"

Render = Callable[[OutboxItem], tuple[str, InlineKeyboardMarkup | None] | None]


@dataclass
class Delivery:
    """What one delivery run did."""

    sent: int = 0
    blocked: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0


@dataclass
class Outreach:
    """Alert checks and outbox delivery for one Application."""

    settings: Settings
    storage: Storage
    clock: Callable[[], float] = time.time
    checked_for: Any = None     # the retriever whose measures were checked last
    checked_day: dt.date | None = None
    last: Delivery = field(default_factory=Delivery)
    _task: asyncio.Task | None = None
    _stopping: bool = False

    def __post_init__(self) -> None:
        self.quiet = alerts.QuietHours.parse(self.settings.alerts.quiet_hours)
        self.office = alerts.OfficeHours.parse(self.settings.alerts.office_hours)
        self._check_lock = asyncio.Lock()

    # --- time -------------------------------------------------------------------------------------

    def local_now(self) -> dt.datetime:
        """Now, from the injected clock, in the configured time zone."""
        return alerts.local_time(self.clock(), self.settings.alerts.timezone)

    def today(self) -> dt.date:
        """The day for measure status and reminders: the fixed one in the settings, else the clock's."""
        return self.settings.measures.today or self.local_now().date()

    # --- checking ---------------------------------------------------------------------------------

    def check(self, measures: dict[str, Measure], today: dt.date) -> int:
        """Queue the events of these measures since the last check, and today's reminders; return
        how many rows were queued. Idempotent: the same events are never queued twice."""
        added = 0
        # Reminders first: on a saved measure's opening day the personal reminder ("the measure you
        # saved opens today") takes the event's key, and the area alert is then not queued again.
        if self.storage.state("reminded_on") != today.isoformat():
            due = alerts.reminders(self.storage.all_saved(), measures, today, self.settings.alerts.reminder_days)
            added += self.storage.queue(due, state={"reminded_on": today.isoformat()})
            if added:
                logger.info("alerts: %d reminder(s) queued", added)
        seen, checked_on = self.storage.measures_seen()
        events = alerts.measure_events(seen, checked_on, measures, today)
        # An opening seen available before (a measure that left the index and came back) is no new
        # event: announced once, to whoever was subscribed then.
        known = self.storage.known_openings(e.key for e in events) if events else set()
        events = [e for e in events if e.key not in known]
        rows = alerts.alerts_for(self.storage.subscribers(), events) if events else []
        queued = self.storage.queue(rows, seen={m.id: alerts.dates(m) for m in measures.values()},
                                    state={"checked_on": today.isoformat()},
                                    openings=alerts.available_keys(measures, today), today=today)
        if events:
            logger.info("alerts: %d measure event(s), %d alert(s) queued", len(events), queued)
        return added + queued

    async def tick(self, application: Application, measures: dict[str, Measure] | None, index: Any) -> None:
        """Check when the index or the day changed, then make sure delivery runs (outside quiet hours)."""
        today = self.today()
        if measures is not None and (index is not self.checked_for or today != self.checked_day):
            async with self._check_lock:
                await asyncio.to_thread(self.check, measures, today)
                self.checked_for, self.checked_day = index, today
        if self._stopping or self.quiet.quiet(self.local_now()):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.deliver(application.bot, self._renderer(application)),
                                             name="alerts-delivery")

    def _renderer(self, application: Application) -> Render:
        return lambda item: render(application, item, self.today())

    # --- delivery ---------------------------------------------------------------------------------

    async def deliver(self, bot: Bot, render: Render) -> Delivery:
        """Send every due outbox row, paced under `alerts.messages_per_second`, until none is due,
        quiet hours begin or the bot stops."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.settings.alerts.messages_per_second
        slots = asyncio.Semaphore(CONCURRENCY)
        running: set[asyncio.Task] = set()
        result = self.last = Delivery()
        next_at = loop.time()
        try:
            while not self._stopping and not self.quiet.quiet(self.local_now()):
                items = await asyncio.to_thread(self.storage.claim, BATCH)
                if not items:
                    if running:  # failures among them may be due again at once
                        await asyncio.wait(running)
                        continue
                    break
                for item in items:
                    if self._stopping or self.quiet.quiet(self.local_now()):
                        break
                    await slots.acquire()
                    wait = next_at - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    next_at = max(next_at, loop.time()) + interval
                    task = asyncio.create_task(self._send(bot, item, render, result))
                    running.add(task)
                    task.add_done_callback(lambda t: (running.discard(t), slots.release()))
                if running:
                    await asyncio.wait(running)
        finally:
            if running:  # a cancelled delivery cancels its sends: their rows stay 'sending'
                for task in running:
                    task.cancel()
        if result.sent or result.blocked or result.failed:
            logger.info("alerts: %d sent, %d blocked, %d retried, %d failed, %d uncertain", result.sent,
                        result.blocked, result.retried, result.failed, result.uncertain)
        return result

    async def _send(self, bot: Bot, item: OutboxItem, render: Render, result: Delivery) -> None:
        if not await asyncio.to_thread(self.storage.start, item.id):
            return  # forgotten, blocked or sent meanwhile
        message = render(item)
        if message is None:
            await asyncio.to_thread(self.storage.mark_retry, item.id, "measure not in the index", 0.0, 0)
            result.failed += 1
            return
        text, markup = message
        max_attempts = self.settings.alerts.max_attempts
        try:
            await bot.send_message(item.chat_id, text, reply_markup=markup)
        except Forbidden:
            await asyncio.to_thread(self.storage.mark_blocked, item.user)
            result.blocked += 1
        except RetryAfter as exc:  # still limited after the rate limiter's own retries
            await self._retry(item, "429", retry_seconds(exc), max_attempts, result)
        except TimedOut as exc:  # it may have been delivered: never send it again
            await asyncio.to_thread(self.storage.mark_uncertain, item.id, f"timed out: {exc}")
            result.uncertain += 1
        except BadRequest as exc:
            if "chat not found" in str(exc).lower() or "user is deactivated" in str(exc).lower():
                await asyncio.to_thread(self.storage.mark_blocked, item.user)
                result.blocked += 1
            else:
                logger.warning("alerts: an alert was refused: %s", exc)
                await asyncio.to_thread(self.storage.mark_retry, item.id, str(exc), 0.0, 0)
                result.failed += 1
        except (NetworkError, TelegramError) as exc:  # 5xx or the network, after the limiter's retries
            await self._retry(item, str(exc), min(2.0 ** item.attempts, 600.0), max_attempts, result)
        else:
            await asyncio.to_thread(self.storage.mark_sent, item.id)
            result.sent += 1

    async def _retry(self, item: OutboxItem, error: str, delay: float, max_attempts: int, result: Delivery) -> None:
        if await asyncio.to_thread(self.storage.mark_retry, item.id, error, delay, max_attempts):
            result.retried += 1
        else:
            logger.warning("alerts: an alert was given up after %d tries: %s", item.attempts, error)
            result.failed += 1

    async def stop(self) -> None:
        """Stop delivering: sends in flight finish (briefly), nothing new starts."""
        self._stopping = True
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(task, timeout=10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                logger.warning("alerts: delivery stopped mid-way; the rest is sent after the restart")


def render(application: Application, item: OutboxItem, today: dt.date) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The message of one outbox row: its heading and the measure's card as the index has it now
    (None: the measure left the index)."""
    s = services(application.bot_data)
    measure = s.retriever.index.measures.get(item.measure_id) if s.retriever is not None else None
    if measure is None:
        return None
    lang = language(item.language)
    reply = alert_reply(item.kind, measure, today, s.settings.measures.closing_days, texts(lang),
                        outreach_texts(lang), lang)
    return split_html(reply.text)[0], markup(reply.buttons, application)


def outreach(bot_data: dict[str, Any]) -> Outreach:
    """The Outreach kept in an Application's bot_data."""
    return bot_data[OUTREACH]


async def tick_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue job: check for events and reminders, then deliver."""
    s = services(context.bot_data)
    retriever = s.retriever
    measures = retriever.index.measures if retriever is not None else None
    await outreach(context.bot_data).tick(context.application, measures, retriever)


def check_soon(application: Application) -> None:
    """Run the check now rather than at the next tick (after /reload: alerts go out at once)."""
    for job in application.job_queue.get_jobs_by_name(JOB_NAME) if application.job_queue else ():
        # Job.run, not run_once(when=0): a date job that starts late is dropped as a misfire.
        application.create_task(job.run(application), name="alerts-check-now")


async def start(application: Application) -> None:
    """At start-up (post_init): settle rows a crash left mid-send, schedule the job, run the first check."""
    o = outreach(application.bot_data)
    uncertain = await asyncio.to_thread(o.storage.recover_outbox)
    if uncertain:
        logger.warning("alerts: %d alert(s) were being sent when the bot stopped; they are not sent again "
                       "(they may have arrived)", uncertain)
    # APScheduler logs every run of the job at INFO: one line a minute that says nothing.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    job = application.job_queue.run_repeating(tick_job, interval=o.settings.alerts.check_every, name=JOB_NAME)
    # APScheduler cannot start a repeating job at once (first=0 waits a whole interval): the first
    # check runs here, so an index loaded at start-up brings its alerts now.
    await job.run(application)


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds. `retry_after` is a timedelta once PTB_TIMEDELTA
    is set (bot/telegram/app.py sets it: PTB's documented opt-in), plain seconds otherwise."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
