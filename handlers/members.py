"""/member: a new member registered in a few steps, and lists of members sent as a file.

/member asks the street (district admins only), the name, the mobile number, the unit (found
like /visit finds it, within the street; may be skipped) and the join date (today, or typed),
then shows a card to save, change or cancel. The answers live in the user's "member" draft,
so a restart between steps loses nothing. Callback data: "mb:st:<street>", "mb:u:<unit>",
"mb:skip", "mb:today", "mb:goto:<field>", "mb:save|edit|back|cancel|resume|restart".

A .xlsx or .csv sent in a private chat when no other conversation waits for a file is a list
of members: the bot checks every row, replies with the counts, the problems by row and column
(and all of them as an attached CSV), and registers the good rows only when the officer
presses the button: "mi:ok:<token>" (or "mi:no:<token>"), the token tying the buttons to
that report. A district admin's file without a street column first asks the street
("mi:st:<street>:<token>").

Mobile numbers are masked in every message and log line.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from telegram import Document, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.context import Actor, BotContext
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
from handlers.media import MAX_FILE_BYTES, download
from handlers.status_view import full_date
from models.drafts import drop_draft, load_draft, save_draft
from models.enums import Language, Role
from models.member_import import (
    MAX_ROWS,
    Column,
    GoodRow,
    ImportReport,
    Problem,
    Table,
    bad_rows_csv,
    import_members,
    new_token,
    read_table,
    review,
    show_progress_in,
)
from models.members import (
    NAME_MAX,
    Duplicate,
    MemberSource,
    NewMember,
    find_by_mobile,
    register_member,
    welcomes_queued,
)
from models.mobile import mask_mobile, normalise_mobile
from models.officers import list_streets
from models.quicklog import Problem as DateProblem
from models.quicklog import read_date
from models.sheets import FileRefused
from models.tables import Unit
from models.units import find_units

DRAFT = "member"
IMPORT_DRAFT = "member_import"
FIELDS = ("street_id", "name", "mobile", "unit", "joined_on")
TYPED = ("name", "mobile", "unit", "joined_on")
MEMBER_CALLBACK = (
    r"^mb:(st:\d{1,6}|u:\d{1,9}|skip|today|save|edit|back|cancel|resume|restart"
    r"|goto:(street_id|name|mobile|unit|joined_on))$"
)
IMPORT_CALLBACK = r"^mi:(ok|no|st:\d{1,6}):[0-9a-f]{8}$"
PROBLEM_LINES = 20  # in the chat; the attached CSV has them all
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv", ".tsv")
SPREADSHEET_TYPES = {
    "text/csv",
    "application/csv",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
log = logging.getLogger("unionbot.members")


def may_register(actor: Actor) -> bool:
    """Members are registered by street officers (their own street's) and district admins."""
    if actor.role is Role.DISTRICT_ADMIN:
        return True
    return actor.role is Role.STREET_OFFICER and actor.street_id is not None


# --- /member --------------------------------------------------------------------------------


async def member_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not is_private(update):
        await reply(update, t("flow.private_chat", lang))
        return
    if not may_register(context.actor):
        await reply(update, t("member.officers_only", lang))
        return
    if await _draft(context) is not None:
        await reply(update, t("member.pending", lang), _resume_buttons(lang))
        return
    await _start(update, context, new_message=True)


def _resume_buttons(lang: Language) -> InlineKeyboardMarkup:
    return keyboard(
        [[(t("flow.resume", lang), "mb:resume"), (t("flow.restart", lang), "mb:restart")]]
    )


async def _draft(context: BotContext) -> dict[str, Any] | None:
    async with context.db.session() as session:
        return await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)


async def _start(update: Update, context: BotContext, *, new_message: bool) -> None:
    actor = context.actor
    payload: dict[str, Any] = {
        **dict.fromkeys(FIELDS), "unit_id": None, "unit_name": None,
        "street_name": None, "editing": False,
    }  # fmt: skip
    if actor.is_admin:
        payload["step"] = "street_id"
    else:
        payload.update(street_id=actor.street_id, street_name=actor.street_name, step="name")
    await store_draft(context, DRAFT, payload)
    await _ask(update, context, payload, new_message=new_message)


def _next(payload: dict[str, Any], answered: str) -> str | None:
    """The step after `answered`; None (the card) at the end or when changing one field."""
    if payload.get("editing") and _complete(payload):
        return None
    position = FIELDS.index(answered) + 1
    return FIELDS[position] if position < len(FIELDS) else None


