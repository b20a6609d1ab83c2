"""/history: who changed a unit or a meeting, when, and what the values were before and after.

`/history <unit>` finds the unit as /unit does; the unit card and /mine's meetings carry a
button. Callback data: "hist:u:<unit>:<offset>" and "hist:m:<meeting>:<offset>". District
admins see every trail; officers and community workers their own street's. There is nothing
here that writes: the audit log can only be read through the bot (and the database refuses
changes to it, migration 0007).
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.texts import catalogue, t
from handlers.common import Button, edit, esc, grid, keyboard, reply
from handlers.report_view import stamp
from handlers.status_view import number
from models.enums import Language
from models.history import PAGE, History, meeting_history, unit_history
from models.units import can_see_units, find_units

HISTORY_CALLBACK = r"^hist:(u|m):\d{1,9}:\d{1,6}$"
MAX_QUERY = 50
MAX_VALUE = 40  # characters of a value shown; a long note would drown the trail
# Values that have a label of their own, by the field that holds them.
VALUE_LABELS = {"stage": "stage", "outcome": "outcome", "kind": "meeting_kind"}


def history_button(kind: str, subject_id: int, lang: Language) -> Button:
    return (t("history.button", lang), f"hist:{kind}:{subject_id}:0")


async def history_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    query = " ".join(context.args or []).strip()[:MAX_QUERY]
    if not query:
        await reply(update, t("history.usage", lang))
        return
    if not actor.is_admin and actor.street_id is None:
        await reply(update, t("status.no_street", lang))
        return
    async with context.db.session() as session:
        found = await find_units(
            session=session, query=query, street_id=None if actor.is_admin else actor.street_id
        )
    if not found:
        await reply(update, t("unit.not_found", lang, query=esc(query)))
    elif len(found) == 1:
        await _show(update, context, "u", found[0].unit_id, 0)
    else:
        buttons: list[Button] = [
            (f"{line.name} · {number(line.headcount)}", f"hist:u:{line.unit_id}:0")
            for line in found
        ]
        await reply(update, t("unit.choose", lang, count=len(found)), keyboard(grid(buttons, 1)))


async def history_pressed(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, kind, subject_id, offset = query.data.split(":")
    await _show(update, context, kind, int(subject_id), int(offset))


async def _show(
    update: Update, context: BotContext, kind: str, subject_id: int, offset: int
) -> None:
    actor, lang, query = context.actor, context.lang, update.callback_query
    async with context.db.session() as session:
        if kind == "u":
            found = await unit_history(session=session, unit_id=subject_id, offset=offset)
        else:
            found = await meeting_history(session=session, meeting_id=subject_id, offset=offset)
    if found is None or not can_see_units(
        role=actor.role, own_street_id=actor.street_id, street_id=found.street_id
    ):
        # The same answer whether it does not exist or is another street's: nothing leaks.
        if query is not None:
            await query.answer(t("history.refused", lang), show_alert=True)
        else:
            await reply(update, t("history.refused", lang))
        return
    text = _text(found, offset, context)
    markup = _pages(kind, subject_id, offset, found.total, lang)
    if query is None:
        await reply(update, text, markup)
        return
    await query.answer()
    await edit(update, text, markup)


def _text(found: History, offset: int, context: BotContext) -> str:
    lang, zone = context.lang, context.plan.zone
    subject = esc(found.subject) if found.meeting is None else _meeting(found.meeting, lang)
    if not found.events:
        return t("history.empty", lang, subject=subject)
    lines = [
        t("history.title", lang, subject=subject, total=found.total, first=offset + 1,
          last=offset + len(found.events))
    ]  # fmt: skip
    for event in found.events:
        who = (
            esc(event.actor_name)
            if event.actor_name
            else t("history.someone", lang, user_id=event.actor_user_id)
            if event.actor_user_id is not None
            else t("history.system", lang)
        )
        action = _label(f"history.action.{event.action}", lang, event.action)
        lines.append(
            t("history.line", lang, at=stamp(event.at, zone, lang), who=who, action=action)
        )
        lines += [
            t("history.change", lang, field=_label(f"history.field.{change.field}", lang,
              change.field), before=_value(change.field, change.before, found, lang),
              after=_value(change.field, change.after, found, lang))
            for change in event.changes
        ]  # fmt: skip
    lines.append(t("history.read_only", lang))
    return "\n".join(lines)


def _label(key: str, lang: Language, fallback: str) -> str:
    return catalogue(lang).get(key) or esc(fallback)


def _meeting(snapshot: dict[str, Any], lang: Language) -> str:
    kind = _label(f"meeting_kind.{snapshot.get('kind')}", lang, str(snapshot.get("kind")))
    place = str(snapshot.get("place") or "")
    return t("history.meeting_subject", lang, date=esc(snapshot.get("held_on", "")), kind=kind,
             place=t("history.meeting_place", lang, place=esc(place)) if place else "")  # fmt: skip


def _value(field: str, value: Any, found: History, lang: Language) -> str:
    if value is None or value == "":
        return t("history.none", lang)
    if field == "street_id" and isinstance(value, int) and value in found.streets:
        return esc(found.streets[value])
    if field in VALUE_LABELS:
        return _label(f"{VALUE_LABELS[field]}.{value}", lang, str(value))
    text = str(value)
    return esc(text if len(text) <= MAX_VALUE else f"{text[: MAX_VALUE - 1]}…")


def _pages(
    kind: str, subject_id: int, offset: int, total: int, lang: Language
) -> InlineKeyboardMarkup | None:
    row: list[Button] = []
    if offset + PAGE < total:
        row.append((t("history.older", lang), f"hist:{kind}:{subject_id}:{offset + PAGE}"))
    if offset > 0:
        row.append((t("history.newer", lang), f"hist:{kind}:{subject_id}:{max(0, offset - PAGE)}"))
    return keyboard([row]) if row else None
