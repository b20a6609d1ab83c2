"""/report: a street officer submits the month's report (and, in the quarter's due month,
the quarter's); a district admin sees who has reported, reads, exports and closes.

The officer's answers live in the user's "report" draft (like /meeting's), so a restart
loses at most the step in flight; nothing is written until Submit. The figures are never in
the draft: they are drafted from the street's logs each time they are shown, and stored
with the submission as they stand when it is sent.

Callback data, parsed strictly; every press re-checks the presser's role and street:
  "rp:k:m" / "rp:k:q"           start (or show) this month's / this quarter's report
  "rp:fix:<period>"             correct the street's submitted report of that period
  "rp:skip:<field>"             skip an optional question
  "rp:go:<field|summary|resume>" answer one question again / back to the card / go on
  "rp:ok" "rp:ed" "rp:x"        submit, choose what to change, cancel
  "ra:v:<period>"               the admin's overview of a period ("2018-03", "2018-Q1")
  "ra:s:<period>:<street>"      one street's report in full
  "ra:e:<period>"               export the period as a .txt document
  "ra:c:<period>" / "ra:cc:<period>"  ask to close the period / close it
"""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import (
    Button,
    edit,
    grid,
    is_private,
    keyboard,
    offered_back_if_idle,
    reply,
    store_draft,
)
from handlers.report_view import (
    card_text,
    chunks,
    export_text,
    figure_lines,
    overview_text,
    period_label,
    report_lines,
    title,
)
from handlers.status_view import day
from models.drafts import drop_draft, load_draft
from models.enums import Language, ReportKind, Role
from models.reports import (
    ReportField,
    ReportFigures,
    ReportRefusal,
    answer_problem,
    close_period,
    draft_figures,
    due_before,
    find_report,
    kind_of_period,
    max_length,
    month_period,
    period_of,
    period_overview,
    quarter_period,
    quarterly_due_this_month,
    report_fields,
    shift_period,
    skippable,
    submit_report,
)

DRAFT = "report"
_PERIOD = r"\d{4}-(?:0[1-9]|1[0-2]|Q[1-4])"
_FIELDS = "|".join(f.value for f in ReportField)
OFFICER_CALLBACK = (
    rf"^rp:(?:k:[mq]|fix:{_PERIOD}|skip:(?:{_FIELDS})|go:(?:{_FIELDS}|summary|resume)|ok|ed|x)$"
)
ADMIN_CALLBACK = rf"^ra:(?:(?:v|e|c|cc):{_PERIOD}|s:{_PERIOD}:\d{{1,6}})$"
KINDS = {"m": ReportKind.MONTHLY, "q": ReportKind.QUARTERLY}


async def report_command(update: Update, context: BotContext) -> None:
    actor, lang = context.actor, context.lang
    if not is_private(update):
        # Reports are a street's own business, not a group's.
        await reply(update, t("flow.private_chat", lang))
        return
    today = context.bot_data.clock.today()
    if actor.is_admin:
        text, markup = await _overview(context, ReportKind.MONTHLY, month_period(today))
        await reply(update, text, markup)
        return
    if not _reports(context):
        await reply(update, t("report.officers_only", lang))
        return
    payload = await _draft(context)
    if payload is not None:
        # A report left half-way is picked up where it stopped, not started over.
        await _ask(update, context, payload, new_message=True, intro=True)
        return
    if quarterly_due_this_month(context.plan, today):
        await _choose_kind(update, context, today)
        return
    await _open(update, context, ReportKind.MONTHLY, new_message=True)


def _reports(context: BotContext) -> bool:
    """Only a street officer with a street submits its reports."""
    actor = context.actor
    return actor.role is Role.STREET_OFFICER and actor.street_id is not None


async def _choose_kind(update: Update, context: BotContext, today: date) -> None:
    lang, street_id = context.lang, context.actor.street_id
    assert street_id is not None
    rows: list[list[Button]] = []
    async with context.db.session() as session:
        for code, kind in KINDS.items():
            period = period_of(kind, today)
            found = await find_report(
                session=session, street_id=street_id, kind=kind, period=period
            )
            key = "report.choice_open" if found is None else "report.choice_done"
            rows.append([(t(key, lang, label=period_label(kind, period, lang)), f"rp:k:{code}")])
    due = day(due_before(context.plan, ReportKind.MONTHLY, month_period(today)), lang)
    await reply(update, t("report.choose", lang, due=due), keyboard(rows))


