"""Webhook mode: `unionbot run --webhook` as a real process behind the fake Bot API registers
its webhook with the secret, refuses requests without it, answers updates only once they are
processed, reports its health, and stops cleanly on SIGTERM. Then the web app in-process:
malformed bodies, an unreachable database (503), and chats kept in order."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import httpx

from bot.app import build_application
from bot.fake_api import FakeBotApi
from bot.harness import FAKE_TOKEN, Harness, texts
from bot.web import SECRET_HEADER, ChatTurns, webhook_app
from tests.bot.test_run import TOKEN, wait_for
from tests.botapi_server import serve
from tests.conftest import ADMIN_ID, make_settings, seen

SECRET = "s3cret_Token-for-the-test"
PUBLIC = "https://bot.example.org/unionbot"


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def body_instance(report: str) -> str:
    """The instance a /health message names (host:pid:random)."""
    found = re.search(r"\S+:\d+:[0-9a-f]{6}", report)
    assert found is not None, report
    return found.group()


def sent_texts(api: FakeBotApi, since: int = 0) -> list[str]:
    return [str(c.result["text"]) for c in api.since(since)
            if c.method == "sendMessage" and c.status == 200]  # fmt: skip


def test_webhook_mode_as_a_process(tmp_path: Path) -> None:
    api, port = FakeBotApi(), free_port()
    with serve(api, TOKEN) as base_url:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db",
            "BOT_ADMIN_IDS": str(ADMIN_ID),
            "DEFAULT_LANGUAGE": "zh",
            "WEBHOOK_URL": PUBLIC,
            "WEBHOOK_PATH": "/tg",
            "WEBHOOK_PORT": str(port),
            "WEBHOOK_SECRET_TOKEN": SECRET,
        }
        env.pop("BOT_TODAY", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        stopped_in: float | None = None
        try:
            wait_for(lambda: bool(api.webhook), 30, "setWebhook")
            assert api.webhook["url"] == f"{PUBLIC}/tg"
            assert api.webhook["secret_token"] == SECRET
            assert api.webhook["max_connections"] == 40
            assert "callback_query" in api.webhook["allowed_updates"]
            assert api.webhook["drop_pending_updates"] is False
            assert not any(c.method == "getUpdates" for c in api.calls)  # no polling

            admin = api.user(ADMIN_ID, "王老师")
            hook = f"http://127.0.0.1:{port}/tg"
            with httpx.Client(timeout=30) as http:
                mark = len(api.calls)
                start = api.message_update(user=admin, text="/start")
                assert http.post(hook, json=start).status_code == 403
                wrong = {SECRET_HEADER: SECRET[:-1] + "x"}
                assert http.post(hook, json=start, headers=wrong).status_code == 403
                assert http.get(hook).status_code == 405
                assert sent_texts(api, mark) == []  # refused: nothing processed

                good = {SECRET_HEADER: SECRET}
                assert http.post(hook, content=b"{not json", headers=good).status_code == 400
                # Answered once processed: the reply is at the Bot API before the 200 is.
                assert http.post(hook, json=start, headers=good).status_code == 200
                assert sent_texts(api, mark) == [
                    seen("start.welcome", name="王老师", role="区总工会管理员", street="")
                ]
                asked = api.message_update(user=admin, text="/health")
                assert http.post(hook, json=asked, headers=good).status_code == 200
                report = sent_texts(api, mark)[-1]
                assert report.startswith(seen("health.title", when="")[:5])
                assert seen("health.instance", mode=seen("health.mode_webhook"),
                            instance=body_instance(report), version=version("unionbot")
                            ) in report  # fmt: skip
                assert f":{proc.pid}:" in body_instance(report)

                health = http.get(f"http://127.0.0.1:{port}/health")
                assert health.status_code == 200
                body = health.json()
                assert body["status"] == "ok"
                assert body["database"]["ok"] is True
                assert body["database"]["latency_ms"] >= 0
                assert set(body["outbox"]) == {"telegram", "sms"}
                assert body["outbox"]["telegram"]["due"] == 0
                assert set(body["reminders"]) >= {"last_tick_at", "last_tick_age_seconds",
                                                  "overdue", "tick_seconds"}  # fmt: skip
                assert body["mode"] == "webhook"
                assert re.fullmatch(rf".+:{proc.pid}:[0-9a-f]{{6}}", body["instance"])
                assert body["version"] == version("unionbot")
                assert SECRET not in health.text and TOKEN not in health.text
                assert http.head(f"http://127.0.0.1:{port}/health").status_code == 200
        finally:
            began = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=30)
                stopped_in = time.monotonic() - began
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert stopped_in is not None and stopped_in < 5
    assert TOKEN not in out + err
    assert SECRET not in out + err
    assert "Traceback" not in err
    assert "refused a request without the secret token" in err


async def test_malformed_requests_are_refused_and_nothing_is_processed(demo_bot: Harness) -> None:
    web = webhook_app(demo_bot.app, path="/telegram", secret=SECRET)
    good = {SECRET_HEADER: SECRET}
    transport = httpx.ASGITransport(app=web)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        mark = len(demo_bot.api.calls)
        assert (await http.post("/telegram", content=b"[1, 2]", headers=good)).status_code == 400
        assert (await http.post("/telegram", content=b"\xff\xfe", headers=good)).status_code == 400
        assert (await http.post("/telegram", json={"x": 1}, headers=good)).status_code == 400
        empty = {SECRET_HEADER: ""}
        assert (await http.post("/telegram", json={}, headers=empty)).status_code == 403
        assert demo_bot.api.since(mark) == []

        admin = demo_bot.api.user(ADMIN_ID, "王老师")
        update = demo_bot.api.message_update(user=admin, text="/status")
        assert (await http.post("/telegram", json=update, headers=good)).status_code == 200
        [status] = texts(demo_bot.api.since(mark))
        assert "390" in status  # the district's ≥100 units, as /status shows them
        assert len(web.state.turns) == 0  # no chat's lock is kept once its updates are done


async def test_health_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    settings = make_settings(tmp_path, database_url="postgresql+asyncpg://postgres@127.0.0.1:1/x")
    app = build_application(settings, token=FAKE_TOKEN, request=FakeBotApi())
    web = webhook_app(app, path="/telegram", secret=SECRET)
    try:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
            answer = await http.get("/health")
    finally:
        await app.bot_data.db.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unavailable"
    assert body["database"] == {"ok": False, "latency_ms": None, "error": "ConnectionRefusedError"}
    assert body["outbox"] is None and body["reminders"] is None
    assert "postgres@" not in answer.text


async def test_one_chats_updates_wait_their_turn_while_other_chats_go_on() -> None:
    turns, order = ChatTurns(), []
    release = asyncio.Event()

    async def update(chat: int, name: str, *, hold: bool = False) -> None:
        async with turns.turn(chat):
            order.append(f"{name} starts")
            if hold:
                await release.wait()
            order.append(f"{name} ends")

    first = asyncio.create_task(update(1, "first", hold=True))
    await asyncio.sleep(0)
    second = asyncio.create_task(update(1, "second"))
    other = asyncio.create_task(update(2, "other chat"))
    await other
    assert order == ["first starts", "other chat starts", "other chat ends"]
    assert len(turns) == 1  # chat 2's lock is gone; chat 1 has two updates in hand
    release.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["first ends", "second starts", "second ends"]
    assert len(turns) == 0
