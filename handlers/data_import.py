"""The district's data lists sent to the bot as spreadsheets: the tax list of units, social-
security headcounts, the member system's records (models/unit_import.py).

A district admin sends the file in a private chat. One message follows it through: reading
(with the rows read so far), then the report: what the sheet was read as, which column feeds
which field, the counts and what importing would change, the problems by row and column, and
an annotated copy of the sheet when there are any. Nothing is written until the admin presses
import; the file is then read and checked again against the database as it is at that moment,
so what is written is what the checks allow now.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import esc, is_private, keyboard, reply
from handlers.live_progress import LiveProgress
from handlers.media import MAX_FILE_BYTES, download
from handlers.members import is_spreadsheet, refusal_text
from models.drafts import drop_draft, load_draft, save_draft
from models.enums import Language
from models.member_import import new_token, read_table
from models.sheets import FileProblem, FileRefused, annotated_copy, first_rows, formula_cells
from models.unit_import import (
    MAX_ROWS,
    Changes,
    Field,
    ImportKind,
    ImportResult,
    Problem,
    Review,
    apply_import,
    check,
    find_header,
    ignored,
    kinds_of,
    load_facts,
    mapping,
    plan_changes,
    read_sheet,
)

DRAFT = "data_import"
CALLBACK = r"^di:(ok|no|k:(units|social|member_system)):[0-9a-f]{8}$"
PROBLEM_LINES = 20  # in the chat; the annotated copy has them all
PRIVATE_FIELDS = (Field.PERSON_ID, Field.MOBILE)  # masked in the copy sent back

log = logging.getLogger("unionbot.data_import")


async def data_file(update: Update, context: BotContext) -> bool:
    """A spreadsheet of one of the three kinds. False when it is none of them (a list of new
    members, say), so the next taker may read it."""
    message, lang = update.effective_message, context.lang
    document = message.document if message is not None else None
    if message is None or document is None or not is_private(update):
        return False
    if not is_spreadsheet(document) or context.actor.role is None:
        return False
    if (document.file_size or 0) > MAX_FILE_BYTES:
        return False  # the member-list taker says so
    name = (document.file_name or "")[:128]
    data = await download(context, document.file_id)
    if data is None or not await _is_data_list(data, name, admin=context.actor.is_admin):
        return False  # the member-list taker reads it, or says why it cannot
    if not context.actor.is_admin:
        await reply(update, t("data_import.admins_only", lang))
        return True
    status = await message.reply_text(t("data_import.reading", lang, file=esc(name)))
    context.in_background(_read_and_offer(update, context, status, data, document.file_id, name),
                          update)  # fmt: skip
    return True


async def _read_and_offer(
    update: Update, context: BotContext, status: Message, data: bytes, file_id: str, name: str
) -> None:
    outcome = await _review(context, status, data, name, kind=None)
    if outcome is not None:
        await _offer(update, context, status, *outcome, file_id, name)


async def _is_data_list(data: bytes, name: str, *, admin: bool) -> bool:
    """Whether the sheet's header is one of the three kinds'; for an admin, also a sheet that
    is no kind of list at all, so the refusal names every kind's columns."""
    try:
        await asyncio.to_thread(find_header, first_rows(data, name))
    except FileRefused as refused:
        if refused.problem is FileProblem.EMPTY:
            return admin  # said here in terms of every kind of list
        if refused.problem is not FileProblem.NO_COLUMNS or not admin:
            return False
        return not await _member_list(data, name)
    return True


async def _review(
    context: BotContext, status: Message, data: bytes, name: str, *, kind: ImportKind | None
) -> tuple[Review, Changes] | None:
    """Read and check the file, showing progress in `status`; None after telling the user
    why it cannot be read."""
    lang = context.lang
    progress = LiveProgress(status, lambda done, total: _reading(lang, name, done, total))
    try:
        table = await asyncio.to_thread(read_sheet, data, name, progress)
    except FileRefused as refused:
        await progress.settle()
        await status.edit_text(refusal(refused, lang))
        return None
    await progress.settle()
    kinds = kinds_of(table)
    chosen = kind if kind in kinds else kinds[0]
    await status.edit_text(
        t("data_import.checking", lang, file=esc(name), rows=f"{len(table.rows):,}")
    )
    async with context.db.session() as session:
        facts = await load_facts(session=session)
    today = context.bot_data.clock.today()

    def work() -> tuple[Review, Changes]:
        review = check(
            table, chosen, facts, today=today, formulas=lambda cells: formula_cells(data, cells)
        )
        return review, plan_changes(review, facts, today=today)

    return await asyncio.to_thread(work)


async def _member_list(data: bytes, name: str) -> bool:
    """Whether the sheet's header is a list of new members' (name and mobile)."""
    try:
        await asyncio.to_thread(read_table, data, name)
    except FileRefused as refused:
        return refused.problem is not FileProblem.NO_COLUMNS
    return True


