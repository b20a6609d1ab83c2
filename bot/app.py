"""build_application(): the one way to assemble the bot, for production, tests and the demo."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot.clock import Clock
from bot.context import BotContext, BotData
from bot.db import Database
from bot.errors import on_error
from bot.officer_cache import OfficerCache
from bot.settings import Settings
from bot.texts import t
from bot.update_log import LoggedApplication
from handlers import register
from models.enums import Language
from models.geography import sync_geography
from models.officers import ensure_admins
from models.plan import Plan, load_plan
from models.status import StatusCache
from reminders.jobs import schedule
from reminders.sender import FloodWindow
from reminders.sms_sender import SmsChannel

log = logging.getLogger("unionbot")

UnionApp = Application[Any, BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
COMMANDS = (
    "status", "chart", "meeting", "visit", "unit", "mine", "cancel", "start", "help", "lang",
    "invite", "guide", "bind", "reminders", "outbox", "report", "joinqr", "member", "welcome",
    "compare", "export", "health", "history", "officers", "erase",
)  # fmt: skip


def build_application(
    settings: Settings,
    *,
    token: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    plan: Plan | None = None,
    rate_limit: bool = True,
) -> UnionApp:
    """The application with every handler. `request`s replace the HTTP layer (the fake Bot
    API in tests and the console); `token` defaults to TELEGRAM_BOT_TOKEN. `rate_limit`
    keeps within Telegram's flood limits (≈30 messages/s overall, 20/min per group); only a
    benchmark of the bot's own cost turns it off."""
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .application_class(LoggedApplication)  # one log line per update
        .token(token or settings.token())
        .base_url(settings.telegram_api_base_url)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.zone))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app: UnionApp = builder.build()
    data = app.bot_data
    data.settings = settings
    data.plan = plan or load_plan(settings.plan_file)
    data.db = Database(settings.database_url)
    data.clock = Clock(settings.zone, settings.bot_today)
    data.status_cache = StatusCache()
    data.sending = asyncio.Lock()
    data.sms = SmsChannel.from_settings(settings)
    data.sms_sending = asyncio.Lock()
    data.pace = FloodWindow()
    data.background = set()
    data.officers = OfficerCache()
    register(app)
    schedule(app)
    app.add_error_handler(on_error)
    return app


async def _post_init(app: UnionApp) -> None:
    data = app.bot_data
    await data.db.upgrade()
    async with data.db.session(exclusive="startup") as session:
        await sync_geography(session=session, plan=data.plan)
        await ensure_admins(
            session=session,
            user_ids=data.settings.bot_admin_ids,
            now=data.clock.now(),
            language=Language(data.settings.default_language),
        )
    default = Language(data.settings.default_language)
    for language in Language:
        commands = [BotCommand(c, t(f"command.{c}", language)) for c in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=language.value)
        if language is default:
            await app.bot.set_my_commands(commands)
    log.info("ready as @%s", app.bot.username)


async def _post_shutdown(app: UnionApp) -> None:
    await app.bot_data.sms.aclose()
    await app.bot_data.db.dispose()


def run_polling(app: UnionApp) -> None:
    """Long polling until SIGINT/SIGTERM; PTB stops cleanly on either and returns."""
    app.run_polling(allowed_updates=Update.ALL_TYPES)
