"""`unionbot run` as a real process against a Bot-API-compatible server: it starts, registers
its commands, answers /start and /help, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bot.app import COMMANDS
from bot.fake_api import FakeBotApi
from tests.botapi_server import serve
from tests.conftest import ADMIN_ID, seen

TOKEN = "123456789:TEST-token-for-the-local-fake"


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_run_against_a_bot_api_server_and_stop_on_sigterm(tmp_path: Path) -> None:
    api = FakeBotApi()
    with serve(api, TOKEN) as base_url:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db",
            "BOT_ADMIN_IDS": str(ADMIN_ID),
            "DEFAULT_LANGUAGE": "zh",
        }
        env.pop("BOT_TODAY", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,  # no .env there
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: any(c.method == "getUpdates" for c in api.calls), 30, "polling")
            assert {"", "zh", "en"} <= set(api.commands)
            assert [c["command"] for c in api.commands["zh"]] == list(COMMANDS)
            descriptions = {lang: {c["command"]: c["description"] for c in api.commands[lang]}
                            for lang in ("zh", "en")}  # fmt: skip
            assert descriptions["zh"]["help"] == "帮助"
            assert descriptions["en"]["help"] == "Help"

            admin = api.user(ADMIN_ID, "王老师")
            api.pending_updates.append(api.message_update(user=admin, text="/start"))
            api.pending_updates.append(api.message_update(user=admin, text="/help"))

            def replies() -> list[str]:
                return [
                    str(c.result["text"])
                    for c in api.calls
                    if c.method == "sendMessage" and c.status == 200
                ]

            wait_for(lambda: len(replies()) >= 2, 30, "two replies")
            welcome, help_text = replies()[:2]
            assert welcome == seen("start.welcome", name="王老师", role="区总工会管理员", street="")
            assert help_text.startswith("工会助手 · 区总工会管理员")
            assert "/invite" in help_text
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert TOKEN not in out + err
    assert "Traceback" not in err
