"""Quick logging in one message (a worker meeting, where, how many came and joined) becomes a
summary card to save or cancel. The parsed draft is kept in the database (models.drafts), so
the card's Save works after a restart; a corrected message replaces the draft.

Callback data: "mt:save", "mt:cancel" — they act on the presser's own draft only.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, is_private, reply
from handlers.fallback import unknown_message
from handlers.joining import join_answer
from handlers.media import keep_files
from handlers.meeting_flow import (
    DRAFT,
    card_text,
    draft_input,
    edit_buttons,
    summary_buttons,
    typed_answer,
)
from handlers.members import member_answer
from handlers.reports import report_answer
from handlers.units import reason_answer
from handlers.visits import visit_answer
from handlers.welcome import welcome_answer
from models.drafts import drop_draft, load_draft, save_draft
from models.enums import Role
from models.geography import street_ids
from models.meetings import (
    MeetingInput,
    MeetingProblem,
    files_to_keep,
    meeting_problems,
    save_meeting,
    update_meeting,
    worker_meetings_held,
)
from models.quicklog import parse_meeting

CARD_CALLBACK = r"^mt:(save|edit|cancel)$"


async def private_text(update: Update, context: BotContext) -> None:
    """A message in a private chat: the answer to a /meeting question if one waits, else
    perhaps a whole meeting in one message."""
    if not await conversation_answer(update, context):
        await quick_log(update, context)


async def conversation_answer(update: Update, context: BotContext) -> bool:
    """Take the message as the answer a conversation waits for; False if none waits."""
    answers = (typed_answer, reason_answer, visit_answer, report_answer, join_answer,
               member_answer, welcome_answer)  # fmt: skip
    for answer in answers:
        if await answer(update, context):
            return True
    return False


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
    payload["step"] = None  # the summary: Save, or Change field by field in /meeting's steps
    async with context.db.session(write=True) as session:
        await save_draft(
            session=session, user_id=actor.user_id, kind=DRAFT, payload=payload, now=context.now()
        )
    names = {v: k for k, v in streets.items()}
    await reply(update, card_text(payload, names, notes, context), summary_buttons(lang))


async def card_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    today = context.bot_data.clock.today()
    if query.data == "mt:edit":
        await query.answer()
        await edit(update, t("flow.which_field", lang), edit_buttons(context))
        return
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
            meeting = draft_input(payload)
            if actor.role is not Role.DISTRICT_ADMIN and meeting.street_id != actor.street_id:
                meeting = MeetingInput(**{**meeting.__dict__, "street_id": actor.street_id})
            problems = meeting_problems(meeting, plan=context.plan, today=today)
            if not problems and payload.get("meeting_id"):
                # A correction from /mine: saved over the entry it came from.
                corrected = await update_meeting(
                    session=session, meeting_id=int(payload["meeting_id"]), meeting=meeting,
                    by_user_id=actor.user_id, now=context.now(),
                )  # fmt: skip
                await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
            elif not problems:
                saved = await save_meeting(
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
    if payload.get("meeting_id"):
        await query.answer()
        await edit(update, t("mine.corrected" if corrected else "mine.refused", lang))
        return
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
    assert saved.id is not None
    async with context.db.session() as session:
        pending = await files_to_keep(session=session, meeting_id=saved.id)
    await keep_files(
        update, context, context.bot_data.settings.media_dir / "meetings" / str(saved.id), pending
    )