async def _open(
    update: Update, context: BotContext, kind: ReportKind, *, new_message: bool
) -> None:
    """This period's report of the officer's street: shown if submitted, else started."""
    actor = context.actor
    assert actor.street_id is not None
    period = period_of(kind, context.bot_data.clock.today())
    async with context.db.session() as session:
        view = await find_report(
            session=session, street_id=actor.street_id, kind=kind, period=period
        )
    if view is not None:
        lines = report_lines(view, context.plan, context.lang, with_title=True)
        markup = None if view.closed else _fix_button(period, context.lang)
        if not view.closed:
            lines += ["", t("report.existing_hint", context.lang)]
        await _send(update, chunks(lines), markup, new_message=new_message)
        return
    payload: dict[str, Any] = {
        "kind": kind.value, "period": period, "street_id": actor.street_id, "answers": {},
        "step": report_fields(kind)[0].value, "editing": False,
    }  # fmt: skip
    await _store(context, payload)
    await _ask(update, context, payload, new_message=new_message, intro=True)


def _fix_button(period: str, lang: Language) -> InlineKeyboardMarkup:
    return keyboard([[(t("report.fix", lang), f"rp:fix:{period}")]])


async def _send(
    update: Update, messages: list[str], markup: InlineKeyboardMarkup | None, *, new_message: bool
) -> None:
    """One message edited in place when it fits and a button was pressed; else new ones,
    the buttons under the last."""
    if not new_message and len(messages) == 1 and update.callback_query is not None:
        await edit(update, messages[0], markup)
        return
    for n, text in enumerate(messages, 1):
        await reply(update, text, markup if n == len(messages) else None)


# --- the draft ----------------------------------------------------------------------------


async def _draft(context: BotContext) -> dict[str, Any] | None:
    """The officer's report draft, if it is for their street (a moved officer's is void)."""
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
    if payload is None or payload.get("street_id") != context.actor.street_id:
        return None
    return payload


async def _store(context: BotContext, payload: dict[str, Any]) -> None:
    await store_draft(context, DRAFT, payload)


def _kind(payload: dict[str, Any]) -> ReportKind:
    return ReportKind(payload["kind"])


def _answers(payload: dict[str, Any]) -> dict[ReportField, str | None]:
    stored = payload.get("answers") or {}
    return {f: stored.get(f.value) for f in report_fields(_kind(payload))}


def _next(payload: dict[str, Any], answered: ReportField) -> str | None:
    """The question after `answered`; None (the summary card) at the end or when changing
    a single answer."""
    if payload.get("editing"):
        return None
    fields = report_fields(_kind(payload))
    later = fields[fields.index(answered) + 1 :]
    return later[0].value if later else None


async def _figures(context: BotContext, payload: dict[str, Any]) -> ReportFigures:
    async with context.db.session() as session:
        return await draft_figures(
            session=session, street_id=payload["street_id"], kind=_kind(payload),
            period=payload["period"], zone=context.plan.zone,
        )  # fmt: skip


async def _ask(
    update: Update,
    context: BotContext,
    payload: dict[str, Any],
    *,
    new_message: bool,
    intro: bool = False,
) -> None:
    """The question the draft waits for (after the figures when `intro`), or the card."""
    lang, step = context.lang, payload.get("step")
    street = context.actor.street_name or ""
    kind, period = _kind(payload), payload["period"]
    figures = await _figures(context, payload)
    if step is None:
        text = card_text(street=street, kind=kind, period=period, figures=figures,
                         answers=_answers(payload), plan=context.plan, lang=lang)  # fmt: skip
        await _send(update, [text], _card_buttons(lang), new_message=new_message)
        return
    field = ReportField(step)
    lines = [t(f"report.ask.{field.value}", lang)]
    if intro:
        head = [title(street, kind, period, context.plan, lang), ""]
        lines = [*head, *figure_lines(figures, lang), "", *lines]
    await _send(update, ["\n".join(lines)], _question_buttons(field, lang), new_message=new_message)


