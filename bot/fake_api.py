"""A fake Telegram Bot API at the request layer, for tests and the offline console.

`FakeBotApi` is a `telegram.request.BaseRequest`: handed to ApplicationBuilder.request() and
.get_updates_request(), it receives every call the real bot makes, after PTB has serialised
it, and answers as Telegram does (messages with ids and dates, edits, 400 for a message that
does not exist). This is the seam python-telegram-bot's own test suite uses. It also builds
the updates a user would cause (`message_update`, `callback_update`).
"""

from __future__ import annotations

import asyncio
import collections
import html.parser
import itertools
import json
import random
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON = dict[str, Any]
# The kinds of transient fault `FakeBotApi.fault_rate` picks from, and the calls they hit.
FAULT_KINDS = ("429", "5xx", "timeout", "drop")
FAULT_METHODS = frozenset(
    {"sendMessage", "editMessageText", "sendPhoto", "sendDocument", "answerCallbackQuery"}
)


@dataclass
class ApiCall:
    method: str
    params: JSON
    status: int
    result: Any = None
    # Uploaded files by form field ("photo", "document"), as multipart/form-data carries them.
    files: dict[str, bytes] = field(default_factory=dict)
    # The random fault this call met (FakeBotApi.fault_rate): "429", "502", "500", "503", or
    # "timeout-delivered" (status 200: delivered, but the bot got TimedOut); None if none.
    fault: str | None = None


