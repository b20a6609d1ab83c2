"""`unionbot import KIND FILE` as an operator runs it: the report, the question, the import
on yes, and the same file again changing nothing."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import seen
from tests.db.test_unit_import import code, tax_list, xlsx

ROOT = Path(__file__).resolve().parents[2]


def test_import_from_the_command_line(demo_template: Path, tmp_path: Path) -> None:
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    (tmp_path / "list.xlsx").write_bytes(xlsx(tax_list()))
    (tmp_path / "social.csv").write_bytes(
        f"统一社会信用代码,参保人数\n{code(1)},77\n".encode("gbk")
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    env = {**clean, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/unionbot.db",
           "BOT_TODAY": "2018-03-15", "PLAN_FILE": str(ROOT / "plans/fangshan-2018.toml"),
           "DEFAULT_LANGUAGE": "zh"}  # fmt: skip

    def unionbot(*args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "import", *args], cwd=tmp_path, env=env, input=answer,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def units() -> list[tuple[object, ...]]:
        with sqlite3.connect(tmp_path / "unionbot.db") as db:
            return db.execute("SELECT * FROM unit ORDER BY id").fetchall()

    before = units()
    declined = unionbot("units", "list.xlsx", answer="n\n")
    assert declined.returncode == 1
    assert "❌ 第 6 行 · C 列“统一社会信用代码”：与第 3 行的信用代码重复" in declined.stdout
    assert seen("data_import.cli_confirm", count=3) in declined.stdout
    assert units() == before

    done = unionbot("units", "list.xlsx", "--yes")
    assert done.returncode == 0, done.stderr
    assert "✅ 已导入 list.xlsx：新增 3 个单位" in done.stdout
    after = units()
    assert len(after) == len(before) + 3

    again = unionbot("units", "list.xlsx", "--yes")
    assert again.returncode == 0, again.stderr
    assert seen("data_import.nothing_changes") in again.stdout
    assert units() == after

    wrong_kind = unionbot("member-system", "list.xlsx", "--yes")
    assert wrong_kind.returncode == 1
    assert "没有“会员系统记录”所需的列（缺少：姓名）" in wrong_kind.stderr

    social = unionbot("social", "social.csv", "--yes")
    assert social.returncode == 0, social.stderr
    with sqlite3.connect(tmp_path / "unionbot.db") as db:
        (headcount,) = db.execute(
            "SELECT social_security_headcount FROM unit WHERE credit_code = ?", (code(1),)
        ).fetchone()
    assert headcount == 77

    missing = unionbot("units", "nowhere.xlsx")
    assert missing.returncode == 1 and "nowhere.xlsx" in missing.stderr
