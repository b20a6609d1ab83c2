"""The typed context every handler gets: the application's services and who is asking."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.db import Database
from bot.officer_cache import OfficerCache
from bot.settings import Settings
from models.enums import Language, Role
from models.plan import Plan
from models.status import StatusCache
from reminders.sender import FloodWindow
from reminders.sms_sender import SmsChannel


class BotData:
    """Shared services, set once by build_application (PTB creates this with no arguments)."""

    settings: Settings
    db: Database
    plan: Plan
    clock: Clock
    status_cache: StatusCache
    sending: asyncio.Lock  # one outbox drain at a time in this instance
    sms: SmsChannel  # the SMS gateway (or none), its pace and pause
    sms_sending: asyncio.Lock  # one SMS drain at a time in this instance
    pace: FloodWindow  # outbox messages kept within Telegram's 30 a second
    background: set[asyncio.Task[Any]]  # long work started by handlers (see in_background)
    officers: OfficerCache  # who the officers are, for the gatekeeper


@dataclass(frozen=True)
class Actor:
    """Who sent the update, as the gatekeeper resolved it. Ids only, never ORM objects."""

    user_id: int
    name: str
    language: Language
    role: Role | None = None  # None: not an officer (a stranger)
    street_id: int | None = None
    street_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.DISTRICT_ADMIN


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """PTB makes one context per update and reuses it across handler groups, so the
    gatekeeper (group -1) can leave the actor here for the handlers after it."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._actor: Actor | None = None
        # Files downloaded for this update, by file id: handlers that try a spreadsheet in
        # turn (handlers.media.download) fetch it from Telegram once.
        self.downloaded: dict[str, bytes] = {}

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("no actor: the gatekeeper did not run for this update")
        return self._actor

    @actor.setter
    def actor(self, actor: Actor) -> None:
        self._actor = actor

    @property
    def lang(self) -> Language:
        """The actor's language; the default one before the gatekeeper has run."""
        if self._actor is None:
            return Language(self.bot_data.settings.default_language)
        return self._actor.language

    @property
    def db(self) -> Database:
        return self.bot_data.db

    @property
    def plan(self) -> Plan:
        return self.bot_data.plan

    def now(self) -> datetime:
        return self.bot_data.clock.now()

    def in_background(self, work: Coroutine[Any, Any, None], update: object) -> None:
        """Run long work (reading a sheet of 100,000 rows, writing an export) as its own task:
        in polling mode PTB handles updates one at a time, and everyone else would wait for it
        otherwise (webhook mode runs chats side by side already, bot/web.py). Its errors reach
        the error handler like a handler's."""
        task = self.application.create_task(work, update=update)
        self.bot_data.background.add(task)
        task.add_done_callback(self.bot_data.background.discard)
