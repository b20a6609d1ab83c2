"""The command line explains itself, and a bad setting stops it with one clear line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import SettingsError, load_settings


def unionbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [[], ["run"], ["demo"], ["console"], ["seed-demo"], ["status"], ["db"], ["db", "upgrade"],
     ["reminders"], ["reminders", "preview"], ["members"], ["members", "import"]],
)  # fmt: skip
def test_every_command_explains_itself(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # In-process: argparse prints the help and exits 0 before any setting is read.
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: unionbot")
    assert len(printed.splitlines()) > 3


def test_run_without_a_token_stops_with_one_line(tmp_path: Path) -> None:
    result = unionbot(
        "run", cwd=tmp_path, env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("unionbot: TELEGRAM_BOT_TOKEN is not set")


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BOT_ADMIN_IDS", "12,abc", "'abc' is not a numeric Telegram user id"),
        ("TIMEZONE", "Beijing", "unknown time zone"),
        ("DEFAULT_LANGUAGE", "fr", "'zh' or 'en'"),
        ("BOT_TODAY", "2018-13-01", "date"),
        ("DATABASE_URL", "mysql://x", "sqlite+aiosqlite://"),
        ("TELEGRAM_BOT_TOKEN", "changeme", "placeholder"),
    ],
)
def test_a_malformed_setting_stops_with_one_line_naming_it(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    result = unionbot("db", "upgrade", cwd=tmp_path, env={name: value})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"unionbot: setting {name}:")
    assert says in line


def test_settings_read_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("BOT_ADMIN_IDS=1, 2,3\nBOT_TODAY=2018-05-02\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_ADMIN_IDS", "BOT_TODAY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.bot_admin_ids == (1, 2, 3)
    assert str(settings.bot_today) == "2018-05-02"


def test_a_token_is_never_shown_in_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret-value")
    settings = load_settings(_env_file=None)
    assert "secret-value" not in repr(settings)
    assert settings.token() == "123:secret-value"


def test_no_token_is_a_settings_error_for_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        load_settings(_env_file=None).token()


def test_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    first = unionbot("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": url})
    again = unionbot("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": url})
    assert first.returncode == again.returncode == 0, first.stderr
    assert (tmp_path / "fresh.db").is_file()


def test_the_demo_opens_and_answers_help(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--database", str(tmp_path / "demo.db")],
        input="/help\n/chart\n/quit\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("BOT_")},
            "MEDIA_DIR": str(tmp_path / "media"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "业务日期 2018-03-15" in result.stdout
    assert "│ 工会助手 · 区总工会管理员" in result.stdout
    assert "/invite — 邀请街乡工会干部或社区工作者" in result.stdout
    # A terminal can't show the chart: it is saved, and the console says where.
    [chart] = list((tmp_path / "media" / "console").glob("photo-*.png"))
    assert f"📎 已保存文件：{chart}" in result.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_seed_demo_refuses_a_database_that_has_units(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/seeded.db"}
    first = unionbot("seed-demo", cwd=tmp_path, env=env)
    again = unionbot("seed-demo", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert again.returncode == 1
    [line] = again.stderr.strip().splitlines()
    assert line.startswith("unionbot: ") and "15099 units" in line


def test_status_prints_the_figures_the_chat_shows(demo_template: Path, tmp_path: Path) -> None:
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/unionbot.db", "BOT_TODAY": "2018-03-15"}
    text = unionbot("status", cwd=tmp_path, env=env)
    assert text.returncode == 0, text.stderr
    assert "共 390 家，已建会 186 家，建会率 47.69%（目标 ≥53%）" in text.stdout.splitlines()
    assert "<b>" not in text.stdout  # plain text in a terminal
    data = json.loads(unionbot("status", "--json", cwd=tmp_path, env=env).stdout)
    assert data["counts"]["rate_100_plus"] == 47.69
    assert data["remaining"] == {"rate_rule": 21, "count_rule": 91, "overall": 91}
    assert data["detail_by_band"] == {"100-499": 170, "500-999": 18, "1000+": 10}
    assert (data["counts"]["unionised_rate"], data["counts"]["member_coverage"]) == (16.08, 39.08)
    assert data["formation_pace"]["verdict"] == "behind"
    assert len(data["ranking"]) == 28
    street = json.loads(
        unionbot("status", "--street", "拱辰", "--json", cwd=tmp_path, env=env).stdout
    )
    assert street["row"]["name"] == "拱辰街道"
    assert street["report"] == {
        "period": "2018-03",
        "due_before": "2018-03-20",
        "submitted_on": None,
    }
    unknown = unionbot("status", "--street", "火星", cwd=tmp_path, env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "unionbot: no street matches '火星'"
