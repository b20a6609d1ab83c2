"""Reminders survive a crash: `unionbot run` is killed (SIGKILL) while due reminders are going
out, then two instances start on the same database at once. Every reminder the preview
promised reaches its chat exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.db import Database
from bot.fake_api import FakeBotApi
from models.chats import Scope, bind_chat
from models.enums import Language, Role
from models.geography import street_ids
from models.officers import ensure_officer
from tests.bot.test_run import TOKEN, wait_for
from tests.botapi_server import serve
from tests.conftest import ADMIN_ID

OFFICERS_PER_STREET = 3
HELD = 41  # the send in flight when the bot is killed


async def _staff_every_street(url: str) -> None:
    """Every street gets a bound group and three officers: 224 reminders at 09:00."""
    db = Database(url)
    now = datetime(2018, 3, 1, tzinfo=UTC)
    async with db.session(write=True) as session:
        streets = await street_ids(session=session)
        for n, (name, street_id) in enumerate(streets.items()):
            await bind_chat(session=session, chat_id=-100_000 - n, scope=Scope(street_id, name),
                            by_user_id=ADMIN_ID, now=now)  # fmt: skip
            for k in range(OFFICERS_PER_STREET):
                await ensure_officer(
                    session=session, telegram_user_id=30_000 + n * 10 + k,
                    role=Role.STREET_OFFICER, street_name=name, display_name=f"干部{n}-{k}",
                    language=Language.ZH, now=now,
                )  # fmt: skip
    await db.dispose()


def _pending(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        return int(conn.execute("SELECT count(*) FROM outboxmessage WHERE status != 'sent'")
                   .fetchone()[0])  # fmt: skip


def _sent(api: FakeBotApi) -> Counter[tuple[int, str]]:
    return Counter(
        (int(c.params["chat_id"]), str(c.params["text"]))
        for c in list(api.calls)
        if c.method == "sendMessage" and c.status == 200
    )


def test_killed_mid_send_then_two_instances_deliver_each_reminder_once(
    demo_template: Path, tmp_path: Path
) -> None:
    db_file = tmp_path / "unionbot.db"
    shutil.copy(demo_template, db_file)
    url = f"sqlite+aiosqlite:///{db_file}"
    asyncio.run(_staff_every_street(url))
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DATABASE_URL": url,
        "BOT_ADMIN_IDS": str(ADMIN_ID),
        "DEFAULT_LANGUAGE": "zh",
        "REMINDER_TICK_SECONDS": "1",
        "OUTBOX_INTERVAL_SECONDS": "0.5",
        "OUTBOX_LEASE_SECONDS": "5",
    }
    preview = subprocess.run(
        [sys.executable, "-m", "bot", "reminders", "preview", "--at", "2018-03-15T09:00",
         "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    promised = {(r["chat_id"], r["text"]) for r in json.loads(preview)}
    # Monthly and quarterly (March ends a quarter), to each group and officer, and to the
    # demo's two officers.
    assert len(promised) == (28 * (1 + OFFICERS_PER_STREET) + 2) * 2

    def start(moment: str, api_url: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env={**env, "TELEGRAM_API_BASE_URL": api_url, "BOT_TODAY": moment},
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    api, holding = FakeBotApi(), threading.Event()
    with serve(api, TOKEN, hold_send=HELD, holding=holding) as base_url:
        # The clock starts just before 09:00, when the 15th's reminders fall due; the bot
        # is killed with its 41st reminder in flight.
        first = start("2018-03-15T08:59:57", base_url)
        try:
            assert holding.wait(60), "no reminders went out"
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        assert sum(_sent(api).values()) == HELD - 1

        # Back three minutes later, twice at once, on the same database.
        both = [start("2018-03-15T09:03:00", base_url) for _ in range(2)]
        try:
            wait_for(lambda: _pending(db_file) == 0, 90, "the outbox to drain")
        finally:
            for proc in both:
                proc.send_signal(signal.SIGTERM)
            errors = [proc.communicate(timeout=30)[1] for proc in both]
        assert all(proc.returncode == 0 for proc in both), errors

    sent = _sent(api)
    assert set(sent) == promised
    assert [pair for pair, n in sent.items() if n > 1] == []
