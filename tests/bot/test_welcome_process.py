"""Welcomes survive a crash: `unionbot run` is killed (SIGKILL) in the middle of a batch, with a
Telegram message and an SMS in flight, then restarted twice over on the same database. Every
member gets exactly one welcome by SMS and one in Telegram."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from bot.db import Database
from bot.fake_api import FakeBotApi
from models.geography import street_ids
from models.members import MemberSource, NewMember, register_member
from models.plan import load_plan
from tests.bot.test_reminders_process import _sent
from tests.bot.test_run import TOKEN, wait_for
from tests.botapi_server import serve
from tests.conftest import ADMIN_ID
from tests.sms_server import TOKEN as SMS_TOKEN
from tests.sms_server import serve_generic

MEMBERS = 120
HELD = 41  # the Telegram welcome in flight when the bot is killed
HELD_SMS = 21  # and the SMS


async def _register(url: str) -> None:
    db = Database(url)
    plan = load_plan(Path("plans/fangshan-2018.toml"))
    now = datetime(2018, 3, 14, 2, tzinfo=UTC)
    async with db.session(write=True) as session:
        street = (await street_ids(session=session))["拱辰街道"]
        for i in range(MEMBERS):
            new = NewMember(name=f"会员{i}", mobile=f"139{i:08d}", street_id=street,
                            joined_on=date(2018, 3, 14), telegram_user_id=90_000 + i)  # fmt: skip
            await register_member(session=session, member=new, source=MemberSource.IMPORT,
                                  by_user_id=ADMIN_ID, now=now, plan=plan)  # fmt: skip
    await db.dispose()


def _pending(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        query = "SELECT count(*) FROM outboxmessage WHERE kind = 'welcome' AND status != 'sent'"
        return int(conn.execute(query).fetchone()[0])


def test_killed_mid_batch_then_restarted_welcomes_each_member_once_per_channel(
    demo_template: Path, tmp_path: Path
) -> None:
    db_file = tmp_path / "unionbot.db"
    shutil.copy(demo_template, db_file)
    url = f"sqlite+aiosqlite:///{db_file}"
    asyncio.run(_register(url))
    assert _pending(db_file) == 2 * MEMBERS

    api, holding = FakeBotApi(), threading.Event()
    with serve(api, TOKEN, hold_send=HELD, holding=holding) as base_url, serve_generic() as sms:
        sms.hold = HELD_SMS
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": base_url,
            "DATABASE_URL": url,
            "BOT_ADMIN_IDS": str(ADMIN_ID),
            "BOT_TODAY": "2018-03-14T10:00",  # a day with no reminders due
            "REMINDER_TICK_SECONDS": "1",
            "OUTBOX_INTERVAL_SECONDS": "0.5",
            "OUTBOX_LEASE_SECONDS": "5",
            "SMS_GATEWAY": "http",
            "SMS_HTTP_URL": sms.url,
            "SMS_HTTP_AUTH_HEADER": f"Authorization: {SMS_TOKEN}",
        }

        def start(moment: str, sms_rate: int) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                env={**env, "BOT_TODAY": moment, "SMS_RATE_PER_SECOND": str(sms_rate)},
                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip

        # SMS go out 200 ms apart, so the held one is the only one in flight at the kill.
        first = start("2018-03-14T10:00", sms_rate=5)
        try:
            assert holding.wait(60), "no welcomes went out in Telegram"
            assert sms.holding.wait(60), "no welcomes went out by SMS"
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        assert sum(_sent(api).values()) == HELD - 1
        assert len(sms.messages) == HELD_SMS - 1

        both = [start("2018-03-14T10:05", sms_rate=50) for _ in range(2)]
        try:
            wait_for(lambda: _pending(db_file) == 0, 90, "every welcome to go out")
        finally:
            for proc in both:
                proc.send_signal(signal.SIGTERM)
            errors = [proc.communicate(timeout=30)[1] for proc in both]
        assert all(proc.returncode == 0 for proc in both), errors

    telegram = Counter(chat for chat, text in _sent(api) if text.startswith("会员"))
    assert sorted(telegram) == [90_000 + i for i in range(MEMBERS)]
    assert set(telegram.values()) == {1}
    by_sms = Counter(m.mobile for m in sms.messages)
    assert sorted(by_sms) == [f"139{i:08d}" for i in range(MEMBERS)]
    assert set(by_sms.values()) == {1}
    assert all(m.text.startswith("【房山区总工会】会员") for m in sms.messages)
