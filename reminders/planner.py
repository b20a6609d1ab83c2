"""The reminder planner: which reminders fall due in a span of time, to whom, and why.

Pure: it takes the plan, a snapshot of the facts (who has reported, what each street still
owes, who should hear about it) and the span, and reads no clock and no database. The tick
(reminders/tick.py) calls it for the span since the last tick, so a restart or a missed tick
catches up, and the outbox's unique key (rule, recipient, occasion) makes each reminder send
once however often the span is planned.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from models.enums import Language
from models.plan import HolidayShift, Plan, ReportRule
from models.reports import month_period, quarter_period
from reminders.workdays import next_working_day, previous_working_day

# A reminder can move by a whole holiday week (国庆, 春节): look this far around the span
# for the nominal days whose moved day falls inside it.
_LOOKAROUND = timedelta(days=14)


class Rule(StrEnum):
    """The reminder rules an admin can pause or move (their defaults are in the plan)."""

    MONTHLY_HEADS_UP = "monthly.heads_up"
    MONTHLY_REMINDER = "monthly.reminder"
    MONTHLY_ESCALATION = "monthly.escalation"
    QUARTERLY_HEADS_UP = "quarterly.heads_up"
    QUARTERLY_REMINDER = "quarterly.reminder"
    QUARTERLY_ESCALATION = "quarterly.escalation"
    COUNTDOWN = "countdown"
    FOLLOW_UP = "follow_up"
    DIGEST = "digest"

    @property
    def report_kind(self) -> str | None:
        head = self.value.split(".")[0]
        return head if head in ("monthly", "quarterly") else None


COUNTDOWN_TARGETS = ("unionise_100_plus", "worker_meetings")


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    language: Language
    private: bool  # an officer's private chat, or a bound group
    name: str  # for the preview and /reminders


@dataclass(frozen=True)
class StreetFacts:
    street_id: int
    name: str
    share: int  # its part of the district's new >=100 unions
    formation_left: int  # of that share, still to do
    meetings_held: int  # worker meetings this plan year
    recipients: tuple[Recipient, ...]  # its bound groups and its unmuted officers


@dataclass(frozen=True)
class FollowUp:
    """A unit visit whose next step is due on a day, while the unit's ledger entry is open."""

    visit_id: int
    street_id: int
    unit_name: str
    next_step: str
    on: date
    recipient: Recipient  # the officer who logged the visit


@dataclass(frozen=True)
class Snoozed:
    """A reminder someone asked to hear again later ("remind me later")."""

    snooze_id: int
    rule: Rule
    street_id: int | None
    occasion: str
    nominal: date
    recipient: Recipient
    until: datetime


@dataclass(frozen=True)
class RuleSetting:
    """An admin's change to a rule: paused, or sent at another local time."""

    paused: bool = False
    at: time | None = None


@dataclass(frozen=True)
class Digest:
    """The district's figures for the weekly digest."""

    remaining_100_plus: int
    new_units_week: int
    meetings_week: int
    meetings_held: int
    streets_behind: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    streets: tuple[StreetFacts, ...]
    admins: tuple[Recipient, ...]  # district admins and district-bound groups
    submitted: frozenset[tuple[int, str, str]]  # (street id, report kind, period)
    follow_ups: tuple[FollowUp, ...] = ()
    snoozes: tuple[Snoozed, ...] = ()
    settings: Mapping[Rule, RuleSetting] = field(default_factory=dict)
    digest: Digest | None = None

    def street(self, street_id: int | None) -> StreetFacts | None:
        return next((s for s in self.streets if s.street_id == street_id), None)


@dataclass(frozen=True)
class Reminder:
    rule: Rule
    occasion: str  # what it is about: "2018-03@18", "2018-Q1@15", "worker_meetings@30d"
    nominal: date  # the day the plan names, before moving off a holiday
    due_at: datetime  # aware
    recipient: Recipient
    text: str  # text key
    params: Mapping[str, Any]
    why: str  # text key explaining who owes what, for the preview
    street_id: int | None = None
    key_override: str | None = None  # a snoozed copy has its own key

    @property
    def key(self) -> str:
        """The outbox's unique key: one per (rule, recipient, occasion), ever."""
        return self.key_override or f"{self.rule}|{self.recipient.chat_id}|{self.occasion}"


def due_between(plan: Plan, snap: Snapshot, start: datetime, end: datetime) -> list[Reminder]:
    """Every reminder whose (moved) time falls in (start, end], in the order to send them."""
    zone = plan.zone
    first = start.astimezone(zone).date() - _LOOKAROUND
    last = end.astimezone(zone).date() + _LOOKAROUND
    found: list[Reminder] = []
    day = first
    while day <= last:
        found += [r for r in _on(plan, snap, day) if not _setting(snap, r.rule).paused]
        day += timedelta(days=1)
    found = _one_a_day(found)
    found += _snoozed(plan, snap)
    due = [r for r in found if start < r.due_at <= end]
    return sorted(due, key=lambda r: (r.due_at, r.rule, r.occasion, r.recipient.chat_id))


