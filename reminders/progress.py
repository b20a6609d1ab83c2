"""A batch's progress, shown by editing one message ("已发送 1,200 / 10,000") rather than
sending one per step: edited after each run of the senders, and a last time when done."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot.db import Database
from bot.texts import t
from models.enums import Language
from models.outbox import BatchProgress, finish_batch, open_batches

log = logging.getLogger("unionbot.outbox")


def progress_text(progress: BatchProgress, language: Language) -> str:
    key = "outbox.progress_done" if progress.done else "outbox.progress"
    return t(key, language, sent=f"{progress.sent:,}", total=f"{progress.total:,}",
             failed=f"{progress.failed:,}")  # fmt: skip


async def show_progress(
    *, bot: Bot, db: Database, now: Callable[[], datetime], language: Language
) -> None:
    async with db.session() as session:
        batches = await open_batches(session=session)
    for progress in batches:
        try:
            await bot.edit_message_text(
                progress_text(progress, language),
                chat_id=progress.chat_id,
                message_id=progress.message_id,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):  # nothing new since the last edit is fine
                log.warning("progress of batch %s not shown: %s", progress.batch_id, exc)
        except TelegramError as exc:  # shown again next time
            log.warning("progress of batch %s not shown: %s", progress.batch_id, exc)
            continue
        if progress.done:
            async with db.session(write=True) as session:
                await finish_batch(session=session, batch_id=progress.batch_id, now=now())
