"""Shared fixtures: settings on a fresh database, and the real bot on the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.fake_api import visible
from bot.harness import Harness
from bot.settings import Settings
from bot.texts import t

ADMIN_ID = 10001
BUSINESS_DAY = "2018-03-15"


def seen(key: str, lang: str = "zh", **values: object) -> str:
    """A text as the user sees it in Telegram (formatting applied, tags gone)."""
    return visible(t(key, lang, **values))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,  # tests never read a developer's .env
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/unionbot.db",
        "bot_admin_ids": str(ADMIN_ID),
        "bot_today": BUSINESS_DAY,
        "telegram_bot_token": None,
        "default_language": "zh",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[Harness]:
    async with Harness.running(settings) as harness:
        yield harness