def _complete(payload: dict[str, Any]) -> bool:
    """Every field the card shows is answered (a field button from an older card, pressed
    after a restart, changes one field of a draft that has gaps)."""
    return all(payload.get(f) for f in ("street_id", "name", "mobile", "joined_on"))


async def _ask(
    update: Update, context: BotContext, payload: dict[str, Any], *, new_message: bool
) -> None:
    lang, step = context.lang, payload.get("step")
    markup: InlineKeyboardMarkup | None
    if step is None:
        text, markup = card_text(payload, lang), _card_buttons(lang)
    else:
        text, markup = t(f"member.ask.{step}", lang), await _step_buttons(context, step)
    if new_message or update.callback_query is None:
        await reply(update, text, markup)
    else:
        await edit(update, text, markup)


async def _step_buttons(context: BotContext, step: str) -> InlineKeyboardMarkup | None:
    lang = context.lang
    if step == "street_id":
        async with context.db.session() as session:
            streets = await list_streets(session=session)
        return keyboard(grid([(name, f"mb:st:{street_id}") for street_id, name in streets], 3))
    if step == "unit":
        return keyboard([[(t("flow.skip", lang), "mb:skip")]])
    if step == "joined_on":
        return keyboard([[(t("flow.today", lang), "mb:today")]])
    return None


def card_text(payload: dict[str, Any], lang: Language) -> str:
    joined = date.fromisoformat(payload["joined_on"])
    unit = esc(payload["unit_name"]) if payload.get("unit_name") else t("member.no_unit", lang)
    return "\n".join(
        [
            t("member.card_title", lang),
            t("member.card_name", lang, value=esc(payload["name"])),
            t("member.card_mobile", lang, value=mask_mobile(payload["mobile"])),
            t("member.card_street", lang, value=esc(payload["street_name"])),
            t("member.card_unit", lang, value=unit),
            t("member.card_joined", lang, value=full_date(joined, lang)),
            "",
            t("member.card_hint", lang),
        ]
    )


def _card_buttons(lang: Language) -> InlineKeyboardMarkup:
    return save_edit_cancel(lang, "mb")


def _field_buttons(context: BotContext) -> InlineKeyboardMarkup:
    lang = context.lang
    fields = [f for f in FIELDS if f != "street_id" or context.actor.is_admin]
    rows = grid([(t(f"member.field.{f}", lang), f"mb:goto:{f}") for f in fields], 2)
    return keyboard([*rows, [(t("button.back", lang), "mb:back")]])


async def member_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    _, action, value = [*query.data.split(":"), ""][:3]
    if not may_register(actor):
        await query.answer(t("member.officers_only", lang), show_alert=True)
        return
    if action == "save":
        await _save(update, context)
        return
    payload = await _draft(context)
    if payload is None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    step = payload.get("step")
    if action == "restart":
        await query.answer()
        await _start(update, context, new_message=False)
        return
    if action == "cancel":
        async with context.db.session(write=True) as session:
            await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        await query.answer()
        await edit(update, t("member.cancelled", lang))
        return
    if action == "edit" and step is None:
        await query.answer()
        await edit(update, t("flow.which_field", lang), _field_buttons(context))
        return
    if action == "back" and not _complete(payload):
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if action == "back":
        payload.update(step=None, editing=False)
    elif action == "goto" and (value != "street_id" or actor.is_admin):
        payload.update(step=value, editing=True)
    elif action != "resume":
        answer = await _button_answer(context, payload, action, value)
        if answer is not None:
            await query.answer(answer, show_alert=True)
            return
        payload["step"] = _next(payload, str(step))
    await store_draft(context, DRAFT, payload)
    await query.answer()
    await _ask(update, context, payload, new_message=False)


async def _button_answer(
    context: BotContext, payload: dict[str, Any], action: str, value: str
) -> str | None:
    """Take a button's answer into the draft; the alert to show instead if it does not fit."""
    lang, step = context.lang, payload.get("step")
    expected = {"st": "street_id", "u": "unit", "skip": "unit", "today": "joined_on"}
    if expected.get(action) != step:
        return t("button.stale", lang)  # a button from an earlier question
    if action == "st":
        streets = dict(await _streets(context))
        if not context.actor.is_admin or int(value) not in streets:
            return t("button.stale", lang)
        if payload.get("street_id") != int(value):
            payload.update(unit_id=None, unit_name=None)  # a unit belongs to its street
        payload.update(street_id=int(value), street_name=streets[int(value)])
    elif action == "u":
        async with context.db.session() as session:
            unit = await session.get(Unit, int(value))
        if unit is None or unit.street_id != payload.get("street_id"):
            return t("member.street_refused", lang)
        payload.update(unit_id=unit.id, unit_name=unit.name)
    elif action == "skip":
        payload.update(unit_id=None, unit_name=None)
    else:
        payload["joined_on"] = context.bot_data.clock.today().isoformat()
    return None


