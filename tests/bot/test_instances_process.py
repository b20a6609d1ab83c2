"""Two instances in webhook mode on one PostgreSQL database, as behind a load balancer: the
updates of each conversation alternate between them, one instance is killed (SIGKILL) with a
reminder in flight, and the other carries on. Every reminder and every welcome reaches its
chat exactly once, and every conversation is completed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bot.db import Database
from bot.fake_api import JSON, FakeBotApi, buttons
from models.enums import MeetingKind
from models.tables import Meeting, OutboxMessage
from tests.bot.test_reminders_process import OFFICERS_PER_STREET, _sent, _staff_every_street
from tests.bot.test_run import TOKEN, wait_for
from tests.bot.test_welcome_process import MEMBERS, _register
from tests.botapi_server import serve
from tests.conftest import ADMIN_ID
from tests.sms_server import TOKEN as SMS_TOKEN
from tests.sms_server import serve_generic

SECRET = "instances-test-secret"
HELD = 10  # the tenth reminder to a group, from the first instance: in flight when it dies
TALKERS = [30_000 + n * 10 for n in range(6)]  # an officer of each of six streets


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(port: int, update: JSON) -> int:
    """Deliver an update as Telegram does; the instance answers once it has handled it."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _count(url: str, *where: object) -> int:
    async def run() -> int:
        db = Database(url)
        try:
            async with db.session() as session:
                query = select(func.count()).select_from(OutboxMessage).where(*where)  # type: ignore[arg-type]
                return int((await session.exec(query)).one())
        finally:
            await db.dispose()

    return asyncio.run(run())


def _meetings(url: str) -> list[tuple[int, str, str, int]]:
    async def run() -> list[tuple[int, str, str, int]]:
        db = Database(url)
        try:
            async with db.session() as session:
                query = select(Meeting.created_by, Meeting.kind, Meeting.place, Meeting.attendees)
                return list((await session.exec(query.order_by(col(Meeting.id)))).all())
        finally:
            await db.dispose()

    return asyncio.run(run())


class Conversation:
    """One officer logging a worker meeting with /meeting, step by step, through whichever
    instance `port` names at each step."""

    def __init__(self, api: FakeBotApi, user_id: int) -> None:
        self.api, self.user_id = api, user_id
        self.user = api.user(user_id)
        self.steps: list[Callable[[int], None]] = [
            lambda port: self.say(port, "/meeting"),
            lambda port: self.press(port, "职工沟通会"),
            lambda port: self.say(port, "3月5日"),
            lambda port: self.say(port, f"第{user_id}号活动中心"),
            lambda port: self.press(port, "社区"),
            lambda port: self.say(port, "45"),
            lambda port: self.say(port, "12"),
            lambda port: self.press(port, "跳过"),
            lambda port: self.press(port, "✅ 完成"),
            lambda port: self.press(port, "💾 保存"),
        ]

    def say(self, port: int, text: str) -> None:
        assert _post(port, self.api.message_update(user=self.user, text=text)) == 200

    def press(self, port: int, label: str) -> None:
        message = self.last_with(label)
        data = dict(buttons(message))[label]
        update = self.api.callback_update(user=self.user, message=message, data=data)
        assert _post(port, update) == 200

    def last_with(self, label: str) -> JSON:
        """The flow's latest message with that button (reminders come to this chat too)."""
        for call in reversed(list(self.api.calls)):
            result = call.result if isinstance(call.result, dict) else None
            if (
                result
                and call.status == 200
                and result.get("chat", {}).get("id") == self.user_id
                and label in dict(buttons(result))
            ):
                return result
        raise AssertionError(f"no message to {self.user_id} with the button {label!r}")


