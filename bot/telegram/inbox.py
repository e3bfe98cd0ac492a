"""Nothing received is lost, nothing is answered twice: the inbox between Telegram and the handlers.

- Every update is kept durably (`Storage.receive`, fsync'd) as it is put in the update queue, that
  is before python-telegram-bot confirms its offset with the next getUpdates call (or, with a
  webhook, before the POST is answered 200).
- Each update is handled once per id: a duplicate or a re-delivered update is dropped (`claim`).
- Right before the first Bot API call that a user can see (a reply, an edit, a callback answer),
  the update is marked `sending` (fsync'd); when its handlers return, `done`.
- After a crash, what was `pending` is put back in the queue at start (`replay`). A `sending` update
  is not: its reply may already be at Telegram, which offers no way to ask. That is the one window
  where a reply can be lost: from the `sending` mark until Telegram has the request (docs/reliability.md).
- An update Telegram sends that python-telegram-bot cannot read is replaced by its bare id, so the
  offset moves past it instead of polling the same batch forever; a webhook POST that is not JSON,
  or not an update, is answered 200 (anything else makes Telegram send it again and again).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import telegram.ext._utils.webhookhandler as ptb_webhook
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ExtBot
from telegram.request import HTTPXRequest

from bot.inbox_store import Pending
from bot.storage import Storage
from bot.telegram.texts import language, texts

logger = logging.getLogger(__name__)

# The update whose handlers are running in this task (tasks inherit it), so a Bot API call knows
# which update it answers.
CURRENT: ContextVar[int | None] = ContextVar("sportello_update", default=None)
# Bot API methods a user does not see: calling them again after a crash is harmless.
UNSEEN = {"getUpdates", "getMe", "getChatMember", "getChat", "getMyCommands", "setMyCommands",
          "deleteMyCommands", "sendChatAction", "setWebhook", "deleteWebhook", "getWebhookInfo",
          "close", "logOut", "getFile"}


class Inbox:
    """The bot's side of the inbox table: receive, claim, mark and replay updates."""

    def __init__(self, storage: Storage, max_age: float = 0.0, clock: Callable[[], float] = time.time):
        self.storage = storage
        self.max_age = max_age      # seconds; 0: no limit
        self.clock = clock
        self._claimed: set[int] = set()   # being handled in this run
        self._sending: set[int] = set()   # marked `sending` in this run, not yet done
        self.stale: int = 0               # updates not answered because they were too old (this run)
        self.duplicates: int = 0          # updates dropped because they were already handled (this run)

    async def receive(self, update: Update) -> None:
        """Keep the update durably; a database that cannot (full, locked) costs durability, not the answer."""
        user = update.effective_user.id if update.effective_user else None
        try:
            await asyncio.to_thread(self.storage.receive, update.update_id, update.to_dict(), user)
        except sqlite3.Error as exc:
            logger.error("update %d not kept in the inbox (%s): it is answered, but would be lost in a crash",
                         update.update_id, exc)

    async def claim(self, update: Update) -> bool:
        """True if this update is to be handled now; False for a duplicate, one already handled, or
        one too old to answer (recorded as handled)."""
        uid = update.update_id
        if uid in self._claimed:
            self.duplicates += 1
            logger.info("update %d arrived twice while handled: the copy is dropped", uid)
            return False
        self._claimed.add(uid)
        try:
            settled = await asyncio.to_thread(self.storage.settled, uid)
        except sqlite3.Error as exc:
            logger.error("inbox unreadable (%s): update %d is answered without the duplicate check", exc, uid)
            settled = False
        if settled:
            self.duplicates += 1
            logger.info("update %d was already handled: dropped", uid)
            return False
        age = self.age(update)
        if self.max_age and age is not None and age > self.max_age:
            self.stale += 1
            logger.warning("update %d is %.1f hours old (limit telegram.max_update_age_hours): not answered",
                           uid, age / 3600)
            await self.done(uid)
            return False
        return True

    def age(self, update: Update) -> float | None:
        """Seconds since the user wrote the message (or edited it); None when the update has no date
        of its own (a button tap carries its message's date, not the tap's)."""
        message = update.message or update.edited_message or update.channel_post or update.edited_channel_post
        if message is None:
            return None
        when = message.edit_date if update.edited_message or update.edited_channel_post else message.date
        if when is None:
            when = message.date
        return self.clock() - when.timestamp()

    async def sending(self, update_id: int) -> None:
        """Mark the update `sending` before its first visible Bot API call (once)."""
        if update_id in self._sending:
            return
        self._sending.add(update_id)
        try:
            # In the event loop itself (one fsync, well under a millisecond here), not in a thread:
            # a hop through a thread would leave the loop free to run other tasks between the mark
            # and the call, and everything between them is the window in which a reply can be lost.
            self.storage.mark_sending(update_id)
        except sqlite3.Error as exc:
            logger.error("update %d not marked before its reply (%s)", update_id, exc)

    async def done(self, update_id: int) -> None:
        """The update's handlers returned: record it as handled."""
        try:
            await asyncio.to_thread(self.storage.mark_done, update_id)
        except sqlite3.Error as exc:
            logger.error("update %d not marked handled (%s)", update_id, exc)
            return  # stays claimed in memory, so at least this run does not answer it twice
        self._claimed.discard(update_id)
        self._sending.discard(update_id)

    async def replay(self, application: Application) -> int:
        """Put back in the queue what an earlier run received and did not handle; return how many."""
        try:
            interrupted = await asyncio.to_thread(self.storage.settle_interrupted)
            pending = await asyncio.to_thread(self.storage.pending_updates)
        except sqlite3.Error as exc:
            logger.error("inbox unreadable (%s): updates pending from the last run are not answered", exc)
            return 0
        if interrupted:
            logger.warning("%d updates were being answered when the bot stopped: their replies may or may not "
                           "have reached Telegram, and are not sent again; their senders are told", len(interrupted))
            await self._tell_interrupted(application, interrupted)
        for item in pending:
            try:
                update = Update.de_json(item.raw, application.bot)
            except Exception as exc:  # noqa: BLE001 - a row from an older version, or damaged
                logger.warning("pending update %d cannot be read (%s): dropped", item.update_id, type(exc).__name__)
                await self.done(item.update_id)
                continue
            await application.update_queue.put(update)
        if pending:
            logger.info("%d updates received before the last stop and not answered: answering them now", len(pending))
        return len(pending)


    async def _tell_interrupted(self, application: Application, interrupted: list[Pending]) -> None:
        """Tell each sender whose reply may have been lost that the bot restarted, quoting the question.
        Their rows are already settled, so a crash here sends each notice at most once."""
        for item in interrupted:
            try:
                update = Update.de_json(item.raw, application.bot) if item.raw else None
            except Exception:  # noqa: BLE001 - a damaged row: nobody to tell
                update = None
            chat = update.effective_chat if update is not None else None
            if chat is None:
                continue
            user = update.effective_user
            said = update.message.text if update.message is not None and update.message.text else ""
            quoted = f" «{html.escape(said[:80])}»" if said else ""
            lang = language(user.language_code if user else None)
            try:
                await application.bot.send_message(chat.id, texts(lang).restart_notice.format(question=quoted),
                                                   parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                logger.info("a restart notice was not delivered: %s", exc.message)


class InboxQueue(asyncio.Queue):
    """The Application's update queue: an update is kept in the inbox before it is queued."""

    inbox: Inbox | None = None

    async def put(self, item: Any) -> None:
        if self.inbox is None or not isinstance(item, Update):
            await super().put(item)
            return
        # Shielded: a stop cancels the polling task wherever it is; an update already kept must
        # still reach the queue, so the drain answers it now rather than the next start.
        await asyncio.shield(self._keep_and_queue(item))

    async def _keep_and_queue(self, update: Update) -> None:
        assert self.inbox is not None
        await self.inbox.receive(update)
        await super().put(update)


class InboxApplication(Application):
    """The Application, handling each update at most once and recording when it is done."""

    inbox: Inbox | None = None

    async def process_update(self, update: object) -> None:
        inbox = self.inbox
        if inbox is None or not isinstance(update, Update):
            await super().process_update(update)
            return
        if not await inbox.claim(update):
            return
        token = CURRENT.set(update.update_id)
        try:
            await super().process_update(update)  # handler errors are caught there (error handler)
        finally:
            CURRENT.reset(token)
        # Not reached when cancelled (a stop that does not drain): the update stays `pending` or
        # `sending`, and the next start decides.
        await inbox.done(update.update_id)


class InboxRequest(HTTPXRequest):
    """Bot API calls: marks the update being answered `sending` before a call a user can see; on
    getUpdates, replaces updates python-telegram-bot cannot read by their bare id."""

    def __init__(self, inbox: Inbox | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.inbox = inbox

    async def do_request(self, url: str, method: str, request_data: Any = None, **kwargs: Any) -> tuple[int, bytes]:
        api_method = url.rpartition("/")[2]
        update_id = CURRENT.get()
        if self.inbox is not None and update_id is not None and api_method not in UNSEEN:
            await self.inbox.sending(update_id)
        status, payload = await super().do_request(url, method, request_data, **kwargs)
        if api_method == "getUpdates" and status == 200:
            payload = readable_updates(payload)
        return status, payload


def readable_updates(payload: bytes) -> bytes:
    """The getUpdates answer with every update that cannot be parsed replaced by {"update_id": N}
    (logged without its content), so polling moves past it instead of failing on it forever."""
    try:
        body = json.loads(payload)
    except ValueError:
        return payload  # not JSON: python-telegram-bot reports it and polls again
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return payload
    fixed: list[Any] = []
    for raw in result:
        try:
            if not isinstance(raw, dict):
                raise TypeError("not an object")
            Update.de_json(raw, None)
            fixed.append(raw)
        except Exception as exc:  # noqa: BLE001 - whatever the library cannot read
            uid = raw.get("update_id") if isinstance(raw, dict) else None
            kinds = sorted(k for k in raw if k != "update_id") if isinstance(raw, dict) else []
            logger.warning("update %s (%s) cannot be read (%s): skipped", uid, ", ".join(kinds) or "no fields",
                           type(exc).__name__)
            if isinstance(uid, int) and not isinstance(uid, bool):
                fixed.append({"update_id": uid})
    if len(fixed) == len(result) and all(a is b for a, b in zip(fixed, result)):
        return payload
    return json.dumps({**body, "result": fixed}).encode()


class SafeTelegramHandler(ptb_webhook.TelegramHandler):
    """python-telegram-bot's webhook handler, except that a POST with the right secret whose body is
    not JSON, or not an update, is logged and answered 200: Telegram retries any other answer
    forever, and a bad body will not get better."""

    async def post(self) -> None:
        self._validate_post()  # the content type and the secret token: 403 otherwise
        try:
            data = json.loads(self.request.body.decode())
            update = Update.de_json(data, self.bot) if isinstance(data, dict) else None
            if update is None:
                raise TypeError("not an update")
        except Exception as exc:  # noqa: BLE001 - whatever the body is
            logger.warning("webhook: a request that is not a readable update was skipped (%s)", type(exc).__name__)
            self.set_status(200)
            return
        self.set_status(200)
        if isinstance(self.bot, ExtBot):
            self.bot.insert_callback_data(update)
        await self.update_queue.put(update)


def install_webhook_handler() -> None:
    """Make python-telegram-bot's webhook server use SafeTelegramHandler (its app class looks the
    handler up in its module when a server starts; tests/test_crash_restart.py checks it still does)."""
    ptb_webhook.TelegramHandler = SafeTelegramHandler  # type: ignore[misc]


def wire(builder: Any, storage: Storage, max_age_hours: float, clock: Callable[[], float]) -> Inbox:
    """Set the inbox's queue, application class and requests on an ApplicationBuilder; return the inbox."""
    inbox = Inbox(storage, max_age_hours * 3600, clock)
    queue = InboxQueue()
    queue.inbox = inbox
    builder.update_queue(queue)
    builder.application_class(InboxApplication)
    # The sizes python-telegram-bot would choose itself: one connection for getUpdates, 256 for the rest.
    builder.request(InboxRequest(inbox, connection_pool_size=256))
    builder.get_updates_request(InboxRequest(None, connection_pool_size=1))
    install_webhook_handler()
    return inbox
