"""The yearly plan as data: its schema, and a loader that refuses a broken file by line."""

from __future__ import annotations

import re
import string
import tomllib
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

Count = Annotated[int, Field(ge=0)]
Share = Annotated[Decimal, Field(ge=0, le=1)]
Day = Annotated[int, Field(ge=1, le=28)]  # every month has a 28th: no report day may vanish
Level = Literal["city", "district", "street"]


class _Strict(BaseModel):
    # A misspelt key in a plan file must be refused, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
    return value


ZoneName = Annotated[str, AfterValidator(_known_zone)]  # an IANA zone this machine knows


class PlanInfo(_Strict):
    key: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    district: str
    year: int = Field(ge=2000, le=2100)
    timezone: ZoneName


class Baseline(_Strict):
    as_of: date
    target_units: Count
    unionised_units: Count
    unionised_rate_percent: Decimal
    workers: Count
    members: Count
    member_coverage_percent: Decimal
    units_100_plus: Count
    units_100_plus_unionised: Count
    units_100_plus_rate_percent: Decimal
    detail_table_units: Count
    dues_paid_uncollected_units: Count
    detail_table_by_band: dict[str, Count]


class Range(_Strict):
    """An inclusive headcount range; a missing max means no upper bound."""

    key: str
    min: Count = 0
    max: Count | None = None

    def contains(self, headcount: int) -> bool:
        return headcount >= self.min and (self.max is None or headcount <= self.max)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"{self.key}: max {self.max} is below min {self.min}")
        return self


class SizeBand(Range):
    pass


class ResponsibilityTier(Range):
    levels: list[Level] = Field(min_length=1)


class UnioniseTarget(_Strict):
    min_headcount: Count
    min_rate: Share
    min_new_units: Count
    deadline: date
    completion: list[Literal["member_system_collected", "legal_person_certified"]]


class MeetingsTarget(_Strict):
    per_street: Count
    meeting_kinds: list[str] = Field(min_length=1)
    deadline: date


class GuidanceTarget(_Strict):
    min_street_share: Share
    deadline: date


class TrainingTarget(_Strict):
    min_cadre_share: Share
    deadline: date


class RestructuringTarget(_Strict):
    deadline: date


class Targets(_Strict):
    unionise_100_plus: UnioniseTarget
    worker_meetings: MeetingsTarget
    guidance_visits: GuidanceTarget
    training: TrainingTarget
    restructuring: RestructuringTarget


class ReportRule(_Strict):
    due_before_day: Day
    heads_up_day: Day
    reminder_days: list[Day]
    escalation_day: Day
    due_month_of_quarter: Annotated[int, Field(ge=1, le=3)] | None = None

    @model_validator(mode="after")
    def _in_order(self) -> ReportRule:
        days = [self.heads_up_day, *self.reminder_days]
        if days != sorted(days) or days[-1] >= self.due_before_day:
            raise ValueError("heads-up and reminder days must rise and come before the due day")
        if self.escalation_day < self.due_before_day:
            raise ValueError("the escalation day cannot come before the due day")
        return self


class Reporting(_Strict):
    monthly: ReportRule
    quarterly: ReportRule


ClockTime = Annotated[time, Field(description="a local time of day, HH:MM")]
HolidayShift = Literal["earlier", "later"]


class Digest(_Strict):
    weekday: Annotated[int, Field(ge=1, le=7)]  # ISO: 1 is Monday
    at: ClockTime


class ReminderRules(_Strict):
    """When things are sent unasked. Times are local (the plan's zone)."""

    deadline_countdown_days: list[Annotated[int, Field(ge=1)]]
    at: ClockTime  # heads-ups, reminders, countdowns and follow-ups
    escalation_at: ClockTime  # the district's list of streets that have not reported
    grace_hours: Annotated[int, Field(ge=0, le=24 * 7)]
    snooze_morning_at: ClockTime
    # A day that is not a working day moves the reminder to a working day: reminders earlier
    # (so the street still has time), the escalation later (lateness is only known afterwards).
    reminder_shift: HolidayShift
    escalation_shift: HolidayShift
    digest: Digest