def test_two_instances_one_killed_everything_once_every_conversation_done(
    demo_database_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("several instances share a PostgreSQL database")
    url = demo_database_url
    asyncio.run(_staff_every_street(url))
    asyncio.run(_register(url))  # 120 members, each welcomed by SMS and in Telegram
    preview = subprocess.run(
        [sys.executable, "-m", "bot", "reminders", "preview", "--at", "2018-03-15T09:00",
         "--json"], env={**os.environ, "DATABASE_URL": url, "DEFAULT_LANGUAGE": "zh"},
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    promised = {(r["chat_id"], r["text"]) for r in json.loads(preview)}
    assert len(promised) == (28 * (1 + OFFICERS_PER_STREET) + 2) * 2  # monthly and quarterly
    ports = [_free_port(), _free_port()]

    api, holding, shared = FakeBotApi(), threading.Event(), threading.Lock()
    to_group: Callable[[JSON], bool] = lambda params: int(params["chat_id"]) < 0  # noqa: E731
    with (
        serve(api, TOKEN, hold_send=HELD, holding=holding, hold_if=to_group, lock=shared) as a,
        serve(api, TOKEN, lock=shared) as b,
        serve_generic() as sms,
    ):
        env = {
            **os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": url,
            "BOT_ADMIN_IDS": str(ADMIN_ID), "DEFAULT_LANGUAGE": "zh",
            # The clock starts ten seconds before the 15th's 09:00 reminders fall due.
            "BOT_TODAY": "2018-03-15T08:59:50", "REMINDER_TICK_SECONDS": "1",
            "OUTBOX_INTERVAL_SECONDS": "0.5", "OUTBOX_LEASE_SECONDS": "5",
            "SMS_GATEWAY": "http", "SMS_HTTP_URL": sms.url,
            "SMS_HTTP_AUTH_HEADER": f"Authorization: {SMS_TOKEN}", "SMS_RATE_PER_SECOND": "50",
            "WEBHOOK_URL": "https://bot.example.org", "WEBHOOK_SECRET_TOKEN": SECRET,
        }  # fmt: skip
        instances = [
            subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--webhook"],
                env={**env, "TELEGRAM_API_BASE_URL": api_url, "WEBHOOK_PORT": str(port)},
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for api_url, port in ((a, ports[0]), (b, ports[1]))
        ]
        try:
            for proc, port in zip(instances, ports, strict=True):
                ready = partial(lambda p, n: p.poll() is not None or _healthy(n), proc, port)
                wait_for(ready, 90, f"the instance on {port} to serve")
                assert proc.poll() is None, proc.communicate(timeout=10)[1]
            talks = [Conversation(api, user_id) for user_id in TALKERS]
            # The first half of every conversation, its steps alternating between instances.
            for step in range(5):
                for talk in talks:
                    talk.steps[step](ports[step % 2])
            assert holding.wait(60), "no reminders went out from the first instance"
            instances[0].send_signal(signal.SIGKILL)  # a reminder in flight
            instances[0].communicate(timeout=30)
            # The balancer now sends everything to the survivor: the rest of each conversation.
            for step in range(5, len(talks[0].steps)):
                for talk in talks:
                    talk.steps[step](ports[1])
            wait_for(lambda: _count(url, col(OutboxMessage.status) != "sent") == 0, 120,
                     "every reminder and welcome to go out")  # fmt: skip
        finally:
            for proc in instances:
                if proc.poll() is None:  # the survivor; or both, if the test failed early
                    proc.send_signal(signal.SIGTERM)
            errors = [
                "" if proc.stderr is None or proc.stderr.closed else proc.communicate(timeout=30)[1]
                for proc in instances
            ]
        assert instances[1].returncode == 0, errors[1]

    sent = _sent(api)
    assert [pair for pair, n in sent.items() if n > 1] == []  # nothing twice, in any chat
    assert {pair for pair in sent if pair in promised} == promised  # every reminder, once
    welcomes = Counter(chat for chat, text in sent if text.startswith("会员"))
    assert sorted(welcomes) == [90_000 + i for i in range(MEMBERS)]
    assert set(welcomes.values()) == {1}
    by_sms = Counter(m.mobile for m in sms.messages)
    assert sorted(by_sms) == [f"139{i:08d}" for i in range(MEMBERS)]
    assert set(by_sms.values()) == {1}
    assert sorted(_meetings(url)) == [
        (user_id, MeetingKind.WORKER, f"第{user_id}号活动中心", 45) for user_id in TALKERS
    ]
