"""When something breaks, the user hears so plainly and the error is logged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from telegram.ext import CommandHandler

from bot.harness import Harness, texts
from bot.settings import Settings
from reminders.sender import drain
from tests.conftest import ADMIN_ID, seen


async def test_a_broken_database_gets_an_apology_not_silence(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with Harness.running(settings, raise_errors=False) as bot:
        async with bot.app.bot_data.db.engine.begin() as conn:
            await conn.execute(text("DROP TABLE officer"))
        with caplog.at_level(logging.ERROR, logger="unionbot"):
            replies = texts(await bot.send(bot.api.user(ADMIN_ID), "/help"))
    assert replies == [seen("error.generic")]
    assert bot.errors, "the failure reached the error handlers"
    assert any("error while handling update" in r.getMessage() for r in caplog.records)


async def test_the_admins_hear_of_errors_once_an_hour(settings: Settings) -> None:
    async def boom(update: object, context: object) -> None:
        raise RuntimeError("a bug")

    async with Harness.running(settings, raise_errors=False) as bot:
        bot.app.handlers[0].insert(0, CommandHandler("boom", boom))  # a feature with a bug
        admin = bot.api.user(ADMIN_ID)
        for _ in range(3):
            assert texts(await bot.send(admin, "/boom")) == [seen("error.generic")]
        data = bot.app.bot_data
        mark = len(bot.api.calls)
        await drain(bot=bot.app.bot, db=data.db, now=data.clock.now, worker="test")
        alerts = [c.result["text"] for c in bot.api.since(mark) if c.method == "sendMessage"]
    assert alerts == [seen("error.admin_alert", kind="RuntimeError", update=1)]
