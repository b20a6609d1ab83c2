"""/meeting: the guided conversation, one field at a time, on a phone.

The state is the user's meeting draft in the database (its "step"), not the process: a restart
between steps loses nothing, and a quick-log card's Change continues in the same draft. Buttons
carry "mf:<field>:<value>" (and "mf:goto:<field>" to jump back to one field from the summary);
typed answers go to the step the draft is waiting for. /cancel drops the draft.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.helpers import create_deep_linked_url

from bot.context import BotContext
from bot.texts import t
from handlers.common import (
    Button,
    edit,
    esc,
    grid,
    is_private,
    keyboard,
    offered_back_if_idle,
    reply,
    save_edit_cancel,
    store_draft,
)
from handlers.data_import import data_file
from handlers.media import take_file
from handlers.members import member_file
from handlers.status_view import full_date
from handlers.units import stage_file
from handlers.visits import visit_file
from models.drafts import drop_draft, load_draft
from models.enums import Language, MeetingKind, Role, VenueType
from models.geography import street_ids
from models.meetings import MAX_PLACE, MeetingInput, meeting_problems, read_count
from models.quicklog import read_date
from models.tables import Meeting

DRAFT = "meeting"
START_PAYLOAD = "meeting"  # t.me/<bot>?start=meeting opens /meeting in a private chat
FIELDS = (
    "kind",
    "held_on",
    "street_id",
    "place",
    "venue_type",
    "attendees",
    "new_members",
    "notes",
    "evidence",
)
TYPED = {"held_on", "place", "attendees", "new_members", "notes"}  # answered by a message
FLOW_CALLBACK = (
    r"^mf:(kind|held_on|street_id|venue_type|new_members|notes|evidence|goto):[a-z_0-9-]{1,20}$"
)
MAX_NOTES = 2000


async def meeting_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not is_private(update):
        # Questions asked in a group would be answered by everyone: move to a private chat.
        link = create_deep_linked_url(context.bot.username, START_PAYLOAD)
        button = InlineKeyboardButton(t("flow.open_private", lang), url=link)
        await reply(update, t("flow.private_only", lang), InlineKeyboardMarkup([[button]]))
        return
    if await _draft(context) is not None:
        # An interrupted log is kept: offer to go on with it rather than lose it.
        await reply(update, t("flow.pending", lang), _resume_buttons(lang))
        return
    await _start(update, context, new_message=True)


def _resume_buttons(lang: Language) -> InlineKeyboardMarkup:
    return keyboard(
        [[(t("flow.resume", lang), "mf:goto:resume"), (t("flow.restart", lang), "mf:goto:restart")]]
    )


async def _start(update: Update, context: BotContext, *, new_message: bool) -> None:
    actor = context.actor
    payload: dict[str, Any] = {**dict.fromkeys(FIELDS), "evidence": []}
    if actor.role is not Role.DISTRICT_ADMIN:
        payload["street_id"] = actor.street_id  # an officer logs for their own street
    payload["step"] = "kind"
    await _store(context, payload)
    await _ask(update, context, payload, new_message=new_message)


async def cancel_command(update: Update, context: BotContext) -> None:
    async with context.db.session(write=True) as session:
        # Whatever waits for this user's answer: a meeting, a ledger move's reason, a visit.
        dropped = any(
            [await drop_draft(session=session, user_id=context.actor.user_id, kind=kind)
             for kind in (DRAFT, "ledger", "visit", "stage", "report", "member",
                          "member_import", "welcome")]
        )  # fmt: skip
    await reply(
        update, t("meeting.cancelled" if dropped else "flow.nothing_to_cancel", context.lang)
    )


async def _store(context: BotContext, payload: dict[str, Any]) -> None:
    await store_draft(context, DRAFT, payload)


def _next(payload: dict[str, Any], answered: str, *, admin: bool) -> str | None:
    """The step after `answered`; None (the summary) when editing one field or at the end."""
    if payload.get("editing"):
        return None
    for field in FIELDS[FIELDS.index(answered) + 1 :]:
        if field == "street_id" and not admin:
            continue  # preset
        return field
    return None


async def _ask(
    update: Update, context: BotContext, payload: dict[str, Any], *, new_message: bool
) -> None:
    lang, step = context.lang, payload.get("step")
    markup: InlineKeyboardMarkup | None
    if step is None:
        async with context.db.session() as session:
            names = {v: k for k, v in (await street_ids(session=session)).items()}
        text, markup = card_text(payload, names, [], context), summary_buttons(lang)
    else:
        text, markup = t(f"flow.ask.{step}", lang), keyboard(await _choices(context, step))
    if new_message or update.callback_query is None:
        await reply(update, text, markup)
    else:
        await edit(update, text, markup)


async def _choices(context: BotContext, step: str) -> list[list[Button]]:
    lang = context.lang
    cancel = [(t("button.cancel", lang), "mt:cancel")]
    rows: list[list[Button]] = []
    if step == "kind":
        kinds = [(t(f"meeting_kind.{k.value}", lang), f"mf:kind:{k.value}") for k in MeetingKind]
        rows = grid(kinds, 2)
    elif step == "held_on":
        rows = [
            [(t("flow.today", lang), "mf:held_on:0"), (t("flow.yesterday", lang), "mf:held_on:1")]
        ]
    elif step == "street_id":
        async with context.db.session() as session:
            streets = await street_ids(session=session)
        rows = grid([(esc(n), f"mf:street_id:{i}") for n, i in streets.items()], 3)
    elif step == "venue_type":
        venues = [(t(f"venue.{v.value}", lang), f"mf:venue_type:{v.value}") for v in VenueType]
        rows = [*grid(venues, 3), [(t("flow.skip", lang), "mf:venue_type:-")]]
    elif step == "new_members":
        rows = [[("0", "mf:new_members:0")]]
    elif step == "notes":
        rows = [[(t("flow.skip", lang), "mf:notes:-")]]
    elif step == "evidence":
        rows = [[(t("flow.done", lang), "mf:evidence:done")]]
    return [*rows, cancel]


async def _draft(context: BotContext) -> dict[str, Any] | None:
    async with context.db.session() as session:
        return await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)


async def flow_pressed(update: Update, context: BotContext) -> None:
    query, lang, actor = update.callback_query, context.lang, context.actor
    assert query is not None and query.data is not None
    payload = await _draft(context)
    _, field, value = query.data.split(":")
    if payload is None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    admin = actor.role is Role.DISTRICT_ADMIN
    if field == "goto" and value == "restart":
        await query.answer()
        await _start(update, context, new_message=False)
        return
    if field == "goto" and value == "resume":
        pass  # ask the question the draft waits for
    elif field == "goto" and value == "summary":
        payload.update(step=None, editing=False)
    elif field == "goto":
        if value not in FIELDS or (value == "street_id" and not admin):
            await query.answer(t("button.stale", lang), show_alert=True)
            return
        payload.update(step=value, editing=True)
    else:
        answer = await _button_value(context, field, value)
        if answer is _INVALID or payload.get("step") != field:
            # A button from an earlier question, or a forged value: the draft stays as it is.
            await query.answer(t("button.stale", lang), show_alert=True)
            return
        if answer is not _KEEP:
            payload[field] = answer
        payload["step"] = _next(payload, field, admin=admin)
    await _store(context, payload)
    await query.answer()
    await _ask(update, context, payload, new_message=False)


_INVALID = object()
_KEEP = object()  # a button that moves on without changing the field


async def _button_value(context: BotContext, field: str, value: str) -> object:
    today = context.bot_data.clock.today()
    if field == "kind":
        return value if value in {k.value for k in MeetingKind} else _INVALID
    if field == "venue_type":
        return (
            None if value == "-" else value if value in {v.value for v in VenueType} else _INVALID
        )
    if field == "held_on":
        return (today - timedelta(days=int(value))).isoformat() if value in ("0", "1") else _INVALID
    if field == "street_id" and value.isdigit():
        async with context.db.session() as session:
            known = set((await street_ids(session=session)).values())
        return int(value) if int(value) in known and context.actor.is_admin else _INVALID
    if field == "new_members" and value == "0":
        return 0
    if field == "notes" and value == "-":
        return None
    if field == "evidence" and value == "done":
        return _KEEP
    return _INVALID


async def typed_answer(update: Update, context: BotContext) -> bool:
    """Take a message as the answer to the step the draft waits for; False if none waits."""
    message, lang = update.effective_message, context.lang
    if message is None or not message.text or not is_private(update):
        return False
    payload = await _draft(context)
    step = payload.get("step") if payload else None
    if payload is None or step not in TYPED:
        return False
    if await offered_back_if_idle(
        update,
        context,
        kind=DRAFT,
        payload=payload,
        text=t("flow.timed_out", lang),
        markup=_resume_buttons(lang),
    ):
        return True
    text = message.text.strip()
    value: object = None
    error = None
    if step == "held_on":
        found = read_date(text, today=context.bot_data.clock.today())
        value = found.isoformat() if isinstance(found, date) else None
        error = None if value else "flow.bad_date"
    elif step in ("attendees", "new_members"):
        value = read_count(text)
        error = None if value is not None else "flow.bad_number"
    elif step == "place":
        value, error = text[:MAX_PLACE], None if len(text) <= MAX_PLACE else "flow.too_long"
    else:
        value, error = text[:MAX_NOTES], None if len(text) <= MAX_NOTES else "flow.too_long"
    if error is not None:
        await reply(update, f"{t(error, lang)}\n{t(f'flow.ask.{step}', lang)}")
        return True
    payload[step] = value
    payload["step"] = _next(payload, step, admin=context.actor.is_admin)
    await _store(context, payload)
    await _ask(update, context, payload, new_message=True)
    return True


def draft_of(row: Meeting) -> dict[str, Any]:
    """A saved meeting as a draft at its summary card: correcting it is saving it again."""
    return {
        "meeting_id": row.id, "kind": row.kind.value, "held_on": row.held_on.isoformat(),
        "street_id": row.street_id, "place": row.place or None,
        "venue_type": row.venue_type.value if row.venue_type else None,
        "attendees": row.attendees, "new_members": row.new_members, "notes": row.notes,
        "evidence": [], "step": None,
    }  # fmt: skip


def draft_input(payload: dict[str, Any]) -> MeetingInput:
    return MeetingInput(
        kind=MeetingKind(payload["kind"]) if payload.get("kind") else None,
        held_on=date.fromisoformat(payload["held_on"]) if payload.get("held_on") else None,
        street_id=payload.get("street_id"),
        attendees=payload.get("attendees"),
        new_members=payload.get("new_members"),
        venue_type=VenueType(payload["venue_type"]) if payload.get("venue_type") else None,
        place=payload.get("place"),
        notes=payload.get("notes"),
        evidence=tuple(payload.get("evidence") or ()),
    )


def card_text(
    payload: dict[str, Any], streets: dict[int, str], notes: list[str], context: BotContext
) -> str:
    """The summary card, with what stops it being saved listed under it."""
    lang, meeting = context.lang, draft_input(payload)
    problems = meeting_problems(meeting, plan=context.plan, today=context.bot_data.clock.today())
    notes = [*notes, *(t(f"meeting.problem.{p.value}", lang) for p in problems)]
    missing = t("meeting.missing", lang)

    def shown(value: object | None) -> str:
        return missing if value is None else esc(value)

    place = meeting.place or ""
    if meeting.venue_type is not None:
        place = f"{place}（{t(f'venue.{meeting.venue_type.value}', lang)}）".lstrip()
    lines = [
        t("meeting.card_title", lang),
        t("meeting.kind", lang, value=t(f"meeting_kind.{meeting.kind.value}", lang)
          if meeting.kind else missing),
        t("meeting.date", lang, value=full_date(meeting.held_on, lang)
          if meeting.held_on else missing),
        t("meeting.street", lang, value=shown(streets.get(meeting.street_id or 0))),
        t("meeting.place", lang, value=esc(place) if place else missing),
        t("meeting.attendees", lang, value=shown(meeting.attendees)),
        t("meeting.new_members", lang, value=shown(meeting.new_members)),
        t("meeting.evidence", lang, count=len(meeting.evidence)),
    ]  # fmt: skip
    if notes:
        lines += ["", *(f"⚠️ {note}" for note in notes)]
    lines += ["", t("meeting.card_hint", lang)]
    return "\n".join(lines)


def summary_buttons(lang: Language) -> InlineKeyboardMarkup:
    return save_edit_cancel(lang, "mt")


def edit_buttons(context: BotContext) -> InlineKeyboardMarkup:
    """One button per field, to answer that question again."""
    lang = context.lang
    fields = [f for f in FIELDS if f != "street_id" or context.actor.is_admin]
    rows = grid([(t(f"flow.field.{f}", lang), f"mf:goto:{f}") for f in fields], 2)
    return keyboard([*rows, [(t("button.back", lang), "mf:goto:summary")]])


async def file_received(update: Update, context: BotContext) -> None:
    """Evidence (plan, notice, photos …) for the meeting or visit being logged: kept by its Telegram
    file id now, copied to the media folder when the record is saved."""
    payload = await _draft(context)
    if payload is None or payload.get("step") != "evidence":
        # Then a visit's or a ledger step's evidence; else a spreadsheet is one of the
        # district's data lists, or a list of new members.
        for taker in (visit_file, stage_file, data_file, member_file):
            if await taker(update, context):
                return
        await reply(update, t("flow.no_file_expected", context.lang))
        return
    more = keyboard(await _choices(context, "evidence"))
    files = await take_file(update, context, payload.get("evidence") or [], more)
    if files is not None:
        payload["evidence"] = files
        await _store(context, payload)
