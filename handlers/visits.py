"""/visit <name or code>: a visit to a unit, in a few steps, ending on the unit's card, where
the ledger stage it reached is one button away.

The steps live in the user's "visit" draft (like /meeting's): purpose by button, then what
happened, the next step and its date typed (or skipped). Callback data: "vs:u:<unit>" picks a
unit, "vs:p:<purpose>" the purpose, "vs:skip:<field>" skips a typed step.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import InlineKeyboardMarkup, Update

from bot.context import Actor, BotContext
from bot.texts import t
from handlers.common import Button, esc, grid, is_private, keyboard, reply, store_draft
from handlers.media import keep_files, take_file
from handlers.status_view import number
from handlers.units import show_card
from models.drafts import drop_draft, load_draft
from models.enums import Language
from models.meetings import files_to_keep, read_count
from models.units import (
    MAX_UNIT_NAME,
    NewUnitProblem,
    add_unit,
    can_move_ledger,
    find_units,
    unit_card,
)
from models.visits import (
    MAX_NEXT_STEP,
    MAX_SUMMARY,
    VisitPurpose,
    log_unit_visit,
    read_follow_up_date,
)

DRAFT = "visit"
VISIT_CALLBACK = (
    r"^vs:(new|u:\d{1,9}|p:(visit|briefing|letter|follow_up)"
    r"|skip:(next_step|next_step_on|evidence))$"
)
TYPED = ("new_name", "new_code", "new_headcount", "summary", "next_step", "next_step_on")


async def visit_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    if not is_private(update):
        await reply(update, t("flow.private_chat", lang))
        return
    query = " ".join(context.args or []).strip()[:50]
    if not query:
        await reply(update, t("visit.usage", lang))
        return
    async with context.db.session() as session:
        found = await find_units(
            session=session, query=query, street_id=None if actor.is_admin else actor.street_id
        )
    if not found:
        # Field work finds units no list has: an officer may add one, then log the visit.
        offer = keyboard([[(t("visit.add_unit", lang), "vs:new")]]) if _may_add(actor) else None
        await reply(update, t("unit.not_found", lang, query=esc(query)), offer)
        return
    buttons: list[Button] = [
        (f"{line.name} · {number(line.headcount)}", f"vs:u:{line.unit_id}") for line in found
    ]
    await reply(update, t("visit.choose_unit", lang), keyboard(grid(buttons, 1)))


def _may_add(actor: Actor) -> bool:
    """A unit added here goes onto the street's ledger: the street officers' work, as every
    ledger move is (community workers do not; an admin has no street to add it to)."""
    return actor.street_id is not None and can_move_ledger(
        role=actor.role, own_street_id=actor.street_id, street_id=actor.street_id
    )


async def _store(context: BotContext, payload: dict[str, Any]) -> None:
    await store_draft(context, DRAFT, payload)


async def visit_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    _, field, value = [*query.data.split(":"), ""][:3]
    if field == "new":
        if not _may_add(actor):
            await query.answer(t("card.refused", lang), show_alert=True)
            return
        await query.answer()
        await _advance(update, context, {"step": "new_name"})
        return
    if field == "u":
        async with context.db.session() as session:
            card = await unit_card(session=session, plan=context.plan, unit_id=int(value))
        if card is None or not can_move_ledger(
            role=actor.role, own_street_id=actor.street_id, street_id=card.street_id
        ):
            await query.answer(t("card.refused", lang), show_alert=True)
            return
        await _store(context, {"unit_id": card.unit_id, "street_id": card.street_id,
                               "name": card.name, "step": "purpose"})  # fmt: skip
        purposes = [(t(f"purpose.{p.value}", lang), f"vs:p:{p.value}") for p in VisitPurpose]
        await query.answer()
        await reply(update, t("visit.ask.purpose", lang, name=esc(card.name)),
                    keyboard(grid(purposes, 2)))  # fmt: skip
        return
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=actor.user_id, kind=DRAFT)
    expected = "purpose" if field == "p" else value
    if payload is None or payload.get("step") != expected:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    await query.answer()
    if field == "p":
        payload.update(purpose=value, step="summary")
    elif value == "evidence":
        payload["step"] = None  # Done: the files, if any, are in the draft already
    else:
        payload[value] = None
        payload["step"] = "next_step_on" if value == "next_step" else "evidence"
    await _advance(update, context, payload)


async def _advance(update: Update, context: BotContext, payload: dict[str, Any]) -> None:
    """Ask the next question, or save the visit when none is left."""
    lang, step = context.lang, payload["step"]
    if step is not None:
        await _store(context, payload)
        await reply(update, t(f"visit.ask.{step}", lang), _buttons(step, lang))
        return
    actor = context.actor
    on = context.bot_data.clock.today()
    async with context.db.session(write=True) as session:
        visit = await log_unit_visit(
            session=session, unit_id=payload["unit_id"], street_id=payload["street_id"],
            purpose=VisitPurpose(payload["purpose"]), summary=payload["summary"],
            next_step=payload.get("next_step"),
            next_step_on=date.fromisoformat(payload["next_step_on"])
            if payload.get("next_step_on") else None,
            by_user_id=actor.user_id, on=on, now=context.now(),
            evidence=tuple(payload.get("evidence") or ()),
        )  # fmt: skip
        await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        pending = await files_to_keep(session=session, visit_id=visit.id)
    await reply(update, t("visit.saved", lang, name=esc(payload["name"])))
    await show_card(update, context, payload["unit_id"])
    folder = context.bot_data.settings.media_dir / "visits" / str(visit.id)
    await keep_files(update, context, folder, pending)


def _buttons(step: str, lang: Language) -> InlineKeyboardMarkup | None:
    if step == "summary":
        return None
    label = t("flow.done" if step == "evidence" else "flow.skip", lang)
    return keyboard([[(label, f"vs:skip:{step}")]])


async def visit_file(update: Update, context: BotContext) -> bool:
    """A photo or document for the visit being logged; False if no visit waits for one."""
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
    if payload is None or payload.get("step") != "evidence":
        return False
    more = _buttons("evidence", context.lang)
    assert more is not None
    files = await take_file(update, context, payload.get("evidence") or [], more)
    if files is not None:
        payload["evidence"] = files
        await _store(context, payload)
    return True


async def visit_answer(update: Update, context: BotContext) -> bool:
    """A typed answer to the visit step that waits for one; False if none waits."""
    message, lang = update.effective_message, context.lang
    if message is None or not message.text:
        return False
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
    step = payload.get("step") if payload else None
    if payload is None or step not in TYPED:
        return False
    text = message.text.strip()
    if step in ("new_name", "new_code", "new_headcount"):
        await _new_unit_answer(update, context, payload, step, text)
        return True
    if step == "next_step_on":
        found = read_follow_up_date(text, today=context.bot_data.clock.today())
        if found is None:
            await reply(update, f"{t('visit.bad_date', lang)}\n{t('visit.ask.next_step_on', lang)}")
            return True
        payload["next_step_on"], payload["step"] = found.isoformat(), "evidence"
    else:
        limit = MAX_SUMMARY if step == "summary" else MAX_NEXT_STEP
        if not text or len(text) > limit:
            await reply(update, f"{t('flow.too_long', lang)}\n{t(f'visit.ask.{step}', lang)}")
            return True
        payload[step] = text
        payload["step"] = "next_step" if step == "summary" else "next_step_on"
    await _advance(update, context, payload)
    return True


async def _new_unit_answer(
    update: Update, context: BotContext, payload: dict[str, Any], step: str, text: str
) -> None:
    """Name, credit code, headcount of a unit to add; then the visit goes on as usual."""
    lang, actor = context.lang, context.actor
    if step == "new_name":
        payload.update(new_name=text[:MAX_UNIT_NAME], step="new_code")
    elif step == "new_code":
        payload.update(new_code=text.upper(), step="new_headcount")
    else:
        headcount = read_count(text)
        if headcount is None:
            await reply(
                update, f"{t('flow.bad_number', lang)}\n{t('visit.ask.new_headcount', lang)}"
            )
            return
        assert actor.street_id is not None
        async with context.db.session(write=True) as session:
            added = await add_unit(
                session=session, plan=context.plan, name=payload["new_name"],
                credit_code=payload["new_code"], street_id=actor.street_id, headcount=headcount,
                by_user_id=actor.user_id, now=context.now(), today=context.bot_data.clock.today(),
            )  # fmt: skip
        if isinstance(added, NewUnitProblem):
            # Back to the field that is wrong; what was right is kept.
            payload["step"] = "new_name" if added is NewUnitProblem.BAD_NAME else "new_code"
            await _store(context, payload)
            why, again = (
                t(f"visit.new_unit.{added.value}", lang),
                t(f"visit.ask.{payload['step']}", lang),
            )
            await reply(update, f"{why}\n{again}")
            return
        assert added.id is not None
        payload = {"unit_id": added.id, "street_id": added.street_id, "name": added.name,
                   "step": "purpose"}  # fmt: skip
        await _store(context, payload)
        purposes = [(t(f"purpose.{p.value}", lang), f"vs:p:{p.value}") for p in VisitPurpose]
        await reply(update, t("visit.unit_added", lang, name=esc(added.name)))
        await reply(update, t("visit.ask.purpose", lang, name=esc(added.name)),
                    keyboard(grid(purposes, 2)))  # fmt: skip
        return
    await _advance(update, context, payload)
