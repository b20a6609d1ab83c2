"""/export: a spreadsheet of the ledger, meetings, reports, the ranking, members or units,
chosen step by step in one message (kind, then street for admins, then period where the kind
has one, then format), then sent as a document.

Callback data, parsed strictly, each step's data the previous one's plus one field:
  "ex:menu"                                the kinds
  "ex:<kind>"                              an admin picks the street (an officer's is set)
  "ex:<kind>:<street>"                     the period, where the kind has one
  "ex:<kind>:<street>:<period>"            the format
  "ex:<kind>:<street>:<period>:<x|c>"      make the file (.xlsx or .csv)
where <street> is "all" or a street id, and <period> a month (2018-03), a quarter (2018-Q1), a
year (2018), "all", or "-" for a kind without periods. Every press re-checks that the presser
may export that kind for that street; anything else is refused with an alert and changes
nothing.

The file is written in a worker thread (openpyxl is synchronous and a large export takes
seconds); the thread hops back to the event loop to show progress in the same message, at
most every two seconds (handlers/live_progress.py).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from telegram import InputFile, Message, Update

from bot.context import BotContext
from bot.exporting import ExportFormat, file_stem, files_for, period_text, scope_text, write_file
from bot.texts import t
from handlers.common import Button, edit, esc, grid, is_private, keyboard, reply
from handlers.live_progress import LiveProgress
from models.enums import Language
from models.exports import (
    ExportKind,
    Period,
    PeriodUse,
    build_sheets,
    kinds_for,
    may_export,
    month_of,
    parse_period,
    period_use,
    quarter_of,
    row_count,
    year_of,
)
from models.geography import street_ids

_KIND = "|".join(kind.value for kind in ExportKind)
_STREET = r"all|\d{1,6}"
_PERIOD = r"-|all|\d{4}(?:-(?:0[1-9]|1[0-2]|Q[1-4]))?"
EXPORT_CALLBACK = rf"^ex:(?:menu|(?:{_KIND})(?::(?:{_STREET})(?::(?:{_PERIOD})(?::[xc])?)?)?)$"
FORMATS = {"x": ExportFormat.XLSX, "c": ExportFormat.CSV}


@dataclass(frozen=True)
class Choice:
    """The steps taken so far, as the pressed button carries them."""

    kind: ExportKind
    street: str | None = None  # "all" or a street id
    period: str | None = None  # "-", "all" or a period's name
    fmt: str | None = None  # "x" or "c"

    def data(self, **changes: str | None) -> str:
        fields = {"street": self.street, "period": self.period, "fmt": self.fmt, **changes}
        taken = [value for value in fields.values() if value is not None]
        return ":".join(["ex", self.kind.value, *taken])

    @classmethod
    def parse(cls, data: str) -> Choice:
        kind, *rest = data.split(":")[1:]
        street, period, fmt = [*rest, None, None, None][:3]
        return cls(ExportKind(kind), street, period, fmt)


@dataclass(frozen=True)
class Target:
    """A choice checked against the database and the presser's rights."""

    street_id: int | None
    street_name: str | None
    period: Period | None


async def export_command(update: Update, context: BotContext) -> None:
    lang, actor = context.lang, context.actor
    if not is_private(update):
        await reply(update, t("flow.private_chat", lang))
        return
    kinds = kinds_for(role=actor.role, own_street_id=actor.street_id)
    if not kinds:
        await reply(update, t("export.not_allowed", lang))
        return
    text, markup = _kinds_menu(kinds, lang)
    await reply(update, text, markup)


def _kinds_menu(kinds: list[ExportKind], lang: Language) -> tuple[str, Any]:
    buttons = [(t(f"export.kind.{kind.value}", lang), f"ex:{kind.value}") for kind in kinds]
    return t("export.choose_kind", lang), keyboard(grid(buttons, 2))


async def export_pressed(update: Update, context: BotContext) -> None:
    query, lang, actor = update.callback_query, context.lang, context.actor
    assert query is not None and query.data is not None
    if query.data == "ex:menu":
        kinds = kinds_for(role=actor.role, own_street_id=actor.street_id)
        if not kinds:
            await query.answer(t("export.refused", lang), show_alert=True)
            return
        await query.answer()
        await edit(update, *_kinds_menu(kinds, lang))
        return
    choice = Choice.parse(query.data)
    if choice.street is None and actor.is_admin:
        await query.answer()
        await _streets_menu(update, context, choice)
        return
    if choice.street is None and actor.street_id is not None:
        # An officer's street is their own: the step is taken for them.
        choice = Choice(choice.kind, str(actor.street_id))
    target = await _checked(context, choice)
    if target is None:
        await query.answer(t("export.refused", lang), show_alert=True)
        return
    if choice.period is None and period_use(choice.kind) is not PeriodUse.NONE:
        await query.answer()
        await _periods_menu(update, context, choice, target)
    elif choice.fmt is None:
        await query.answer()
        await _formats_menu(update, context, Choice(choice.kind, choice.street,
                                                    choice.period or "-"), target)  # fmt: skip
    else:
        await query.answer()
        context.in_background(_make(update, context, choice, target), update)


async def _checked(context: BotContext, choice: Choice) -> Target | None:
    """The street and period the choice names, if they exist, fit the kind, and the presser
    may export them; None for a forged or outdated button."""
    actor = context.actor
    street_id = None if choice.street in (None, "all") else int(str(choice.street))
    if not may_export(role=actor.role, own_street_id=actor.street_id, kind=choice.kind,
                      street_id=street_id):  # fmt: skip
        return None
    street_name = None
    if street_id is not None:
        async with context.db.session() as session:
            names = {id_: name for name, id_ in (await street_ids(session=session)).items()}
        if street_id not in names:
            return None
        street_name = names[street_id]
    period: Period | None = None
    use = period_use(choice.kind)
    if choice.period not in (None, "-", "all"):
        period = parse_period(str(choice.period))
        if period is None or (use is PeriodUse.REPORT and period.report is None):
            return None
    if use is PeriodUse.NONE and choice.period not in (None, "-"):
        return None
    if use is not PeriodUse.NONE and choice.period == "-":
        return None
    if use is PeriodUse.REPORT and choice.period == "all":
        return None
    return Target(street_id, street_name, period)


