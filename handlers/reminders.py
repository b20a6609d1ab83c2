"""/reminders (what is coming; an admin pauses a rule or moves its time; an officer mutes
private copies) and the snooze button under every reminder.

Callback data: "rm:v" (view), "rm:m" (mute toggle), "rm:p:<rule>" (pause toggle),
"rm:t:<rule>" (time menu), "rm:s:<rule>:<HHMM or d>" (set time; d = the plan's);
"sz:<outbox id>" (snooze menu), "sz:<outbox id>:<h|m|x>" (an hour, next morning, back).
<rule> is the rule's index in Rule. Every press re-checks the presser.
"""

from __future__ import annotations

from datetime import time

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import Button, edit, esc, is_private, keyboard, reply
from models.enums import Role
from models.tables import OutboxMessage
from reminders.messages import explain, rule_label, when
from reminders.planner import Rule, rule_time
from reminders.schedule import (
    change_rule,
    is_muted,
    set_muted,
    snooze,
    snooze_until,
    upcoming,
)
from reminders.snapshot import rule_settings

REMINDERS_CALLBACK = r"^rm:(v|m|p:\d|t:\d|s:\d:(\d{4}|d))$"
SNOOZE_CALLBACK = r"^sz:\d{1,9}(:[hmx])?$"  # outbox ids are 32-bit
RULES = list(Rule)
TIMES = ("0800", "0830", "0900", "0930", "1000", "1100", "1400", "1500", "1600", "1700")
SHOWN = 12  # upcoming occasions listed


async def reminders_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    if actor.role is None:
        await reply(update, t("access.refused_short", lang))
        return
    text, markup = await _view(context, private=is_private(update))
    await reply(update, text, markup)


async def reminders_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    action = parts[1]
    if actor.role is None or (action in "pts" and not actor.is_admin):
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    if not _known(parts):  # a forged rule or time: the pattern admits any digit
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if action == "m":
        await _toggle_mute(context)
    elif action == "p":
        await _toggle_pause(context, RULES[int(parts[2])])
    elif action == "t":
        await query.answer()
        await edit(update, *_time_menu(context, RULES[int(parts[2])]))
        return
    elif action == "s":
        await _set_time(context, RULES[int(parts[2])], parts[3])
    await query.answer()
    await edit(update, *await _view(context, private=is_private(update)))


def _known(parts: list[str]) -> bool:
    """A rule that exists and a time of day the time menu offers (or the plan's, "d")."""
    if len(parts) > 2 and int(parts[2]) >= len(RULES):
        return False
    return len(parts) < 4 or parts[3] in (*TIMES, "d")


async def _view(context: BotContext, *, private: bool) -> tuple[str, InlineKeyboardMarkup | None]:
    actor, lang, plan = context.actor, context.lang, context.plan
    street_id = None if actor.is_admin else actor.street_id
    async with context.db.session() as session:
        coming = await upcoming(
            session=session, plan=plan, now=context.now(), language=lang,
            street_id=street_id, user_id=actor.user_id,
        )  # fmt: skip
        settings = await rule_settings(session=session)
        muted = await is_muted(session=session, user_id=actor.user_id)
    lines = [
        t("reminders.line", lang, when=when(c.due_at, plan.zone, lang),
          rule=rule_label(c.rule, lang), why=explain(c.first, lang), chats=c.chats)
        for c in coming[:SHOWN]
    ]  # fmt: skip
    head = t("reminders.title_admin" if actor.is_admin else "reminders.title", lang,
             street=esc(actor.street_name or ""))  # fmt: skip
    body = "\n".join(lines) or t("reminders.none", lang)
    parts = [head, body]
    rows: list[list[Button]] = []
    if actor.is_admin:
        parts.append(t("reminders.rules_title", lang))
        for i, rule in enumerate(RULES):
            setting = settings.get(rule)
            paused = bool(setting and setting.paused)
            at = rule_time(plan, settings, rule).strftime("%H:%M")
            parts.append(t("reminders.rule_paused" if paused else "reminders.rule_line", lang,
                           rule=rule_label(rule, lang), at=at))  # fmt: skip
            if private:
                label = rule_label(rule, lang)
                rows.append([
                    (t("reminders.resume" if paused else "reminders.pause", lang, rule=label),
                     f"rm:p:{i}"),
                    (t("reminders.move", lang, at=at), f"rm:t:{i}"),
                ])  # fmt: skip
    elif actor.role is not Role.DISTRICT_ADMIN and private:
        parts.append(t("reminders.muted" if muted else "reminders.unmuted", lang))
        rows.append([(t("reminders.unmute" if muted else "reminders.mute", lang), "rm:m")])
    return "\n\n".join(parts), keyboard(rows) if rows else None