async def _streets(context: BotContext) -> list[tuple[int, str]]:
    async with context.db.session() as session:
        return await list_streets(session=session)


async def member_answer(update: Update, context: BotContext) -> bool:
    """A typed answer to the /member question that waits for one; False if none waits."""
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
        text=t("member.timed_out", lang),
        markup=_resume_buttons(lang),
    ):
        return True
    text = message.text.strip()
    problem: str | None = None
    if step == "name":
        problem = _name_problem(text, lang)
        payload["name"] = text
    elif step == "mobile":
        mobile = normalise_mobile(text)
        if mobile is None:
            problem = t("member.bad_mobile", lang)
        elif await _is_member(context, mobile):
            problem = t("member.exists", lang, mobile=mask_mobile(mobile))
        payload["mobile"] = mobile
    elif step == "unit":
        await _offer_units(update, context, payload, text)
        return True
    else:
        found = read_date(text, today=context.bot_data.clock.today())
        if isinstance(found, date):
            payload["joined_on"] = found.isoformat()
        else:
            future = found is DateProblem.FUTURE_DATE
            problem = t("member.future_date" if future else "member.bad_date", lang)
    if problem is not None:
        await reply(update, f"{problem}\n{t(f'member.ask.{step}', lang)}",
                    await _step_buttons(context, step))  # fmt: skip
        return True
    payload["step"] = _next(payload, step)
    await store_draft(context, DRAFT, payload)
    await _ask(update, context, payload, new_message=True)
    return True


def _name_problem(text: str, lang: Language) -> str | None:
    # A number typed as the name would be shown unmasked on every card: refuse it.
    if not text or len(text) > NAME_MAX or "\n" in text or normalise_mobile(text) is not None:
        return t("member.bad_name", lang, max=NAME_MAX)
    if sum(c.isdigit() for c in text) >= 7:
        return t("member.bad_name", lang, max=NAME_MAX)
    return None


async def _is_member(context: BotContext, mobile: str) -> bool:
    async with context.db.session() as session:
        return await find_by_mobile(session=session, mobile=mobile) is not None


async def _offer_units(
    update: Update, context: BotContext, payload: dict[str, Any], text: str
) -> None:
    """The street's units matching what was typed, as buttons; the step stays "unit"."""
    lang = context.lang
    async with context.db.session() as session:
        found = await find_units(session=session, query=text[:50], street_id=payload["street_id"])
    skip = [(t("flow.skip", lang), "mb:skip")]
    if not found:
        await reply(update, t("member.unit_none", lang, query=esc(text[:50])), keyboard([skip]))
        return
    buttons: list[Button] = [(line.name, f"mb:u:{line.unit_id}") for line in found]
    await reply(update, t("member.unit_found", lang), keyboard([*grid(buttons, 1), skip]))


