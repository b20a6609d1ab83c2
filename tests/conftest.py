"""Shared fixtures: settings on a fresh database, and the real bot on the fake Bot API.

The bot fixtures (`settings`, `bot`, `demo_bot`) run every test that uses them twice: on
SQLite and on PostgreSQL (UNIONBOT_TEST_POSTGRES, default the local server's `test`
database). Each PostgreSQL test gets its own database, cloned from a template migrated (and,
for the demo, seeded) once per run. Without a reachable server the PostgreSQL runs are
skipped, and the summary says so; CI (.ci/run) refuses to run without one.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
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

# Every log line of the run, scanned at its end for secrets and whole mobile numbers.
pytest_plugins = ["tests.log_scan"]

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


# --- PostgreSQL ---------------------------------------------------------------------------

POSTGRES = os.environ.get("UNIONBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_PREFIX = f"ub_test_{os.getpid()}"  # this run's databases: dropped as it goes and at its end
_numbers = itertools.count()
_skipped_because: list[str] = []


def _in_thread(work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to its end from anywhere, an event loop running or not."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def _admin(*statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES, timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    _in_thread(run)


def postgres_url(database: str) -> str:
    """The SQLAlchemy URL of `database` on the test server."""
    base = POSTGRES.replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base.rsplit('/', 1)[0]}/{database}"


@pytest.fixture(scope="session")
def postgres_reachable() -> str | None:
    """None when the test server answers; else why not."""
    try:
        _admin("SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, postgres_reachable: str | None) -> str:
    if request.param == "postgresql" and postgres_reachable is not None:
        _skipped_because.append(postgres_reachable)
        pytest.skip(f"PostgreSQL at {POSTGRES} not reachable: {postgres_reachable}")
    return str(request.param)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_because:
        terminalreporter.write_line(
            f"PostgreSQL at {POSTGRES} was not reachable ({_skipped_because[0]}): the runs on "
            f"PostgreSQL were skipped; only SQLite was tested.",
            yellow=True,
        )


@pytest.fixture(scope="session")
def postgres_templates(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two template databases for this run: migrated (`…_empty`) and the seeded demo
    (`…_demo`)."""
    assert backend == "postgresql"
    empty, demo = f"{_PREFIX}_empty", f"{_PREFIX}_demo"
    _admin(f'DROP DATABASE IF EXISTS "{empty}"', f'DROP DATABASE IF EXISTS "{demo}"',
           f'CREATE DATABASE "{empty}"', f'CREATE DATABASE "{demo}"')  # fmt: skip
    folder = tmp_path_factory.mktemp("pg")

    async def migrate() -> None:
        db = Database(postgres_url(empty))
        await db.upgrade()
        await db.dispose()

    _in_thread(migrate)
    _in_thread(lambda: _seed_template(make_settings(folder, database_url=postgres_url(demo))))
    yield _PREFIX
    _admin(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)',
           f'DROP DATABASE IF EXISTS "{demo}" WITH (FORCE)')  # fmt: skip


def _database(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, *, demo: bool
) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / "unionbot.db"
        if demo:
            shutil.copy(request.getfixturevalue("demo_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    templates = request.getfixturevalue("postgres_templates")
    name = f"{templates}_{next(_numbers)}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{templates}_{"demo" if demo else "empty"}"')
    yield postgres_url(name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test, on each backend: migrated on PostgreSQL (the bot
    migrates SQLite itself at start)."""
    yield from _database(request, backend, tmp_path, demo=False)


@pytest.fixture
def demo_database_url(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> Iterator[str]:
    """A copy of the seeded demo district for one test, on each backend."""
    yield from _database(request, backend, tmp_path, demo=True)


@pytest.fixture
async def demo_db(demo_database_url: str) -> AsyncIterator[Database]:
    db = Database(demo_database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def migrated_db(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.upgrade()
    yield db
    await db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


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
    _in_thread(lambda: _seed_template(make_settings(folder)))
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
async def demo_bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot on a copy of the seeded demo district (business day 2018-03-15)."""
    settings = make_settings(tmp_path, database_url=demo_database_url)
    async with Harness.running(settings) as harness:
        yield harness
