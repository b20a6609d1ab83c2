"""Reports as messages: pure functions from figures, answers and submissions to HTML text
(and to the plain text of the export), no Telegram objects.

Answers are the street's own words and may be long (up to 4,000 characters), while a
Telegram message holds 4,096: the summary card shows each answer cut short, and the full
text goes out in as many messages as it needs (`chunks`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.texts import t
from handlers.common import esc
from handlers.status_view import day, full_date
from models.enums import Language, ReportKind
from models.plan import Plan
from models.reports import (
    MONTHLY_PERIOD,
    QUARTERLY_PERIOD,
    PeriodLine,
    ReportField,
    ReportFigures,
    ReportView,
    due_before,
    report_fields,
)

CARD_ANSWER = 300  # characters of each answer on the summary card
WRAP = 500  # a longer line is wrapped, so that any one line fits a message when escaped
MESSAGE = 3500  # HTML characters per message: under Telegram's 4,096 with room to spare
TAG = re.compile(r"<[^>]+>")


def period_label(kind: ReportKind, period: str, lang: Language) -> str:
    if kind is ReportKind.QUARTERLY:
        found = QUARTERLY_PERIOD.match(period)
        assert found is not None
        return t("report.label.quarterly", lang, year=found[1], quarter=found[2])
    found = MONTHLY_PERIOD.match(period)
    assert found is not None
    return t("report.label.monthly", lang, year=found[1], month=int(found[2]))


def stamp(at: datetime, zone: ZoneInfo, lang: Language) -> str:
    """A moment as the plan's zone shows it: day and time."""
    local = at.astimezone(zone)
    return f"{day(local.date(), lang)} {local:%H:%M}"


def title(street: str, kind: ReportKind, period: str, plan: Plan, lang: Language) -> str:
    due = day(due_before(plan, kind, period), lang)
    return t("report.title", lang, street=esc(street), label=period_label(kind, period, lang),
             due=due)  # fmt: skip


def figure_lines(figures: ReportFigures, lang: Language) -> list[str]:
    lines = [t("report.figures", lang)]
    held = [m for m in figures.meetings if m.count]
    lines += [
        t("report.meeting", lang, kind=t(f"meeting_kind.{m.kind.value}", lang), count=m.count,
          attendees=m.attendees, new_members=m.new_members)
        for m in held
    ] or [t("report.no_meetings", lang)]  # fmt: skip
    lines.append(t("report.visits", lang, visits=figures.unit_visits, units=figures.units_visited))
    moves = [
        t("report.ledger_item", lang, stage=t(f"stage.{stage.value}", lang), count=n)
        for stage, n in figures.ledger_moves
        if n
    ]
    lines.append(
        t("report.ledger", lang, items=" · ".join(moves)) if moves
        else t("report.ledger_none", lang)
    )  # fmt: skip
    lines.append(
        t("report.closed", lang, written_off=figures.written_off, obstructed=figures.obstructed,
          departed=figures.departed)
    )  # fmt: skip
    lines.append(t("report.members", lang, count=figures.members_registered))
    return lines


def _wrapped(text: str) -> list[str]:
    """The answer's own lines, each cut into pieces of at most WRAP characters, escaped."""
    pieces: list[str] = []
    for line in text.splitlines() or [""]:
        pieces += [esc(line[i : i + WRAP]) for i in range(0, max(len(line), 1), WRAP)]
    return pieces


def answer_lines(
    kind: ReportKind, answers: Mapping[ReportField, str | None], lang: Language, *, short: bool
) -> list[str]:
    """Each question's answer under its label; `short` cuts each to CARD_ANSWER characters."""
    lines: list[str] = []
    for field in report_fields(kind):
        label = t(f"report.field.{field.value}", lang)
        text = (answers.get(field) or "").strip()
        if not text:
            lines.append(t("report.answer_none", lang, label=label))
            continue
        if short and len(text) > CARD_ANSWER:
            text = text[:CARD_ANSWER] + "…"
        lines += [t("report.answer", lang, label=label), *_wrapped(text)]
    return lines


