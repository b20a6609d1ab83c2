"""The last line of defence: log the error with its update, tell the user plainly, and let
the district admins know through the outbox (at most once an hour each, so a burst of
errors cannot flood them)."""

from __future__ import annotations

import logging

import sqlalchemy.exc
from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter

from bot.context import BotContext
from bot.texts import t
from models.outbox import Outgoing, enqueue

log = logging.getLogger("unionbot")
# Telegram failing to take a reply (a timeout, a dropped connection, a 5xx, flooding): what
# the update wrote is committed already, so "try again" would invite a second copy.
TELEGRAM_HICCUPS = (NetworkError, RetryAfter)
# SQLite's "busy" and "locked" (primary result codes), and PostgreSQL's SQLSTATEs for a lock
# not had in time, a cancelled statement, a server going away, a lost connection (class 08).
SQLITE_BUSY = {5, 6}
POSTGRES_UNAVAILABLE = ("08", "55P03", "57014", "57P")


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if isinstance(error, NetworkError | Forbidden) and not isinstance(update, Update):
        log.warning("Telegram unreachable or refused: %s", error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, TELEGRAM_HICCUPS):
        # Not the bot's fault and nothing for the admins to do: logged, the user warned.
        log.warning("Telegram failed during update %s: %r", update_id, error)
        await _tell_user(update, context, "faults.telegram")
        return
    log.error("error while handling update %s", update_id, exc_info=error)
    key = "faults.database" if database_unavailable(error) else "error.generic"
    # The user first: alerting the admins needs the database, which may keep them waiting.
    await _tell_user(update, context, key)
    await _alert_admins(context, error, update_id)


def database_unavailable(error: BaseException | None) -> bool:
    """The database busy past its lock timeout, or out of reach: the transaction in flight
    was rolled back, so the step that raised this did not happen."""
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection came in time
        return True
    if isinstance(error, ConnectionError):  # a new connection refused: the driver's own error
        return True
    if not isinstance(error, sqlalchemy.exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    code = getattr(error.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in SQLITE_BUSY
    state = getattr(error.orig, "sqlstate", None)
    if state:
        return str(state).startswith(POSTGRES_UNAVAILABLE)
    # No SQLSTATE: the driver could not reach the server at all (refused, reset).
    return isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)


async def _tell_user(update: object, context: BotContext, key: str) -> None:
    if not isinstance(update, Update) or update.effective_message is None:
        return
    try:
        await update.effective_message.reply_text(t(key, context.lang))
    except Exception:  # the reply is a courtesy; the error itself is already logged
        log.warning("could not tell the user about error in update %s", update.update_id)


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
