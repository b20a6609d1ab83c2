"""The database layer: migrations match the models, and SQLite writers queue, not fail."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel, func, select

from bot.db import Database
from bot.harness import Harness
from models.tables import Officer, Street, Zone
from tests.conftest import _admin, make_settings, postgres_url


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await database.upgrade()
    yield database
    await database.dispose()


async def test_migrations_create_exactly_the_models_schema(migrated_db: Database) -> None:
    """On SQLite and on PostgreSQL: the migrations and the models agree."""
    async with migrated_db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    assert diff == []


async def test_upgrade_twice_keeps_the_data(migrated_db: Database) -> None:
    async with migrated_db.session(write=True) as session:
        session.add(Zone(name="海聚基地"))
    await migrated_db.upgrade()
    async with migrated_db.session() as session:
        assert (await session.exec(select(Zone.name))).all() == ["海聚基地"]


async def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10000


async def test_concurrent_read_then_write_transactions_all_commit(db: Database) -> None:
    """A deferred transaction that reads, then writes, fails with "database is locked" when
    another writer holds the lock; BEGIN IMMEDIATE makes writers wait their turn instead."""

    async def writer(n: int) -> None:
        async with db.session(write=True) as session:
            await session.exec(select(func.count()).select_from(Zone))
            await asyncio.sleep(0.01)  # another writer gets in between read and write
            session.add(Zone(name=f"zone {n}"))

    await asyncio.gather(*(writer(n) for n in range(12)))
    async with db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Zone))).one() == 12


async def test_a_failed_transaction_writes_nothing(db: Database) -> None:
    async def crash_mid_handler() -> None:
        async with db.session(write=True) as session:
            session.add(Zone(name="临时"))
            await session.flush()
            raise RuntimeError("crash in the middle of a handler")

    with pytest.raises(RuntimeError):
        await crash_mid_handler()
    async with db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Zone))).one() == 0


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"):
        async with db.session(write=True) as session:
            await session.exec(  # type: ignore[call-overload]
                text(
                    "INSERT INTO streettarget (plan_key, street_id, new_units) VALUES ('p', 999, 1)"
                )
            )


async def test_instances_starting_at_once_on_a_new_database_all_start(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Migrations, streets and admins written once, whichever instance gets there first."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/new.db"
    else:
        name = f"{request.getfixturevalue('postgres_templates')}_new"
        _admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        url = postgres_url(name)
    settings = make_settings(tmp_path, database_url=url, bot_admin_ids="10001,10002")
    async with contextlib.AsyncExitStack() as stack:
        harnesses = await asyncio.gather(
            *(stack.enter_async_context(Harness.running(settings)) for _ in range(3))
        )
        async with harnesses[0].app.bot_data.db.session() as session:
            admins = (await session.exec(select(func.count()).select_from(Officer))).one()
            streets = (await session.exec(select(func.count()).select_from(Street))).one()
    assert (admins, streets) == (2, 28)
