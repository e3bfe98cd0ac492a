"""Wire the Telegram bot: build_application(settings) -> Application, and run_bot() for `sportello run`."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.errors import ConfigError, SportelloError
from bot.search.batching import QueryBatcher
from bot.search import embedding
from bot.search import index as search_index
from bot.search.retriever import Retriever
from bot.storage import KEY_HELP, Storage
from bot.telegram import alerts, buttons, handlers, handover, inbox, measure_handlers, outbox
from bot.telegram.outbox import OUTREACH, Outreach
from bot.telegram.services import KEY, QuestionLimit, Services
from bot.telegram.texts import EN, IT

logger = logging.getLogger(__name__)

# python-telegram-bot 22 gives time periods (RetryAfter.retry_after, Telegram's "retry in" of a 429)
# as datetime.timedelta when PTB_TIMEDELTA is set: its documented opt-in to what its next major
# version does. Without it, every 429 builds a RetryAfter that warns the int form is deprecated.
# Set before any request is made; what reads a period takes either form (outbox.retry_seconds).
os.environ.setdefault("PTB_TIMEDELTA", "true")

# Loggers that may write request URLs, which carry the bot token.
URL_LOGGERS = ("httpx", "httpcore")
NETWORK_RETRIES = 5       # retries of a Bot API call after a network error or a 5xx

TOKEN_HELP = (
    "no Telegram bot token: create a bot with @BotFather, then set TELEGRAM_BOT_TOKEN "
    "(or telegram.token in sportello.yaml)"
)


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter (Telegram's flood limits, and waiting out 429 retry_after) that also retries
    calls failing with a network error or a 5xx, with backoff, so a bad moment at Telegram costs a
    delay rather than an answer. Timeouts are not retried: the call may have gone through, and a
    duplicate answer is worse than a late error. A connection dropped without an answer is retried:
    it is almost always one Telegram had already closed (docs/reliability.md, "the windows")."""

    def __init__(self, network_retries: int = NETWORK_RETRIES, backoff: float = 0.5, **kwargs: Any):
        kwargs.setdefault("max_retries", 5)
        super().__init__(**kwargs)
        self.network_retries = network_retries
        self.backoff = backoff

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # noqa: ANN001, ANN201
        delay = self.backoff
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except (TimedOut, BadRequest):
                raise
            except NetworkError as exc:
                if attempt == self.network_retries:
                    raise
                logger.warning("%s failed (%s); retrying in %.1fs", endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")  # pragma: no cover


class TokenRedactor(logging.Filter):
    """Replace the bot token in log records, in case a library writes a request URL."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token and self.token in record.getMessage():
            record.msg = record.getMessage().replace(self.token, "<token>")
            record.args = None
        return True


def protect_token(token: str) -> None:
    """Redact the token from the loggers that write request URLs (the CLI also keeps them at WARNING)
    and from the handlers configured at the entry point."""
    redactor = TokenRedactor(token)
    for name in URL_LOGGERS:
        log = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactor) and f.token == token for f in log.filters):
            log.addFilter(redactor)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, TokenRedactor) and f.token == token for f in handler.filters):
            handler.addFilter(redactor)


def check_settings(settings: Settings) -> str:
    """Refuse settings the bot cannot run with (no token, no pseudonym key); return the token."""
    token = settings.telegram.token.get_secret_value().strip() if settings.telegram.token else ""
    if not token:
        raise ConfigError(TOKEN_HELP)
    key = settings.privacy.pseudonym_key
    if key is None or not key.get_secret_value().strip():
        raise ConfigError(KEY_HELP)
    return token


def build_application(settings: Settings, retriever: Retriever | None = None,
                      storage: Storage | None = None, clock: Callable[[], float] = time.time) -> Application:
    """The bot: handlers, rate limits and services; the retriever is loaded in post_init unless given.
    `clock` (unix time) drives quiet hours, office hours and the alerts' "today" (tests inject one)."""
    token = check_settings(settings)
    storage = storage or Storage.from_settings(settings)  # refuses to run without a pseudonym key
    protect_token(token)
    reach = Outreach(settings, storage, clock)

    services = Services(
        settings=settings,
        storage=storage,
        executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="search"),
        retriever=retriever,
        limit=QuestionLimit(settings.telegram.questions_per_minute),
    )

    async def post_init(application: Application) -> None:
        if services.retriever is None:
            services.retriever = await asyncio.to_thread(load_retriever, settings)
        # One search now, so the first user does not wait for lazy loading.
        await asyncio.get_running_loop().run_in_executor(services.executor, services.search.search, "avvio")
        # Questions arriving together are embedded in one call, by the model of the retriever in use
        # (a /reload keeps the settings, so the model is the same one).
        services.batcher = QueryBatcher(lambda texts: services.search.embedder.encode_queries(texts),
                                        settings.embedding.batch_window_ms / 1000, settings.embedding.batch_max)
        await application.bot.set_my_commands(IT.commands)
        await application.bot.set_my_commands(EN.commands, language_code="en")
        for admin in settings.telegram.admins:
            scope = BotCommandScopeChat(admin)
            try:
                await application.bot.set_my_commands(IT.commands + IT.admin_commands, scope=scope)
                await application.bot.set_my_commands(EN.commands + EN.admin_commands, scope=scope,
                                                      language_code="en")
            except TelegramError as exc:  # e.g. the admin has not opened a chat with the bot yet
                logger.info("one admin's command menu was not set: %s", exc.message)  # no user id in logs
        await outbox.start(application)  # alerts: settle an interrupted broadcast, schedule the checks
        await received.replay(application)  # what an earlier run received and did not answer
        logger.info("bot @%s ready", application.bot.username)

    async def post_stop(application: Application) -> None:
        await reach.stop()

    async def post_shutdown(application: Application) -> None:
        if services.batcher is not None:
            services.batcher.close()
        services.executor.shutdown(wait=True)
        storage.close()

    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .rate_limiter(RetryingRateLimiter(overall_max_rate=settings.telegram.messages_per_second))
        # Every reply is Telegram HTML without link previews: said once here, not on every send.
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(True)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    # Updates kept durably before Telegram is told they arrived, each answered once (bot/telegram/inbox.py).
    # Ages are measured against the wall clock, not `clock`: message dates are Telegram's real time.
    received = inbox.wire(builder, storage, settings.telegram.max_update_age_hours, time.time)
    application = builder.build()
    application.inbox = received
    application.bot_data[KEY] = services
    application.bot_data[OUTREACH] = reach
    add_handlers(application, services)
    return application


