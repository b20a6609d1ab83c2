"""The reminder planner with an explicit clock: what falls due when, to whom, and what not."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from models.enums import Language
from models.plan import load_plan
from reminders.planner import (
    FollowUp,
    Recipient,
    Reminder,
    Rule,
    RuleSetting,
    Snapshot,
    StreetFacts,
    due_between,
    split_by_grace,
)
from reminders.schedule import snooze_until

PLAN = load_plan(Path("plans/fangshan-2018.toml"))
CST = ZoneInfo("Asia/Shanghai")
GROUP_A, OFFICER_A, GROUP_B, ADMIN = -1001, 501, -1002, 900


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CST)


def person(chat_id: int, name: str, private: bool = True) -> Recipient:
    return Recipient(chat_id=chat_id, language=Language.ZH, private=private, name=name)


STREET_A = StreetFacts(
    street_id=1, name="拱辰街道", share=5, formation_left=3, meetings_held=4,
    recipients=(person(GROUP_A, "拱辰群", private=False), person(OFFICER_A, "张")),
)  # fmt: skip
STREET_B = StreetFacts(
    street_id=2, name="良乡镇", share=4, formation_left=0, meetings_held=12,
    recipients=(person(GROUP_B, "良乡群", private=False),),
)  # fmt: skip
SNAP = Snapshot(streets=(STREET_A, STREET_B), admins=(person(ADMIN, "王"),), submitted=frozenset())


def month(snap: Snapshot, start: datetime, end: datetime) -> list[Reminder]:
    return due_between(PLAN, snap, start, end)


def days(found: list[Reminder], rule: Rule, chat: int) -> list[str]:
    """When `chat` hears `rule`, as local 'MM-DD HH:MM'."""
    return [
        r.due_at.astimezone(CST).strftime("%m-%d %H:%M")
        for r in found
        if r.rule is rule and r.recipient.chat_id == chat
    ]


def test_march_sequence_with_a_street_that_submits_on_the_16th() -> None:
    # March 2018: the 18th is a Sunday, so its reminder moves back to Friday the 16th.
    before = month(SNAP, at(2018, 3, 15), at(2018, 3, 16, 12))
    assert days(before, Rule.MONTHLY_HEADS_UP, OFFICER_A) == ["03-15 09:00"]
    assert days(before, Rule.MONTHLY_REMINDER, OFFICER_A) == ["03-16 09:00"]
    assert days(before, Rule.MONTHLY_HEADS_UP, GROUP_B) == ["03-15 09:00"]

    # 良乡镇 submits on the afternoon of the 16th: from then on it hears nothing more.
    submitted = replace(SNAP, submitted=frozenset({(2, "monthly", "2018-03")}))
    after = month(submitted, at(2018, 3, 16, 12), at(2018, 3, 21))
    assert days(after, Rule.MONTHLY_REMINDER, GROUP_B) == []
    assert days(after, Rule.MONTHLY_REMINDER, OFFICER_A) == ["03-19 09:00"]
    escalation = [r for r in after if r.rule is Rule.MONTHLY_ESCALATION]
    assert [(r.recipient.chat_id, r.due_at) for r in escalation] == [(ADMIN, at(2018, 3, 20, 10))]
    assert escalation[0].params["streets"] == "拱辰街道"
    assert escalation[0].params["count"] == 1


def test_no_escalation_when_every_street_has_submitted() -> None:
    everyone = frozenset({(1, "monthly", "2018-04"), (2, "monthly", "2018-04")})
    found = month(replace(SNAP, submitted=everyone), at(2018, 4, 1), at(2018, 4, 30))
    assert [r for r in found if r.rule.report_kind == "monthly"] == []


def test_a_20th_on_a_weekend_moves_the_escalation_to_monday() -> None:
    # 2018-10-20 is a Saturday: streets may still hand in over the weekend; the district
    # hears on the next working day. The 18th and 19th (Thu, Fri) stay.
    found = month(SNAP, at(2018, 10, 15), at(2018, 10, 31))
    assert days(found, Rule.MONTHLY_REMINDER, GROUP_A) == ["10-18 09:00", "10-19 09:00"]
    assert days(found, Rule.MONTHLY_ESCALATION, ADMIN) == ["10-22 10:00"]


def test_a_20th_in_the_spring_festival_and_reminders_moved_onto_one_day() -> None:
    # 2018 Spring Festival: Feb 15–21 off, Sunday Feb 11 a make-up working day (调休).
    found = month(SNAP, at(2018, 2, 1), at(2018, 2, 28))
    # The 15th, 18th and 19th all fall in the holiday and move back to Wed the 14th: the
    # officer hears once that day, with the most urgent text, not three times.
    assert days(found, Rule.MONTHLY_HEADS_UP, OFFICER_A) == []
    assert days(found, Rule.MONTHLY_REMINDER, OFFICER_A) == ["02-14 09:00"]
    assert days(found, Rule.MONTHLY_ESCALATION, ADMIN) == ["02-22 10:00"]


def test_a_make_up_working_day_counts_as_a_working_day() -> None:
    # 2018-09-29 and 30 (Saturday, Sunday) were worked in lieu for National Day: a follow-up
    # set for Sunday the 30th stays on it; one set in the holiday week moves back to it.
    def follow_up(visit_id: int, on: date) -> FollowUp:
        return FollowUp(visit_id=visit_id, street_id=1, unit_name="鑫源公司",
                        next_step="送组建函", on=on, recipient=person(OFFICER_A, "张"))  # fmt: skip

    follow_ups = (follow_up(1, date(2018, 9, 30)), follow_up(2, date(2018, 10, 3)))
    found = month(replace(SNAP, follow_ups=follow_ups), at(2018, 9, 28), at(2018, 10, 8))
    assert days(found, Rule.FOLLOW_UP, OFFICER_A) == ["09-30 09:00", "09-30 09:00"]
    assert {r.key for r in found if r.rule is Rule.FOLLOW_UP} == {
        f"follow_up|{OFFICER_A}|visit1",
        f"follow_up|{OFFICER_A}|visit2",
    }


def test_quarterly_cycle_in_the_quarters_last_month_only() -> None:
    year = month(SNAP, at(2018, 1, 1), at(2018, 12, 31, 23, 59))
    heads_up = days(year, Rule.QUARTERLY_HEADS_UP, GROUP_A)
    escalations = days(year, Rule.QUARTERLY_ESCALATION, ADMIN)
    # June 18th 2018 is the Dragon Boat holiday: its reminder moves to Friday the 15th and
    # takes the heads-up's place there.
    assert heads_up == ["03-15 09:00", "09-14 09:00", "12-14 09:00"]
    assert days(year, Rule.QUARTERLY_REMINDER, GROUP_A)[:3] == [
        "03-16 09:00", "03-19 09:00", "06-15 09:00",
    ]  # fmt: skip
    assert escalations == ["03-20 10:00", "06-20 10:00", "09-20 10:00", "12-20 10:00"]
    periods = {r.params["period"] for r in year if r.rule is Rule.QUARTERLY_ESCALATION}
    assert periods == {"2018-Q1", "2018-Q2", "2018-Q3", "2018-Q4"}


def test_countdowns_30_14_7_1_days_before_and_none_once_the_target_is_met() -> None:
    found = month(SNAP, at(2018, 9, 1), at(2018, 11, 30))
    formation = [r for r in found if r.rule is Rule.COUNTDOWN and "unionise" in r.occasion]
    # 10-30 minus 30, 14, 7, 1 days; 09-30 is a Sunday worked in lieu (调休), so it stays.
    assert days(formation, Rule.COUNTDOWN, OFFICER_A) == [
        "09-30 09:00", "10-16 09:00", "10-23 09:00", "10-29 09:00",
    ]  # fmt: skip
    assert formation[0].params["left"] == 3
    assert formation[0].params["days"] == 30
    # 良乡镇 has met both targets: no countdown at all.
    assert days(found, Rule.COUNTDOWN, GROUP_B) == []
    # The meetings deadline 11-30: 30 days before is the 31st of October.
    meetings = [r for r in found if r.rule is Rule.COUNTDOWN and "meetings" in r.occasion]
    assert days(meetings, Rule.COUNTDOWN, GROUP_A)[0] == "10-31 09:00"
    assert meetings[0].params["left"] == 8


def test_a_snooze_over_the_months_end_lands_on_the_next_working_morning() -> None:
    # Friday 2018-08-31 afternoon: "tomorrow morning" is Monday September 3rd.
    assert snooze_until(PLAN, at(2018, 8, 31, 16), "m") == at(2018, 9, 3, 9)
    assert snooze_until(PLAN, at(2018, 10, 31, 16), "m") == at(2018, 11, 1, 9)
    assert snooze_until(PLAN, at(2018, 10, 31, 16), "h") == at(2018, 10, 31, 17)


def test_a_paused_rule_sends_nothing_and_a_moved_one_sends_at_its_new_time() -> None:
    settings = {
        Rule.MONTHLY_HEADS_UP: RuleSetting(paused=True),
        Rule.MONTHLY_REMINDER: RuleSetting(at=time(16, 30)),
    }
    found = month(replace(SNAP, settings=settings), at(2018, 3, 14), at(2018, 3, 17))
    assert days(found, Rule.MONTHLY_HEADS_UP, OFFICER_A) == []
    assert days(found, Rule.MONTHLY_REMINDER, OFFICER_A) == ["03-16 16:30"]


def test_keys_are_stable_and_one_per_rule_recipient_and_occasion() -> None:
    first = month(SNAP, at(2018, 3, 15), at(2018, 3, 16))
    again = month(SNAP, at(2018, 3, 14), at(2018, 3, 17))
    assert {r.key for r in first} <= {r.key for r in again}
    keys = [r.key for r in again]
    assert len(keys) == len(set(keys))
    assert f"monthly.heads_up|{OFFICER_A}|2018-03@15" in keys


@pytest.mark.parametrize(("hours_late", "fresh"), [(0, True), (12, True), (13, False)])
def test_grace_period_decides_between_late_sending_and_telling_the_admins(
    hours_late: int, fresh: bool
) -> None:
    found = month(SNAP, at(2018, 3, 15, 8), at(2018, 3, 15, 9))
    now = at(2018, 3, 15, 9) + timedelta(hours=hours_late)
    sendable, stale = split_by_grace(found, now, timedelta(hours=PLAN.reminders.grace_hours))
    assert bool(sendable) is fresh
    assert bool(stale) is not fresh
