"""/outbox (district admins): what the bot has queued to send, by channel and state, and a
button to try failed messages again.

Callback data: "ob:v" (refresh), "ob:r:<channel>" (retry that channel's failures). Every
press re-checks that the presser is an admin.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import Button, edit, keyboard, reply
from models.enums import OutboxChannel, OutboxStatus
from models.outbox import counts, retry_failed

OUTBOX_CALLBACK = r"^ob:(v|r:(telegram|sms))$"


async def outbox_command(update: Update, context: BotContext) -> None:
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", context.lang))
        return
    await reply(update, *await _view(context))


async def outbox_pressed(update: Update, context: BotContext) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None and query.data is not None
    if not context.actor.is_admin:
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    parts = query.data.split(":")
    if parts[1] == "r":
        async with context.db.session(write=True) as session:
            n = await retry_failed(
                session=session, channel=OutboxChannel(parts[2]), now=context.now(),
                by_user_id=context.actor.user_id,
            )  # fmt: skip
        await query.answer(t("outbox.retried", lang, count=n), show_alert=True)
    else:
        await query.answer()
    await edit(update, *await _view(context))


async def _view(context: BotContext) -> tuple[str, InlineKeyboardMarkup]:
    lang = context.lang
    async with context.db.session() as session:
        tally = await counts(session=session)
    lines = [t("outbox.title", lang)]
    rows: list[list[Button]] = []
    for channel in OutboxChannel:
        states = [
            t("outbox.state", lang, state=t(f"outbox.status.{s.value}", lang),
              count=f"{tally.get((channel, s), 0):,}")
            for s in OutboxStatus
            if tally.get((channel, s), 0)
        ]  # fmt: skip
        body = " · ".join(states) or t("outbox.empty", lang)
        lines.append(t("outbox.channel", lang, channel=t(f"outbox.channel_{channel.value}", lang),
                       states=body))  # fmt: skip
        failed = tally.get((channel, OutboxStatus.FAILED), 0)
        if failed:
            label = t("outbox.retry", lang, channel=t(f"outbox.channel_{channel.value}", lang),
                      count=f"{failed:,}")  # fmt: skip
            rows.append([(label, f"ob:r:{channel.value}")])
    rows.append([(t("outbox.refresh", lang), "ob:v")])
    return "\n".join(lines), keyboard(rows)
