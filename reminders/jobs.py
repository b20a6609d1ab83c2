"""The JobQueue wiring: a reminder tick every REMINDER_TICK_SECONDS, and the outbox senders
(Telegram, SMS) every OUTBOX_INTERVAL_SECONDS. All are idempotent, so a second instance on
the same database, or a tick that overlaps a restart, sends nothing twice."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from telegram.ext import Application, CallbackContext

from models.enums import Language
from reminders.progress import show_progress
from reminders.sender import drain
from reminders.sms_sender import drain_sms
from reminders.tick import run_tick

log = logging.getLogger("unionbot.reminders")

# Which instance claimed an outbox row: for the logs, and so a lease names its holder.
WORKER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def schedule(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    settings = app.bot_data.settings
    if settings.reminder_tick_seconds == 0 or app.job_queue is None:
        return  # off (tests drive the tick themselves)
    app.job_queue.run_repeating(tick, interval=settings.reminder_tick_seconds, first=1)
    # A drain can outlast the interval (a burst of reminders at 30/s); the next run then finds
    # the drain's lock held and returns at once. With one instance allowed, APScheduler would
    # instead log a warning for every run it skips, every few seconds of a long drain.
    overlap = {"max_instances": 2}
    app.job_queue.run_repeating(
        send, interval=settings.outbox_interval_seconds, first=2, job_kwargs=overlap
    )
    app.job_queue.run_repeating(
        send_sms, interval=settings.outbox_interval_seconds, first=3, job_kwargs=overlap
    )


async def tick(context: CallbackContext[Any, Any, Any, Any]) -> None:
    data = context.bot_data
    result = await run_tick(
        db=data.db, plan=data.plan, now=data.clock.now(),
        language=Language(data.settings.default_language),
    )  # fmt: skip
    if result.fresh or result.stale:
        log.info("reminders queued: %d, too late to send: %d", len(result.fresh), len(result.stale))
        # Sent now, by a drain of its own: hundreds of reminders at 30/s can outlast the tick's
        # interval, and the next tick must not wait for them (APScheduler would skip it).
        assert context.job_queue is not None  # schedule() ran this tick from it
        context.job_queue.run_once(send, when=0)


async def send(context: CallbackContext[Any, Any, Any, Any]) -> None:
    data = context.bot_data
    if data.sending.locked():
        return  # one drain per instance: the running one takes new rows as well
    lease = timedelta(seconds=data.settings.outbox_lease_seconds)
    language = Language(data.settings.default_language)

    async def progress() -> None:
        await show_progress(bot=context.bot, db=data.db, now=data.clock.now, language=language)

    async with data.sending:
        sent = await drain(bot=context.bot, db=data.db, now=data.clock.now, worker=WORKER,
                           lease=lease, progress=progress, pace=data.pace)  # fmt: skip
    if sent:
        log.info("outbox rows handled: %d", sent)
    await progress()


async def send_sms(context: CallbackContext[Any, Any, Any, Any]) -> None:
    """The outbox's SMS rows, through the gateway; without one, the admins hear once that
    SMS are waiting (their notice goes out with the next run of `send`)."""
    data = context.bot_data
    if data.sms_sending.locked():
        return  # one SMS drain per instance, as for Telegram
    async with data.sms_sending:
        result = await drain_sms(
            channel=data.sms, db=data.db, now=data.clock.now, worker=WORKER,
            admins=data.settings.bot_admin_ids,
            language=Language(data.settings.default_language),
            lease=timedelta(seconds=data.settings.outbox_lease_seconds),
        )  # fmt: skip
    if result.handled:
        log.info("sms rows handled: %d", result.handled)