@dataclass
class FakeBotApi(BaseRequest):
    bot_id: int = 7_000_000_001
    username: str = "unionbot_demo_bot"
    first_name: str = "工会助手"
    calls: list[ApiCall] = field(default_factory=list)
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    chats: dict[int, JSON] = field(default_factory=dict)
    commands: dict[str, list[JSON]] = field(default_factory=dict)  # by language code
    pending_updates: list[JSON] = field(default_factory=list)
    webhook: JSON = field(default_factory=dict)  # setWebhook's parameters; {} when none is set
    # Files users sent, by file_id, as getFile and a download would return them.
    user_files: dict[str, bytes] = field(default_factory=dict)
    # Faults, as Telegram reports them: chats whose user blocked the bot (403), and a number
    # of coming sendMessage calls refused for flooding (429 with retry_after).
    blocked: set[int] = field(default_factory=set)
    floods: int = 0
    flood_retry_after: int = 3
    # Telegram's flood control, enforced: at most `max_per_second` sendMessage calls in any
    # one second (None: unlimited), and a share of calls refused at random (`random_429`).
    max_per_second: int | None = None
    random_429: float = 0.0
    bad_gateways: int = 0  # coming sendMessage calls answered 502, as when Telegram hiccups
    seed: int = 0
    # Transient faults at random (seeded by `seed`; `inject_faults` reseeds): each call of a
    # method in `fault_methods` fails with chance `fault_rate`, with one of `fault_kinds`:
    #   "429"     refused for flooding (retry_after 1), recorded as a 429 call;
    #   "5xx"     a 502, 500 or 503, recorded as such;
    #   "timeout" telegram.error.TimedOut: with chance `timeout_delivers` Telegram had
    #             delivered it (recorded as a 200 call: the user sees it), else it never got
    #             there (not recorded);
    #   "drop"    telegram.error.NetworkError: the connection dropped before Telegram read
    #             the request (not recorded).
    # Each fault met is appended to `faults_met` as (method, kind), kind one of "429", "502",
    # "500", "503", "timeout-delivered", "timeout-lost", "drop".
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_methods: frozenset[str] = FAULT_METHODS
    timeout_delivers: float = 0.5
    faults_met: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._recent_sends: collections.deque[float] = collections.deque()
        self._random = random.Random(self.seed)
        self._fault_random = random.Random(self.seed)
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)

    # --- BaseRequest --------------------------------------------------------------------

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:  # a download of a file getFile described
            data = self.user_files.get(url.rsplit("/", 1)[-1])
            return (200, data) if data is not None else (404, b'{"ok":false}')
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = _uploads(request_data) if request_data and request_data.contains_files else {}
        fault = self.draw_fault(name)
        if fault in ("drop", "timeout-lost"):
            raise _lost(fault)
        status, body = self.answer(name, params, files, fault=fault)
        if fault == "timeout-delivered":
            raise _lost(fault)  # delivered, but its answer never came back
        if name == "getUpdates" and not body.get("result"):
            # Long polling with nothing to deliver: wait a little, as Telegram would.
            await asyncio.sleep(0.05)
        return status, json.dumps(body).encode()

    # --- the API ------------------------------------------------------------------------

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def inject_faults(
        self,
        rate: float,
        kinds: tuple[str, ...] = FAULT_KINDS,
        *,
        seed: int = 0,
        timeout_delivers: float = 0.5,
        methods: frozenset[str] = FAULT_METHODS,
    ) -> None:
        """Fail a share `rate` of the calls of `methods` from now on, at random (see
        fault_rate); `inject_faults(0)` stops."""
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self.fault_rate, self.fault_kinds = rate, tuple(kinds)
        self.fault_methods = frozenset(methods)
        self.timeout_delivers = timeout_delivers
        self._fault_random = random.Random(seed)

    def draw_fault(self, method: str) -> str | None:
        """The transient fault this call meets, if any (recorded in `faults_met`): "429",
        "502", "500", "503", "timeout-delivered", "timeout-lost" or "drop"."""
        if method not in self.fault_methods or not self.fault_rate or not self.fault_kinds:
            return None
        draw = self._fault_random
        if draw.random() >= self.fault_rate:
            return None
        kind = draw.choice(self.fault_kinds)
        if kind == "5xx":
            kind = draw.choice(("502", "500", "503"))
        elif kind == "timeout":
            delivered = draw.random() < self.timeout_delivers
            kind = "timeout-delivered" if delivered else "timeout-lost"
        self.faults_met.append((method, kind))
        return kind

    def answer(
        self,
        method: str,
        params: JSON,
        files: Mapping[str, bytes] | None = None,
        *,
        fault: str | None = None,
    ) -> tuple[int, JSON]:
        """Answer one Bot API call as Telegram would; also usable behind an HTTP server.
        `files` are the uploads: handlers find each under its field name, as Telegram does.
        `fault` (from draw_fault) "429" or a 5xx answers that instead of handling the call."""
        files = dict(files or {})
        handler = getattr(self, f"_api_{method}", None)
        if fault in STATUS_FAULTS:
            status, body = STATUS_FAULTS[fault][0], dict(STATUS_FAULTS[fault][1])
        elif handler is None:
            status, body = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        else:
            try:
                result = handler({**params, **files})
                status, body = 200, {"ok": True, "result": result}
            except ApiError as exc:
                status = exc.code
                body = {"ok": False, "error_code": exc.code, "description": exc.description}
                if exc.parameters:
                    body["parameters"] = exc.parameters
        # The recorded params stay JSON; the bytes are kept apart, in `files`.
        self.calls.append(ApiCall(method, params, status, body.get("result"), files, fault))
        return status, body

    def _api_getMe(self, _: JSON) -> JSON:
        return self.bot_user

    def _api_getUpdates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        return list(self.pending_updates)

    def _api_deleteWebhook(self, _: JSON) -> bool:
        self.webhook = {}
        return True

    def _api_setWebhook(self, params: JSON) -> bool:
        # Kept as given, secret_token included, so a test can check what the bot registered.
        if not str(params.get("url") or "").startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = dict(params)
        return True

    def _api_getWebhookInfo(self, _: JSON) -> JSON:
        info: JSON = {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                      "pending_update_count": len(self.pending_updates)}  # fmt: skip
        for name in ("max_connections", "allowed_updates"):
            if name in self.webhook:
                info[name] = self.webhook[name]
        return info

    def _api_setMyCommands(self, params: JSON) -> bool:
        self.commands[str(params.get("language_code") or "")] = list(params["commands"])
        return True

    def _api_getMyCommands(self, params: JSON) -> list[JSON]:
        return self.commands.get(str(params.get("language_code") or ""), [])

    def _api_close(self, _: JSON) -> bool:
        return True

    def _api_sendChatAction(self, _: JSON) -> bool:
        return True

    def _flooded(self) -> bool:
        if self.random_429 and self._random.random() < self.random_429:
            return True
        if self.max_per_second is None:
            return False
        now = time.monotonic()
        while self._recent_sends and now - self._recent_sends[0] >= 1.0:
            self._recent_sends.popleft()
        if len(self._recent_sends) >= self.max_per_second:
            return True
        self._recent_sends.append(now)
        return False

    def _api_sendMessage(self, params: JSON) -> JSON:
        if int(params["chat_id"]) in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if self.bad_gateways > 0:
            self.bad_gateways -= 1
            raise ApiError(502, "Bad Gateway")
        if self._flooded():
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        if self.floods > 0:
            self.floods -= 1
            raise ApiError(
                429, "Too Many Requests: retry after", {"retry_after": self.flood_retry_after}
            )
        text = _rendered(params, "text")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return self._store(params, text=text)

    def _api_sendPhoto(self, params: JSON) -> JSON:
        upload = params.get("photo")
        width, height = 800, 600  # a photo sent again by file_id or URL
        if isinstance(upload, bytes):
            size = _png_size(upload)
            if size is not None:
                width, height = size
            # Telegram's limits for a photo: a chart that breaks them must go as a document.
            if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        photo: JSON = {
            "file_id": f"photo-{next(self._message_ids)}",
            "file_unique_id": "p",
            "width": width,
            "height": height,
        }
        if isinstance(upload, bytes):
            photo["file_size"] = len(upload)
        return self._store(params, photo=[photo], caption=_rendered(params, "caption") or None)

    def _api_sendDocument(self, params: JSON) -> JSON:
        document: JSON = {"file_id": f"doc-{next(self._message_ids)}", "file_unique_id": "d"}
        upload = params.get("document")
        if isinstance(upload, bytes):
            document["file_size"] = len(upload)
        return self._store(params, document=document, caption=_rendered(params, "caption") or None)

    def _api_editMessageText(self, params: JSON) -> JSON:
        message = self._existing(params)
        text = _rendered(params, "text")
        if message.get("text") == text and message.get("reply_markup") == params.get(
            "reply_markup"
        ):
            raise ApiError(400, "Bad Request: message is not modified")
        message.update(text=text, edit_date=int(time.time()))
        self._set_markup(message, params)
        return message

    def _api_editMessageReplyMarkup(self, params: JSON) -> JSON:
        message = self._existing(params)
        self._set_markup(message, params)
        return message

    def _api_deleteMessage(self, params: JSON) -> bool:
        self.messages.pop((int(params["chat_id"]), int(params["message_id"])), None)
        return True

    def _api_getFile(self, params: JSON) -> JSON:
        file_id = str(params["file_id"])
        if file_id not in self.user_files:
            raise ApiError(400, "Bad Request: invalid file_id")
        size = len(self.user_files[file_id])
        if size > 20 * 2**20:  # bots may download files up to 20 MB
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": size,
                "file_path": file_id}  # fmt: skip

    def _api_answerCallbackQuery(self, _: JSON) -> bool:
        return True

    # --- state ---------------------------------------------------------------------------

    def _store(self, params: JSON, **content: Any) -> JSON:
        chat_id = int(params["chat_id"])
        message: JSON = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chats.get(chat_id) or _chat_for(chat_id),
            "from": self.bot_user,
            **{k: v for k, v in content.items() if v is not None},
        }
        self._set_markup(message, params)
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _existing(self, params: JSON) -> JSON:
        key = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        if key not in self.messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key]

    @staticmethod
    def _set_markup(message: JSON, params: JSON) -> None:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    # --- what users do -----------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "用户", language_code: str = "zh-hans") -> JSON:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }

    def private_chat(self, user: JSON) -> JSON:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[chat["id"]] = chat
        return chat

    def group_chat(self, chat_id: int, title: str = "工会工作群") -> JSON:
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        self.chats[chat_id] = chat
        return chat

    def message_update(self, *, user: JSON, text: str, chat: JSON | None = None) -> JSON:
        chat = chat or self.private_chat(user)
        message: JSON = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self.messages[(chat["id"], message["message_id"])] = message
        return {"update_id": next(self._update_ids), "message": message}

    def file_update(
        self,
        *,
        user: JSON,
        data: bytes,
        kind: str = "photo",
        file_name: str = "方案.pdf",
        size: int | None = None,
    ) -> JSON:
        """A user sends a photo, a document or a sticker (kind); its bytes can be downloaded.
        `size` overrides the size Telegram reports (a file too big to fetch)."""
        file_id = f"user-{kind}-{next(self._message_ids)}"
        self.user_files[file_id] = data
        described = {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                     "file_size": size if size is not None else len(data)}  # fmt: skip
        content: JSON
        if kind == "photo":
            content = {"photo": [{**described, "width": 1280, "height": 960}]}
        elif kind == "sticker":
            content = {"sticker": {**described, "width": 512, "height": 512, "type": "regular",
                                   "is_animated": False, "is_video": False}}  # fmt: skip
        else:
            content = {"document": {**described, "file_name": file_name}}
        chat = self.private_chat(user)
        message: JSON = {"message_id": next(self._message_ids), "date": int(time.time()),
                         "chat": chat, "from": user, **content}  # fmt: skip
        self.messages[(chat["id"], message["message_id"])] = message
        return {"update_id": next(self._update_ids), "message": message}

    def contact_update(self, *, user: JSON, phone_number: str, user_id: int | None) -> JSON:
        """A user shares a contact in their private chat with the bot: their own (the
        share-contact button; `user_id` is theirs) or someone else's (`user_id` another's,
        or None for a contact that is no Telegram user)."""
        contact: JSON = {"phone_number": phone_number, "first_name": user["first_name"]}
        if user_id is not None:
            contact["user_id"] = user_id
        chat = self.private_chat(user)
        message: JSON = {"message_id": next(self._message_ids), "date": int(time.time()),
                         "chat": chat, "from": user, "contact": contact}  # fmt: skip
        self.messages[(chat["id"], message["message_id"])] = message
        return {"update_id": next(self._update_ids), "message": message}

    def callback_update(self, *, user: JSON, message: JSON, data: str) -> JSON:
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": str(next(self._callback_ids)),
                "from": user,
                "chat_instance": str(message["chat"]["id"]),
                "message": message,
                "data": data,
            },
        }

    # --- what tests and the console read --------------------------------------------------

    def since(self, index: int) -> list[ApiCall]:
        return self.calls[index:]


