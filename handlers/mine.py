"""/mine: this month's meetings one may change (an officer's own; an admin's, all), to
correct (back into the /meeting summary card, saved over the entry) or delete (after a
confirming press). Every change is audited.

Callback data: "my:e:<meeting>" correct, "my:d:<meeting>" ask to delete, "my:dd:<meeting>"
delete. Every press re-checks the rights against the entry as it is now.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import Button, edit, esc, grid, is_private, keyboard, reply
from handlers.meeting_flow import DRAFT, card_text, draft_of, summary_buttons
from handlers.status_view import day
from models.drafts import save_draft
from models.geography import street_ids
from models.meetings import delete_meeting, may_change, recent_meetings
from models.tables import Meeting, Visit
from models.visits import delete_visit, may_change_visit, recent_unit_visits

MINE_CALLBACK = r"^my:(e|d|dd):\d{1,9}$"
VISIT_CALLBACK = r"^mv:(d|dd):\d{1,9}$"  # visits: delete (a wrong visit is logged again)


async def mine_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    if not is_private(update):
        await reply(update, t("flow.private_chat", lang))
        return
    async with context.db.session() as session:
        rows = await recent_meetings(
            session=session, user_id=actor.user_id, admin=actor.is_admin,
            today=context.bot_data.clock.today(),
        )  # fmt: skip
        visits = await recent_unit_visits(
            session=session, user_id=actor.user_id, admin=actor.is_admin,
            today=context.bot_data.clock.today(),
        )  # fmt: skip
    if not rows and not visits:
        await reply(update, t("mine.empty", lang))
        return
    lines = [t("mine.title", lang)]
    buttons: list[Button] = []
    for n, (visit, unit_name) in enumerate(visits, 1):
        lines.append(
            t("mine.visit_line", lang, n=n, date=day(visit.visited_on, lang), unit=esc(unit_name))
        )
        buttons.append((f"🗑 V{n}", f"mv:d:{visit.id}"))
    for n, row in enumerate(rows, 1):
        lines.append(
            t("mine.line", lang, n=n, date=day(row.held_on, lang),
              kind=t(f"meeting_kind.{row.kind.value}", lang), attendees=row.attendees,
              place=esc(row.place))
        )  # fmt: skip
        buttons += [
            (f"✏️ {n}", f"my:e:{row.id}"), (f"🗑 {n}", f"my:d:{row.id}"),
            (f"🕘 {n}", f"hist:m:{row.id}:0"),
        ]  # fmt: skip
    await reply(update, "\n".join(lines), keyboard(grid(buttons, 3)))


async def mine_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    _, action, meeting_text = query.data.split(":")
    meeting_id = int(meeting_text)
    async with context.db.session() as session:
        row = await session.get(Meeting, meeting_id)
        streets = {v: k for k, v in (await street_ids(session=session)).items()}
    today = context.bot_data.clock.today()
    if row is None or not may_change(row, user_id=actor.user_id, admin=actor.is_admin, today=today):
        await query.answer(t("mine.refused", lang), show_alert=True)
        return
    await query.answer()
    if action == "d":
        kind = t(f"meeting_kind.{row.kind.value}", lang)
        question = t("mine.ask_delete", lang, date=day(row.held_on, lang), kind=kind)
        await _confirm_delete(update, lang, question, f"my:dd:{meeting_id}")
        return
    if action == "dd":
        async with context.db.session(write=True) as session:
            await delete_meeting(
                session=session, meeting_id=meeting_id, by_user_id=actor.user_id, now=context.now()
            )
        await edit(update, t("mine.deleted", lang))
        return
    payload = draft_of(row)
    async with context.db.session(write=True) as session:
        await save_draft(
            session=session, user_id=actor.user_id, kind=DRAFT, payload=payload, now=context.now()
        )
    await reply(update, card_text(payload, streets, [], context), summary_buttons(lang))


async def _confirm_delete(update: Update, lang: str, question: str, data: str) -> None:
    """Deleting takes a second, deliberate press."""
    await edit(update, question, keyboard([[(t("mine.confirm_delete", lang), data)]]))


async def visit_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    _, action, visit_text = query.data.split(":")
    visit_id = int(visit_text)
    async with context.db.session() as session:
        visit = await session.get(Visit, visit_id)
    today = context.bot_data.clock.today()
    if visit is None or not may_change_visit(
        visit, user_id=actor.user_id, admin=actor.is_admin, today=today
    ):
        await query.answer(t("mine.refused", lang), show_alert=True)
        return
    await query.answer()
    if action == "d":
        question = t("mine.ask_delete_visit", lang, date=day(visit.visited_on, lang))
        await _confirm_delete(update, lang, question, f"mv:dd:{visit_id}")
        return
    async with context.db.session(write=True) as session:
        await delete_visit(
            session=session, visit_id=visit_id, by_user_id=actor.user_id, now=context.now()
        )
    await edit(update, t("mine.deleted", lang))
