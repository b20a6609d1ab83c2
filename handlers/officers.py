"""/officers: a district admin lists the officers and removes one (after a confirming press).

Callback data: "off:p:<page>" a page of the list, "off:rm:<user>" asks, "off:ok:<user>"
removes. Every press re-checks that the presser is still an admin; a removal is audited and
takes effect at once on this instance (the gatekeeper's cache forgets the officer) and within
the cache's few seconds on the others.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import Button, edit, esc, grid, is_private, keyboard, reply, role_label
from models.enums import Language
from models.officers import OfficerLine, Removal, list_officers, remove_officer

OFFICERS_CALLBACK = r"^off:(p|rm|ok):\d{1,15}$"
PAGE = 20


async def officers_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    if not is_private(update):
        await reply(update, t("officers.private_only", lang))
        return
    text, markup = await _page(context, 0)
    await reply(update, text, markup)


async def officers_pressed(update: Update, context: BotContext) -> None:
    query, lang, actor = update.callback_query, context.lang, context.actor
    assert query is not None and query.data is not None
    if not actor.is_admin:
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    _, step, value = query.data.split(":")
    await query.answer()
    if step == "p":
        await edit(update, *await _page(context, int(value)))
        return
    user_id = int(value)
    async with context.db.session() as session:
        officer = next(
            (o for o in await list_officers(session=session) if o.user_id == user_id), None
        )
    if officer is None:
        await edit(update, t("officers.gone", lang))
        return
    if step == "rm":
        name, role, street = _describe(officer, lang)
        buttons = [[(t("officers.confirm_button", lang), f"off:ok:{user_id}")],
                   [(t("officers.back", lang), "off:p:0")]]  # fmt: skip
        await edit(update, t("officers.confirm", lang, name=name, role=role, street=street),
                   keyboard(buttons))  # fmt: skip
        return
    async with context.db.session(write=True) as session:
        outcome = await remove_officer(
            session=session, telegram_user_id=user_id, by_user_id=actor.user_id,
            settings_admins=context.bot_data.settings.bot_admin_ids, now=context.now(),
        )  # fmt: skip
    if outcome is Removal.REMOVED:
        context.bot_data.officers.forget(user_id)
        await edit(update, t("officers.removed", lang, name=_describe(officer, lang)[0]))
    else:
        await edit(update, t(f"officers.{outcome.value}", lang))


async def _page(context: BotContext, page: int) -> tuple[str, InlineKeyboardMarkup]:
    lang = context.lang
    async with context.db.session() as session:
        officers = await list_officers(session=session)
    shown = officers[page * PAGE : (page + 1) * PAGE]
    lines = [t("officers.title", lang, count=len(officers))]
    buttons: list[Button] = []
    for n, officer in enumerate(shown, page * PAGE + 1):
        name, role, street = _describe(officer, lang)
        lines.append(t("officers.line", lang, n=n, name=name, role=role, street=street))
        buttons.append(
            (f"{n}. {officer.name or officer.user_id}"[:40], f"off:rm:{officer.user_id}")
        )
    rows = grid(buttons, 2)
    turn: list[Button] = []
    if page > 0:
        turn.append((t("history.newer", lang), f"off:p:{page - 1}"))
    if (page + 1) * PAGE < len(officers):
        turn.append((t("history.older", lang), f"off:p:{page + 1}"))
    return "\n".join(lines), keyboard([*rows, turn] if turn else rows)


def _describe(officer: OfficerLine, lang: Language) -> tuple[str, str, str]:
    role, street = role_label(officer.role, officer.street_name, lang)
    return esc(officer.name) if officer.name else t("officers.no_name", lang), role, street