def add_handlers(application: Application, services: Services) -> None:
    """Register the callbacks; order matters (commands before free text)."""
    new = filters.UpdateType.MESSAGE  # an edited command is not run again
    messages = filters.UpdateType.MESSAGES  # messages and their edits; channel posts are ignored
    add_outreach_handlers(application, services)
    commands: list[tuple[list[str], Callable]] = [
        (["start"], handlers.start),
        (["help", "aiuto"], handlers.help_command),
        (["topics", "argomenti"], handlers.topics),
        (["privacy"], handlers.privacy),
        (["forget", "dimentica"], handlers.forget),
        (["profilo", "profile"], measure_handlers.profile),
        (["perme", "forme"], measure_handlers.for_me),
        (["reload"], handlers.reload),
        (["stats"], handlers.stats),
    ]
    for names, callback in commands:
        application.add_handler(CommandHandler(names, callback, filters=new))
    application.add_handler(MessageHandler(new & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(messages & filters.TEXT & ~filters.COMMAND, handlers.question))
    media = (filters.PHOTO | filters.Sticker.ALL | filters.VOICE | filters.AUDIO | filters.VIDEO
             | filters.VIDEO_NOTE | filters.Document.ALL | filters.ANIMATION | filters.LOCATION | filters.CONTACT)
    application.add_handler(MessageHandler(new & media, handlers.not_text))
    on_button = {
        buttons.Feedback: handlers.on_feedback,
        buttons.More: handlers.on_more,
        buttons.Continue: handlers.on_continue,
        buttons.Ask: handlers.on_ask,
        buttons.Topic: handlers.on_topic,
        buttons.Topics: handlers.on_topics,
        buttons.ProfileSet: measure_handlers.on_profile_set,
        buttons.ForMe: measure_handlers.on_for_me,
        buttons.Card: measure_handlers.on_card,
    }
    for kind, callback in on_button.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=services.callbacks.pattern(kind)))
    application.add_handler(CallbackQueryHandler(handlers.on_stale_button))
    application.add_error_handler(handlers.error_handler)