def _labels(choice: Choice, target: Target, lang: Language) -> dict[str, str]:
    period = ""
    if choice.period not in (None, "-"):
        period = t("export.period_part", lang, period=period_text(target.period, lang))
    return {
        "kind": t(f"export.kind.{choice.kind.value}", lang),
        "scope": esc(scope_text(target.street_name, lang)),
        "period": period,
    }


async def _streets_menu(update: Update, context: BotContext, choice: Choice) -> None:
    lang = context.lang
    async with context.db.session() as session:
        streets = await street_ids(session=session)
    buttons: list[Button] = [(t("export.all_streets", lang), choice.data(street="all"))]
    buttons += [(esc(name), choice.data(street=str(id_))) for name, id_ in streets.items()]
    rows = grid(buttons, 3)
    rows.append([(t("button.back", lang), "ex:menu")])
    kind = t(f"export.kind.{choice.kind.value}", lang)
    await edit(update, t("export.choose_street", lang, kind=kind), keyboard(rows))


def _back_from_period(context: BotContext, choice: Choice) -> str:
    """Back from the period (or, without one, the format): to the streets, or for an
    officer, who skipped them, to the kinds."""
    return choice.data(street=None, period=None, fmt=None) if context.actor.is_admin else "ex:menu"


def period_choices(kind: ExportKind, today: date) -> list[tuple[str, str]]:
    """The periods offered for a kind, relative to the business date: (text key, period)."""
    if period_use(kind) is PeriodUse.REPORT:
        named = [
            ("this_month", month_of(today)),
            ("last_month", month_of(today, 1)),
            ("this_quarter", quarter_of(today)),
            ("last_quarter", quarter_of(today, 1)),
        ]
    else:
        named = [
            ("this_month", month_of(today)),
            ("last_month", month_of(today, 1)),
            ("this_quarter", quarter_of(today)),
            ("this_year", year_of(today)),
        ]
    choices = [(key, period.label) for key, period in named]
    if period_use(kind) is PeriodUse.DATES:
        choices.append(("all", "all"))
    return choices  # fmt: skip


async def _periods_menu(
    update: Update, context: BotContext, choice: Choice, target: Target
) -> None:
    lang = context.lang
    buttons: list[Button] = []
    for key, label in period_choices(choice.kind, context.bot_data.clock.today()):
        shown = period_text(parse_period(label), lang) if label != "all" else ""
        buttons.append((t(f"export.period.{key}", lang, period=shown) if shown
                        else t("export.period.all", lang), choice.data(period=label)))  # fmt: skip
    rows = grid(buttons, 2)
    rows.append([(t("button.back", lang), _back_from_period(context, choice))])
    labels = _labels(choice, target, lang)
    await edit(update, t("export.choose_period", lang, kind=labels["kind"], scope=labels["scope"]),
               keyboard(rows))  # fmt: skip


async def _formats_menu(
    update: Update, context: BotContext, choice: Choice, target: Target
) -> None:
    lang = context.lang
    formats = [(t(f"export.format.{fmt.value}", lang), choice.data(fmt=code))
               for code, fmt in FORMATS.items()]  # fmt: skip
    back = (
        _back_from_period(context, choice) if period_use(choice.kind) is PeriodUse.NONE
        else choice.data(period=None)
    )  # fmt: skip
    rows = [formats, [(t("button.back", lang), back)]]
    await edit(update, t("export.choose_format", lang, **_labels(choice, target, lang)),
               keyboard(rows))  # fmt: skip


async def _make(update: Update, context: BotContext, choice: Choice, target: Target) -> None:
    query, lang, plan = update.callback_query, context.lang, context.plan
    assert query is not None and isinstance(query.message, Message) and choice.fmt is not None
    message = query.message
    labels = _labels(choice, target, lang)
    await edit(update, t("export.working", lang, **labels))  # the buttons go: one file a press
    today = context.bot_data.clock.today()
    async with context.db.session() as session:
        sheets = await build_sheets(
            choice.kind, session=session, plan=plan, today=today, street_id=target.street_id,
            period=target.period,
        )  # fmt: skip
    if row_count(sheets) == 0:
        await edit(update, t("export.empty", lang, **labels))
        return
    fmt = FORMATS[choice.fmt]
    stem = file_stem(choice.kind, street_name=target.street_name, period=target.period,
                     today=today, lang=lang)  # fmt: skip
    rows = 0  # of the files already sent, when an export makes several

    def progress_text(done: int, total: int | None) -> str:
        if total is None:
            return t("export.progress_open", lang, done=f"{rows + done:,}", **labels)
        return t("export.progress", lang, done=f"{rows + done:,}", total=f"{total:,}", **labels)

    progress = LiveProgress(message, progress_text)
    for file in files_for(sheets, fmt, stem, lang):
        buffer = io.BytesIO()
        written = await asyncio.to_thread(
            write_file, file, fmt, lang=lang, zone=plan.zone, out=buffer, progress=progress
        )
        await progress.settle()
        await context.bot.send_document(
            message.chat.id, InputFile(buffer.getvalue(), filename=file.name),
            caption=t("export.caption", lang, rows=f"{written:,}", **labels),
        )  # fmt: skip
        rows += written
    await edit(update, t("export.done", lang, rows=f"{rows:,}", **labels))