def _reading(lang: Language, name: str, done: int, total: int | None) -> str:
    of = t("data_import.of_total", lang, total=f"{total:,}") if total else ""
    return t("data_import.reading_progress", lang, file=esc(name), done=f"{done:,}", of=of)


def refusal(refused: FileRefused, lang: Language) -> str:
    if refused.problem is FileProblem.NO_COLUMNS:
        missing = "、" if lang is Language.ZH else ", "
        names = missing.join(t(f"data_import.field.{f}", lang) for f in refused.missing) or "—"
        return t("data_import.no_columns", lang, missing=names)
    if refused.problem is FileProblem.TOO_MANY_ROWS:
        return t("data_import.too_many_rows", lang, max=f"{MAX_ROWS:,}")
    if refused.problem is FileProblem.EMPTY:
        return t("data_import.empty", lang)
    return refusal_text(refused, lang)


async def _offer(
    update: Update,
    context: BotContext,
    status: Message,
    review: Review,
    changes: Changes,
    file_id: str,
    name: str,
) -> None:
    lang, actor = context.lang, context.actor
    text = report_text(review, changes, lang, file_name=name, limit=PROBLEM_LINES)
    markup: InlineKeyboardMarkup | None = None
    if review.good_rows:
        token = new_token()
        async with context.db.session(write=True) as session:
            await save_draft(
                session=session,
                user_id=actor.user_id,
                kind=DRAFT,
                now=context.now(),
                payload={
                    "token": token,
                    "file_id": file_id,
                    "file_name": name,
                    "kind": review.kind.value,
                },
            )
        rows = [
            [
                (t("data_import.confirm", lang, count=f"{review.good_rows:,}"), f"di:ok:{token}"),
                (t("button.cancel", lang), f"di:no:{token}"),
            ]
        ]
        rows += [
            [
                (
                    t("data_import.as_kind", lang, kind=t(f"data_import.kind.{k}", lang)),
                    f"di:k:{k}:{token}",
                )
            ]
            for k in kinds_of(review.table)
            if k is not review.kind
        ]
        markup = keyboard(rows)
        text += "\n\n" + t("data_import.nothing_written", lang)
    else:
        text += "\n\n" + t("data_import.nothing_to_import", lang)
    await status.edit_text(text, reply_markup=markup)
    if review.problems and update.effective_message is not None:
        await _send_copy(update.effective_message, review, lang, name)


async def _send_copy(message: Message, review: Review, lang: Language, name: str) -> None:
    table = review.table
    notes: dict[int, list[tuple[int | None, str]]] = {}
    for p in review.problems:
        notes.setdefault(p.row, []).append(
            (table.columns.get(p.field), problem_text(p, lang, markup=False))
        )
    private = [table.columns[f] for f in PRIVATE_FIELDS if f in table.columns]
    data, whole = await asyncio.to_thread(
        annotated_copy,
        table,
        notes,
        problem_heading=t("data_import.problem_heading", lang),
        row_heading=t("data_import.row_heading", lang),
        private=private,
    )
    stem = name.rsplit(".", 1)[0] or "sheet"
    key = "data_import.annotated_caption" if whole else "data_import.annotated_partial_caption"
    await message.reply_document(
        document=data,
        filename=t("data_import.annotated_file", lang, file=stem),
        caption=t(key, lang, count=f"{len(notes):,}"),
    )


def problem_text(problem: Problem, lang: Language, *, markup: bool = True) -> str:
    value = esc(problem.value) if markup else problem.value
    return t(
        f"data_import.problem.{problem.issue.value}",
        lang,
        value=value,
        first=problem.first_row or "",
    )


def report_text(
    review: Review, changes: Changes, lang: Language, *, file_name: str, limit: int | None
) -> str:
    """What the sheet was read as, its columns, the counts, what importing would change, and
    the problems by row and column (the first `limit` of them)."""
    kind = review.kind
    lines = [
        t("data_import.title", lang, file=esc(file_name), kind=t(f"data_import.kind.{kind}", lang)),
        "",
        t("data_import.mapping_head", lang),
    ]
    for f, letter, heading in mapping(review.table, kind):
        lines.append(
            t(
                "data_import.mapping_line",
                lang,
                field=t(f"data_import.field.{f}", lang),
                column=letter,
                heading=esc(heading),
            )
        )
    if unused := ignored(review.table, kind):
        lines.append(t("data_import.ignored", lang, headings=esc("、".join(unused))))
    lines += [
        "",
        t(
            "data_import.counts",
            lang,
            rows=f"{review.rows:,}",
            good=f"{review.good_rows:,}",
            bad=f"{len(review.bad_rows):,}",
        ),
    ]
    if review.good_rows and changes.nothing and not changes.changed:
        lines.append(t("data_import.nothing_changes", lang))
    elif kind is ImportKind.UNITS:
        lines.append(
            t(
                "data_import.units_plan",
                lang,
                new=f"{len(changes.new_units):,}",
                changed=f"{len(changes.changed):,}",
                unchanged=f"{changes.unchanged:,}",
            )
        )
        if changes.flagged:
            lines.append(t("data_import.units_flagged", lang, flagged=f"{len(changes.flagged):,}"))
    else:
        lines.append(
            t(
                "data_import.counts_plan",
                lang,
                codes=f"{len(review.counts):,}",
                changed=f"{len(changes.changed):,}",
                unchanged=f"{changes.unchanged:,}",
                sources=f"{len(changes.sources):,}",
            )
        )
        if changes.completed:
            lines.append(t("data_import.completes", lang, count=len(changes.completed)))
    if kind is ImportKind.UNITS and changes.still_missing:
        lines.append(t("data_import.units_still_missing", lang, count=f"{changes.still_missing:,}"))
    shown = review.problems if limit is None else review.problems[:limit]
    if shown:
        lines += ["", t("data_import.problems_head", lang)]
    for p in shown:
        column = t(
            "data_import.column",
            lang,
            letter=p.column,
            heading=esc(p.header or t(f"data_import.field.{p.field}", lang)),
        )
        key = "data_import.line_warning" if p.issue.warning else "data_import.line_error"
        lines.append(t(key, lang, row=p.row, column=column, problem=problem_text(p, lang)))
    if len(review.problems) > len(shown):
        lines.append(t("data_import.problems_more", lang, more=len(review.problems) - len(shown)))
    return "\n".join(lines)