# The answers of the faults that are answers: flooding and Telegram's own hiccups.
STATUS_FAULTS: dict[str, tuple[int, JSON]] = {
    "429": (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry "
                  "after 1", "parameters": {"retry_after": 1}}),
    "502": (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    "500": (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}),
    "503": (503, {"ok": False, "error_code": 503, "description": "Service Unavailable"}),
}  # fmt: skip


def _lost(fault: str) -> NetworkError:
    """What PTB raises when httpx times out (TimedOut) or the connection drops."""
    if fault == "drop":
        return NetworkError("httpx.RemoteProtocolError: Server disconnected")
    return TimedOut()


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


# The tags Telegram's HTML parse mode accepts.
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "blockquote",
}


class _TelegramHTML(html.parser.HTMLParser):
    """Telegram's reading of parse_mode=HTML: known tags only, properly nested; text out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag {tag!r}")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: unexpected end tag {tag!r}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _rendered(params: JSON, key: str) -> str:
    raw = str(params.get(key) or "")
    if str(params.get("parse_mode") or "").upper() != "HTML":
        return raw
    return visible(raw)


def visible(markup: str) -> str:
    """What a user sees of an HTML message; ApiError where Telegram would refuse it."""
    parser = _TelegramHTML()
    parser.feed(markup)
    parser.close()
    if parser.open:
        raise ApiError(400, f"Bad Request: can't parse entities: unclosed tag {parser.open[-1]!r}")
    return "".join(parser.text)


def _uploads(request_data: RequestData) -> dict[str, bytes]:
    """The files of a multipart request by part name; PTB gives (filename, content, mimetype),
    the content as bytes or, since PTB 21.5, an open file."""
    files: dict[str, bytes] = {}
    for name, (_, content, _) in request_data.multipart_data.items():
        files[name] = content if isinstance(content, bytes) else content.read()
    return files


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header (its IHDR chunk comes first); None if not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _chat_for(chat_id: int) -> JSON:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "用户"}
    return {"id": chat_id, "type": "supergroup", "title": "群"}


def buttons(message: JSON) -> list[tuple[str, str]]:
    """The inline buttons of a message as (label, callback data), in reading order."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [(b["text"], b.get("callback_data") or b.get("url") or "") for row in rows for b in row]