async def _save(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None
    async with context.db.session(write=True) as session:
        # Load and drop in one transaction: a second press finds nothing to save.
        payload = await load_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        if payload is None or payload.get("step") is not None:
            await query.answer(t("button.stale", lang), show_alert=True)
            return
        if not actor.is_admin and payload["street_id"] != actor.street_id:
            await query.answer(t("member.street_refused", lang), show_alert=True)
            return
        new = NewMember(
            name=payload["name"], mobile=payload["mobile"], street_id=payload["street_id"],
            joined_on=date.fromisoformat(payload["joined_on"]), unit_id=payload.get("unit_id"),
        )  # fmt: skip
        member = await register_member(
            session=session, member=new, source=MemberSource.OFFICER, by_user_id=actor.user_id,
            now=context.now(), plan=context.plan,
        )  # fmt: skip
        if member is Duplicate.MOBILE:
            # Registered by someone else since the number was typed: ask for it again.
            payload.update(step="mobile", editing=True, at=context.now().isoformat())
            await save_draft(session=session, user_id=actor.user_id, kind=DRAFT,
                             payload=payload, now=context.now())  # fmt: skip
        else:
            await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
            assert member.id is not None
            channels = {row.channel.value for row in await welcomes_queued(
                session=session, member_id=member.id)}  # fmt: skip
    await query.answer()
    if member is Duplicate.MOBILE:
        exists = t("member.exists", lang, mobile=mask_mobile(payload["mobile"]))
        await edit(update, f"{exists}\n{t('member.ask.mobile', lang)}")
        return
    log.info("member %s registered by %s (street %s)", member.id, actor.user_id, member.street_id)
    key = "member.channels_both" if "telegram" in channels else "member.channels_sms"
    await edit(
        update,
        t("member.saved", lang, name=esc(member.name), mobile=mask_mobile(member.mobile or ""),
          street=esc(payload["street_name"]), channels=t(key, lang)),
    )  # fmt: skip


# --- a list of members sent as a file ---------------------------------------------------------


def is_spreadsheet(document: Document) -> bool:
    name = (document.file_name or "").lower()
    return name.endswith(SPREADSHEET_SUFFIXES) or document.mime_type in SPREADSHEET_TYPES


async def member_file(update: Update, context: BotContext) -> bool:
    """A spreadsheet sent when no conversation waits for a file: a list of new members to
    check and, once confirmed, register. False if the message is not a spreadsheet."""
    message, lang = update.effective_message, context.lang
    document = message.document if message is not None else None
    if document is None or not is_private(update) or not is_spreadsheet(document):
        return False
    if not may_register(context.actor):
        await reply(update, t("member.officers_only", lang))
        return True
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await reply(update, t("member_import.file_too_big", lang))
        return True
    name = (document.file_name or "")[:128]
    table = await _read(update, context, document.file_id, name)
    if table is None:
        return True
    if context.actor.is_admin and Column.STREET not in table.columns:
        # The district's file must say whose members they are: ask, then read it again.
        token = new_token()
        waiting = {"step": "street", "token": token, "file_id": document.file_id, "file_name": name}
        await store_draft(context, IMPORT_DRAFT, waiting)
        buttons = [(street, f"mi:st:{sid}:{token}") for sid, street in await _streets(context)]
        await reply(update, t("member_import.choose_street", lang), keyboard(grid(buttons, 3)))
        return True
    street_id = None if context.actor.is_admin else context.actor.street_id
    await _offer_import(update, context, table, name, street_id)
    return True


async def _read(update: Update, context: BotContext, file_id: str, name: str) -> Table | None:
    """The file's table, or None after telling the user why it cannot be read."""
    lang = context.lang
    data = await download(context, file_id)
    if data is None:
        await reply(update, t("member_import.download_failed", lang))
        return None
    try:
        return await asyncio.to_thread(read_table, data, name)
    except FileRefused as refused:
        await reply(update, refusal_text(refused, lang))
        return None


def refusal_text(refused: FileRefused, lang: Language) -> str:
    return t(f"member_import.file.{refused.problem.value}", lang, max=f"{MAX_ROWS:,}")


async def _offer_import(
    update: Update, context: BotContext, table: Table, name: str, street_id: int | None
) -> None:
    actor, lang = context.actor, context.lang
    async with context.db.session() as session:
        report = await review(
            session=session, table=table, street_id=street_id,
            own_street_id=None if actor.is_admin else actor.street_id,
            today=context.bot_data.clock.today(),
        )  # fmt: skip
    log.info("member list from %s: %d rows, %d good, %d with problems", actor.user_id,
             report.rows, len(report.good), len(report.bad_rows))  # fmt: skip
    text = report_text(report, lang, file_name=name, limit=PROBLEM_LINES)
    markup = None
    if report.good:
        token = new_token()
        rows = [_row_payload(row) for row in report.good]
        ready = {"step": "confirm", "token": token, "file_name": name, "rows": rows}
        await store_draft(context, IMPORT_DRAFT, ready)
        markup = keyboard(
            [[(t("member_import.confirm", lang, count=len(rows)), f"mi:ok:{token}"),
              (t("button.cancel", lang), f"mi:no:{token}")]]
        )  # fmt: skip
        text += "\n\n" + t("member_import.nothing_written", lang)
    else:
        async with context.db.session(write=True) as session:
            await drop_draft(session=session, user_id=actor.user_id, kind=IMPORT_DRAFT)
        text += "\n\n" + t("member_import.nothing_to_import", lang)
    await reply(update, text, markup)
    if report.problems and update.effective_message is not None:
        data = bad_rows_csv(
            report, lambda p: problem_text(p, lang, markup=False),
            t("member_import.problem_heading", lang),
        )  # fmt: skip
        rows_with_problems = len({p.row for p in report.problems})
        await update.effective_message.reply_document(
            document=data, filename=t("member_import.bad_rows_file", lang),
            caption=t("member_import.bad_rows_caption", lang, count=rows_with_problems),
        )  # fmt: skip


def _row_payload(row: GoodRow) -> dict[str, Any]:
    return {"r": row.row, "n": row.name, "m": row.mobile, "s": row.street_id,
            "d": row.joined_on.isoformat(), "u": row.unit_id}  # fmt: skip


def _good_row(data: dict[str, Any]) -> GoodRow:
    return GoodRow(row=data["r"], name=data["n"], mobile=data["m"], street_id=data["s"],
                   joined_on=date.fromisoformat(data["d"]), unit_id=data["u"])  # fmt: skip


def problem_text(problem: Problem, lang: Language, *, markup: bool = True) -> str:
    value = esc(problem.value) if markup else problem.value
    return t(f"member_import.problem.{problem.issue.value}", lang, value=value,
             first=problem.first_row or "")  # fmt: skip


def report_text(report: ImportReport, lang: Language, *, file_name: str, limit: int | None) -> str:
    """The counts and the problems by row and column (the first `limit` of them)."""
    lines = [
        t("member_import.title", lang, file=esc(file_name)),
        t("member_import.counts", lang, rows=report.rows, good=len(report.good),
          warned=len(report.warned_rows), bad=len(report.bad_rows)),
    ]  # fmt: skip
    shown = report.problems if limit is None else report.problems[:limit]
    if shown:
        lines += ["", t("member_import.problems_head", lang)]
    for p in shown:
        column = p.header or t(f"member_import.column.{p.column.value}", lang)
        key = "member_import.line_warning" if p.issue.warning else "member_import.line_error"
        lines.append(t(key, lang, row=p.row, column=esc(column), problem=problem_text(p, lang)))
    if len(report.problems) > len(shown):
        lines.append(t("member_import.problems_more", lang, more=len(report.problems) - len(shown)))
    return "\n".join(lines)


async def import_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    action, token = parts[1], parts[-1]
    if not may_register(actor):
        await query.answer(t("member.officers_only", lang), show_alert=True)
        return
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=actor.user_id, kind=IMPORT_DRAFT)
    if payload is None or payload.get("token") != token:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if action == "no":
        async with context.db.session(write=True) as session:
            await drop_draft(session=session, user_id=actor.user_id, kind=IMPORT_DRAFT)
        await query.answer()
        await _drop_buttons(update)
        await reply(update, t("member_import.cancelled", lang))
        return
    if action == "st":
        streets = dict(await _streets(context))
        street_id = int(parts[2])
        if payload.get("step") != "street" or not actor.is_admin or street_id not in streets:
            await query.answer(t("button.stale", lang), show_alert=True)
            return
        await query.answer()
        await _drop_buttons(update)
        table = await _read(update, context, payload["file_id"], payload["file_name"])
        if table is not None:
            await _offer_import(update, context, table, payload["file_name"], street_id)
        return
    if payload.get("step") != "confirm":
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    await query.answer()  # a large list takes a while: stop the button's spinner now
    await _confirm(update, context, token)


