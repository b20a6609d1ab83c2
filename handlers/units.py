"""/unit <name or code>: a unit's card, with a button that moves its ledger entry on.

Callback data: "un:<unit>" shows the card; "ua:<unit>:<stage index>" moves the entry to that
stage. The button names the stage it leads to, so a press from an old card is refused as a
step back or a skip, never applied twice. Every press re-checks the presser's rights.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import Button, edit, esc, grid, keyboard, reply
from handlers.history import history_button
from handlers.media import keep_files, take_file
from handlers.status_view import card_text, number, stage_label
from models.drafts import drop_draft, load_draft, save_draft
from models.enums import LedgerOutcome, LedgerStage, UnitStatus
from models.ledger import (
    STAGES,
    Refusal,
    add_step_evidence,
    advance_stage,
    close_entry,
    latest_step,
)
from models.units import UnitCard, can_move_ledger, can_see_units, find_units, unit_card

CARD_CALLBACK = r"^un:\d{1,9}$"
CLOSE_CALLBACK = r"^uo:\d{1,9}:(obstructed|moved_out|closed)$"
REASON_DRAFT = "ledger"
EVIDENCE_DRAFT = "stage"  # waiting for the evidence of a ledger step
EVIDENCE_CALLBACK = r"^ue:done$"
# How an entry leaves the ledger other than by a write-off, and what it does to the unit.
CLOSE = {
    "obstructed": (LedgerOutcome.OBSTRUCTED, None),
    "moved_out": (LedgerOutcome.DEPARTED, UnitStatus.MOVED_OUT),
    "closed": (LedgerOutcome.DEPARTED, UnitStatus.CLOSED),
}
ADVANCE_CALLBACK = r"^ua:\d{1,9}:\d$"
MAX_QUERY = 50


async def unit_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    query = " ".join(context.args or []).strip()[:MAX_QUERY]
    if not query:
        await reply(update, t("unit.usage", lang))
        return
    own = None if actor.is_admin else actor.street_id
    if own is None and not actor.is_admin:
        await reply(update, t("status.no_street", lang))
        return
    async with context.db.session() as session:
        found = await find_units(session=session, query=query, street_id=own)
    if not found:
        await reply(update, t("unit.not_found", lang, query=esc(query)))
    elif len(found) == 1:
        await _show(update, context, found[0].unit_id, new_message=True)
    else:
        buttons: list[Button] = [
            (f"{line.name} · {number(line.headcount)}", f"un:{line.unit_id}") for line in found
        ]
        await reply(update, t("unit.choose", lang, count=len(found)), keyboard(grid(buttons, 1)))


async def card_pressed(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await _show(update, context, int(query.data.split(":")[1]), new_message=False)


async def _card(context: BotContext, unit_id: int) -> UnitCard | None:
    """The card, if it exists and the actor may see it."""
    actor = context.actor
    async with context.db.session() as session:
        card = await unit_card(session=session, plan=context.plan, unit_id=unit_id)
    if card is None or not can_see_units(
        role=actor.role, own_street_id=actor.street_id, street_id=card.street_id
    ):
        return None
    return card


async def show_card(update: Update, context: BotContext, unit_id: int) -> None:
    """The unit's card as a new message, with the moves the actor may make."""
    await _show(update, context, unit_id, new_message=True)


async def _show(update: Update, context: BotContext, unit_id: int, *, new_message: bool) -> None:
    lang, query = context.lang, update.callback_query
    card = await _card(context, unit_id)
    if card is None:
        if query is not None:
            await query.answer(t("card.refused", lang), show_alert=True)
        return
    text, markup = card_text(card, lang, context.plan.zone), _actions(context, card)
    if new_message:
        await reply(update, text, markup)
        return
    assert query is not None
    await query.answer()
    await edit(update, text, markup)


def _actions(context: BotContext, card: UnitCard) -> InlineKeyboardMarkup:
    """The ledger's moves the actor may make, and the card's history for whoever sees it."""
    return keyboard(
        [*_ledger_moves(context, card), [history_button("u", card.unit_id, context.lang)]]
    )


def _ledger_moves(context: BotContext, card: UnitCard) -> list[list[Button]]:
    actor, lang = context.actor, context.lang
    if card.stage is None or card.outcome is not LedgerOutcome.OPEN:
        return []
    if not can_move_ledger(
        role=actor.role, own_street_id=actor.street_id, street_id=card.street_id
    ):
        return []
    rows: list[list[Button]] = []
    following = STAGES.index(card.stage) + 1
    if following < len(STAGES):
        label = t("unit.advance", lang, stage=stage_label(STAGES[following], lang))
        rows.append([(label, f"ua:{card.unit_id}:{following}")])
    rows.append([(t(f"unit.close.{code}", lang), f"uo:{card.unit_id}:{code}") for code in CLOSE])
    return rows


