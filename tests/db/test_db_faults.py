"""The bot when its database is busy or out of reach, on the demo district.

- Locked for a moment by another connection (SQLite's BEGIN EXCLUSIVE, PostgreSQL's LOCK
  TABLE): the officer's save waits for it and goes through.
- Locked past the bot's lock timeout: the officer is told the step did not go through,
  nothing is written, and the next update works.
- PostgreSQL out of reach (a TCP proxy in between, cut): the update in flight is told so and
  leaves nothing half-written; /health says the database is down; once it is back the bot
  serves again, its stale pooled connections notwithstanding.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from bot.db import LOCK_TIMEOUT_SECONDS, Database
from bot.fake_api import JSON, ApiCall
from bot.harness import Harness, shown, texts
from models.tables import AuditEntry, Draft, Meeting, OutboxMessage
from tests.conftest import ADMIN_ID, OFFICER_ID, make_settings, seen

LOG = "3月5日 企业沟通会 20人"
SAVED = "✅ 已保存：企业沟通会。"  # how meeting.saved begins for this one
DATABASE_DOWN = seen("faults.database")


@pytest.fixture
async def bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, database_url=demo_database_url)
    async with Harness.running(settings, raise_errors=False) as harness:
        yield harness


async def meetings(h: Harness) -> list[Meeting]:
    async with h.app.bot_data.db.session() as session:
        return list((await session.exec(select(Meeting).order_by(col(Meeting.id)))).all())


async def card(h: Harness) -> JSON:
    [message] = shown(await h.send(h.api.user(OFFICER_ID), LOG))
    return message


async def saved_texts(h: Harness) -> list[str]:
    """What the officer is told after pressing 保存 on a fresh card."""
    message = await card(h)
    return texts(await h.press(h.api.user(OFFICER_ID), message, "💾 保存"))


# --- another connection holds the lock -------------------------------------------------------


class Locker:
    """Another client of the same database holding its write lock: the whole SQLite file
    (BEGIN EXCLUSIVE), or PostgreSQL's meeting table (LOCK TABLE … IN EXCLUSIVE MODE, which
    lets readers read, as SQLite's WAL does), until `release`."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.held = asyncio.Event()
        self._release = asyncio.Event()

    async def hold(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            await self._hold_sqlite()
        else:
            await self._hold_postgres()

    def release(self) -> None:
        self._release.set()

    async def _hold_postgres(self) -> None:
        url = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE meeting IN EXCLUSIVE MODE")
                self.held.set()
                await self._release.wait()
        finally:
            await conn.close()

    async def _hold_sqlite(self) -> None:
        loop, released = asyncio.get_running_loop(), threading.Event()

        def hold() -> None:
            conn = sqlite3.connect(str(self.url.database), isolation_level=None)
            try:
                conn.execute("BEGIN EXCLUSIVE")
                loop.call_soon_threadsafe(self.held.set)
                released.wait()
                conn.execute("COMMIT")
            finally:
                conn.close()

        holding = asyncio.create_task(asyncio.to_thread(hold))
        await self._release.wait()
        released.set()
        await holding


async def test_a_save_waits_out_a_brief_lock(bot: Harness, demo_database_url: str) -> None:
    message = await card(bot)
    locker = Locker(demo_database_url)
    holding = asyncio.create_task(locker.hold())
    await locker.held.wait()
    asyncio.get_running_loop().call_later(1.5, locker.release)
    started = time.monotonic()
    calls = await bot.press(bot.api.user(OFFICER_ID), message, "💾 保存")
    waited = time.monotonic() - started
    await holding
    [told] = texts(calls)
    assert told.startswith(SAVED)
    assert waited >= 1.2, "the save waited for the lock"
    assert [m.attendees for m in await meetings(bot)] == [20]
    assert bot.errors == []


async def test_a_lock_held_too_long_fails_plainly_and_writes_nothing(
    bot: Harness, demo_database_url: str
) -> None:
    officer = bot.api.user(OFFICER_ID)
    message = await card(bot)
    async with bot.app.bot_data.db.session() as session:
        audit_before = len((await session.exec(select(AuditEntry))).all())
    locker = Locker(demo_database_url)
    holding = asyncio.create_task(locker.hold())
    await locker.held.wait()
    mark = len(bot.api.calls)
    pressing = asyncio.create_task(bot.press(officer, message, "💾 保存"))
    # The officer hears back once the lock timeout has passed; then the lock goes.
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS + 10
    while not texts(bot.api.since(mark)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    told = texts(bot.api.since(mark))
    locker.release()
    await holding
    await pressing
    assert told == [DATABASE_DOWN]
    assert await meetings(bot) == []
    async with bot.app.bot_data.db.session() as session:
        assert len((await session.exec(select(AuditEntry))).all()) == audit_before
        assert len((await session.exec(select(Draft))).all()) == 1  # the card can still be saved
    assert len(bot.errors) == 1
    # Told first, then the admins, once the database let their alert in.
    async with bot.app.bot_data.db.session() as session:
        kinds = (await session.exec(select(OutboxMessage.kind))).all()
    assert kinds == ["error"]
    # The lock is gone: the same card saves now, once.
    calls = await bot.press(officer, message, "💾 保存")
    assert texts(calls)[0].startswith(SAVED)
    assert [m.attendees for m in await meetings(bot)] == [20]


# --- PostgreSQL out of reach ---------------------------------------------------------------


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be cut: its connections closed at once,
    new ones refused (nothing listens), until `restore`. `cut_on` cuts it the moment a client
    sends those bytes (a statement), before they reach the server: the update in flight."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.cut_on: bytes | None = None
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.cuts += 1
        if self._server is not None:
            self._server.close()  # new connections are refused from now on
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def restore(self) -> None:
        await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, upstream}
        await asyncio.gather(
            self._pipe(reader, upstream, watch=True), self._pipe(upstream_reader, writer)
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if watch and self.cut_on is not None and self.cut_on in data:
                    self.cut_on = None
                    self.cut()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            writer.transport.abort()


@pytest.fixture
async def proxy(demo_database_url: str) -> AsyncIterator[Proxy]:
    url = make_url(demo_database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a network between the bot and its database is PostgreSQL's")
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    proxy.cut()


@pytest.fixture
async def proxied_bot(
    proxy: Proxy, demo_database_url: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    url = make_url(demo_database_url).set(host="127.0.0.1", port=proxy.port)
    settings = make_settings(tmp_path, database_url=url.render_as_string(hide_password=False))
    async with Harness.running(settings, raise_errors=False) as harness:
        yield harness


async def meetings_directly(url: str) -> list[int]:
    """The meetings' attendance, asked of the server itself, not through the proxy."""
    db = Database(url)
    try:
        async with db.session() as session:
            return list((await session.exec(select(Meeting.attendees))).all())
    finally:
        await db.dispose()


def database_line(calls: list[ApiCall]) -> str:
    [report] = texts(calls)
    return next(line for line in report.splitlines() if line.startswith("数据库："))


async def test_postgres_out_of_reach_then_back(
    proxied_bot: Harness, proxy: Proxy, demo_database_url: str
) -> None:
    bot, officer, admin = (
        proxied_bot,
        proxied_bot.api.user(OFFICER_ID),
        proxied_bot.api.user(ADMIN_ID),
    )
    assert database_line(await bot.send(admin, "/health")).startswith("数据库：✅")
    message = await card(bot)

    # The connection drops as the meeting goes in: the officer hears it did not go through.
    proxy.cut_on = b"INSERT INTO meeting"
    assert texts(await bot.press(officer, message, "💾 保存")) == [DATABASE_DOWN]
    assert proxy.cuts == 1
    assert await meetings_directly(demo_database_url) == []
    # While it is down: /health says so, and any update that needs the database is told.
    # (The admin was seen a moment ago: the gatekeeper knows them without the database.)
    down = database_line(await bot.send(admin, "/health"))
    assert down.startswith(seen("health.database_down", problem="").split("（")[0]), down
    assert texts(await bot.send(officer, LOG)) == [DATABASE_DOWN]
    assert len(bot.errors) == 2  # the save and the message; /health answered itself

    # Back: the first update is served (the pool's dead connections are replaced), the card
    # saves once.
    await proxy.restore()
    calls = await bot.press(officer, message, "💾 保存")
    assert texts(calls)[0].startswith(SAVED)
    assert await meetings_directly(demo_database_url) == [20]
    assert database_line(await bot.send(admin, "/health")).startswith("数据库：✅")