def _question_buttons(field: ReportField, lang: Language) -> InlineKeyboardMarkup:
    row: list[Button] = (
        [(t("flow.skip", lang), f"rp:skip:{field.value}")] if skippable(field) else []
    )
    return keyboard([[*row, (t("button.cancel", lang), "rp:x")]])


def _card_buttons(lang: Language) -> InlineKeyboardMarkup:
    return keyboard(
        [[(t("report.submit", lang), "rp:ok"), (t("button.edit", lang), "rp:ed"),
          (t("button.cancel", lang), "rp:x")]]
    )  # fmt: skip


def _edit_buttons(payload: dict[str, Any], lang: Language) -> InlineKeyboardMarkup:
    fields = report_fields(_kind(payload))
    rows = grid([(t(f"report.field.{f.value}", lang), f"rp:go:{f.value}") for f in fields], 2)
    return keyboard([*rows, [(t("button.back", lang), "rp:go:summary")]])


async def report_answer(update: Update, context: BotContext) -> bool:
    """A typed answer to the report question that waits for one; False if none waits."""
    message, lang = update.effective_message, context.lang
    if message is None or not message.text or not is_private(update) or not _reports(context):
        return False
    payload = await _draft(context)
    if payload is None or payload.get("step") is None:
        return False
    resume = keyboard([[(t("flow.resume", lang), "rp:go:resume")]])
    if await offered_back_if_idle(
        update, context, kind=DRAFT, payload=payload, text=t("report.paused", lang), markup=resume
    ):
        return True
    field, text = ReportField(payload["step"]), message.text.strip()
    problem = answer_problem(field, text)
    if problem is not None:
        why = t(f"report.problem.{problem.value}", lang, max=max_length(field), length=len(text))
        await reply(update, f"{why}\n{t(f'report.ask.{field.value}', lang)}")
        return True
    payload["answers"] = {**(payload.get("answers") or {}), field.value: text}
    payload["step"] = _next(payload, field)
    await _store(context, payload)
    await _ask(update, context, payload, new_message=True)
    return True


# --- the officer's buttons ----------------------------------------------------------------


async def officer_pressed(update: Update, context: BotContext) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None and query.data is not None
    if not _reports(context):
        await query.answer(t("report.officers_only", lang), show_alert=True)
        return
    _, action, *rest = query.data.split(":", 2)
    value = rest[0] if rest else ""
    if action == "k":
        await _kind_chosen(update, context, KINDS[value])
    elif action == "fix":
        await _correct(update, context, value)
    else:
        await _draft_pressed(update, context, action, value)


async def _kind_chosen(update: Update, context: BotContext, kind: ReportKind) -> None:
    query, today = update.callback_query, context.bot_data.clock.today()
    assert query is not None
    if kind is ReportKind.QUARTERLY and not quarterly_due_this_month(context.plan, today):
        # A chooser from the quarter's last month, pressed after it ended.
        await query.answer(t("button.stale", context.lang), show_alert=True)
        return
    await query.answer()
    await _open(update, context, kind, new_message=False)


async def _correct(update: Update, context: BotContext, period: str) -> None:
    """The submitted report back into a draft, at its summary card."""
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and actor.street_id is not None
    kind = kind_of_period(period)
    assert kind is not None  # the callback pattern admits periods only
    async with context.db.session() as session:
        view = await find_report(session=session, street_id=actor.street_id, kind=kind,
                                 period=period)  # fmt: skip
    if view is None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if view.closed:
        await query.answer(t("report.refusal.closed", lang), show_alert=True)
        return
    payload: dict[str, Any] = {
        "kind": kind.value, "period": period, "street_id": actor.street_id,
        "answers": {f.value: text for f, text in view.answers.items()}, "step": None,
        "editing": False,
    }  # fmt: skip
    await _store(context, payload)
    await query.answer()
    await _ask(update, context, payload, new_message=True)