async def _toggle_mute(context: BotContext) -> None:
    user_id = context.actor.user_id
    async with context.db.session(write=True) as session:
        muted = await is_muted(session=session, user_id=user_id)
        await set_muted(session=session, user_id=user_id, muted=not muted, now=context.now())


async def _toggle_pause(context: BotContext, rule: Rule) -> None:
    async with context.db.session(write=True) as session:
        settings = await rule_settings(session=session)
        paused = bool(settings.get(rule) and settings[rule].paused)
        await change_rule(
            session=session, rule=rule, by_user_id=context.actor.user_id, now=context.now(),
            paused=not paused,
        )  # fmt: skip


def _time_menu(context: BotContext, rule: Rule) -> tuple[str, InlineKeyboardMarkup]:
    lang, i = context.lang, RULES.index(rule)
    buttons = [(f"{hm[:2]}:{hm[2:]}", f"rm:s:{i}:{hm}") for hm in TIMES]
    rows = [buttons[:5], buttons[5:], [(t("reminders.default_time", lang), f"rm:s:{i}:d")],
            [(t("reminders.back", lang), "rm:v")]]  # fmt: skip
    return t("reminders.choose_time", lang, rule=rule_label(rule, lang)), keyboard(rows)


async def _set_time(context: BotContext, rule: Rule, hm: str) -> None:
    at = None if hm == "d" else time(int(hm[:2]), int(hm[2:]))
    async with context.db.session(write=True) as session:
        await change_rule(
            session=session, rule=rule, by_user_id=context.actor.user_id, now=context.now(),
            at=at, default_time=at is None,
        )  # fmt: skip


async def snooze_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang, chat = (
        update.callback_query, context.actor, context.lang, update.effective_chat
    )  # fmt: skip
    assert query is not None and query.data is not None and chat is not None
    parts = query.data.split(":")
    async with context.db.session() as session:
        row = await session.get(OutboxMessage, int(parts[1]))
    if row is None or row.recipient != str(chat.id) or not _may_snooze(row, context):
        # A forged id, a reminder of another chat, or someone who does not owe it.
        await query.answer(t("remind.snooze_denied", lang), show_alert=True)
        return
    choice = parts[2] if len(parts) > 2 else ""
    if choice in ("", "x"):
        await query.answer()
        rows = [[(t("remind.snooze_hour", lang), f"{query.data}:h"),
                 (t("remind.snooze_morning", lang), f"{query.data}:m")],
                [(t("remind.snooze_back", lang), f"sz:{parts[1]}:x")]]  # fmt: skip
        markup = keyboard([[(t("remind.snooze", lang), f"sz:{parts[1]}")]]) if choice else None
        await query.edit_message_reply_markup(markup or keyboard(rows))
        return
    now = context.now()
    until = snooze_until(context.plan, now, choice)
    async with context.db.session(write=True) as session:
        await snooze(session=session, row=row, chat_id=chat.id, until=until, by=actor.user_id,
                     now=now)  # fmt: skip
    await query.answer(t("remind.snoozed", lang, when=when(until, context.plan.zone, lang)),
                       show_alert=True)  # fmt: skip
    await query.edit_message_reply_markup(None)


def _may_snooze(row: OutboxMessage, context: BotContext) -> bool:
    actor = context.actor
    if actor.role is None:
        return False
    if row.payload.get("private"):
        return row.recipient == str(actor.user_id)
    street_id = row.payload.get("street_id")
    return actor.is_admin or (street_id is not None and street_id == actor.street_id)
