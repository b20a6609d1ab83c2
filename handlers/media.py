"""Evidence files: taken from a message while logging, and copied from Telegram into
MEDIA_DIR once the record they belong to is saved, so the record outlives the chat."""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path

from telegram import Document, InlineKeyboardMarkup, PhotoSize, Update
from telegram.error import TelegramError

from bot.context import BotContext
from bot.texts import t
from handlers.common import esc, reply
from models.meetings import file_kept
from models.outbox import Outgoing, enqueue
from models.tables import Attachment

MAX_FILES = 20
MAX_FILE_BYTES = 20 * 2**20  # the most a bot may download from Telegram
log = logging.getLogger(__name__)

Evidence = dict[str, str]  # media_kind, file_id, unique_id: what a draft keeps of a file


async def download(context: BotContext, file_id: str) -> bytes | None:
    """A file sent to the bot, fetched from Telegram once per update; None (logged) when
    Telegram does not hand it over."""
    if file_id not in context.downloaded:
        try:
            remote = await context.bot.get_file(file_id)
            context.downloaded[file_id] = bytes(await remote.download_as_bytearray())
        except TelegramError as exc:
            log.warning("file %s not downloaded: %s", file_id, exc)
            return None
    return context.downloaded[file_id]


async def take_file(
    update: Update, context: BotContext, files: list[Evidence], more: InlineKeyboardMarkup
) -> list[Evidence] | None:
    """The files with this message's photo or document added, after telling the user; None
    (and a message saying why) for a sticker, a file too big, or one too many."""
    message, lang = update.effective_message, context.lang
    assert message is not None
    item: PhotoSize | Document
    if message.photo:
        item, kind = message.photo[-1], "photo"  # the largest rendition
    elif message.document:
        item, kind = message.document, "document"
    else:  # a sticker, a voice message …: not evidence
        await reply(update, t("flow.not_a_file", lang), more)
        return None
    if (item.file_size or 0) > MAX_FILE_BYTES:
        await reply(update, t("flow.file_too_big", lang), more)
        return None
    if len(files) >= MAX_FILES:
        await reply(update, t("flow.too_many_files", lang, max=MAX_FILES), more)
        return None
    files = [
        *files,
        {"media_kind": kind, "file_id": item.file_id, "unique_id": item.file_unique_id},
    ]
    await reply(update, t("flow.file_kept", lang, count=len(files)), more)
    return files


async def keep_files(
    update: Update, context: BotContext, folder: Path, pending: list[Attachment]
) -> None:
    """Copy saved files into `folder`. The record is saved already: a file that can't be
    fetched now keeps its Telegram id (and is logged); it never undoes the record. Files the
    server could not store (a full disk) are told to the user, and to the admins."""
    not_stored: list[OSError] = []
    for attachment in pending:
        assert attachment.id is not None
        try:
            remote = await context.bot.get_file(attachment.telegram_file_id)
            suffix = Path(remote.file_path or "").suffix or (
                ".jpg" if attachment.media_kind == "photo" else ""
            )
            path = folder / f"{attachment.telegram_file_unique_id}{suffix}"
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            await remote.download_to_drive(path)
        except TelegramError as exc:
            log.warning("%s: file %s not copied: %s", folder, attachment.id, exc)
            continue
        except OSError as exc:
            log.error("%s: file %s not stored: %s", folder, attachment.id, exc)
            await asyncio.to_thread(_discard, folder, attachment)
            not_stored.append(exc)
            continue
        async with context.db.session(write=True) as session:
            await file_kept(session=session, attachment_id=attachment.id, path=str(path))
    if not_stored:
        await storage_failed(update, context, folder, not_stored)


def _discard(folder: Path, attachment: Attachment) -> None:
    """What a failed write left of a file (empty or cut short): never mistaken for a copy."""
    for partial in folder.glob(f"{attachment.telegram_file_unique_id}*"):
        partial.unlink(missing_ok=True)


async def storage_failed(
    update: Update, context: BotContext, folder: Path, errors: list[OSError]
) -> None:
    """The user told the record stands without these files; the admins, once an hour, told
    to look at the disk (if the database, perhaps on the same disk, takes their alert)."""
    now, count = context.now(), len(errors)
    await reply(update, t("faults.files_not_kept", context.lang, count=count))
    problem = errno.errorcode.get(errors[0].errno or 0, type(errors[0]).__name__)
    settings = context.bot_data.settings
    hour = now.astimezone(settings.zone).strftime("%Y-%m-%dT%H")
    text = t("faults.files_admin", settings.default_language, problem=problem, count=count,
             folder=esc(str(folder)))  # fmt: skip
    rows = [
        Outgoing(key=f"storage|{admin}|{hour}", kind="error", recipient=str(admin),
                 payload={"text": text}, not_before=now)
        for admin in settings.bot_admin_ids
    ]  # fmt: skip
    try:
        async with context.db.session(write=True) as session:
            await enqueue(session=session, rows=rows, now=now)
    except Exception:  # the log has the storage error already
        log.warning("could not queue the admins' alert about %s", folder)