def result_text(result: ImportResult, kind: ImportKind, lang: Language, *, file_name: str) -> str:
    if kind is ImportKind.UNITS:
        return t(
            "data_import.done_units",
            lang,
            file=esc(file_name),
            inserted=f"{result.inserted:,}",
            updated=f"{result.updated:,}",
            unchanged=f"{result.unchanged:,}",
            flagged=f"{result.flagged:,}",
        )
    return t(
        "data_import.done_counts",
        lang,
        file=esc(file_name),
        updated=f"{result.updated:,}",
        unchanged=f"{result.unchanged:,}",
        sources=f"{result.sources:,}",
        completed=f"{result.completed:,}",
    )


async def import_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    parts = query.data.split(":")
    action, token = parts[1], parts[-1]
    if not actor.is_admin:
        await query.answer(t("data_import.admins_only", lang), show_alert=True)
        return
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=actor.user_id, kind=DRAFT)
    if payload is None or payload.get("token") != token or not isinstance(query.message, Message):
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    if payload.get("working"):  # pressed twice: the first press is still at work
        await query.answer(t("button.stale", lang), show_alert=True)
        return
    await query.answer()
    if action != "no":
        async with context.db.session(write=True) as session:
            await save_draft(session=session, user_id=actor.user_id, kind=DRAFT,
                             payload={**payload, "working": True}, now=context.now())  # fmt: skip
    context.in_background(_pressed(update, context, query.message, payload, action, parts), update)


async def _pressed(
    update: Update,
    context: BotContext,
    status: Message,
    payload: dict[str, Any],
    action: str,
    parts: list[str],
) -> None:
    lang, name, token = context.lang, payload["file_name"], parts[-1]
    if action == "no":
        await _forget(context, token)
        await status.edit_text(t("data_import.cancelled", lang))
        return
    kind = ImportKind(parts[2]) if action == "k" else ImportKind(payload["kind"])
    await status.edit_text(t("data_import.reading", lang, file=esc(name)))
    data = await download(context, payload["file_id"])
    if data is None:
        await status.edit_text(t("member_import.download_failed", lang))
        return
    outcome = await _review(context, status, data, name, kind=kind)
    if outcome is None:
        return
    review, changes = outcome
    if action == "k":
        await _offer(update, context, status, review, changes, payload["file_id"], name)
        return
    await _import(context, status, review, changes, token, name)


async def _import(
    context: BotContext, status: Message, review: Review, planned: Changes, token: str, name: str
) -> None:
    actor, lang = context.actor, context.lang
    progress = LiveProgress(
        status,
        lambda done, total: t(
            "data_import.writing", lang, file=esc(name), done=f"{done:,}", total=f"{total or 0:,}"
        ),
    )
    async with context.db.session(write=True) as session:
        # Load and drop in the transaction that imports: a second press imports nothing.
        payload = await load_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        if payload is None or payload.get("token") != token:
            return
        await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        result = await apply_import(
            session=session,
            review=review,
            by_user_id=actor.user_id,
            now=context.now(),
            today=context.bot_data.clock.today(),
            file_name=name,
            progress=progress,
        )
    await progress.settle()
    log.info("data import %s by %s: %s", review.kind, actor.user_id, result)
    text = result_text(result, review.kind, lang, file_name=name)
    if (result.inserted, result.updated, result.flagged) != (
        len(planned.new_units),
        len(planned.changed),
        len(planned.flagged),
    ):
        text += "\n" + t("data_import.changed_since", lang)
    await status.edit_text(text)


async def _forget(context: BotContext, token: str) -> None:
    async with context.db.session(write=True) as session:
        payload = await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
        if payload is not None and payload.get("token") == token:
            await drop_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
