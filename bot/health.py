"""The health probe behind webhook mode's GET /health and the /health command: the database
asked a `SELECT 1` with a short timeout (and timed), then the figures of models/health.py."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from telegram.ext import Application

from bot.context import BotData
from models.health import Figures, Health, gather
from reminders.jobs import WORKER

log = logging.getLogger("unionbot.health")

# A database that takes longer than this to answer SELECT 1 is reported as not answering: a
# load balancer's health check must get its answer quickly either way.
PING_TIMEOUT = 2.0
FIGURES_TIMEOUT = 5.0

# The applications bot/web.py serves in webhook mode (polling shows in the updater; the
# console and the tests feed updates in-process).
_webhook: weakref.WeakSet[BotData] = weakref.WeakSet()


def serving_webhook(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    _webhook.add(app.bot_data)


def run_mode(app: Application[Any, Any, Any, Any, Any, Any]) -> str:
    if app.updater is not None and app.updater.running:
        return "polling"
    return "webhook" if app.bot_data in _webhook else "console"


def _version() -> str:
    try:
        return version("unionbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


async def probe(app: Application[Any, Any, Any, Any, Any, Any]) -> Health:
    data: BotData = app.bot_data
    now = data.clock.now()
    latency: float | None = None
    figures: Figures | None = None
    problem: str | None = None
    # Any failure here means "not healthy", whatever raised it (the driver's own errors,
    # OSError, a timeout): it is reported by class name only, as its text may name the DSN.
    try:
        started = time.perf_counter()
        async with asyncio.timeout(PING_TIMEOUT), data.db.session() as session:
            await session.exec(select(sa.literal(1)))  # SELECT 1
        latency = (time.perf_counter() - started) * 1000
        async with asyncio.timeout(FIGURES_TIMEOUT), data.db.session() as session:
            figures = await gather(session=session, now=now)
    except Exception as exc:
        problem = type(exc).__name__
        log.warning("health: the database did not answer (%s)", problem)
    return Health(
        now=now, database_ok=latency is not None, latency_ms=latency, problem=problem,
        figures=figures, tick_seconds=data.settings.reminder_tick_seconds, mode=run_mode(app),
        instance=WORKER, version=_version(),
    )  # fmt: skip