async def _draft_pressed(update: Update, context: BotContext, action: str, value: str) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None
    payload = await _draft(context)
    if payload is None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if action == "x":
        async with context.db.session(write=True) as session:
            await drop_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
        await query.answer()
        await edit(update, t("report.cancelled", lang))
        return
    if action == "ok":
        await _submit(update, context, payload)
        return
    if action == "ed":
        await query.answer()
        await edit(update, t("report.which_field", lang), _edit_buttons(payload, lang))
        return
    if not _move(payload, action, value):
        # A button from an earlier question, or a forged one: the draft stays as it is.
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    await _store(context, payload)
    await query.answer()
    await _ask(update, context, payload, new_message=False)


def _move(payload: dict[str, Any], action: str, value: str) -> bool:
    """Apply a skip or a go-to to the draft; False if it does not fit the draft's state."""
    fields = {f.value for f in report_fields(_kind(payload))}
    if action == "skip":
        if payload.get("step") != value or not skippable(ReportField(value)):
            return False
        payload["answers"] = {**(payload.get("answers") or {}), value: None}
        payload["step"] = _next(payload, ReportField(value))
    elif value == "summary":
        payload.update(step=None, editing=False)
    elif value in fields:
        payload.update(step=value, editing=True)
    elif value != "resume":
        return False
    return True


async def _submit(update: Update, context: BotContext, payload: dict[str, Any]) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None
    if payload.get("step") is not None:
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    kind, period = _kind(payload), payload["period"]
    async with context.db.session(write=True) as session:
        # The figures as they stand now, in the same transaction as the submission.
        figures = await draft_figures(
            session=session, street_id=payload["street_id"], kind=kind, period=period,
            zone=context.plan.zone,
        )  # fmt: skip
        before = await find_report(session=session, street_id=payload["street_id"], kind=kind,
                                   period=period)  # fmt: skip
        result = await submit_report(
            session=session, street_id=payload["street_id"], kind=kind, period=period,
            figures=figures, answers=_answers(payload), by_user_id=actor.user_id,
            now=context.now(),
        )  # fmt: skip
        if result is not ReportRefusal.INCOMPLETE:
            await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
    if isinstance(result, ReportRefusal):
        await query.answer(t(f"report.refusal.{result.value}", lang), show_alert=True)
        if result is ReportRefusal.CLOSED:
            await edit(update, t("report.refusal.closed", lang))
        return
    await query.answer()
    key = "report.submitted" if before is None else "report.corrected"
    await edit(update, t(key, lang, street=context.actor.street_name or "",
                         label=period_label(kind, period, lang)))  # fmt: skip


# --- the district admin -------------------------------------------------------------------


