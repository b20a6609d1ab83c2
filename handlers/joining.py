"""Online joining: /joinqr (an officer's QR code for a meeting), /join and join links (a
worker's application, one question at a time), the officers' approve and reject buttons,
/stop (a member stops every message) and /optout (an admin records an SMS opt-out).

Workers are not officers: the gatekeeper lets them reach only what is here (see
`open_to_strangers` and `stranger_answer`). Nothing is stored before consent; the answers
live in the user's "join" draft until submitted. Numbers are shown masked in every message.

Callback data:
  "jq:st:<street>"                 an admin picks the street of a QR code
  "jq:m:<street>:<meeting>"        the meeting the code belongs to (0: none)
  "jn:ok:<code>", "jn:no:<code>"   consent given or refused (the join link's code, or empty)
  "jn:st:<street>"                 the applicant's street (when no link gave it)
  "jn:u:<unit>"                    the unit among the matches (0: keep the name as typed)
  "jn:submit", "jn:cancel"
  "ja:ok:<application>", "ja:no:<application>"   an officer approves or rejects
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.helpers import create_deep_linked_url

from bot.context import BotContext
from bot.texts import t
from handlers.common import (
    Button,
    edit,
    esc,
    grid,
    idle,
    is_private,
    keyboard,
    reply,
    store_draft,
)
from handlers.status_view import day
from models.drafts import drop_draft, load_draft
from models.enums import Language
from models.geography import street_ids
from models.joining import (
    JOIN_PREFIX,
    NAME_MAX,
    UNIT_NAME_MAX,
    UNIT_QUERY_MIN,
    ApplicationInput,
    Decision,
    LinkState,
    Refusal,
    decide,
    find_link,
    find_unit_in_street,
    is_recent,
    join_link_for,
    link_code,
    link_state,
    may_act_for,
    opt_out_mobile,
    opt_out_telegram,
    qr_png,
    recent_meetings,
    refusal_for,
    submit_application,
)
from models.members import union_name
from models.mobile import mask_mobile, normalise_mobile
from models.tables import JoinLink, Meeting, MembershipApplication
from models.units import find_units

DRAFT = "join"
JOIN_CALLBACK = r"^jn:((ok|no):[A-Za-z0-9_-]{0,32}|st:\d{1,6}|u:\d{1,9}|submit|cancel)$"
DECIDE_CALLBACK = r"^ja:(ok|no):\d{1,9}$"
QR_CALLBACK = r"^jq:(st:\d{1,6}|m:\d{1,6}:\d{1,9})$"
STRANGER_COMMANDS = {"join", "stop"}
UNIT_MATCHES = 5
LABEL_MAX = 40  # characters of a unit or meeting name on a button


# --- the gate ---------------------------------------------------------------------------


def open_to_strangers(update: Update, command: str | None) -> bool:
    """What a non-officer may send besides /start: /join and /stop, and the join flow's
    buttons, in a private chat. Their answers and shared contact: see stranger_answer."""
    if not is_private(update):
        return False
    if command in STRANGER_COMMANDS:
        return True
    query = update.callback_query
    return query is not None and re.match(JOIN_CALLBACK, query.data or "") is not None


async def stranger_answer(update: Update, context: BotContext) -> bool:
    """A non-officer's message while their join draft is open: taken here, by the join flow
    alone (so no other feature ever reads it); False when it is not for the join flow."""
    message = update.message
    if message is None or not is_private(update):
        return False
    if message.contact is None and (not message.text or message.text.startswith("/")):
        return False
    payload = await _draft(context)
    if payload is None:
        return False
    if message.contact is not None:
        await _contact(update, context, payload)
    else:
        await _typed(update, context, payload)
    return True


# --- the applicant ----------------------------------------------------------------------


async def join_command(update: Update, context: BotContext) -> None:
    if not is_private(update):
        await reply(update, t("join.private_only", context.lang))
        return
    await _intro(update, context, None)


async def start_link(update: Update, context: BotContext, payload: str) -> None:
    """/start join-<code>, as a join link (or its QR code) opens it."""
    lang = context.lang
    if not is_private(update):
        await reply(update, t("join.private_only", lang))
        return
    async with context.db.session() as session:
        link = await find_link(session=session, code=link_code(payload) or "")
    state = link_state(link, context.now())
    if state is LinkState.EXPIRED and link is not None:
        await reply(update, t("join.link_expired", lang, expired_at=_at(context, link.expires_at)))
    elif state is LinkState.UNKNOWN or link is None:
        await reply(update, t("join.link_unknown", lang))
    else:
        await _intro(update, context, link)


async def _intro(update: Update, context: BotContext, link: JoinLink | None) -> None:
    """Who we are, what we keep and why, and the consent buttons. Nothing is stored yet."""
    lang = context.lang
    async with context.db.session() as session:
        refusal = await refusal_for(session=session, telegram_user_id=context.actor.user_id)
        names = await _street_names(session)
    if refusal is not None:
        await reply(update, t(f"join.refused_{refusal.value}", lang))
        return
    code = link.code if link is not None else ""
    where = (
        t("join.intro_street", lang, union=esc(union_name(names.get(link.street_id, ""))))
        if link is not None
        else ""
    )
    buttons = [(t("join.consent_yes", lang), f"jn:ok:{code}"),
               (t("join.consent_no", lang), f"jn:no:{code}")]  # fmt: skip
    await reply(update, t("join.intro", lang, where=where), keyboard([buttons]))


async def join_pressed(update: Update, context: BotContext) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None and query.data is not None  # the handler's pattern ensures it
    _, action, value = [*query.data.split(":", 2), ""][:3]
    if action == "no":
        async with context.db.session(write=True) as session:
            await drop_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
        await query.answer()
        await edit(update, t("join.declined", lang))
        return
    if action == "ok":
        await _consented(update, context, value)
        return
    if action == "cancel":
        async with context.db.session(write=True) as session:
            dropped = await drop_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
        if not dropped:  # submitted or cancelled already
            await query.answer(t("button.stale", lang), show_alert=True)
            return
        await query.answer()
        await edit(update, t("join.cancelled", lang))
        return
    payload = await _draft(context)
    expected = {"st": "street", "u": "unit_pick", "submit": "confirm"}[action]
    if payload is None or payload.get("step") != expected:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if action == "submit":
        await _submit(update, context, payload)
        return
    async with context.db.session() as session:
        if action == "st":
            found = int(value) in (await _street_names(session))
        elif value != "0":
            unit = await find_unit_in_street(
                session=session, unit_id=int(value), street_id=int(payload["street_id"])
            )
            found = unit is not None
            if unit is not None:
                payload.update(unit_id=unit.id, unit_name=unit.name)
        else:
            found = True  # keep the name as typed
    if not found:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    await query.answer()
    if action == "st":
        payload.update(street_id=int(value), step="unit")
    else:
        payload["step"] = "confirm"
    await store_draft(context, DRAFT, payload)
    text, markup = await _question(context, payload)
    await edit(update, text, markup)


async def _consented(update: Update, context: BotContext, code: str) -> None:
    """Consent given: the draft starts (with the link's street and meeting), and the bot
    asks for the number through Telegram's share-contact button."""
    query, lang, now = update.callback_query, context.lang, context.now()
    assert query is not None
    link: JoinLink | None = None
    async with context.db.session() as session:
        if code:
            link = await find_link(session=session, code=code)
        refusal = await refusal_for(session=session, telegram_user_id=context.actor.user_id)
    if code and link_state(link, now) is not LinkState.VALID:
        await query.answer()
        await edit(update, t("join.link_expired_short", lang))
        return
    await query.answer()
    if refusal is not None:
        await edit(update, t(f"join.refused_{refusal.value}", lang))
        return
    payload: dict[str, Any] = {
        "step": "contact", "consent_at": now.isoformat(), "language": lang.value,
        "street_id": link.street_id if link else None,
        "meeting_id": link.meeting_id if link else None,
    }  # fmt: skip
    await store_draft(context, DRAFT, payload)
    await edit(update, t("join.consented", lang), _cancel_button(lang))
    await _ask_contact(update, lang, t("join.ask_contact", lang))


async def contact_received(update: Update, context: BotContext) -> None:
    """A shared contact from an officer (a non-officer's comes through stranger_answer)."""
    payload = await _draft(context)
    if payload is None:
        await reply(update, t("fallback.unknown", context.lang))
        return
    await _contact(update, context, payload)


async def _contact(update: Update, context: BotContext, payload: dict[str, Any]) -> None:
    message, actor, lang = update.effective_message, context.actor, context.lang
    assert message is not None
    contact = message.contact
    if payload.get("step") != "contact" or contact is None:
        await _reask(update, context, payload)
        return
    if contact.user_id != actor.user_id:
        # Someone else's contact, forwarded or picked from the address book: their number
        # is not this applicant's to give.
        await _ask_contact(update, lang, t("join.contact_not_own", lang))
        return
    mobile = normalise_mobile(contact.phone_number)
    if mobile is None:
        await _ask_contact(update, lang, t("join.contact_not_mainland", lang))
        return
    async with context.db.session(write=True) as session:
        refusal = await refusal_for(session=session, telegram_user_id=actor.user_id, mobile=mobile)
        if refusal is not None:
            await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
    if refusal is not None:
        await message.reply_text(
            t(f"join.refused_{refusal.value}", lang), reply_markup=ReplyKeyboardRemove()
        )
        return
    payload.update(mobile=mobile, step="name")
    await store_draft(context, DRAFT, payload)
    await message.reply_text(
        t("join.contact_ok", lang, mobile=mask_mobile(mobile)), reply_markup=ReplyKeyboardRemove()
    )
    text, markup = await _question(context, payload)
    await reply(update, text, markup)


async def join_answer(update: Update, context: BotContext) -> bool:
    """An officer's typed answer to the join flow (private_text tries this); False if no
    join draft waits, or it waited so long that this message is likely about something else."""
    message = update.effective_message
    if message is None or not message.text or not is_private(update):
        return False
    payload = await _draft(context)
    if payload is None or idle(payload, context.now()):
        return False
    await _typed(update, context, payload)
    return True


async def _typed(update: Update, context: BotContext, payload: dict[str, Any]) -> None:
    message, lang = update.effective_message, context.lang
    assert message is not None and message.text is not None
    step, text = payload.get("step"), message.text.strip()
    if step == "contact":
        # A typed number proves nothing: only Telegram's shared contact is the account's own.
        await _ask_contact(update, lang, t("join.contact_use_button", lang))
        return
    if step not in ("name", "unit", "unit_pick"):
        await _reask(update, context, payload)
        return
    limit = NAME_MAX if step == "name" else UNIT_NAME_MAX
    if not text or len(text) > limit:
        problem = t("join.too_long", lang, max=limit) if text else t("join.empty", lang)
        question, markup = await _question(context, payload)
        await reply(update, f"{problem}\n{question}", markup)
        return
    if step == "name":
        payload.update(name=text, step="unit" if payload.get("street_id") else "street")
        await store_draft(context, DRAFT, payload)
        question, markup = await _question(context, payload)
        await reply(update, question, markup)
        return
    payload.update(unit_name=text, unit_id=None)
    matches = []
    if len(text) >= UNIT_QUERY_MIN:
        async with context.db.session() as session:
            matches = await _find_units(session, text, int(payload["street_id"]))
    payload["step"] = "unit_pick" if matches else "confirm"
    await store_draft(context, DRAFT, payload)
    if matches:
        buttons: list[Button] = [(_short(name), f"jn:u:{unit_id}") for unit_id, name in matches]
        buttons.append((t("join.keep_unit", lang, unit=_short(text)), "jn:u:0"))
        buttons.append((t("button.cancel", lang), "jn:cancel"))
        await reply(update, t("join.pick_unit", lang), keyboard(grid(buttons, 1)))
        return
    question, markup = await _question(context, payload)
    await reply(update, question, markup)


async def _find_units(session: AsyncSession, text: str, street_id: int) -> list[tuple[int, str]]:
    found = await find_units(session=session, query=text, street_id=street_id, limit=UNIT_MATCHES)
    return [(line.unit_id, line.name) for line in found]


async def _question(
    context: BotContext, payload: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup]:
    """The question the draft waits for (name, street, unit) or the summary to submit."""
    lang, step = context.lang, payload.get("step")
    cancel = (t("button.cancel", lang), "jn:cancel")
    async with context.db.session() as session:
        names = await _street_names(session)
        meeting = await _meeting(session, payload.get("meeting_id"))
    if step == "street":
        buttons = [(name, f"jn:st:{street_id}") for street_id, name in names.items()]
        return t("join.ask_street", lang), keyboard([*grid(buttons, 3), [cancel]])
    street = esc(names.get(int(payload.get("street_id") or 0), ""))
    if step in ("unit", "unit_pick"):
        return t("join.ask_unit", lang, street=street), keyboard([[cancel]])
    if step == "confirm":
        summary = t(
            "join.summary", lang, name=esc(payload["name"]),
            mobile=mask_mobile(payload["mobile"]), unit=esc(payload["unit_name"]),
            street=street, meeting=_meeting_label(meeting, lang),
        )  # fmt: skip
        return summary, keyboard([[(t("join.submit", lang), "jn:submit"), cancel]])
    return t("join.ask_name", lang), keyboard([[cancel]])


async def _reask(update: Update, context: BotContext, payload: dict[str, Any]) -> None:
    """A message the current step does not take: say what it waits for, and ask again."""
    lang = context.lang
    if payload.get("step") == "contact":
        await _ask_contact(update, lang, t("join.contact_use_button", lang))
        return
    question, markup = await _question(context, payload)
    if payload.get("step") in ("street", "confirm"):  # answered by button only
        question = f"{t('join.use_buttons', lang)}\n{question}"
    await reply(update, question, markup)


async def _ask_contact(update: Update, lang: Language, text: str) -> None:
    message = update.effective_message
    assert message is not None
    share = KeyboardButton(t("join.share_contact", lang), request_contact=True)
    await message.reply_text(
        text,
        reply_markup=ReplyKeyboardMarkup([[share]], one_time_keyboard=True, resize_keyboard=True),
    )


async def _submit(update: Update, context: BotContext, payload: dict[str, Any]) -> None:
    query, actor, lang, now = update.callback_query, context.actor, context.lang, context.now()
    assert query is not None
    street_id = int(payload["street_id"])
    application = ApplicationInput(
        telegram_user_id=actor.user_id, name=payload["name"], mobile=payload["mobile"],
        street_id=street_id, unit_name=payload["unit_name"],
        consent_at=datetime.fromisoformat(payload["consent_at"]),
        language=Language(payload.get("language", lang.value)), unit_id=payload.get("unit_id"),
        meeting_id=payload.get("meeting_id"),
    )  # fmt: skip
    async with context.db.session(write=True) as session:
        names = await _street_names(session)
        meeting = await _meeting(session, application.meeting_id)

        def notice(row: MembershipApplication, language: Language) -> dict[str, Any]:
            assert row.id is not None
            text = _notice_text(context, row, language, names.get(row.street_id, ""), meeting)
            buttons = [[t("join.approve", language), f"ja:ok:{row.id}"],
                       [t("join.reject", language), f"ja:no:{row.id}"]]  # fmt: skip
            return {"text": text, "buttons": [buttons], "application_id": row.id}

        result = await submit_application(
            session=session, application=application, notice=notice, now=now
        )
        await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
    await query.answer()
    if isinstance(result, Refusal):
        await edit(update, t(f"join.refused_{result.value}", lang))
        return
    union = esc(union_name(names.get(street_id, "")))
    await edit(update, t("join.submitted", lang, union=union))


# --- the officers -----------------------------------------------------------------------


async def decide_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None  # the handler's pattern ensures it
    _, verb, application_id = query.data.split(":")
    approve = verb == "ok"

    def outcome(decision: Decision, language: Language) -> str:
        return t(f"join.outcome_{decision.value}", language, union=esc(union))

    default = Language(context.bot_data.settings.default_language)
    async with context.db.session(write=True) as session:
        names = await _street_names(session)
        pending = await session.get(MembershipApplication, int(application_id))
        union = union_name(names.get(pending.street_id, "")) if pending else ""
        result = await decide(
            session=session, application_id=int(application_id), approve=approve,
            by_user_id=actor.user_id, role=actor.role, own_street_id=actor.street_id,
            outcome=outcome, now=context.now(), today=context.bot_data.clock.today(),
            plan=context.plan, default_language=default,
        )  # fmt: skip
        row = result.application
        meeting = await _meeting(session, row.meeting_id) if row is not None else None
    if result.decision is Decision.MISSING or row is None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    street = names.get(row.street_id, "")
    if result.decision is Decision.REFUSED:
        await query.answer(t("join.not_yours", lang, street=street), show_alert=True)
        return
    notice = _notice_text(context, row, lang, street, meeting)
    if result.decision is Decision.ALREADY:
        assert row.decided_at is not None
        by = result.decided_by_name or t("join.officer_id", lang, id=row.decided_by)
        what = t(f"join.status_{row.status}", lang)
        at = _at(context, row.decided_at)
        await query.answer(
            t("join.already_decided", lang, by=by, at=at, what=what), show_alert=True
        )
        done = t("join.decided_before", lang, by=esc(by), at=at, what=what)
        await edit(update, f"{notice}\n\n{done}")
        return
    await query.answer()
    done = t(f"join.decided_{result.decision.value}", lang, by=esc(actor.name))
    await edit(update, f"{notice}\n\n{done}")


def _notice_text(
    context: BotContext,
    row: MembershipApplication,
    lang: Language,
    street: str,
    meeting: Meeting | None,
) -> str:
    return t(
        "join.notice", lang, name=esc(row.name), mobile=mask_mobile(row.mobile),
        unit=esc(row.unit_name), street=esc(street), meeting=_meeting_label(meeting, lang),
        at=_at(context, row.created_at),
    )  # fmt: skip


# --- /joinqr ----------------------------------------------------------------------------


async def joinqr_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    if not is_private(update):
        await reply(update, t("join.qr_private_only", lang))
        return
    if actor.is_admin:
        async with context.db.session() as session:
            names = await _street_names(session)
        buttons = [(name, f"jq:st:{street_id}") for street_id, name in names.items()]
        await reply(update, t("join.qr_choose_street", lang), keyboard(grid(buttons, 3)))
        return
    if actor.street_id is None:
        await reply(update, t("status.no_street", lang))
        return
    text, markup = await _meeting_menu(context, actor.street_id)
    await reply(update, text, markup)


async def _meeting_menu(context: BotContext, street_id: int) -> tuple[str, InlineKeyboardMarkup]:
    lang = context.lang
    async with context.db.session() as session:
        names = await _street_names(session)
        meetings = await recent_meetings(
            session=session, street_id=street_id, today=context.bot_data.clock.today()
        )
    buttons: list[Button] = [
        (_short(_meeting_label(m, lang, escape=False)), f"jq:m:{street_id}:{m.id}")
        for m in meetings
    ]
    buttons.append((t("join.qr_no_meeting", lang), f"jq:m:{street_id}:0"))
    text = t(
        "join.qr_choose_meeting" if meetings else "join.qr_no_recent",
        lang, street=esc(names.get(street_id, "")),
    )  # fmt: skip
    return text, keyboard(grid(buttons, 1))


async def qr_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None  # the handler's pattern ensures it
    fields = query.data.split(":")
    street_id = int(fields[2])
    async with context.db.session() as session:
        names = await _street_names(session)
        meeting = await _meeting(session, int(fields[3])) if fields[1] == "m" else None
    if street_id not in names or not may_act_for(
        role=actor.role, own_street_id=actor.street_id, street_id=street_id
    ):
        await query.answer(t("join.qr_refused", lang), show_alert=True)
        return
    if fields[1] == "st":
        await query.answer()
        text, markup = await _meeting_menu(context, street_id)
        await edit(update, text, markup)
        return
    today = context.bot_data.clock.today()
    wanted = int(fields[3]) != 0
    if wanted and (
        meeting is None or meeting.street_id != street_id or not is_recent(meeting, today)
    ):
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    async with context.db.session(write=True) as session:
        link = await join_link_for(
            session=session, street_id=street_id, meeting_id=meeting.id if meeting else None,
            created_by=actor.user_id, now=context.now(),
        )  # fmt: skip
    url = create_deep_linked_url(context.bot.username, f"{JOIN_PREFIX}{link.code}")
    caption = t(
        "join.qr_caption", lang, street=esc(names[street_id]),
        meeting=_meeting_label(meeting, lang), expires_at=_at(context, link.expires_at), link=url,
    )  # fmt: skip
    await query.answer()
    await edit(update, t("join.qr_done", lang, street=esc(names[street_id])))
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_photo(chat_id=chat.id, photo=qr_png(url), caption=caption)


# --- opting out -------------------------------------------------------------------------


async def stop_command(update: Update, context: BotContext) -> None:
    """/stop: no more messages to the member linked to this Telegram account, on any channel."""
    lang = context.lang
    if not is_private(update):
        await reply(update, t("optout.stop_private_only", lang))
        return
    async with context.db.session(write=True) as session:
        result = await opt_out_telegram(
            session=session, telegram_user_id=context.actor.user_id, now=context.now()
        )
        await drop_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
    if result.members:
        mobile = mask_mobile(result.mobile or "")
        await reply(update, t("optout.stopped", lang, mobile=mobile, cancelled=result.cancelled))
    elif result.already is not None:
        await reply(update, t("optout.stopped_before", lang, at=_at(context, result.already)))
    else:
        await reply(update, t("optout.not_member", lang))


async def optout_command(update: Update, context: BotContext) -> None:
    """/optout <mobile>: an admin records an SMS opt-out ("TD") the gateway received."""
    lang = context.lang
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    if not is_private(update):
        await reply(update, t("optout.private_only", lang))
        return
    typed = " ".join(context.args or []).strip()
    if not typed:
        await reply(update, t("optout.usage", lang))
        return
    mobile = normalise_mobile(typed[:32])
    if mobile is None:
        await reply(update, f"{t('optout.bad_number', lang)}\n{t('optout.usage', lang)}")
        return
    async with context.db.session(write=True) as session:
        result = await opt_out_mobile(
            session=session, mobile=mobile, by_user_id=context.actor.user_id, now=context.now()
        )
    masked, name = mask_mobile(mobile), esc(result.name or "")
    if result.members:
        text = t("optout.done", lang, mobile=masked, name=name, cancelled=result.cancelled)
    elif result.already is not None:
        text = t("optout.done_before", lang, mobile=masked, name=name,
                 at=_at(context, result.already), cancelled=result.cancelled)  # fmt: skip
    else:
        text = t("optout.no_member", lang, mobile=masked, cancelled=result.cancelled)
    await reply(update, text)


# --- helpers ----------------------------------------------------------------------------


async def _draft(context: BotContext) -> dict[str, Any] | None:
    async with context.db.session() as session:
        return await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)


async def _street_names(session: AsyncSession) -> dict[int, str]:
    return {street_id: name for name, street_id in (await street_ids(session=session)).items()}


async def _meeting(session: AsyncSession, meeting_id: object) -> Meeting | None:
    if not meeting_id:
        return None
    return await session.get(Meeting, int(str(meeting_id)))


def _meeting_label(meeting: Meeting | None, lang: Language, *, escape: bool = True) -> str:
    if meeting is None:
        return t("join.no_meeting", lang)
    place = meeting.place or ""
    return t(
        "join.meeting_label", lang, day=day(meeting.held_on, lang),
        kind=t(f"meeting_kind.{meeting.kind}", lang), place=esc(place) if escape else place,
    )  # fmt: skip


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else f"{text[: LABEL_MAX - 1]}…"


def _at(context: BotContext, when: datetime) -> str:
    return f"{when.astimezone(context.plan.zone):%Y-%m-%d %H:%M}"


def _cancel_button(lang: Language) -> InlineKeyboardMarkup:
    return keyboard([[(t("button.cancel", lang), "jn:cancel")]])
