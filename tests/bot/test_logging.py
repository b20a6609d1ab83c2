"""One log line per update, with who sent it and which handler took it; and never a token
or a whole mobile number in any line, with the filter production logging puts on its
handler (bot/logs.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.harness import FAKE_TOKEN, Harness, shown
from bot.logs import Redact, secrets_to_hide
from tests.conftest import ADMIN_ID, OFFICER_ID

MOBILE = "13812345678"
STRANGER_ID = 55501


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything the bot logs when running (INFO), through the production filter."""
    caplog.set_level(logging.INFO)
    # pytest keeps one capturing handler for the whole run: the filter must go with the test,
    # or every later test's caplog would see its records redacted.
    redact = Redact(secrets_to_hide(FAKE_TOKEN))
    caplog.handler.addFilter(redact)
    yield caplog
    caplog.handler.removeFilter(redact)


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.event for r in caplog.records if r.name == "unionbot.updates"]  # type: ignore[attr-defined]


async def test_one_line_per_update_with_role_and_handler(
    demo_bot: Harness, logged: pytest.LogCaptureFixture
) -> None:
    api = demo_bot.api
    await demo_bot.send(api.user(ADMIN_ID), "/status")
    await demo_bot.send(api.user(OFFICER_ID), "/member")
    await demo_bot.send(api.user(STRANGER_ID), "hello")

    lines = events(logged)
    assert [(e["role"], e["chat_type"], e["handler"], e["outcome"]) for e in lines] == [
        ("district_admin", "private", "handlers.status.status_command", "ok"),
        ("street_officer", "private", "handlers.members.member_command", "ok"),
        ("stranger", "private", "handlers.access.gatekeeper", "ok"),
    ]
    assert len({e["update_id"] for e in lines}) == 3
    assert all(isinstance(e["ms"], float) and e["ms"] >= 0 for e in lines)
    # The line as written: key=value pairs, the message's text nowhere in it.
    [stranger] = [r for r in logged.records if r.name == "unionbot.updates"][2:]
    assert stranger.getMessage().startswith("event=update update_id=")
    assert "role=stranger chat_type=private handler=handlers.access.gatekeeper" in (
        stranger.getMessage()
    )
    assert "hello" not in logged.text


async def test_a_members_number_and_the_token_never_appear(
    demo_bot: Harness, logged: pytest.LogCaptureFixture
) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    await demo_bot.send(officer, "/member")
    await demo_bot.send(officer, "张三")
    await demo_bot.send(officer, MOBILE)
    [unit] = shown(await demo_bot.send(officer, "岳博"))
    [when] = shown(await demo_bot.press(officer, unit, "跳过"))
    [card] = shown(await demo_bot.press(officer, when, "今天"))
    [saved] = shown(await demo_bot.press(officer, card, "💾 保存"))
    assert "138****5678" in saved["text"]  # registered
    # A line that quotes both (as an HTTP client's error might) is masked too.
    logging.getLogger("unionbot.test").warning("POST /bot%s/send to %s", FAKE_TOKEN, MOBILE)

    assert len(events(logged)) == 7
    assert MOBILE not in logged.text
    assert "138****5678" in logged.text
    assert FAKE_TOKEN not in logged.text
