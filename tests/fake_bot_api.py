"""A fake Telegram Bot API server on 127.0.0.1, for end-to-end tests with the real python-telegram-bot.

It answers the methods the bot uses with realistic JSON, feeds queued updates to `getUpdates` (long
polling) or POSTs them to the webhook the bot registered, records every call, and injects faults
(HTTP 429 with retry_after, 5xx, slow replies, a share of calls failing at random, users who
blocked the bot, calls held in flight, connections dropped without an answer, the same update
delivered twice). Group chats: `members` says who belongs to which group
(getChatMember). Standard library only: an http.server in a thread.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_ID = 7000001
BOT_USERNAME = "SportelloTestBot"
# Form fields PTB sends JSON-encoded (everything not a plain string).
JSON_FIELDS = {
    "chat_id", "message_id", "reply_markup", "offset", "limit", "timeout", "allowed_updates", "commands",
    "scope", "reply_parameters", "link_preview_options", "show_alert", "cache_time", "entities", "user_id",
    "drop_pending_updates", "max_connections", "disable_notification", "protect_content",
    "reply_to_message_id", "allow_sending_without_reply",
}


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    status: int = 200
    received: float = 0.0    # unix time the request arrived (before any hold or delay)


@dataclass
class Fault:
    method: str | None      # None: any method except getUpdates
    status: int = 500
    retry_after: int | None = None
    delay: float = 0.0       # a slow reply (then answered normally when status is 200)
    count: int = 1
    # "before": the connection is closed without an answer and the call is not carried out;
    # "after": it is carried out, then the connection is closed without an answer.
    drop: str | None = None


@dataclass
class Sent:
    """A message the bot has in a chat (sent, then maybe edited)."""

    message_id: int
    chat_id: int
    text: str
    reply_markup: dict | None
    reply_to: int | None = None
    edits: int = 0
    history: list[str] = field(default_factory=list)

    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback data or url) of every button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data") or b.get("url", "")) for row in rows for b in row]


class FakeBotApi:
    """The server. Use as a context manager; `base_url` goes into telegram.base_url."""

    def __init__(self, token: str):
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[int, Sent] = {}  # by message_id (unique across chats here)
        self.commands: dict[str, list[dict]] = {}
        self.scoped_commands: dict[tuple[Any, str], list[dict]] = {}  # (chat id, language) -> menu
        self.webhook: dict[str, Any] | None = None
        self.webhook_responses: list[int] = []
        self._updates: list[dict] = []
        self._faults: list[Fault] = []
        self._cond = threading.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._user_message_ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A client that hangs up (a bot killed mid-call) is normal here, not an error to print.
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-bot-api", daemon=True)
        self._webhook_queue: list[dict] = []
        self._webhook_thread: threading.Thread | None = None
        self.members: dict[int, set[int]] = {}   # group chat id -> user ids (getChatMember)
        self.blocked: set[int] = set()           # chats whose user blocked the bot: 403
        self._flaky: tuple[str, float, random.Random, tuple[tuple[int, int | None], ...]] | None = None
        self._hold_after: int | None = None      # sendMessage calls let through before holding the rest
        self._released = threading.Event()
        self.held = 0                            # calls waiting at the hold

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> FakeBotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    _closed = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/file/bot"

    # --- faults -----------------------------------------------------------------------------------

    def fail(self, method: str | None = None, status: int = 500, count: int = 1, retry_after: int | None = None,
             delay: float = 0.0, drop: str | None = None) -> None:
        """Make the next `count` calls to `method` (None: any but getUpdates) fail, be slow, or have
        their connection dropped (`drop`: "before" or "after" carrying the call out)."""
        with self._cond:
            self._faults.append(Fault(method, status, retry_after, delay, count, drop))

    def flaky(self, rate: float, method: str = "sendMessage", seed: int = 1,
              faults: tuple[tuple[int, int | None], ...] = ((429, 1), (500, None), (502, None))) -> None:
        """Fail a share `rate` of the calls to `method` at random (seeded), each with one of `faults`
        (status, retry_after); rate 0 stops it."""
        with self._cond:
            self._flaky = (method, rate, random.Random(seed), faults) if rate > 0 else None

    def hold(self, after: int) -> None:
        """Let `after` more sendMessage calls through, then keep the next ones waiting (received, not
        answered: in flight) until `release()`; they are then delivered, as Telegram would deliver a
        request whose sender died after sending it."""
        with self._cond:
            self._released.clear()
            self._hold_after = len([c for c in self.calls if c.method == "sendMessage" and c.status == 200]) + after

    def release(self) -> None:
        with self._cond:
            self._hold_after = None
        self._released.set()

    def _take_fault(self, method: str) -> Fault | None:
        with self._cond:
            if self._flaky is not None and self._flaky[0] == method:
                _, rate, rng, faults = self._flaky
                if rng.random() < rate:
                    status, retry_after = rng.choice(faults)
                    return Fault(method, status, retry_after)
            for fault in self._faults:
                if fault.count > 0 and (fault.method == method or (fault.method is None and method != "getUpdates")):
                    fault.count -= 1
                    return fault
        return None

    # --- updates ----------------------------------------------------------------------------------

    def push(self, update: dict) -> dict:
        """Queue an update: POSTed to the webhook if one is set, otherwise served by getUpdates."""
        update = {"update_id": next(self._update_ids), **update}
        with self._cond:
            if self.webhook:
                self._webhook_queue.append(update)
            else:
                self._updates.append(update)
            self._cond.notify_all()
        return update

    @property
    def unconfirmed(self) -> int:
        """Updates queued for getUpdates whose offset the bot has not confirmed yet."""
        with self._cond:
            return len(self._updates)

    def redeliver(self, update: dict) -> None:
        """Queue an update already pushed again, same id: Telegram delivering it twice."""
        with self._cond:
            if self.webhook:
                self._webhook_queue.append(update)
            else:
                self._updates.append(update)
                self._updates.sort(key=lambda u: u["update_id"])
            self._cond.notify_all()

    def user(self, user_id: int = 42, lang: str = "it", first_name: str = "Anna") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": lang}

    def message(self, text: str | None = None, user_id: int = 42, lang: str = "it", chat_id: int | None = None,
                chat_type: str = "private", reply_to: int | None = None, edited: bool = False,
                extra: dict | None = None) -> dict:
        """Push a user's message; commands get their bot_command entity, @mentions their mention entity."""
        return self.push(self._message(text, user_id, lang, chat_id, chat_type, reply_to, edited, extra))

    def update(self, text: str, user_id: int = 42, lang: str = "it") -> dict:
        """A user's message as the update Telegram would send, not queued: for a test that posts it
        to the webhook itself (with a wrong secret, say)."""
        return {"update_id": next(self._update_ids), **self._message(text, user_id, lang)}

    def _message(self, text: str | None = None, user_id: int = 42, lang: str = "it", chat_id: int | None = None,
                 chat_type: str = "private", reply_to: int | None = None, edited: bool = False,
                 extra: dict | None = None) -> dict:
        chat_id = chat_id if chat_id is not None else user_id
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Anna"
        else:
            chat["title"] = "Imprese di Prato"
        msg: dict[str, Any] = {"message_id": next(self._user_message_ids), "date": int(time.time()),
                               "chat": chat, "from": self.user(user_id, lang)}
        if text is not None:
            msg["text"] = text
            entities = []
            if text.startswith("/"):
                entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
            mention = f"@{BOT_USERNAME}".lower()  # Telegram matches usernames in any case
            if mention in text.lower():
                entities.append({"type": "mention", "offset": _utf16_len(text[: text.lower().index(mention)]),
                                 "length": _utf16_len(mention)})
            if entities:
                msg["entities"] = entities
        if reply_to is not None:
            replied = self.messages[reply_to]
            msg["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()), "chat": chat,
                                       "from": self.bot_user(), "text": replied.text}
        if edited:
            msg["edit_date"] = int(time.time())
        msg.update(extra or {})
        return {"edited_message" if edited else "message": msg}

    def channel_post(self, text: str, chat_id: int = -100777) -> dict:
        post = {"message_id": next(self._user_message_ids), "date": int(time.time()), "text": text,
                "chat": {"id": chat_id, "type": "channel", "title": "Notizie"}}
        return self.push({"channel_post": post})

    def tap(self, sent: Sent, data: str, user_id: int = 42, lang: str = "it") -> dict:
        """Push a callback query: the user taps a button of a bot message."""
        message = {"message_id": sent.message_id, "date": int(time.time()),
                   "chat": {"id": sent.chat_id, "type": "private" if sent.chat_id > 0 else "supergroup"},
                   "from": self.bot_user(), "text": sent.text}
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        query = {"id": str(next(self._update_ids) + 10_000), "from": self.user(user_id, lang),
                 "chat_instance": f"ci-{sent.chat_id}", "data": data, "message": message}
        return self.push({"callback_query": query})

    # --- reading what the bot did -----------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and c.status == 200]

    def sent(self, chat_id: int | None = None) -> list[Sent]:
        """Messages the bot sent successfully, in order (optionally in one chat)."""
        with self._cond:
            return [m for m in self.messages.values() if chat_id is None or m.chat_id == chat_id]

    def wait(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
        """Wait until `predicate()` is truthy (polling; no timing assumptions beyond the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; calls: {[c.method for c in self.calls][-30:]}")

    def wait_sent(self, count: int, chat_id: int | None = None, timeout: float = 60.0) -> list[Sent]:
        """Wait until at least `count` messages have been sent (to a chat); return them."""
        return self.wait(lambda: (s := self.sent(chat_id)) and len(s) >= count and s, timeout,
                         f"{count} messages sent to {chat_id}")

    def bot_user(self) -> dict:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Sportello", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    # --- the HTTP side ----------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:  # the sender died mid-request: like Telegram, carry nothing out
                    self.close_connection = True
                    return
                status, payload = api._dispatch(self.path, self.headers.get("Content-Type", ""), body)
                if status == DROPPED:  # hang up without a word
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # the bot gave up on a long poll while shutting down
                    pass

            do_GET = do_POST

        return Handler

    def _dispatch(self, path: str, content_type: str, body: bytes) -> tuple[int, dict]:
        prefix = "/bot"
        if not path.startswith(prefix):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, _, method = path[len(prefix):].partition("/")
        received = time.time()
        params = _parse(content_type, body)
        if token != self.token:
            self._record(Call(method, params, 401))
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "sendMessage" and int(params.get("chat_id", 0)) in self.blocked:
            self._record(Call(method, params, 403))
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        fault = self._take_fault(method)
        if fault is None and method == "sendMessage":
            self._wait_if_held()
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop == "before":
                self._record(Call(method, params, DROPPED, received))
                return DROPPED, {}
            if fault.status != 200 and fault.drop is None:
                self._record(Call(method, params, fault.status))
                reply: dict[str, Any] = {"ok": False, "error_code": fault.status,
                                         "description": "Too Many Requests: retry later" if fault.status == 429
                                         else "Internal Server Error"}
                if fault.retry_after is not None:
                    reply["parameters"] = {"retry_after": fault.retry_after}
                return fault.status, reply
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            self._record(Call(method, params, 404))
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        try:
            result = handler(params)
        except _ApiError as exc:
            self._record(Call(method, params, 400))
            return 400, {"ok": False, "error_code": 400, "description": exc.description}
        self._record(Call(method, params, 200, received))
        if fault is not None and fault.drop == "after":  # carried out, but the answer never leaves
            return DROPPED, {}
        return 200, {"ok": True, "result": result}

    def _wait_if_held(self) -> None:
        with self._cond:
            held = self._hold_after is not None and len(
                [c for c in self.calls if c.method == "sendMessage" and c.status == 200]) >= self._hold_after
            if held:
                self.held += 1
        if held:
            self._released.wait(120)

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)

    # --- methods ----------------------------------------------------------------------------------

    def _api_getMe(self, params: dict) -> dict:
        return self.bot_user()

    def _api_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 5.0)
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._closed and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self._updates[: int(params.get("limit") or 100)])

    def _api_setMyCommands(self, params: dict) -> bool:
        scope = params.get("scope")
        if scope:  # {"type": "chat", "chat_id": ...}: kept apart from the default menus
            scope = json.loads(scope) if isinstance(scope, str) else scope
            self.scoped_commands[(scope.get("chat_id"), params.get("language_code") or "")] = params["commands"]
        else:
            self.commands[params.get("language_code") or ""] = params["commands"]
        return True

    def _api_getMyCommands(self, params: dict) -> list[dict]:
        return self.commands.get(params.get("language_code") or "", [])

    def _api_deleteWebhook(self, params: dict) -> bool:
        with self._cond:
            self.webhook = None
        return True

    def _api_setWebhook(self, params: dict) -> bool:
        with self._cond:
            self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
            self._webhook_queue = self._updates + self._webhook_queue
            self._updates = []
            if self._webhook_thread is None:
                self._webhook_thread = threading.Thread(target=self._deliver, name="fake-webhook", daemon=True)
                self._webhook_thread.start()
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: dict) -> dict:
        return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    def _api_sendMessage(self, params: dict) -> dict:
        text = params.get("text", "")
        if not text.strip():
            raise _ApiError("Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiError("Bad Request: message is too long")
        _check_html(text, params.get("parse_mode"))
        reply_to = (params.get("reply_parameters") or {}).get("message_id")
        sent = Sent(next(self._message_ids), int(params["chat_id"]), text, params.get("reply_markup"), reply_to)
        _check_markup(sent.reply_markup)
        with self._cond:
            self.messages[sent.message_id] = sent
        return self._message_json(sent)

    def _api_editMessageText(self, params: dict) -> dict:
        sent = self._find(params)
        text = params.get("text", "")
        if len(text) > 4096:
            raise _ApiError("Bad Request: message is too long")
        _check_html(text, params.get("parse_mode"))
        if text == sent.text and params.get("reply_markup") == sent.reply_markup:
            raise _ApiError("Bad Request: message is not modified")
        _check_markup(params.get("reply_markup"))
        sent.history.append(sent.text)
        sent.text, sent.reply_markup, sent.edits = text, params.get("reply_markup"), sent.edits + 1
        return self._message_json(sent)

    def _api_editMessageReplyMarkup(self, params: dict) -> dict:
        sent = self._find(params)
        _check_markup(params.get("reply_markup"))
        sent.reply_markup, sent.edits = params.get("reply_markup"), sent.edits + 1
        return self._message_json(sent)

    def _api_getChatMember(self, params: dict) -> dict:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = "member" if user_id in self.members.get(chat_id, set()) else "left"
        return {"status": status, "user": self.user(user_id)}

    def _api_answerCallbackQuery(self, params: dict) -> bool:
        return True

    def _api_sendChatAction(self, params: dict) -> bool:
        return True

    def _api_close(self, params: dict) -> bool:
        return True

    def _find(self, params: dict) -> Sent:
        sent = self.messages.get(int(params.get("message_id", 0)))
        if sent is None or sent.chat_id != int(params.get("chat_id", 0)):
            raise _ApiError("Bad Request: message to edit not found")
        return sent

    def _message_json(self, sent: Sent) -> dict:
        chat = {"id": sent.chat_id, "type": "private" if sent.chat_id > 0 else "supergroup"}
        out: dict[str, Any] = {"message_id": sent.message_id, "date": int(time.time()), "chat": chat,
                               "from": self.bot_user(), "text": _visible(sent.text)}
        if sent.reply_markup:
            out["reply_markup"] = sent.reply_markup
        return out

    # --- webhook delivery -------------------------------------------------------------------------

    def _deliver(self) -> None:
        """POST queued updates to the webhook, in order, like Telegram (retrying on failure)."""
        while True:
            with self._cond:
                while not self._webhook_queue and not self._closed:
                    self._cond.wait(1.0)
                if self._closed:
                    return
                update = self._webhook_queue[0]
                hook = dict(self.webhook or {})
            status = self.post_to_webhook(update, hook.get("secret_token"))
            with self._cond:
                self.webhook_responses.append(status)
                if status == 200:
                    self._webhook_queue.pop(0)
            if status != 200:
                time.sleep(0.2)

    def post_to_webhook(self, update: dict, secret: str | None) -> int:
        """POST one update to the registered webhook with this secret; return the HTTP status."""
        return self.post_body_to_webhook(json.dumps(update).encode(), secret)

    def post_body_to_webhook(self, body: bytes, secret: str | None) -> int:
        """POST raw bytes (an update or anything else) to the registered webhook; the HTTP status,
        0 when nothing answers."""
        url = (self.webhook or {})["url"]
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        if secret is not None:
            request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0


DROPPED = -1  # the status of a call whose connection was closed without an answer


class _ApiError(Exception):
    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body)
    if "multipart" in content_type:
        raise NotImplementedError("the fake server does not take file uploads")
    params: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        value = values[-1]
        params[key] = json.loads(value) if key in JSON_FIELDS else value
    return params


_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "blockquote",
                 "span", "tg-spoiler", "tg-emoji"}


def _check_html(text: str, parse_mode: str | None) -> None:
    """Reject what Telegram rejects: unknown tags, unbalanced tags, a bare '<' or '&'."""
    if (parse_mode or "").upper() != "HTML":
        return
    import re

    stack: list[str] = []
    for match in re.finditer(r"<(/?)([a-zA-Z-]*)[^>]*>|&(#?\w+);|[<&]", text):
        whole = match.group(0)
        if whole in ("<", "&"):
            raise _ApiError(f"Bad Request: can't parse entities: unexpected {whole!r} at offset {match.start()}")
        if whole.startswith("&"):
            if match.group(3) not in {"lt", "gt", "amp", "quot"} and not match.group(3).startswith("#"):
                raise _ApiError(f"Bad Request: can't parse entities: unsupported entity {whole}")
            continue
        closing, name = match.group(1), match.group(2).lower()
        if name not in _ALLOWED_TAGS:
            raise _ApiError(f"Bad Request: can't parse entities: unsupported start tag {name!r}")
        if closing:
            if not stack or stack.pop() != name:
                raise _ApiError(f"Bad Request: can't parse entities: unmatched end tag {name!r}")
        else:
            stack.append(name)
    if stack:
        raise _ApiError(f"Bad Request: can't parse entities: unclosed tag {stack[-1]!r}")


def _check_markup(markup: dict | None) -> None:
    for row in (markup or {}).get("inline_keyboard", []):
        for b in row:
            data = b.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise _ApiError("Bad Request: BUTTON_DATA_INVALID")


def _visible(text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
