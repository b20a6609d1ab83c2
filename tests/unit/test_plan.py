"""The plan loader accepts the 2018 plan and refuses broken files with line and reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from models.plan import PlanError, load_plan

PLAN_FILE = PROJECT_ROOT / "plans" / "fangshan-2018.toml"
TEXT = PLAN_FILE.read_text(encoding="utf-8")


def test_the_2018_plan_loads_with_every_figure() -> None:
    plan = load_plan(PLAN_FILE)
    assert plan.plan.key == "fangshan-2018"
    assert len(plan.streets) == 28 and len(plan.zones) == 3
    assert plan.baseline.units_100_plus == 390 and plan.baseline.units_100_plus_unionised == 186
    assert plan.targets.unionise_100_plus.min_rate == Decimal("0.53")
    assert plan.targets.unionise_100_plus.min_new_units == 91
    assert plan.targets.worker_meetings.per_street == 12
    assert str(plan.targets.worker_meetings.deadline) == "2018-11-30"
    assert plan.reporting.monthly.due_before_day == 20
    assert [b.key for b in plan.size_bands] == ["100-499", "500-999", "1000+"]


def broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in TEXT, old
    path = tmp_path / "plan.toml"
    path.write_text(TEXT.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, fragment: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if fragment in line)


@pytest.mark.parametrize(
    ("old", "new", "at", "reason"),
    [
        ("min_rate = 0.53", "min_rate = 1.53", "min_rate = 1.53", "less than or equal to 1"),
        ("min_new_units = 91", "min_new_units = -1", "min_new_units = -1", "greater than"),
        ("deadline = 2018-10-30", 'deadline = "soon"', 'deadline = "soon"', "date"),
        ("per_street = 12", "per_streets = 12", "per_streets = 12", "Extra inputs"),
        ('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', "Mars/Base", "unknown time zone"),
        ("due_before_day = 20", "due_before_day = 31", "due_before_day = 31", "less than or equal"),
        ('kind = "township"', 'kind = "village"', 'kind = "village"', "Input should be"),
    ],
)
def test_a_broken_value_is_refused_with_its_line(
    tmp_path: Path, old: str, new: str, at: str, reason: str
) -> None:
    path = broken(tmp_path, old, new)
    with pytest.raises(PlanError) as refused:
        load_plan(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:{line_of(path, at)}:"), message
    assert reason in message
    assert "\n" not in message


def test_invalid_toml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = broken(tmp_path, "min_new_units = 91", "min_new_units = = 91")
    with pytest.raises(PlanError, match=rf"line {line_of(path, '= = 91')}"):
        load_plan(path)


def test_overlapping_size_bands_are_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, 'key = "500-999"\nmin = 500', 'key = "500-999"\nmin = 450')
    with pytest.raises(PlanError, match="starts at 450, expected 500"):
        load_plan(path)


def test_a_gap_between_tiers_is_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, "min = 501", "min = 601")
    with pytest.raises(PlanError, match="expected 501"):
        load_plan(path)


def test_reminder_days_after_the_due_day_are_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, "reminder_days = [18, 19]", "reminder_days = [18, 21]")
    with pytest.raises(PlanError, match=r"reporting\.monthly.*before the due day"):
        load_plan(path)


def test_a_street_listed_twice_is_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, 'name = "蒲洼乡"', 'name = "城关街道"')
    with pytest.raises(PlanError, match="listed twice"):
        load_plan(path)


def test_a_missing_section_is_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, "[targets.training]", "[targets.trainings]")
    with pytest.raises(PlanError, match=r"targets\.training"):
        load_plan(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(tmp_path / "nope.toml")
