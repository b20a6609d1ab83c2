"""`unionbot export`: the file is written and says so; a bad period or street stops it with
one clear line and no file; a terminal gets a progress bar."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.exporting import export_command
from models.exports import ExportKind
from tests.conftest import make_settings, seen

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    return tmp_path


def unionbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env = {**clean, "DATABASE_URL": f"sqlite+aiosqlite:///{cwd}/unionbot.db",
           "BOT_TODAY": "2018-03-15", "PLAN_FILE": str(ROOT / "plans/fangshan-2018.toml"),
           "DEFAULT_LANGUAGE": "zh"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "bot", "export", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_streets_ledger_as_a_workbook(demo: Path) -> None:
    done = unionbot(demo, "ledger", "--out", "台账.xlsx", "--street", "拱辰")
    assert done.returncode == 0, done.stderr
    ws = load_workbook(demo / "台账.xlsx").active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "所属街乡" and {r[0] for r in rows[1:]} == {"拱辰街道"}
    assert done.stdout.strip() == seen("export.cli.done", file="台账.xlsx", rows=len(rows) - 1)
    assert "Traceback" not in done.stderr and not (demo / "台账.xlsx.part").exists()


def test_the_ranking_as_csv(demo: Path) -> None:
    done = unionbot(demo, "ranking", "--out", "ranking.csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO((demo / "ranking.csv").read_text("utf-8-sig"))))
    assert rows[0][:2] == ["名次", "所属街乡"] and len(rows) == 29


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["meetings", "--period", "2018-13"], 2,
         seen("export.cli.bad_period", period="2018-13")),
        (["meetings", "--period", "2018-05-31..2018-03-01"], 2,
         seen("export.cli.bad_period", period="2018-05-31..2018-03-01")),
        (["ledger", "--period", "2018-03"], 2, seen("export.cli.period_unused", kind="台账")),
        (["reports", "--period", "2018"], 2, seen("export.cli.report_period")),
        (["units", "--street", "火星"], 1, seen("export.cli.street_unknown", street="火星")),
    ],
)  # fmt: skip
def test_a_bad_period_or_street_stops_with_one_line(
    demo: Path, args: list[str], code: int, says: str
) -> None:
    refused = unionbot(demo, *args, "--out", "x.xlsx")
    assert refused.returncode == code
    assert refused.stderr.strip() == f"unionbot: {says}"
    assert not (demo / "x.xlsx").exists()


def test_an_unknown_kind_is_refused_by_the_parser(demo: Path) -> None:
    refused = unionbot(demo, "everything", "--out", "x.xlsx")
    assert refused.returncode == 2 and "invalid choice: 'everything'" in refused.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_a_terminal_sees_a_progress_bar(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bar = Terminal()
    out = demo / "units.xlsx"
    code = await export_command(make_settings(demo), ExportKind.UNITS, out, street="拱辰",
                                period=None, as_csv=False, bar_file=bar)  # fmt: skip
    assert code == 0
    ws = load_workbook(out, read_only=True).active
    assert ws is not None
    units = sum(1 for _ in ws.iter_rows()) - 1
    shown = bar.getvalue()
    assert seen("export.cli.progress") in shown and f"{units}/{units}" in shown
    said = capsys.readouterr().out.strip()
    assert said == seen("export.cli.done", file=out, rows=f"{units:,}")


def test_nothing_to_export_still_writes_the_headings(demo: Path) -> None:
    done = unionbot(demo, "members", "--out", "members.xlsx", "--period", "2018")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        seen("export.cli.done", file="members.xlsx", rows=0),
        seen("export.cli.empty", file="members.xlsx"),
    ]
    ws = load_workbook(demo / "members.xlsx").active
    assert ws is not None and [c.value for c in ws[1]][:2] == ["姓名", "手机号码"]


def test_export_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["export", "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: unionbot export") and "2018-Q1" in printed
    assert all(kind.value in printed for kind in ExportKind)