async def _overview(
    context: BotContext, kind: ReportKind, period: str, notice: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    async with context.db.session() as session:
        lines = await period_overview(session=session, kind=kind, period=period)
    text = overview_text(lines, kind, period, context.plan, context.lang)
    if notice:
        text = f"{notice}\n\n{text}"
    reports = [line for line in lines if line.report is not None]
    rows = [_nav_row(context, kind, period), [_switch_button(context, kind, period)]]
    rows += grid([(line.street_name, f"ra:s:{period}:{line.street_id}") for line in reports], 3)
    actions: list[Button] = [(t("report.export", context.lang), f"ra:e:{period}")]
    if any(line.report is not None and not line.report.closed for line in reports):
        actions.append((t("report.close", context.lang), f"ra:c:{period}"))
    rows.append(actions)
    return text, keyboard([row for row in rows if row])


def _nav_row(context: BotContext, kind: ReportKind, period: str) -> list[Button]:
    """Back to the plan year's first period, forward up to the current one."""
    lang = context.lang
    first, current = _span(context, kind)
    earlier, later = shift_period(kind, period, -1), shift_period(kind, period, 1)
    row: list[Button] = []
    if earlier >= first:
        row.append((t("report.prev", lang, period=earlier), f"ra:v:{earlier}"))
    if later <= current:
        row.append((t("report.next", lang, period=later), f"ra:v:{later}"))
    return row


def _span(context: BotContext, kind: ReportKind) -> tuple[str, str]:
    """The periods the overview's buttons reach: the plan year's first to the current one."""
    first = period_of(kind, date(context.plan.plan.year, 1, 1))
    return first, period_of(kind, context.bot_data.clock.today())


def _reachable(context: BotContext, kind: ReportKind, period: str) -> bool:
    first, current = _span(context, kind)
    return first <= period <= current


def _switch_button(context: BotContext, kind: ReportKind, period: str) -> Button:
    """To the other kind of report: a month's quarter, or a quarter's due month (or the
    current month, while the quarter is still running)."""
    lang = context.lang
    if kind is ReportKind.MONTHLY:
        quarter = quarter_period(date.fromisoformat(f"{period}-01"))
        return t("report.switch_quarterly", lang, period=quarter), f"ra:v:{quarter}"
    due = month_period(due_before(context.plan, kind, period))
    month = min(due, month_period(context.bot_data.clock.today()))
    return t("report.switch_monthly", lang, period=month), f"ra:v:{month}"


async def admin_pressed(update: Update, context: BotContext) -> None:
    query, lang = update.callback_query, context.lang
    assert query is not None and query.data is not None
    if not context.actor.is_admin:
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    _, action, period, *street = query.data.split(":")
    kind = kind_of_period(period)
    assert kind is not None  # the callback pattern admits periods only
    if not _reachable(context, kind, period):  # forged: no button leads there
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if action == "v":
        await query.answer()
        await edit(update, *await _overview(context, kind, period))
    elif action == "s":
        await _street_report(update, context, kind, period, int(street[0]))
    elif action == "e":
        await _export(update, context, kind, period)
    else:
        await _close(update, context, kind, period, confirmed=action == "cc")


async def _street_report(
    update: Update, context: BotContext, kind: ReportKind, period: str, street_id: int
) -> None:
    """A street's report in full, below the overview (which stays for the next street)."""
    query = update.callback_query
    assert query is not None
    async with context.db.session() as session:
        view = await find_report(session=session, street_id=street_id, kind=kind, period=period)
    if view is None:
        await query.answer(t("button.stale", context.lang), show_alert=True)
        return
    await query.answer()
    lines = report_lines(view, context.plan, context.lang, with_title=True)
    await _send(update, chunks(lines), None, new_message=True)


async def _export(update: Update, context: BotContext, kind: ReportKind, period: str) -> None:
    query, chat, lang = update.callback_query, update.effective_chat, context.lang
    assert query is not None and chat is not None
    async with context.db.session() as session:
        lines = await period_overview(session=session, kind=kind, period=period)
    today = context.bot_data.clock.today()
    text = export_text(lines, kind, period, context.plan, lang, today)
    await query.answer()
    submitted = sum(line.report is not None for line in lines)
    await context.bot.send_document(
        chat.id,
        InputFile(text.encode("utf-8"), filename=f"reports-{period}.txt"),
        caption=t("report.export_caption", lang, label=period_label(kind, period, lang),
                  submitted=submitted, streets=len(lines)),
    )  # fmt: skip


async def _close(
    update: Update, context: BotContext, kind: ReportKind, period: str, *, confirmed: bool
) -> None:
    """Closing takes a second, deliberate press; it ends corrections, not late reports."""
    query, lang = update.callback_query, context.lang
    assert query is not None
    if confirmed:
        async with context.db.session(write=True) as session:
            closed = await close_period(
                session=session, kind=kind, period=period, by_user_id=context.actor.user_id,
                now=context.now(),
            )  # fmt: skip
        if closed:
            await query.answer()
            notice = t("report.closed_now", lang, count=closed)
            await edit(update, *await _overview(context, kind, period, notice))
            return
    async with context.db.session() as session:
        lines = await period_overview(session=session, kind=kind, period=period)
    still_open = sum(line.report is not None and not line.report.closed for line in lines)
    if not still_open:
        # Closed already (a second press, or by another admin): nothing left to do.
        await query.answer(t("report.nothing_to_close", lang), show_alert=True)
        return
    await query.answer()
    buttons = [[(t("report.confirm_close", lang), f"ra:cc:{period}"),
                (t("button.back", lang), f"ra:v:{period}")]]  # fmt: skip
    label = period_label(kind, period, lang)
    await edit(update, t("report.ask_close", lang, label=label, count=still_open),
               keyboard(buttons))  # fmt: skip
