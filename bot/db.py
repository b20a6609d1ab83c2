"""The database: async engine, short transactions, migrations on start-up.

SQLite gets WAL (readers never wait for the writer), a busy timeout, foreign keys, and
BEGIN IMMEDIATE for write transactions: a deferred transaction that reads and then writes
fails with "database is locked" when another writer got there first; an immediate one waits.

Several instances may start at once on one PostgreSQL database: the migrations and the
start-up writes (streets, admins) each take a transaction-scoped advisory lock there, so the
second instance waits for the first and then finds its work done instead of inserting the
same rows (SQLite's BEGIN IMMEDIATE serialises them already).
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"
# How long a statement waits for another connection's lock before it fails (and its update
# is told so): SQLite's busy timeout, PostgreSQL's lock_timeout. Without one, PostgreSQL
# would wait forever, and with it every update behind the one waiting.
LOCK_TIMEOUT_SECONDS = 10
_WRITE = "unionbot_write"
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")  # held until the transaction ends
# Waiting for another instance's migrations or start-up may take longer than a lock timeout.
_WAIT_FOR_IT = text("SET LOCAL lock_timeout = 0")


def _lock_key(name: str) -> int:
    return zlib.crc32(f"unionbot:{name}".encode())


class Database:
    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {}
        if self.url.get_driver_name() == "asyncpg":
            timeout = str(LOCK_TIMEOUT_SECONDS * 1000)
            connect_args["server_settings"] = {"lock_timeout": timeout}
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_pre_ping=not self.is_sqlite, connect_args=connect_args
        )
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        _strip_nul_characters(self.engine)

    @asynccontextmanager
    async def session(
        self, *, write: bool = False, exclusive: str | None = None
    ) -> AsyncIterator[AsyncSession]:
        """One short transaction: committed when the block ends, rolled back on error.
        `exclusive` names work that only one instance may do at a time (a write)."""
        async with self.engine.connect() as conn:
            if write or exclusive:
                await conn.execution_options(**{_WRITE: True})
            async with AsyncSession(bind=conn, expire_on_commit=False) as session, session.begin():
                if exclusive and not self.is_sqlite:
                    # Through the session, so the lock is taken in its transaction.
                    held = await session.connection()
                    await held.execute(_WAIT_FOR_IT)
                    await held.execute(_LOCK, {"key": _lock_key(exclusive)})
                yield session

    async def upgrade(self) -> None:
        """Apply every pending migration (idempotent; one instance at a time)."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE: True})  # SQLite: BEGIN IMMEDIATE
            async with conn.begin():
                if not self.is_sqlite:
                    await conn.execute(_WAIT_FOR_IT)
                    await conn.execute(_LOCK, {"key": _lock_key("migrations")})
                await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _wal(cursor: Any) -> None:
    """WAL mode, which the file keeps once set. Setting it needs the file to itself and does
    not wait on the busy timeout: processes opening a new file at once retry for a while."""
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)  # the driver's own thread, not the event loop


def _strip_nul_characters(engine: AsyncEngine) -> None:
    """Text people type may hold U+0000, which PostgreSQL's text cannot (the statement
    fails): it is dropped from every string the bot stores or looks up, on both databases
    alike, so that a stray NUL in a message is a character less, never a lost update."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _before(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        return statement, (_without_nul(parameters) if _has_nul(parameters) else parameters)


def _has_nul(value: Any) -> bool:
    """Whether a statement's parameters (one row or many, by position or name) hold a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, (list, tuple)):
        return False
    return any(_has_nul(v) for v in value)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {key: _without_nul(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(v) for v in value)
    return value


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_SECONDS * 1000}")
        _wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
