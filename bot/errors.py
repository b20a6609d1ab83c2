"""The last line of defence: log the error with its update, tell the user plainly, and let
the district admins know through the outbox (at most once an hour each, so a burst of
errors cannot flood them)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from bot.context import BotContext
from bot.texts import t
from models.outbox import Outgoing, enqueue

log = logging.getLogger("unionbot")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if isinstance(error, NetworkError | Forbidden) and not isinstance(update, Update):
        log.warning("Telegram unreachable or refused: %s", error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=error)
    await _alert_admins(context, error, update_id)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(t("error.generic", context.lang))
        except Exception:  # the reply is a courtesy; the error itself is already logged
            log.warning("could not tell the user about error in update %s", update_id)


async def _alert_admins(
    context: BotContext, error: BaseException | None, update_id: int | None
) -> None:
    data = context.bot_data
    now = data.clock.now()
    hour = now.astimezone(data.settings.zone).strftime("%Y-%m-%dT%H")
    lang = data.settings.default_language
    text = t("error.admin_alert", lang, kind=type(error).__name__, update=update_id or "-")
    rows = [
        Outgoing(key=f"error|{admin}|{hour}", kind="error", recipient=str(admin),
                 payload={"text": text}, not_before=now)
        for admin in data.settings.bot_admin_ids
    ]  # fmt: skip
    try:
        async with data.db.session(write=True) as session:
            await enqueue(session=session, rows=rows, now=now)
    except Exception:  # the database may be what failed; the log has the error
        log.warning("could not queue the admins' alert about update %s", update_id)
