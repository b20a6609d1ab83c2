"""Status figures as messages: pure functions from figures to HTML text, no Telegram objects,
so the command line (`unionbot status`) prints exactly what the chat shows."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.texts import t
from handlers.common import esc
from models.enums import Language, LedgerOutcome, LedgerStage, UnitStatus
from models.pace import Pace, Verdict
from models.plan import Plan
from models.rules import rate_percent
from models.status import Deadline, DistrictStatus, StreetRow, StreetStatus
from models.units import UnitCard, UnitPage
from models.visits import VisitPurpose

BAR_FULL, BAR_EMPTY = "▓", "░"  # block characters keep their width in phone fonts


def bar(done: int, total: int, width: int = 10) -> str:
    """A text progress bar; a target of 0 counts as met."""
    filled = width if total <= 0 else min(width, done * width // total)
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def number(n: int) -> str:
    return f"{n:,}"


def percent(share: Decimal) -> str:
    """0.53 → "53", 0.5 → "50": a plan's rate as the plan writes it."""
    return f"{(share * 100).normalize():f}"


def day(d: date, lang: Language) -> str:
    return t("fmt.day", lang, y=d.year, m=d.month, d=d.day)


def full_date(d: date, lang: Language) -> str:
    return t("fmt.date", lang, y=d.year, m=d.month, d=d.day)


def deadline_text(deadline: Deadline, lang: Language) -> str:
    when = day(deadline.on, lang)
    if deadline.days > 0:
        return t("deadline.ahead", lang, date=when, days=deadline.days)
    return t("deadline.today" if deadline.days == 0 else "deadline.past", lang, date=when)


def pace_line(target: str, pace: Pace, deadline: Deadline, lang: Language) -> str:
    unit = t(f"measure.{target}", lang)
    verdict = pace.verdict
    if verdict is Verdict.BEHIND:
        judged = t("verdict.behind", lang, shortfall=pace.shortfall, unit=unit)
    elif verdict is Verdict.MISSED:
        judged = t("verdict.missed", lang, remaining=pace.remaining, unit=unit)
    else:
        judged = t(f"verdict.{verdict.value}", lang)
    return t(
        "status.pace_line",
        lang,
        target=t(f"target.{target}", lang),
        deadline=deadline_text(deadline, lang),
        needed=pace.needed_per_week,
        recent=pace.recent_per_week,
        verdict=judged,
        unit=unit,
    )


def district_text(status: DistrictStatus, plan: Plan, lang: Language) -> str:
    s, c, target = status, status.counts, plan.targets.unionise_100_plus
    base = plan.baseline
    lines = [
        t("status.title_district", lang, district=esc(plan.plan.district),
          date=full_date(s.today, lang)),
        "",
        t("status.big_header", lang),
        t("status.big_line", lang, total=number(c.units_100_plus),
          unionised=number(c.unionised_100_plus), rate=c.rate_100_plus,
          min_rate=percent(target.min_rate)),
        f"{bar(c.unionised_100_plus, c.units_100_plus)} {c.rate_100_plus}%",
        t("status.remaining", lang, min_rate=percent(target.min_rate),
          rate_rule=s.remaining.rate_rule, min_new=target.min_new_units,
          count_rule=s.remaining.count_rule, overall=s.remaining.overall),
        t("status.new_units", lang, new=c.newly_unionised_100_plus, target=target.min_new_units),
        t("status.not_unionised", lang, open=s.not_unionised_100_plus,
          detail=sum(s.detail_by_band.values())),
        t("status.by_band", lang, items=" · ".join(
            t("status.band_item", lang, label=t(f"band.{key}", lang), open=n,
              detail=s.detail_by_band[key])
            for key, n in s.remaining_by_band.items())),
        t("status.by_tier", lang, items=" · ".join(
            t("status.tier_item", lang, label=t(f"tier.{key}", lang), open=n)
            for key, n in s.remaining_by_tier.items())),
        t("status.dues", lang, total=s.dues_uncollected, big=s.dues_uncollected_100_plus),
        t("status.baseline", lang, date=day(base.as_of, lang), total=base.units_100_plus,
          unionised=base.units_100_plus_unionised, rate=base.units_100_plus_rate_percent,
          detail=base.detail_table_units),
        "",
        t("status.coverage_header", lang),
        t("status.coverage_units", lang, total=number(c.units), unionised=number(c.unionised),
          rate=c.unionised_rate),
        t("status.coverage_members", lang, workers=number(c.workers), members=number(c.members),
          rate=c.member_coverage),
        "",
        t("status.zones_header", lang),
        *(t("status.zone_line", lang, name=esc(z.name), big=z.units_100_plus,
            unionised=z.unionised_100_plus, open=z.remaining_100_plus) for z in s.zones),
        "",
        t("status.meetings_district", lang, held=s.meetings_held,
          per_street=plan.targets.worker_meetings.per_street, met=s.streets_meeting_target,
          streets=s.streets),
        t("status.guidance", lang, visited=s.guidance_streets, streets=s.streets,
          needed=s.guidance_needed,
          share=percent(plan.targets.guidance_visits.min_street_share)),
        "",
        t("status.pace_header", lang),
        pace_line("unionise_100_plus", s.formation_pace, s.deadlines[0], lang),
        pace_line("worker_meetings", s.meetings_pace, s.deadlines[1], lang),
        "",
        t("status.ranking_header", lang),
        *(_ranking_line(i, r, plan, lang) for i, r in enumerate(s.ranking, 1)),
    ]  # fmt: skip
    return "\n".join(lines)


