"""Quick logging in one message: "今天在拱辰街道开了职工沟通会，45人参加，新入会12人" becomes a
summary card to save or cancel. The parsed draft is kept in the database (models.drafts), so
the card's 保存 works after a restart; a corrected message replaces the draft.

Callback data: "mt:save", "mt:cancel" — they act on the presser's own draft only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, is_private, keyboard, reply
from handlers.fallback import unknown_message
from handlers.status_view import full_date
from models.drafts import drop_draft, load_draft, save_draft
from models.enums import Language, MeetingKind, Role, VenueType
from models.geography import street_ids
from models.meetings import (
    MeetingInput,
    MeetingProblem,
    meeting_problems,
    save_meeting,
    worker_meetings_held,
)
from models.quicklog import parse_meeting

DRAFT = "meeting"
CARD_CALLBACK = r"^mt:(save|cancel)$"


async def quick_log(update: Update, context: BotContext) -> None:
    message, actor, lang = update.effective_message, context.actor, context.lang
    if message is None or not message.text or not is_private(update):
        return
    today = context.bot_data.clock.today()
    async with context.db.session() as session:
        streets = await street_ids(session=session)
    parsed = parse_meeting(message.text, today=today, streets=list(streets))
    if not parsed.recognised:
        await unknown_message(update, context)
        return
    notes = [t(f"quicklog.{p.value}", lang) for p in parsed.problems]
    street_id = streets.get(parsed.street) if parsed.street else None
    if actor.role is not Role.DISTRICT_ADMIN:
        # An officer logs for their own street; a different street named is a slip to flag.
        if street_id is not None and street_id != actor.street_id:
            notes.append(t("meeting.own_street", lang, street=esc(actor.street_name)))
        street_id = actor.street_id
    payload = {
        "kind": parsed.kind.value if parsed.kind else None,
        "held_on": parsed.held_on.isoformat() if parsed.held_on else None,
        "street_id": street_id,
        "attendees": parsed.attendees,
        "new_members": parsed.new_members,
        "venue_type": parsed.venue_type.value if parsed.venue_type else None,
        "place": parsed.place,
    }
    async with context.db.session(write=True) as session:
        await save_draft(
            session=session, user_id=actor.user_id, kind=DRAFT, payload=payload, now=context.now()
        )
    names = {v: k for k, v in streets.items()}
    meeting = _input(payload)
    problems = meeting_problems(meeting, plan=context.plan, today=today)
    notes += [t(f"meeting.problem.{p.value}", lang) for p in problems]
    await reply(update, _card(meeting, names, notes, lang), _buttons(lang))


def _input(payload: dict[str, Any]) -> MeetingInput:
    return MeetingInput(
        kind=MeetingKind(payload["kind"]) if payload.get("kind") else None,
        held_on=date.fromisoformat(payload["held_on"]) if payload.get("held_on") else None,
        street_id=payload.get("street_id"),
        attendees=payload.get("attendees"),
        new_members=payload.get("new_members"),
        venue_type=VenueType(payload["venue_type"]) if payload.get("venue_type") else None,
        place=payload.get("place"),
    )


def _card(meeting: MeetingInput, streets: dict[int, str], notes: list[str], lang: Language) -> str:
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
    ]  # fmt: skip
    if notes:
        lines += ["", *(f"⚠️ {note}" for note in notes)]
    lines += ["", t("meeting.card_hint", lang)]
    return "\n".join(lines)


def _buttons(lang: Language) -> Any:
    return keyboard(
        [[(t("button.save", lang), "mt:save"), (t("button.cancel", lang), "mt:cancel")]]
    )


async def card_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    today = context.bot_data.clock.today()
    if query.data == "mt:cancel":
        async with context.db.session(write=True) as session:
            dropped = await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        await query.answer()
        await edit(update, t("meeting.cancelled" if dropped else "button.stale", lang))
        return
    async with context.db.session(write=True) as session:
        payload = await load_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        if payload is None:
            problems: list[MeetingProblem] = []
        else:
            meeting = _input(payload)
            if actor.role is not Role.DISTRICT_ADMIN and meeting.street_id != actor.street_id:
                meeting = MeetingInput(**{**meeting.__dict__, "street_id": actor.street_id})
            problems = meeting_problems(meeting, plan=context.plan, today=today)
            if not problems:
                await save_meeting(
                    session=session, meeting=meeting, by_user_id=actor.user_id, now=context.now()
                )
                await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
    if payload is None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if problems:
        await query.answer(t(f"meeting.problem.{problems[0].value}", lang), show_alert=True)
        return
    assert meeting.street_id is not None and meeting.kind is not None
    async with context.db.session() as session:
        held = await worker_meetings_held(
            session=session, plan=context.plan, street_id=meeting.street_id, today=today
        )
        names = {v: k for k, v in (await street_ids(session=session)).items()}
    await query.answer()
    await edit(
        update,
        t("meeting.saved", lang, street=esc(names.get(meeting.street_id, "")), held=held,
          target=context.plan.targets.worker_meetings.per_street,
          kind=t(f"meeting_kind.{meeting.kind.value}", lang)),
    )  # fmt: skip