async def _confirm(update: Update, context: BotContext, token: str) -> None:
    actor, lang, chat = context.actor, context.lang, update.effective_chat
    assert chat is not None
    async with context.db.session(write=True) as session:
        # Load and drop in the same transaction that registers: a second press imports nothing.
        payload = await load_draft(session=session, user_id=actor.user_id, kind=IMPORT_DRAFT)
        if payload is None or payload.get("token") != token or payload.get("step") != "confirm":
            return
        await drop_draft(session=session, user_id=actor.user_id, kind=IMPORT_DRAFT)
        rows = [_good_row(row) for row in payload["rows"]]
        if not actor.is_admin and any(row.street_id != actor.street_id for row in rows):
            return  # the draft is the user's own: this never happens unless their role changed
        result = await import_members(
            session=session, plan=context.plan, rows=rows, by_user_id=actor.user_id,
            now=context.now(), chat_id=chat.id, file_name=payload["file_name"],
        )  # fmt: skip
    log.info("member list from %s imported: %d registered, %d skipped, batch %s",
             actor.user_id, result.registered, result.skipped, result.batch_id)  # fmt: skip
    await _drop_buttons(update)
    done = t("member_import.done", lang, registered=result.registered)
    if result.skipped:
        done += "\n" + t("member_import.skipped", lang, skipped=result.skipped)
    await reply(update, done)
    if update.effective_message is None:
        return
    progress = await update.effective_message.reply_text(
        t("member_import.progress", lang, count=result.welcomes)
    )
    async with context.db.session(write=True) as session:
        await show_progress_in(session=session, batch_id=result.batch_id, chat_id=chat.id,
                               message_id=progress.message_id)  # fmt: skip


async def _drop_buttons(update: Update) -> None:
    """The report stays readable; its buttons go, so it cannot be pressed again."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise
