"""`python -m bench` (or `make bench`): the project's benchmarks, printed as one table.

- seed: writing the full 2018 demo dataset (15,099 units) into a fresh SQLite file;
- figures: computing the district's live figures (one aggregate query over all units);
- updates: /help from a known officer through the whole bot (gatekeeper, database lookup,
  handler, PTB serialisation, fake Bot API), latency p50/p95 and throughput, beside the
  floor: a bare PTB echo bot on the same fake API;
- status on the full-size dataset (15,099 units, 260,000 members, a year of meetings and
  visits, built in a child process so its memory doesn't count here): the district figures
  computed from scratch; /status for the district and for a street through the whole bot,
  as served (figures cached until the data changes) and cold (recomputed every time, as
  after each write); beside an echo handler on the same harness (our app, gatekeeper and
  database lookup included) and the bare PTB echo floor;
- the reminder tick on the full-size dataset (what falls due, planned from the database);
- the outbox sender: reminders drained through PTB's flood limiter, against Telegram's 30/s;
- SMS: 1,000 welcomes through the local test gateway at a set 50/s;
- imports: the tax list (15,099 units) and the member system's records (101,240) from .xlsx,
  read, checked and written, beside openpyxl reading the same files alone (bench/imports.py);
- welcomes: 10,000 through a fake Bot API that enforces 30 messages/s and injects 429s
  (about 6 minutes; `--welcomes 0` skips it);
- peak memory of this process (max RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters

from bench.fullsize import build_full_size_database
from bench.imports import bench_imports
from bot.db import Database
from bot.fake_api import JSON, FakeBotApi
from bot.harness import FAKE_TOKEN, Harness
from bot.settings import Settings
from models.demo import seed_demo
from models.enums import Language, OutboxChannel, OutboxStatus, Role
from models.officers import ensure_officer
from models.outbox import Outgoing, counts, enqueue
from models.plan import load_plan
from models.progress import unit_counts
from models.status import StatusCache, district_status
from reminders.sender import drain
from reminders.sms import HttpSmsGateway
from reminders.sms_sender import SmsChannel, drain_sms
from reminders.tick import plan_tick
from tests.sms_server import TOKEN as SMS_TOKEN
from tests.sms_server import serve_generic

ADMIN = 10001
OFFICER = 20001  # made a street officer of 拱辰街道 in the full-size database
FULL_SIZE_DAY = date(2018, 9, 15)  # six months of activity, deadlines ahead
REMINDER_MOMENT = datetime(2018, 9, 14, 1, 0, tzinfo=UTC)  # Friday 09:00 in Beijing
TELEGRAM_RATE = 30  # messages per second, overall


def settings_for(folder: Path, name: str = "bench", today: date = date(2018, 3, 15)) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{folder}/{name}.db",
        bot_admin_ids=str(ADMIN),
        bot_today=today.isoformat(),
        reminder_tick_seconds=0,  # the benchmarks run ticks themselves
    )


async def timed(n: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await step(i)
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float]) -> tuple[float, float, float]:
    """p50 and p95 in milliseconds, and operations per second."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1000, p95 * 1000, len(samples) / sum(samples)


async def bench_seed(folder: Path, settings: Settings) -> list[tuple[str, str]]:
    db = Database(settings.database_url)
    plan = load_plan(settings.plan_file)
    await db.upgrade()
    start = time.perf_counter()
    async with db.session(write=True) as session:
        await seed_demo(session=session, plan=plan)
    seeded = time.perf_counter() - start
    samples = []
    for _ in range(20):
        async with db.session() as session:
            start = time.perf_counter()
            await unit_counts(session=session, plan=plan)
            samples.append(time.perf_counter() - start)
    await db.dispose()
    p50, p95, _ = summary(samples)
    size = (folder / "bench.db").stat().st_size / 2**20
    return [
        ("seed-demo: 15,099 units into SQLite", f"{seeded:.2f} s ({size:.1f} MiB file)"),
        ("district figures over all units, p50 / p95", f"{p50:.1f} / {p95:.1f} ms"),
    ]


async def help_samples(settings: Settings, n: int, *, rate_limit: bool) -> list[float]:
    async with Harness.running(settings, rate_limit=rate_limit) as harness:
        user = harness.api.user(ADMIN)
        await harness.send(user, "/help")  # warm up
        return await timed(n, lambda _: harness.send(user, "/help"))


async def bench_updates(settings: Settings, n: int) -> list[tuple[str, str]]:
    b50, b95, brate = summary(await help_samples(settings, n, rate_limit=False))
    _, _, limited = summary(await help_samples(settings, min(n, 300), rate_limit=True))
    f50, f95, frate = summary(await echo_floor(n))
    return [
        (f"/help through the whole bot, p50 / p95 ({n} updates)", f"{b50:.2f} / {b95:.2f} ms"),
        ("  throughput, one update at a time", f"{brate:,.0f} updates/s"),
        ("  with Telegram's flood limiter on (30 msg/s)", f"{limited:,.0f} updates/s"),
        ("echo floor (bare PTB app, same fake API), p50 / p95", f"{f50:.2f} / {f95:.2f} ms"),
        ("  floor throughput", f"{frate:,.0f} updates/s"),
    ]


async def echo_floor(n: int) -> list[float]:
    api = FakeBotApi()
    app = ApplicationBuilder().token(FAKE_TOKEN).request(api).get_updates_request(api).build()

    async def echo(update: Update, _: object) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    app.add_handler(MessageHandler(filters.ALL, echo))
    await app.initialize()
    user = api.user(ADMIN)

    async def step(_: int) -> None:
        await app.process_update(
            Update.de_json(api.message_update(user=user, text="/help"), app.bot)
        )

    await step(0)
    samples = await timed(n, step)
    await app.shutdown()
    return samples


def _build_full_size(url: str) -> str:
    """In a child process: write the full-size database; return what it holds."""
    plan = load_plan(settings_for(Path()).plan_file)
    summary = asyncio.run(build_full_size_database(url, plan, through=FULL_SIZE_DAY))
    return f"{summary.members:,} members, {sum(summary.meetings.values()):,} meetings"


async def bench_status(folder: Path, n: int) -> list[tuple[str, str]]:
    settings = settings_for(folder, "full", FULL_SIZE_DAY)
    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        holds = await asyncio.get_running_loop().run_in_executor(
            pool, _build_full_size, settings.database_url
        )
    built = time.perf_counter() - start
    plan = load_plan(settings.plan_file)
    db = Database(settings.database_url)
    async with db.session(write=True) as session:
        await ensure_officer(
            session=session, telegram_user_id=OFFICER, role=Role.STREET_OFFICER,
            street_name="拱辰街道", display_name="bench", language=Language.ZH,
            now=datetime.now(UTC),
        )  # fmt: skip
    figures = []
    for _ in range(30):
        async with db.session() as session:
            begin = time.perf_counter()
            await district_status(session=session, plan=plan, today=FULL_SIZE_DAY)
            figures.append(time.perf_counter() - begin)
    ticks = []
    for _ in range(10):
        async with db.session() as session:
            begin = time.perf_counter()
            await plan_tick(session=session, plan=plan, now=REMINDER_MOMENT,
                            language=Language.ZH, since=None)  # fmt: skip
            ticks.append(time.perf_counter() - begin)
    await db.dispose()
    rows = [
        ("full-size dataset: 15,099 units, a year of activity", f"{built:.1f} s ({holds})"),
        (
            "district figures from scratch, p50 / p95",
            "{:.1f} / {:.1f} ms".format(*summary(figures)),
        ),
        (
            "reminder tick (plan 4 weeks around now), p50 / p95",
            "{:.0f} / {:.0f} ms".format(*summary(ticks)),
        ),
    ]
    async with Harness.running(settings, rate_limit=False) as harness:
        admin, officer = harness.api.user(ADMIN), harness.api.user(OFFICER)
        echo = await echo_on_harness(harness, admin, n)
        for label, user in (("district", admin), ("street", officer)):
            await harness.send(user, "/status")
            p50, p95, rate = summary(
                await timed(n, lambda _, u=user: harness.send(u, "/status"))  # type: ignore[misc]
            )
            rows.append((f"/status {label}, served, p50 / p95", f"{p50:.2f} / {p95:.2f} ms"))
            rows.append(("  throughput", f"{rate:,.0f} updates/s ({rate / echo:.0%} of the echo)"))

        async def cold(_: int) -> None:
            harness.app.bot_data.status_cache = StatusCache()  # as after any write
            await harness.send(admin, "/status")

        p50, p95, rate = summary(await timed(min(n, 200), cold))
        rows.append(
            ("/status district, cold (after a write), p50 / p95", f"{p50:.1f} / {p95:.1f} ms")
        )
        rows.append(("  throughput", f"{rate:,.0f} updates/s"))
        rows.append(
            ("echo handler on the same harness (gatekeeper included)", f"{echo:,.0f} updates/s")
        )
    return rows


async def queue_messages(db: Database, n: int, *, kind: str, first_chat: int, text: str) -> None:
    """n outbox rows due now, one to each of n private chats."""
    now = datetime.now(UTC)
    rows = [
        Outgoing(key=f"{kind}|telegram|{i}", kind=kind, recipient=str(first_chat + i),
                 payload={"text": f"{text} {i}"}, not_before=now)
        for i in range(n)
    ]  # fmt: skip
    async with db.session(write=True) as session:
        await enqueue(session=session, rows=rows, now=now)


async def bench_outbox(folder: Path, n: int) -> list[tuple[str, str]]:
    """n reminders to n private chats, drained as the bot does (at most 30 in any second,
    through PTB's flood limiter): the sender's rate against Telegram's ceiling."""
    settings = settings_for(folder, "outbox")
    async with Harness.running(settings) as harness:
        db = harness.app.bot_data.db
        await queue_messages(db, n, kind="reminder", first_chat=50_000, text="提醒")
        begin = time.perf_counter()
        sent = await drain(bot=harness.app.bot, db=db, now=lambda: datetime.now(UTC),
                           worker="bench", pace=harness.app.bot_data.pace)  # fmt: skip
        took = time.perf_counter() - begin
    rate = sent / took
    return [(f"outbox: {n} reminders through the flood limiter",
             f"{rate:.1f} messages/s ({rate / TELEGRAM_RATE:.0%} of Telegram's 30/s)")]  # fmt: skip


async def bench_welcomes(folder: Path, n: int) -> list[tuple[str, str]]:
    """n welcomes through a fake Bot API that enforces Telegram's 30 messages/s (a 429 for
    the 31st in any second) and refuses 0.1% of calls at random with a 429: every one
    delivered, none twice, and how close to the allowed rate."""
    settings = settings_for(folder, "welcomes")
    async with Harness.running(settings) as harness:
        harness.api.max_per_second, harness.api.random_429 = TELEGRAM_RATE, 0.001
        db = harness.app.bot_data.db
        await queue_messages(db, n, kind="welcome", first_chat=80_000, text="欢迎加入工会")
        begin = time.perf_counter()
        while True:  # rows refused with a 429 wait out retry_after, then go again
            await drain(bot=harness.app.bot, db=db, now=lambda: datetime.now(UTC),
                        worker="bench", pace=harness.app.bot_data.pace)  # fmt: skip
            async with db.session() as session:
                tally = await counts(session=session)
            if not tally.get((OutboxChannel.TELEGRAM, OutboxStatus.PENDING)):
                break
            await asyncio.sleep(0.2)
        took = time.perf_counter() - begin
        delivered = Counter(
            c.params["chat_id"] for c in harness.api.calls
            if c.method == "sendMessage" and c.status == 200
        )  # fmt: skip
        refused = sum(c.status == 429 for c in harness.api.calls)
    twice = sum(k > 1 for k in delivered.values())
    rate = n / took
    return [
        (f"welcomes: {n:,} through 30/s flood control, 0.1% random 429s",
         f"{took:.0f} s, {rate:.1f} messages/s ({rate / TELEGRAM_RATE:.0%} of the allowed rate)"),
        ("  delivered / twice / 429s ridden out",
         f"{len(delivered):,} / {twice} / {refused}"),
    ]  # fmt: skip


async def bench_sms(folder: Path, n: int, rate: float = 50.0) -> list[tuple[str, str]]:
    """n welcome SMS through the local test gateway (tests/sms_server.py, which checks what a
    real one checks) at a configured rate: how close the sender keeps to it."""
    settings = settings_for(folder, "sms")
    db = Database(settings.database_url)
    await db.upgrade()
    now = datetime.now(UTC)
    rows = [
        Outgoing(key=f"welcome|sms|{i}", kind="welcome", channel=OutboxChannel.SMS,
                 recipient=f"139{i:08d}", payload={"text": f"【房山区总工会】欢迎 {i}"},
                 not_before=now)
        for i in range(n)
    ]  # fmt: skip
    async with db.session(write=True) as session:
        await enqueue(session=session, rows=rows, now=now)
    with serve_generic() as gateway:
        channel = SmsChannel(
            HttpSmsGateway(url=gateway.url, auth_header=f"Authorization: {SMS_TOKEN}"), rate
        )
        begin = time.perf_counter()
        await drain_sms(channel=channel, db=db, now=lambda: datetime.now(UTC), worker="bench",
                        admins=(), language=Language.ZH)  # fmt: skip
        took = time.perf_counter() - begin
        await channel.aclose()
        received = Counter(m.mobile for m in gateway.messages)
    await db.dispose()
    twice = sum(k > 1 for k in received.values())
    return [(f"SMS: {n:,} welcomes through the local gateway at {rate:.0f}/s",
             f"{n / took:.1f} SMS/s ({n / took / rate:.0%} of the set rate); "
             f"{len(received):,} received, {twice} twice")]  # fmt: skip


async def echo_on_harness(harness: Harness, user: JSON, n: int) -> float:
    """Throughput of a handler that only echoes, behind the same gatekeeper and database
    lookup as every feature: the floor any command of this bot stands on."""

    async def echo(update: Update, _: object) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    handlers = harness.app.handlers[0]
    handlers.insert(0, MessageHandler(filters.Regex("^echo"), echo))  # first in group 0
    await harness.send(user, "echo")
    _, _, rate = summary(await timed(n, lambda _: harness.send(user, "echo")))
    handlers.pop(0)
    return rate


async def main(n: int, welcomes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = settings_for(folder)
        rows = await bench_seed(folder, settings)
        rows += await bench_updates(settings, n)
        rows += await bench_status(folder, n)
        rows += await bench_outbox(folder, 300)
        rows += await bench_sms(folder, 1000)
        rows += await asyncio.to_thread(bench_imports, folder)
        if welcomes:
            rows += await bench_welcomes(folder, welcomes)
    rows.append(
        (
            "peak memory (max RSS of this process)",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
        )
    )
    width = max(len(name) for name, _ in rows)
    print(f"{'benchmark'.ljust(width)}  result")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000, help="updates to time (default 1000)")
    parser.add_argument(
        "--welcomes", type=int, default=10_000,
        help="welcomes to send at Telegram's rate (default 10,000: about 6 minutes; 0 skips)",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main(args.updates, args.welcomes))