def _ranking_line(rank: int, row: StreetRow, plan: Plan, lang: Language) -> str:
    values = {
        "rank": rank,
        "name": esc(row.name),
        "meetings": row.meetings,
        "per_street": plan.targets.worker_meetings.per_street,
        "mark": t("status.behind_mark", lang) if row.behind else "",
    }
    if not row.share:
        return t("status.ranking_line_no_share", lang, **values)
    return t("status.ranking_line", lang, bar=bar(row.new_units, row.share, 5),
             new=row.new_units, share=row.share, **values)  # fmt: skip


def street_text(status: StreetStatus, plan: Plan, lang: Language) -> str:
    s, row, target = status, status.row, plan.targets.unionise_100_plus
    open_total = sum(s.ledger_open.values())
    lines = [
        t("status.title_street", lang, street=esc(row.name), date=full_date(s.today, lang)),
        t("status.rank", lang, rank=s.rank, streets=s.streets),
        "",
        t("status.big_header", lang),
        t("status.street_big", lang, total=row.units_100_plus, unionised=row.unionised_100_plus,
          rate=rate_percent(row.unionised_100_plus, row.units_100_plus)),
        t("status.street_task", lang, new=row.new_units, share=row.share,
          bar=bar(row.new_units, row.share), remaining=row.remaining),
        t("status.street_rate_rule", lang, min_rate=percent(target.min_rate),
          rate_rule=s.rate_rule),
        "",
        t("status.ledger_header", lang, open=open_total),
        " · ".join(t("status.ledger_item", lang, label=t(f"stage.{stage.value}", lang), count=n)
                   for stage, n in s.ledger_open.items()),
        t("status.ledger_closed", lang, written_off=s.ledger_closed[LedgerOutcome.WRITTEN_OFF],
          obstructed=s.ledger_closed[LedgerOutcome.OBSTRUCTED],
          departed=s.ledger_closed[LedgerOutcome.DEPARTED]),
        "",
        t("status.street_meetings", lang, held=row.meetings, target=s.meetings_target,
          bar=bar(row.meetings, s.meetings_target), remaining=s.meetings_remaining),
        t("status.deadlines", lang, items=" · ".join(
            t("status.deadline_item", lang, target=t(f"target.{d.target}", lang),
              deadline=deadline_text(d, lang)) for d in s.deadlines)),
        _report_line(status, lang),
        "",
        t("status.pace_header", lang),
        pace_line("unionise_100_plus", s.formation_pace, s.deadlines[0], lang),
        pace_line("worker_meetings", s.meetings_pace, s.deadlines[1], lang),
    ]  # fmt: skip
    return "\n".join(lines)


def _report_line(status: StreetStatus, lang: Language) -> str:
    report = status.report
    if report.submitted_on is not None:
        return t("status.report_submitted", lang, period=report.period,
                 date=day(report.submitted_on, lang))  # fmt: skip
    key = "status.report_due" if status.today < report.due_before else "status.report_late"
    return t(key, lang, period=report.period, due=day(report.due_before, lang))