def add_outreach_handlers(application: Application, services: Services) -> None:
    """Alerts, saved measures and the handover to staff (before the general handlers: a reply to a
    case message is not a question)."""
    new = filters.UpdateType.MESSAGE
    for names, callback in ((["avvisi", "alerts"], alerts.alerts_command), (["salvati", "saved"], alerts.saved_command)):
        application.add_handler(CommandHandler(names, callback, filters=new))
    staff_chat = services.settings.telegram.staff_chat
    if staff_chat is not None:
        staff = filters.Chat(chat_id=staff_chat)
        application.add_handler(CommandHandler(["chiudi", "close"], handover.close_command, filters=new & staff))
        application.add_handler(MessageHandler(new & staff & filters.REPLY & filters.TEXT & ~filters.COMMAND,
                                               handover.staff_message))
        application.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & filters.REPLY & filters.TEXT
                                               & ~filters.COMMAND, handover.user_message))
    on_button = {
        buttons.AlertTopic: alerts.on_alert_topic,
        buttons.Save: alerts.on_save,
        buttons.Unsave: alerts.on_unsave,
        buttons.Handover: handover.on_handover,
        buttons.HandoverSend: handover.on_handover_send,
        buttons.HandoverCancel: handover.on_handover_cancel,
    }
    for kind, callback in on_button.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=services.callbacks.pattern(kind)))


def load_retriever(settings: Settings) -> Retriever:
    """The index in use at start-up, refused when missing, damaged, or built with another format,
    model or settings. While the knowledge files are broken, or changed since the last build, that
    build is served and the log says so: a restart never takes the bot down over knowledge it has
    not built yet (`/reload` still refuses until `sportello build` has run)."""
    embedder = embedding.Embedder(settings.embedding)  # looked up at call time: tests share one model
    index = search_index.load(settings, embedder, serve_unbuilt=True)
    if index.warning:
        logger.warning(index.warning)
    return Retriever(index, embedder, settings.retrieval, settings.measures)


def run_bot(settings: Settings, webhook: bool = False) -> None:
    """Run the bot until interrupted (long polling, or a webhook server)."""
    tg = settings.telegram
    if webhook and not tg.webhook_url:
        raise ConfigError("webhook mode needs a URL: --webhook-url or SPORTELLO_TELEGRAM__WEBHOOK_URL")
    check_settings(settings)  # fail fast, before the slow model and index load
    retriever = load_retriever(settings)  # a missing, damaged or mismatched index is refused
    application = build_application(settings, retriever)
    # bootstrap_retries=-1: while Telegram or the network is down at start-up, python-telegram-bot
    # keeps retrying (with its own back-off) instead of exiting.
    try:
        if webhook:
            # Without a configured secret, a random one per start: Telegram echoes it on every
            # request, so whoever else finds the URL still cannot post updates to it.
            secret = tg.secret_token.get_secret_value() if tg.secret_token else secrets.token_urlsafe(32)
            application.run_webhook(
                listen=tg.listen, port=tg.port, url_path=urlsplit(tg.webhook_url).path.lstrip("/"),
                webhook_url=tg.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES,
                bootstrap_retries=-1, close_loop=False,
            )
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1, close_loop=False)
    except InvalidToken:
        raise SportelloError("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN (from @BotFather)") from None