def split_by_grace(
    due: list[Reminder], now: datetime, grace: timedelta
) -> tuple[list[Reminder], list[Reminder]]:
    """Those still worth sending, and those too old: the admins hear of them instead."""
    fresh = [r for r in due if now - r.due_at <= grace]
    stale = [r for r in due if now - r.due_at > grace]
    return fresh, stale


def rule_time(plan: Plan, settings: Mapping[Rule, RuleSetting], rule: Rule) -> time:
    override = settings.get(rule, RuleSetting()).at
    if override is not None:
        return override
    rules = plan.reminders
    if rule in (Rule.MONTHLY_ESCALATION, Rule.QUARTERLY_ESCALATION):
        return rules.escalation_at
    return rules.digest.at if rule is Rule.DIGEST else rules.at


def moved_day(plan: Plan, rule: Rule, nominal: date) -> date:
    """The working day a rule's nominal day moves to."""
    rules = plan.reminders
    escalation = rule in (Rule.MONTHLY_ESCALATION, Rule.QUARTERLY_ESCALATION)
    shift: HolidayShift = rules.escalation_shift if escalation else rules.reminder_shift
    return previous_working_day(nominal) if shift == "earlier" else next_working_day(nominal)


def _setting(snap: Snapshot, rule: Rule) -> RuleSetting:
    return snap.settings.get(rule, RuleSetting())


def _at(plan: Plan, snap: Snapshot, rule: Rule, nominal: date) -> datetime:
    return datetime.combine(
        moved_day(plan, rule, nominal), rule_time(plan, snap.settings, rule), plan.zone
    )


def _on(plan: Plan, snap: Snapshot, day: date) -> Iterator[Reminder]:
    """The reminders whose nominal day is `day`."""
    yield from _report_reminders(plan, snap, day, "monthly", plan.reporting.monthly)
    if (day.month - 1) % 3 + 1 == plan.reporting.quarterly.due_month_of_quarter:
        yield from _report_reminders(plan, snap, day, "quarterly", plan.reporting.quarterly)
    yield from _countdowns(plan, snap, day)
    yield from _follow_ups(plan, snap, day)
    if day.isoweekday() == plan.reminders.digest.weekday and snap.digest is not None:
        yield from _digest(plan, snap, day)


def _report_reminders(
    plan: Plan, snap: Snapshot, day: date, kind: str, rule: ReportRule
) -> Iterator[Reminder]:
    period = month_period(day) if kind == "monthly" else quarter_period(day)
    if day.day == rule.escalation_day:
        yield from _escalation(plan, snap, day, kind, period)
        return
    if day.day == rule.heads_up_day:
        which = Rule(f"{kind}.heads_up")
    elif day.day in rule.reminder_days:
        which = Rule(f"{kind}.reminder")
    else:
        return
    due_before = day.replace(day=rule.due_before_day)
    for street in snap.streets:
        yield from _report_reminder(plan, snap, which, street, period, day, due_before)


def _report_reminder(
    plan: Plan,
    snap: Snapshot,
    rule: Rule,
    street: StreetFacts,
    period: str,
    nominal: date,
    due_before: date,
) -> Iterator[Reminder]:
    assert rule.report_kind is not None
    if (street.street_id, rule.report_kind, period) in snap.submitted:
        return  # only those who owe something are reminded
    for recipient in street.recipients:
        yield Reminder(
            rule=rule,
            occasion=f"{period}@{nominal.day}",
            nominal=nominal,
            due_at=_at(plan, snap, rule, nominal),
            recipient=recipient,
            text=f"remind.{rule.value}",
            params={"street": street.name, "period": period, "due": due_before},
            why="remind.why.report",
            street_id=street.street_id,
        )


def _escalation(
    plan: Plan, snap: Snapshot, day: date, kind: str, period: str
) -> Iterator[Reminder]:
    rule = Rule(f"{kind}.escalation")
    late = [s.name for s in snap.streets if (s.street_id, kind, period) not in snap.submitted]
    if not late:
        return
    for recipient in snap.admins:
        yield Reminder(
            rule=rule,
            occasion=period,
            nominal=day,
            due_at=_at(plan, snap, rule, day),
            recipient=recipient,
            text=f"remind.{rule.value}",
            params={"period": period, "count": len(late), "streets": "、".join(late)},
            why="remind.why.escalation",
        )


def _countdowns(plan: Plan, snap: Snapshot, day: date) -> Iterator[Reminder]:
    targets = plan.targets
    for target in COUNTDOWN_TARGETS:
        deadline = getattr(targets, target).deadline
        days = (deadline - day).days
        if days not in plan.reminders.deadline_countdown_days:
            continue
        for street in snap.streets:
            yield from _countdown(plan, snap, street, target, day)