def stage_label(stage: LedgerStage | None, lang: Language) -> str:
    return t(f"stage.{stage.value if stage else 'none'}", lang)


def units_text(page: UnitPage, *, title: str, filters: list[str], lang: Language) -> str:
    lines = [title]
    if filters:
        lines.append(t("units.filters", lang, items=" · ".join(filters)))
    lines.append("")
    if not page.lines:
        lines.append(t("units.empty", lang))
    for n, line in enumerate(page.lines, 1):
        lines.append(
            t(
                "units.line",
                lang,
                n=n,
                name=esc(line.name),
                headcount=number(line.headcount),
                stage=stage_label(line.stage, lang),
                dues=t("units.dues_mark", lang) if line.dues_paid_uncollected else "",
            )
        )
    if page.lines:
        lines += ["", t("units.page", lang, page=page.page + 1, pages=page.pages)]
    return "\n".join(lines)


def card_text(card: UnitCard, lang: Language, zone: ZoneInfo) -> str:
    def mark(done: bool) -> str:
        return t("card.yes" if done else "card.no", lang)

    social = card.social_security_headcount
    lines = [
        t("card.title", lang, name=esc(card.name)),
        t("card.code", lang, code=esc(card.credit_code)),
        t("card.street", lang, street=esc(card.street_name)),
    ]
    if card.zone_name:
        lines.append(t("card.zone", lang, zone=esc(card.zone_name)))
    lines += [
        t("card.headcount", lang, tax=number(card.tax_headcount),
          social=number(social) if social is not None else t("card.social_unknown", lang),
          members=number(card.member_count)),
        t("card.band", lang, band=t(f"band.{card.band or 'below'}", lang),
          tier=t(f"tier.{card.tier}", lang)),
        t("card.conditions", lang, collected=mark(card.member_system_collected),
          certified=mark(card.legal_person_certified)),
    ]  # fmt: skip
    if card.unionised and card.unionised_on:
        lines.append(t("card.unionised", lang, date=full_date(card.unionised_on, lang)))
    if card.dues_paid_uncollected and not card.unionised:
        lines.append(t("card.dues", lang))
    if card.status is not UnitStatus.ACTIVE:
        lines.append(t("card.moved", lang, status=t(f"unit_status.{card.status.value}", lang)))
    elif card.missing_since is not None:
        lines.append(t("card.missing_from_list", lang, date=full_date(card.missing_since, lang)))
    if card.stage is not None and card.outcome is not None and card.opened_on is not None:
        lines.append(
            t("card.ledger", lang, stage=stage_label(card.stage, lang),
              outcome=t(f"outcome.{card.outcome.value}", lang),
              opened=full_date(card.opened_on, lang))
        )  # fmt: skip
    else:
        lines.append(t("card.no_ledger", lang))
    if card.history:
        lines += ["", t("card.history", lang)]
        for step in card.history:
            outcome = (
                "" if step.outcome is LedgerOutcome.OPEN
                else f" · {t(f'outcome.{step.outcome.value}', lang)}"
            )  # fmt: skip
            note = t("card.note", lang, note=esc(step.note)) if step.note else ""
            lines.append(
                t("card.history_line", lang, at=_when(step.at, zone, lang),
                  stage=stage_label(step.to_stage, lang), outcome=outcome,
                  by=esc(step.by_name or ""), note=note)
            )  # fmt: skip
    lines += ["", t("card.visits", lang)]
    if not card.visits:
        lines.append(t("card.no_visits", lang))
    for visit in card.visits:
        lines.append(
            t("card.visit_line", lang, date=full_date(visit.visited_on, lang),
              purpose=_purpose(visit.purpose, lang), summary=esc(visit.summary or ""))
        )  # fmt: skip
    return "\n".join(lines)


def _when(at: datetime, zone: ZoneInfo, lang: Language) -> str:
    return full_date(at.astimezone(zone).date(), lang)


def _purpose(purpose: str | None, lang: Language) -> str:
    known = {p.value for p in VisitPurpose}
    return t(f"purpose.{purpose}", lang) if purpose in known else esc(purpose or "")