async def advance_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    _, unit_id_text, stage_index = query.data.split(":")
    unit_id, stage_at = int(unit_id_text), int(stage_index)
    card = await _card(context, unit_id)
    if (
        card is None
        or stage_at >= len(STAGES)
        or not can_move_ledger(
            role=actor.role, own_street_id=actor.street_id, street_id=card.street_id
        )
    ):
        await query.answer(t("card.refused", lang), show_alert=True)
        return
    to: LedgerStage = STAGES[stage_at]
    async with context.db.session(write=True) as session:
        refusal = await advance_stage(
            session=session, unit_id=unit_id, to=to, by_user_id=actor.user_id,
            now=context.now(), today=context.bot_data.clock.today(),
        )  # fmt: skip
    if refusal is not None:
        await query.answer(t(f"refusal.{refusal.value}", lang), show_alert=True)
        return
    card = await _card(context, unit_id)
    assert card is not None
    async with context.db.session(write=True) as session:
        step_id = await latest_step(session=session, unit_id=unit_id)
        # The next photos or files in this chat are this step's evidence (the letter, the
        # approvals, the certificate).
        await save_draft(
            session=session, user_id=actor.user_id, kind=EVIDENCE_DRAFT,
            payload={"step_id": step_id, "files": []}, now=context.now(),
        )  # fmt: skip
    done = card.outcome is LedgerOutcome.WRITTEN_OFF
    await query.answer(
        t("unit.written_off", lang, name=card.name) if done
        else t("unit.advanced", lang, stage=stage_label(to, lang))
    )  # fmt: skip
    await edit(update, card_text(card, lang, context.plan.zone), _actions(context, card))
    await reply(update, t("unit.evidence", lang, stage=stage_label(to, lang)), _evidence_done(lang))


async def close_pressed(update: Update, context: BotContext) -> None:
    """Obstructs / moved out / closed: ask why; the next message in this chat gives the reason."""
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    _, unit_id_text, code = query.data.split(":")
    card = await _card(context, int(unit_id_text))
    if card is None or not can_move_ledger(
        role=actor.role, own_street_id=actor.street_id, street_id=card.street_id
    ):
        await query.answer(t("card.refused", lang), show_alert=True)
        return
    if card.outcome is not LedgerOutcome.OPEN:
        await query.answer(t("refusal.closed", lang), show_alert=True)
        return
    async with context.db.session(write=True) as session:
        await save_draft(
            session=session, user_id=actor.user_id, kind=REASON_DRAFT,
            payload={"unit_id": card.unit_id, "close": code}, now=context.now(),
        )  # fmt: skip
    await query.answer()
    await reply(update, t("unit.ask_reason", lang, name=esc(card.name),
                          outcome=t(f"unit.close.{code}", lang)))  # fmt: skip


async def reason_answer(update: Update, context: BotContext) -> bool:
    """The reason for a pending obstruction or departure; False if none is pending."""
    message, actor, lang = update.effective_message, context.actor, context.lang
    if message is None or not message.text:
        return False
    async with context.db.session() as session:
        pending = await load_draft(session=session, user_id=actor.user_id, kind=REASON_DRAFT)
    if pending is None:
        return False
    outcome, status = CLOSE[pending["close"]]
    unit_id = int(pending["unit_id"])
    card = await _card(context, unit_id)
    refusal = None
    async with context.db.session(write=True) as session:
        if card is not None and can_move_ledger(
            role=actor.role, own_street_id=actor.street_id, street_id=card.street_id
        ):
            refusal = await close_entry(
                session=session, unit_id=unit_id, outcome=outcome, reason=message.text,
                by_user_id=actor.user_id, now=context.now(),
                today=context.bot_data.clock.today(), unit_status=status,
            )  # fmt: skip
        else:
            refusal = Refusal.CLOSED
        if refusal is not Refusal.REASON_REQUIRED:
            await drop_draft(session=session, user_id=actor.user_id, kind=REASON_DRAFT)
    if refusal is not None:
        await reply(update, t(f"refusal.{refusal.value}", lang))
        return True
    await _show(update, context, unit_id, new_message=True)
    return True


def _evidence_done(lang: str) -> InlineKeyboardMarkup:
    return keyboard([[(t("flow.done", lang), "ue:done")]])


async def stage_file(update: Update, context: BotContext) -> bool:
    """A photo or document as the evidence of the ledger step just made; False if none waits."""
    actor = context.actor
    async with context.db.session() as session:
        pending = await load_draft(session=session, user_id=actor.user_id, kind=EVIDENCE_DRAFT)
    if pending is None or pending.get("step_id") is None:
        return False
    kept = await take_file(update, context, pending.get("files", []), _evidence_done(context.lang))
    if kept is None:
        return True
    async with context.db.session(write=True) as session:
        attachment = await add_step_evidence(
            session=session, step_id=int(pending["step_id"]), evidence=kept[-1], now=context.now()
        )
        await save_draft(
            session=session, user_id=actor.user_id, kind=EVIDENCE_DRAFT,
            payload={**pending, "files": kept}, now=context.now(),
        )  # fmt: skip
    folder = context.bot_data.settings.media_dir / "ledger" / str(pending["step_id"])
    await keep_files(update, context, folder, [attachment])
    return True


async def evidence_done(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    async with context.db.session(write=True) as session:
        await drop_draft(session=session, user_id=context.actor.user_id, kind=EVIDENCE_DRAFT)
    await query.answer()
    await edit(update, t("unit.evidence_done", context.lang))
