"""When something breaks, the user hears so plainly and the error is logged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from bot.harness import Harness, texts
from bot.settings import Settings
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
