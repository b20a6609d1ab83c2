"""Shared fixtures: settings on a fresh database, and the real bot on the fake Bot API."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.db import Database
from bot.fake_api import visible
from bot.harness import Harness
from bot.settings import Settings
from bot.texts import t
from models.demo import seed_demo
from models.enums import Language, Role
from models.officers import ensure_officer
from models.plan import load_plan

ADMIN_ID = 10001
# The business day, at a fixed time of day: with the date alone the clock would keep the
# real time of day, and what is due "today" (the 09:00 reminders) would depend on when the
# suite runs. 08:00 in Beijing: before the day's first reminders.
BUSINESS_DAY = "2018-03-15T08:00"


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
        "media_dir": tmp_path / "media",  # never the project's own data/ folder
        "reminder_tick_seconds": 0,  # tests run the reminder tick themselves, with their clock
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


OFFICER_ID = 20001  # a street officer of 拱辰街道 in the seeded demo database
OFFICER_STREET = "拱辰街道"
OTHER_OFFICER_ID = 20002  # a street officer of 良乡镇
OTHER_STREET = "良乡镇"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo district seeded once per run (half a second); each test gets a copy."""
    folder = tmp_path_factory.mktemp("demo")
    asyncio.run(_seed_template(make_settings(folder)))
    return folder / "unionbot.db"


async def _seed_template(settings: Settings) -> None:
    db = Database(settings.database_url)
    await db.upgrade()
    plan = load_plan(settings.plan_file)
    now = datetime(2018, 3, 1, tzinfo=UTC)
    async with db.session(write=True) as session:
        await seed_demo(session=session, plan=plan)
        for user_id, street in ((OFFICER_ID, OFFICER_STREET), (OTHER_OFFICER_ID, OTHER_STREET)):
            await ensure_officer(
                session=session,
                telegram_user_id=user_id,
                role=Role.STREET_OFFICER,
                street_name=street,
                display_name=f"干部{user_id}",
                language=Language.ZH,
                now=now,
            )
    await db.dispose()


@pytest.fixture
async def demo_bot(demo_template: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot on a copy of the seeded demo district (business day 2018-03-15)."""
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    async with Harness.running(make_settings(tmp_path)) as harness:
        yield harness
