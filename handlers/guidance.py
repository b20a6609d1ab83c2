"""/guide: a district admin logs a guidance visit to a street, in two taps.

Callback data: "gd:<street id>"; every press re-checks that the presser is an admin.
"""

from __future__ import annotations

import math

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, grid, keyboard, reply
from models.geography import street_ids
from models.visits import log_guidance, streets_guided

GUIDE_CALLBACK = r"^gd:\d{1,6}$"


async def guide_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    async with context.db.session() as session:
        streets = await street_ids(session=session)
    buttons = [(esc(name), f"gd:{street_id}") for name, street_id in streets.items()]
    await reply(update, t("guide.choose", lang), keyboard(grid(buttons, 3)))


async def guide_pressed(update: Update, context: BotContext) -> None:
    query, lang, actor = update.callback_query, context.lang, context.actor
    assert query is not None and query.data is not None
    if not actor.is_admin:
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    street_id = int(query.data.split(":")[1])
    today, plan = context.bot_data.clock.today(), context.plan
    async with context.db.session() as session:
        names = {v: k for k, v in (await street_ids(session=session)).items()}
    if street_id not in names:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    async with context.db.session(write=True) as session:
        logged = await log_guidance(
            session=session, street_id=street_id, by_user_id=actor.user_id, on=today,
            now=context.now(),
        )  # fmt: skip
        guided = await streets_guided(session=session, plan=plan, today=today)
    await query.answer()
    needed = math.ceil(len(names) * plan.targets.guidance_visits.min_street_share)
    await edit(
        update,
        t("guide.logged" if logged else "guide.already", lang, street=esc(names[street_id]),
          guided=guided, streets=len(names), needed=needed),
    )  # fmt: skip