def _countdown(
    plan: Plan, snap: Snapshot, street: StreetFacts, target: str, nominal: date
) -> Iterator[Reminder]:
    deadline = getattr(plan.targets, target).deadline
    if target == "unionise_100_plus":
        left = street.formation_left
    else:
        left = max(0, plan.targets.worker_meetings.per_street - street.meetings_held)
    if left == 0:
        return  # a street that has met the target hears no countdown for it
    days = (deadline - nominal).days
    due_at = _at(plan, snap, Rule.COUNTDOWN, nominal)
    for recipient in street.recipients:
        yield Reminder(
            rule=Rule.COUNTDOWN,
            occasion=f"{target}@{days}d",
            nominal=nominal,
            due_at=due_at,
            recipient=recipient,
            text=f"remind.countdown.{target}",
            params={
                "street": street.name,
                "deadline": deadline,
                "days": (deadline - due_at.date()).days,
                "left": left,
                "share": street.share,
                "held": street.meetings_held,
                "target": plan.targets.worker_meetings.per_street,
            },
            why=f"remind.why.{target}",
            street_id=street.street_id,
        )


def _follow_ups(plan: Plan, snap: Snapshot, day: date) -> Iterator[Reminder]:
    for follow_up in snap.follow_ups:
        if follow_up.on == day:
            yield _follow_up(plan, snap, follow_up)


def _follow_up(plan: Plan, snap: Snapshot, follow_up: FollowUp) -> Reminder:
    return Reminder(
        rule=Rule.FOLLOW_UP,
        occasion=f"visit{follow_up.visit_id}",
        nominal=follow_up.on,
        due_at=_at(plan, snap, Rule.FOLLOW_UP, follow_up.on),
        recipient=follow_up.recipient,
        text="remind.follow_up",
        params={"unit": follow_up.unit_name, "step": follow_up.next_step, "on": follow_up.on},
        why="remind.why.follow_up",
        street_id=follow_up.street_id,
    )


def _digest(plan: Plan, snap: Snapshot, day: date) -> Iterator[Reminder]:
    digest = snap.digest
    assert digest is not None
    week = day.isocalendar()
    for recipient in snap.admins:
        yield Reminder(
            rule=Rule.DIGEST,
            occasion=f"{week.year}-W{week.week:02d}",
            nominal=day,
            due_at=_at(plan, snap, Rule.DIGEST, day),
            recipient=recipient,
            text="remind.digest",
            params={
                "left": digest.remaining_100_plus,
                "new_units": digest.new_units_week,
                "meetings_week": digest.meetings_week,
                "meetings": digest.meetings_held,
                "behind": len(digest.streets_behind),
                "streets": "、".join(digest.streets_behind) or "—",
            },
            why="remind.why.digest",
        )


def _one_a_day(found: list[Reminder]) -> list[Reminder]:
    """A heads-up and reminders that a holiday moves onto one day are sent as one: the
    most urgent (the latest nominal day) for each recipient."""
    kept: dict[tuple[str | None, str, int, date], Reminder] = {}
    for r in found:
        kind = r.rule.report_kind
        if kind is None or r.rule.value.endswith("escalation"):
            kept[(r.key, "", 0, r.due_at.date())] = r
            continue
        slot = (kind, r.occasion.split("@")[0], r.recipient.chat_id, r.due_at.date())
        if slot not in kept or kept[slot].nominal < r.nominal:
            kept[slot] = r
    return list(kept.values())


def _snoozed(plan: Plan, snap: Snapshot) -> Iterator[Reminder]:
    """Snoozed reminders come back only if what they remind of is still owed."""
    for snooze in snap.snoozes:
        again = _again(plan, snap, snooze)
        if again is not None:
            yield replace(again, due_at=snooze.until, key_override=f"snooze|{snooze.snooze_id}")


def _again(plan: Plan, snap: Snapshot, snooze: Snoozed) -> Reminder | None:
    rule, nominal = snooze.rule, snooze.nominal
    if rule is Rule.FOLLOW_UP:
        visit = snooze.occasion.removeprefix("visit")
        match = [f for f in snap.follow_ups if str(f.visit_id) == visit]
        found = [_follow_up(plan, snap, match[0])] if match else []
    elif rule in (Rule.MONTHLY_ESCALATION, Rule.QUARTERLY_ESCALATION, Rule.DIGEST):
        found = list(
            _escalation(plan, snap, nominal, rule.value.split(".")[0], snooze.occasion)
            if rule is not Rule.DIGEST
            else _digest(plan, snap, nominal)
        )
    else:
        street = snap.street(snooze.street_id)
        if street is None:
            return None
        street = replace(street, recipients=(snooze.recipient,))
        if rule is Rule.COUNTDOWN:
            target = snooze.occasion.split("@")[0]
            found = list(_countdown(plan, snap, street, target, nominal))
        else:
            kind = rule.report_kind
            report = getattr(plan.reporting, str(kind))
            period = snooze.occasion.split("@")[0]
            due_before = nominal.replace(day=report.due_before_day)
            found = list(_report_reminder(plan, snap, rule, street, period, nominal, due_before))
    for reminder in found:
        return replace(reminder, recipient=snooze.recipient)
    return None