def card_text(
    *,
    street: str,
    kind: ReportKind,
    period: str,
    figures: ReportFigures,
    answers: Mapping[ReportField, str | None],
    plan: Plan,
    lang: Language,
) -> str:
    """The summary card of a draft: what will be submitted, answers cut short."""
    lines = [title(street, kind, period, plan, lang), "", *figure_lines(figures, lang), ""]
    lines += [*answer_lines(kind, answers, lang, short=True), "", t("report.card_hint", lang)]
    return "\n".join(lines)


def submitted_line(view: ReportView, plan: Plan, lang: Language) -> str:
    zone = plan.zone
    corrected = (
        t("report.corrected_at", lang, at=stamp(view.corrected_at, zone, lang))
        if view.corrected_at else ""
    )  # fmt: skip
    late = view.submitted_at.astimezone(zone).date() >= due_before(plan, view.kind, view.period)
    return t("report.submitted_at", lang, at=stamp(view.submitted_at, zone, lang)) + corrected + (
        t("report.late", lang) if late else ""
    )  # fmt: skip


def report_lines(view: ReportView, plan: Plan, lang: Language, *, with_title: bool) -> list[str]:
    """A submitted report in full: when, the figures as submitted, every answer."""
    lines = [title(view.street_name, view.kind, view.period, plan, lang)] if with_title else []
    lines.append(submitted_line(view, plan, lang))
    if view.closed:
        lines.append(t("report.closed_note", lang))
    lines += ["", *figure_lines(view.figures, lang), ""]
    return lines + answer_lines(view.kind, view.answers, lang, short=False)


def chunks(lines: Iterable[str], limit: int = MESSAGE) -> list[str]:
    """Lines packed into as few messages as they need, never splitting a line."""
    messages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if messages[-1] and size + len(line) + 1 > limit:
            messages.append([])
            size = 0
        messages[-1].append(line)
        size += len(line) + 1
    return ["\n".join(m).strip("\n") or "-" for m in messages]


def overview_text(
    lines: list[PeriodLine], kind: ReportKind, period: str, plan: Plan, lang: Language
) -> str:
    """Every street: ✅ with the day it reported, or ❌."""
    reports = [line.report for line in lines if line.report is not None]
    closed = sum(r.closed for r in reports)
    out = [
        t("report.overview_title", lang, label=period_label(kind, period, lang),
          submitted=len(reports), streets=len(lines),
          due=day(due_before(plan, kind, period), lang)),
    ]  # fmt: skip
    if closed:
        out.append(t("report.overview_closed", lang, closed=closed))
    out.append("")
    due = due_before(plan, kind, period)
    for line in lines:
        report = line.report
        if report is None:
            out.append(t("report.line_missing", lang, street=esc(line.street_name)))
            continue
        submitted_on = report.submitted_at.astimezone(plan.zone).date()
        out.append(
            t("report.line_done", lang, street=esc(line.street_name),
              date=day(submitted_on, lang),
              late=t("report.late", lang) if submitted_on >= due else "",
              closed=t("report.closed_mark", lang) if report.closed else "")
        )  # fmt: skip
    if reports:
        out += ["", t("report.overview_hint", lang)]
    return "\n".join(out)


def plain(markup: str) -> str:
    """Our HTML as plain text: our tags dropped (user text is escaped, so it has none)."""
    return html.unescape(TAG.sub("", markup))


def export_text(
    lines: list[PeriodLine], kind: ReportKind, period: str, plan: Plan, lang: Language,
    today: date,
) -> str:  # fmt: skip
    """Every street's report for the period, one after another, as a plain-text document."""
    label = period_label(kind, period, lang)
    submitted = sum(line.report is not None for line in lines)
    out = [
        t("report.export_title", lang, district=plan.plan.district, label=label,
          date=full_date(today, lang)),
        t("report.export_count", lang, submitted=submitted, streets=len(lines),
          due=day(due_before(plan, kind, period), lang)),
        "",
    ]  # fmt: skip
    for line in lines:
        out.append(t("report.export_street", lang, street=line.street_name))
        if line.report is None:
            out.append(t("report.export_missing", lang))
        else:
            out += [plain(text) for text in report_lines(line.report, plan, lang, with_title=False)]
        out.append("")
    return "\n".join(out)
