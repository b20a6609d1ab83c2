"""/status and /chart: how much work is left, for whoever asks, wherever they ask.

Scope: in a private chat, a district admin gets the district (or a street named after the
command), an officer their own street; in a group, whatever the group is bound to (/bind).

Callback data (each press re-checks the presser's rights against the current data):
  "st:d" / "st:s:<street>"   show (or refresh, or go back to) a status
  "ch:d" / "ch:s:<street>"   send the chart
"""

from __future__ import annotations

import asyncio
import re

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatAction, ChatType

from bot.chart import ChartBar, ChartPanel, render_progress_chart
from bot.context import Actor, BotContext
from bot.texts import t
from handlers.common import Button, edit, esc, is_private, keyboard, reply
from handlers.drilldown import list_button
from handlers.meetings import conversation_answer
from handlers.status_view import district_text, full_date, street_text
from models.chats import Scope, chat_scope, find_street, street_scope
from models.enums import Language
from models.questions import STATUS_QUESTION, is_status_question

SHOW_CALLBACK = r"^st:(d|s:\d{1,6})$"
CHART_CALLBACK = r"^ch:(d|s:\d{1,6})$"
QUESTION = STATUS_QUESTION


def scope_code(scope: Scope) -> str:
    return "d" if scope.is_district else f"s:{scope.street_id}"


def may_view(actor: Actor, scope: Scope, bound: Scope | None) -> bool:
    """Admins see everything; others see their own street, or what their group is bound to."""
    if actor.is_admin or (bound is not None and bound == scope):
        return True
    return not scope.is_district and scope.street_id == actor.street_id


async def status_command(update: Update, context: BotContext) -> None:
    await _answer_status(update, context, " ".join(context.args or []))


async def status_question(update: Update, context: BotContext) -> None:
    """A plain question (models.questions) in a private chat, or addressed to the bot in a group."""
    message = update.effective_message
    if message is None or not message.text or not is_status_question(message.text):
        return
    if not is_private(update) and not _addressed_to_bot(update, context):
        return
    if is_private(update) and await conversation_answer(update, context):
        return  # a report or a note that says 进度 or 还差 answers the question asked
    await _answer_status(update, context, "")


def _addressed_to_bot(update: Update, context: BotContext) -> bool:
    message = update.effective_message
    assert message is not None and message.text is not None
    mention = f"@{context.bot.username}".lower()
    replied = message.reply_to_message
    return mention in message.text.lower() or (
        replied is not None and replied.from_user is not None and replied.from_user.is_bot
        and replied.from_user.id == context.bot.id
    )  # fmt: skip


async def _answer_status(update: Update, context: BotContext, named: str) -> None:
    scope = await _requested_scope(update, context, named)
    if scope is None:
        return
    text, markup = await _status_message(context, scope)
    await reply(update, text, markup)


async def _requested_scope(update: Update, context: BotContext, named: str) -> Scope | None:
    """The scope this status request is for; None after explaining why there is none."""
    actor, lang = context.actor, context.lang
    named = re.sub(r"@\w+", "", named).strip()
    async with context.db.session() as session:
        if not is_private(update):
            chat = update.effective_chat
            assert chat is not None
            bound = await chat_scope(session=session, chat_id=chat.id)
            if bound is None:
                await reply(update, t("status.unbound_group", lang))
            return bound
        if named:
            scope = await find_street(session=session, name=named)
            if scope is None:
                await reply(update, t("status.street_unknown", lang, name=esc(named[:40])))
                return None
            if not may_view(actor, scope, None):
                await reply(
                    update, t("status.own_street_only", lang, street=esc(actor.street_name))
                )
                return None
            return scope
    if actor.is_admin:
        return Scope()
    if actor.street_id is None:
        await reply(update, t("status.no_street", lang))
        return None
    return Scope(actor.street_id, actor.street_name)


async def _status_message(context: BotContext, scope: Scope) -> tuple[str, InlineKeyboardMarkup]:
    lang, plan, cache = context.lang, context.plan, context.bot_data.status_cache
    today = context.bot_data.clock.today()
    async with context.db.session() as session:
        if scope.is_district:
            district = await cache.district(session=session, plan=plan, today=today)
            text = district_text(district, plan, lang)
        else:
            assert scope.street_id is not None
            street = await cache.street(
                session=session, plan=plan, street_id=scope.street_id, today=today
            )
            assert street is not None  # scopes are made from existing streets
            text = street_text(street, plan, lang)
    return text, keyboard([_status_buttons(scope, lang)])


def _status_buttons(scope: Scope, lang: Language) -> list[Button]:
    code = scope_code(scope)
    return [
        (t("button.units", lang), list_button(scope)),
        (t("button.chart", lang), f"ch:{code}"),
        (t("button.refresh", lang), f"st:{code}"),
    ]


async def _pressed_scope(update: Update, context: BotContext) -> Scope | None:
    """The scope named by the pressed button, if the presser may (still) see it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    fields = query.data.split(":")
    async with context.db.session() as session:
        scope: Scope | None = Scope()
        if fields[1] == "s":
            scope = await street_scope(session=session, street_id=int(fields[2]))
        chat = update.effective_chat
        bound = None
        if chat is not None and chat.type != ChatType.PRIVATE:
            bound = await chat_scope(session=session, chat_id=chat.id)
    if scope is None or not may_view(context.actor, scope, bound):
        await query.answer(t("units.refused", context.lang), show_alert=True)
        return None
    return scope


async def show_pressed(update: Update, context: BotContext) -> None:
    scope = await _pressed_scope(update, context)
    if scope is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    text, markup = await _status_message(context, scope)
    await edit(update, text, markup)


async def chart_command(update: Update, context: BotContext) -> None:
    scope = await _requested_scope(update, context, "")
    if scope is not None:
        await _send_chart(update, context, scope)


async def chart_pressed(update: Update, context: BotContext) -> None:
    scope = await _pressed_scope(update, context)
    if scope is None:
        return
    assert update.callback_query is not None
    await update.callback_query.answer(t("chart.busy", context.lang))
    await _send_chart(update, context, scope)


async def _send_chart(update: Update, context: BotContext, scope: Scope) -> None:
    """The ranking's totals as bars for every street (shared district-wide), the asker's
    street in bold."""
    lang, plan = context.lang, context.plan
    chat = update.effective_chat
    assert chat is not None
    today = context.bot_data.clock.today()
    async with context.db.session() as session:
        district = await context.bot_data.status_cache.district(
            session=session, plan=plan, today=today
        )
    per_street = plan.targets.worker_meetings.per_street
    rows = sorted(district.ranking, key=lambda r: r.position)

    def bars(done: str) -> list[ChartBar]:
        return [
            ChartBar(
                label=r.name,
                done=r.new_units if done == "formation" else r.meetings,
                target=r.share if done == "formation" else per_street,
                behind=r.formation_behind if done == "formation" else r.meetings_behind,
                highlight=r.street_id == scope.street_id,
            )
            for r in rows
        ]

    panels = [
        ChartPanel(t("chart.formation", lang), bars("formation")),
        ChartPanel(t("chart.meetings", lang, per_street=per_street), bars("meetings")),
    ]
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    day = full_date(today, lang)
    # Drawing takes a few hundred milliseconds of CPU: keep the event loop free meanwhile.
    png = await asyncio.to_thread(
        render_progress_chart,
        panels,
        title=t("chart.title", lang, district=plan.plan.district, date=day),
        footnote=t("chart.footnote", lang),
    )
    await context.bot.send_photo(
        chat.id,
        InputFile(png, filename="progress.png"),
        caption=t("chart.caption", lang, date=day),
    )
