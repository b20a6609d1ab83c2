"""The last line of defence: log the error with its update, then tell the user plainly."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from bot.context import BotContext
from bot.texts import t

log = logging.getLogger("unionbot")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if isinstance(error, NetworkError | Forbidden) and not isinstance(update, Update):
        log.warning("Telegram unreachable or refused: %s", error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s", update_id, exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(t("error.generic", context.lang))
        except Exception:  # the reply is a courtesy; the error itself is already logged
            log.warning("could not tell the user about error in update %s", update_id)
