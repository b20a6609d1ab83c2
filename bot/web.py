"""Webhook mode, `unionbot run --webhook`: Telegram posts each update to WEBHOOK_URL +
WEBHOOK_PATH; a reverse proxy holds TLS and forwards to a small ASGI app (starlette, served by
uvicorn, the way python-telegram-bot's own "custom webhook" example does it) listening on
WEBHOOK_LISTEN:WEBHOOK_PORT. The same app answers GET /health for load balancers and
monitoring.

An update is processed before it is answered: Telegram delivers an update again until it gets
a 200, so an instance that dies mid-update (killed, the machine lost) leaves it to be delivered
again, to this instance or another: at-least-once, as for the outbox. Updates of one chat are
processed one after another in the order they arrived here; different chats side by side.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot.app import UnionApp
from bot.health import probe, serving_webhook
from bot.settings import HEALTH_PATH, Settings, SettingsError

log = logging.getLogger("unionbot.web")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# On SIGTERM, requests in flight get this long to finish; one cut short is not answered, so
# Telegram delivers its update again.
GRACEFUL_SECONDS = 10


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0  # the update being processed and those waiting behind it


class ChatTurns:
    """One lock per chat with updates in hand, dropped when the chat has none: a chat's
    updates are processed in the order they arrived (asyncio.Lock is first come, first
    served), while other chats go on."""

    def __init__(self) -> None:
        self._turns: dict[int, _Turn] = {}

    def __len__(self) -> int:
        return len(self._turns)

    @asynccontextmanager
    async def turn(self, chat_id: int | None) -> AsyncIterator[None]:
        if chat_id is None:  # an update of no chat and no user: nothing to keep in order
            yield
            return
        turn = self._turns.setdefault(chat_id, _Turn())
        turn.holders += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.holders -= 1
            if not turn.holders:
                del self._turns[chat_id]


def _chat_of(update: Update) -> int | None:
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


def webhook_app(app: UnionApp, *, path: str, secret: str) -> Starlette:
    """The ASGI app: POST `path` (updates from Telegram) and GET/HEAD /health."""
    expected = secret.encode()
    turns = ChatTurns()

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            client = request.client.host if request.client else "?"
            log.warning("webhook: refused a request without the secret token from %s", client)
            return Response(status_code=403)
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise TypeError("an update is a JSON object")
            update = Update.de_json(body, app.bot)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        async with turns.turn(_chat_of(update)):
            await app.process_update(update)
        return Response(status_code=200)

    async def health(_: Request) -> Response:
        report = await probe(app)
        return JSONResponse(report.as_json(), status_code=200 if report.database_ok else 503)

    routes = [
        Route(path, telegram, methods=["POST"]),
        Route(HEALTH_PATH, health, methods=["GET", "HEAD"]),
    ]
    webhook = Starlette(routes=routes)
    webhook.state.turns = turns  # for tests: no chat's lock outlives its updates
    return webhook


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # SIGINT/SIGTERM are ours (see _serve): uvicorn's own handling raises the signal again
        # once the server is down, which would end the process before the bot has stopped.
        yield


def listen(settings: Settings) -> socket.socket:
    """The listening socket, opened before anything else is done: a port in use stops the
    program at once, in one line."""
    try:
        return socket.create_server(
            (settings.webhook_listen, settings.webhook_port),
            family=socket.AF_INET6 if ":" in settings.webhook_listen else socket.AF_INET,
        )
    except OSError as exc:
        raise SettingsError(
            f"setting WEBHOOK_LISTEN/WEBHOOK_PORT: cannot listen on "
            f"{settings.webhook_listen}:{settings.webhook_port} ({exc.strerror or exc})"
        ) from None


def run_webhook(app: UnionApp, listening: socket.socket) -> None:
    """Serve on `listening` until SIGINT/SIGTERM, then stop cleanly (exit code 0, as
    polling does)."""
    url, secret = app.bot_data.settings.webhook()
    asyncio.run(_serve(app, listening, url=url, secret=secret))


async def _serve(app: UnionApp, listening: socket.socket, *, url: str, secret: str) -> None:
    settings = app.bot_data.settings
    config = uvicorn.Config(
        webhook_app(app, path=settings.webhook_path, secret=secret),
        log_config=None,  # our logging (bot/cli.py); its lines go through the root logger
        access_log=False,  # one line per update would drown the log; refusals are logged
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    serving_webhook(app)
    served: asyncio.Task[None] | None = None
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)  # migrations, admins, the command menu (bot/app.py)
        await app.start()  # the job queue: reminder ticks, the outbox senders
        try:
            # The socket listens already: a request that comes before uvicorn accepts waits
            # in its backlog, so the webhook can be set at once.
            served = asyncio.create_task(server.serve(sockets=[listening]))
            # Every instance sets the same webhook: harmless. It is never deleted on stop, so
            # that updates wait at Telegram for a restart or go to the instances still up.
            await app.bot.set_webhook(
                url=url,
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
                max_connections=settings.webhook_max_connections,
                drop_pending_updates=False,
            )
            log.info(
                "webhook mode: %s%s, listening on %s:%d", settings.webhook_url,
                settings.webhook_path, settings.webhook_listen, settings.webhook_port,
            )  # fmt: skip
            await served
        finally:
            if served is not None and not served.done():
                server.should_exit = True
                await served
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