class Welcome(_Strict):
    """The one message every new member gets: {name} and {union} are filled in."""

    template: str = Field(min_length=10, max_length=1000)
    sms_signature: str = Field(min_length=2, max_length=16)  # 【房山区总工会】, the SMS sign

    @model_validator(mode="after")
    def _placeholders(self) -> Welcome:
        names = {n for _, n, _, _ in string.Formatter().parse(self.template) if n}
        if not names <= {"name", "union"}:
            raise ValueError(f"template: only {{name}} and {{union}} can be filled in, not {names}")
        return self


class Comparison(_Strict):
    """The three-way comparison (三方比对) of tax, social-security and member-system data:
    a unionised unit whose members are fewer than `low_membership_ratio` of its headcount
    (the larger of tax and social security) is a blind spot, once it employs at least
    `low_membership_min_headcount` (a handful of people says little either way)."""

    low_membership_ratio: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.5")
    low_membership_min_headcount: Count = 20


class Zone(_Strict):
    name: str = Field(min_length=1)


class Street(_Strict):
    name: str = Field(min_length=2)
    kind: Literal["street", "town", "township"]  # 街道 / 镇 / 乡


class Plan(_Strict):
    plan: PlanInfo
    baseline: Baseline
    size_bands: list[SizeBand] = Field(min_length=1)
    responsibility_tiers: list[ResponsibilityTier] = Field(min_length=1)
    targets: Targets
    reporting: Reporting
    reminders: ReminderRules
    welcome: Welcome
    # Plan files from before the comparison existed still load, with these defaults.
    comparison: Comparison = Comparison()
    zones: list[Zone]
    streets: list[Street] = Field(min_length=1)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.plan.timezone)

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        _contiguous(
            "size_bands", self.size_bands, start=self.targets.unionise_100_plus.min_headcount
        )
        _contiguous("responsibility_tiers", self.responsibility_tiers, start=0)
        names = [s.name for s in self.streets]
        if len(set(names)) != len(names):
            raise ValueError("a street is listed twice")
        unknown = set(self.baseline.detail_table_by_band) - {b.key for b in self.size_bands}
        if unknown:
            raise ValueError(f"baseline.detail_table_by_band names unknown bands {sorted(unknown)}")
        return self


def _contiguous(name: str, ranges: list[SizeBand] | list[ResponsibilityTier], start: int) -> None:
    """Ranges must follow each other without gap or overlap, from `start` to no upper bound."""
    expected = start
    for i, r in enumerate(ranges):
        if r.min != expected:
            raise ValueError(f"{name}[{i}] ({r.key}) starts at {r.min}, expected {expected}")
        if r.max is None:
            if i != len(ranges) - 1:
                raise ValueError(f"{name}[{i}] ({r.key}) has no max but is not the last")
            return
        expected = r.max + 1
    raise ValueError(f"{name}: the last range must have no max")


class PlanError(Exception):
    """A plan file that cannot be used; str() is one line: file, line and reason."""


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        # A misspelt key shows as "extra" and "missing": name the misspelling, at its line.
        err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = [str(part) for part in err["loc"]]
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        reason = err["msg"].removeprefix("Value error, ")
        raise PlanError(f"{where}: {'.'.join(loc) or 'plan'}: {reason}") from None


def _line_of(text: str, loc: list[str]) -> int | None:
    """Best-effort line number for a pydantic location such as ['size_bands', '2', 'max'].

    tomllib keeps no positions, so we walk the text: find the table header for the path's
    tables (the n-th `[[x]]` for an array index), then the key inside it.
    """
    lines = text.splitlines()
    cursor, table, found_header = 0, "", False
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        index = int(parts.pop(0)) if parts and parts[0].isdigit() else 0
        name = f"{table}.{part}" if table else part
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?\s*(#.*)?$")
        hits = [n for n in range(cursor, len(lines)) if header.match(lines[n])]
        if hits:
            cursor, table, found_header = hits[min(index, len(hits) - 1)], name, True
            continue
        if any(re.match(rf"^\s*\[\[?\s*{re.escape(name)}\.", line) for line in lines):
            table = name  # only dotted sub-tables ([targets.x]) exist for this name
            continue
        key = re.compile(rf"^\s*\"?{re.escape(part)}\"?\s*=")
        for n in range(cursor, len(lines)):
            if n > cursor and lines[n].lstrip().startswith("["):
                break
            if key.match(lines[n]):
                return n + 1
        break
    return cursor + 1 if found_header else None
