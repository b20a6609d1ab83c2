"""Forged and stale input: button data altered or replayed, codes guessed, commands meant for
another bot, a removed officer's old buttons, a member at the officers' buttons. Each is
refused (or, for another bot's command, ignored), the refusal is on the update's log line
(`refused=<text key>`, bot/update_log.py), and nothing in the database changes (the row
count of every table and the contents of those that change in place, as in
test_access_matrix.py).

What other files already prove is not repeated here:
- test_access.py: a stranger's commands and buttons; an invite used, expired or unknown; an
  invite opened in a group; a removed officer's /help and old /lang button; a stranger's
  "/help@some_other_bot" in a group.
- test_units.py: another street's unit by /unit, un: and ua:; a skipped stage; an old card's
  button after the write-off.
- test_joining.py: a join code for another street (jq:st); another street's officer deciding;
  a decision pressed twice; an unknown or expired join code; consent on an expired link.
- test_officers.py: a removed officer's /status and old ledger button; a removal confirmed
  twice. test_erasure.py: an erasure confirmed twice. test_guidance.py: a forged street, a
  guidance visit pressed twice. test_reminders.py: another street's snooze.
- test_quicklog_flow.py, test_members.py, test_members_import.py, test_data_import.py,
  test_reports.py: a save, an import, a close pressed twice; another street's report.
- test_access_matrix.py: every entry point, for every kind of person, in every kind of chat.
"""

from __future__ import annotations

import logging
import random
import re
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.fake_api import ApiCall
from bot.harness import Harness, alerts, texts
from bot.texts import catalogue
from bot.update_log import REFUSALS
from models.enums import Language, LedgerOutcome
from models.tables import LedgerEntry, Unit
from tests.bot.test_access_matrix import BOUND_GROUP, UNBOUND_GROUP, Persona, World, said
from tests.conftest import OFFICER_ID, OTHER_OFFICER_ID, make_settings, seen

STREET_A, STREET_B = "拱辰街道", "良乡镇"


@pytest.fixture
async def bot(demo_database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo bot, without PTB's flood limiter (hundreds of presses here) and keeping
    handler errors for the test to count rather than raising the first."""
    settings_ = make_settings(tmp_path, database_url=demo_database_url)
    async with Harness.running(settings_, rate_limit=False, raise_errors=False) as harness:
        yield harness


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="unionbot.updates")
    return caplog


@pytest.fixture
async def w(bot: Harness) -> World:
    return await World.build(bot)


def lines(log: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The update log's events, in order."""
    return [r.event for r in log.records if r.name == "unionbot.updates"]  # type: ignore[attr-defined]


def answer(calls: list[ApiCall]) -> list[str]:
    """Everything said back: messages sent or edited, and alerts."""
    return texts(calls) + alerts(calls)


async def refused(
    w: World, log: pytest.LogCaptureFixture, who: Persona, data: str, key: str, **values: Any
) -> None:
    """Pressing `data` is answered with `key` alone, logged as refused with it, and changes
    nothing in the database."""
    before = await w.snapshot()
    calls = await w.press(who, "private", data)
    assert answer(calls) == [seen(key, **values)], data
    assert lines(log)[-1].get("refused") == key, data
    assert await w.snapshot() == before, data
    assert w.bot.errors == [], data


async def open_units(w: World, street: str) -> list[tuple[int, str]]:
    """The street's open ledger units: id and stage, lowest id first."""
    async with w.db.session() as session:
        rows = await session.exec(
            select(Unit.id, LedgerEntry.stage)
            .join(LedgerEntry, col(LedgerEntry.unit_id) == Unit.id)
            .where(LedgerEntry.street_id == w.streets[street].id,
                   LedgerEntry.outcome == LedgerOutcome.OPEN)
            .order_by(col(Unit.id))
        )  # fmt: skip
        return [(unit_id, str(stage)) for unit_id, stage in rows.all() if unit_id is not None]


# --- altered data ---------------------------------------------------------------------------


def forged_by_an_officer(
    w: World, ids: dict[str, int]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Data a street officer of A might forge, and what the bot answers: (data, key, values)."""
    a, b = w.streets[STREET_A].id, w.streets[STREET_B].id
    yield f"un:{10**9 - 1}", "card.refused", {}  # no such unit
    yield f"ua:{10**9 - 1}:1", "card.refused", {}
    yield f"ua:{ids['unit_a']}:9", "card.refused", {}  # no such stage
    yield "ua:abc:1", "button.stale", {}  # not a number: no feature takes it
    yield f"ua:{10**10}:1", "button.stale", {}  # longer than any id
    yield "ul:s:" + "7" * 58, "button.stale", {}  # 64 bytes of nonsense
    yield "zz:" + "9" * 61, "button.stale", {}  # an unknown prefix
    yield f"uc:{ids['unit_b']}:s:{a}:-:-:-:-:0", "card.refused", {}  # B's unit, A's list
    yield f"ul:s:{b}:-:-:-:-:0", "units.refused", {}
    yield f"my:dd:{ids['meeting_b']}", "mine.refused", {}  # delete, skipping the question
    yield f"mv:dd:{ids['visit_b']}", "mine.refused", {}
    yield f"hist:m:{ids['meeting_b']}:0", "history.refused", {}
    yield f"ex:ledger:{b}", "export.refused", {}
    yield f"cmp:u:{ids['unit_b']}:{a}:b:0", "compare.refused", {}
    yield f"cmp:h:{b}", "compare.refused", {}
    yield f"jq:m:{a}:{ids['meeting_b']}", "button.stale", {}  # B's meeting on A's code
    yield f"sz:{ids['reminder_b']}:h", "remind.snooze_denied", {}  # another officer's reminder
    yield f"ja:ok:{ids['application_b']}", "join.not_yours", {"street": STREET_B}
    yield f"gd:{a}", "access.admin_only", {}
    yield "ra:cc:2018-03", "access.admin_only", {}
    yield f"off:ok:{OTHER_OFFICER_ID}", "access.admin_only", {}
    yield f"erase:ok:{ids['member_b']}", "access.admin_only", {}
    yield "rm:p:0", "access.admin_only", {}
    yield "inv:st:so:7", "access.admin_only", {}


def forged_by_an_admin(w: World) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """An admin may do nearly everything: what is refused is data that names nothing."""
    yield "inv:role:xx", "button.stale", {}  # a bogus role
    yield "inv:st:da:7", "button.stale", {}  # an admin's invite has no street
    yield f"inv:st:so:{10**6 - 1}", "button.stale", {}  # no such street
    yield f"ja:ok:{10**9 - 1}", "button.stale", {}
    yield f"jq:m:7:{10**9 - 1}", "button.stale", {}
    yield f"ra:s:2018-03:{10**6 - 1}", "button.stale", {}
    yield f"uc:{10**9 - 1}:d:-:-:-:-:-:0", "card.missing", {}
    yield "ul:d:-:99:-:-:-:0", "units.refused", {}  # a band the plan does not have
    yield f"cmp:h:{10**6 - 1}", "compare.refused", {}
    yield f"hist:u:{10**9 - 1}:0", "history.refused", {}
    yield f"my:dd:{10**9 - 1}", "mine.refused", {}
    yield f"sz:{10**9 - 1}:h", "remind.snooze_denied", {}
    yield f"sz:{10**12 - 1}:h", "button.stale", {}  # past any id a database column holds
    yield "rm:p:9", "button.stale", {}  # a rule that does not exist
    yield "rm:s:0:2500", "button.stale", {}  # 25:00
    yield "rm:t:9", "button.stale", {}
    yield f"off:ok:{10**9 - 1}", "officers.gone", {}
    yield f"erase:ok:{10**9 - 1}", "erase.gone", {}
    yield "jn:u:123", "button.stale", {}  # joining's unit without an application under way


async def targets(w: World) -> dict[str, int]:
    """Records of street B an officer of A might aim at: a meeting, a visit, a reminder, an
    application, a member; and a unit of each street."""
    b = w.streets[STREET_B]
    meeting = await w.meeting(b, OTHER_OFFICER_ID)
    visit = await w.visit(b, OTHER_OFFICER_ID)
    reminder = await w.reminder(OTHER_OFFICER_ID, b, private=True)
    application, _, _ = await w.application(b)
    member, _, _ = await w.registered(b)
    unit_a, unit_b = (await w.open_unit(w.streets[STREET_A]))[0], (await w.open_unit(b))[0]
    return {"meeting_b": meeting, "visit_b": visit, "reminder_b": reminder,
            "application_b": application, "member_b": member, "unit_a": unit_a,
            "unit_b": unit_b}  # fmt: skip


async def test_altered_data_from_an_officer_is_refused_logged_and_changes_nothing(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    ids = await targets(w)
    for data, key, values in forged_by_an_officer(w, ids):
        await refused(w, log, w.people["officer"], data, key, **values)


async def test_altered_data_from_an_admin_is_refused_logged_and_changes_nothing(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    for data, key, values in forged_by_an_admin(w):
        await refused(w, log, w.people["admin"], data, key, **values)


# --- replayed and stale -----------------------------------------------------------------------


async def test_an_old_ledger_button_after_the_unit_moved_on(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    officer = w.people["officer"]
    unit_id, stage = (await open_units(w, STREET_A))[0]
    assert stage == "surveyed"
    calls = await w.press(officer, "private", f"ua:{unit_id}:1")
    assert alerts(calls) == [seen("unit.advanced", stage="已发组建函")]
    # The same button again (a second device, a double tap): a step back now.
    await refused(w, log, officer, f"ua:{unit_id}:1", "refusal.backwards")
    await refused(w, log, officer, f"ua:{unit_id}:0", "refusal.backwards")
    await refused(w, log, officer, f"ua:{unit_id}:3", "refusal.skips_stage")


async def test_deleting_twice_deletes_once(w: World, log: pytest.LogCaptureFixture) -> None:
    officer = w.people["officer"]
    a = w.streets[STREET_A]
    meeting, visit = await w.meeting(a, OFFICER_ID), await w.visit(a, OFFICER_ID)
    for data in (f"my:dd:{meeting}", f"mv:dd:{visit}"):
        calls = await w.press(officer, "private", data)
        assert texts(calls) == [seen("mine.deleted")]
        await refused(w, log, officer, data, "mine.refused")


async def stale_after_cancel(w: World, who: Persona, steps: list[str], data: str) -> None:
    """Walk a conversation to a button, /cancel, then press it: nothing happens."""
    for step in steps:
        if step.startswith("press "):
            await w.press(who, "private", step.removeprefix("press "))
        else:
            await w.send(who, "private", step)
    assert texts(await w.send(who, "private", "/cancel")) == [seen("meeting.cancelled")]


@pytest.mark.parametrize(
    ("role", "steps", "data"),
    [
        ("officer", ["今天在拱辰街道开了职工沟通会，45人参加，新入会12人"], "mt:save"),
        ("officer", ["/meeting", "press mf:kind:worker"], "mf:held_on:0"),
        ("officer", ["/member", "张三", "13912340001", "press mb:skip", "press mb:today"],
         "mb:save"),
        ("officer", ["/report", "press rp:k:m", "无", "press rp:skip:notes"], "rp:ok"),
        ("admin", ["/welcome", "press wl:edit", "欢迎{name}加入{union}！"], "wl:save"),
        ("officer", ["/visit 岳博", "press vs:u:{unit}"], "vs:p:visit"),
    ],
)  # fmt: skip
async def test_a_button_pressed_after_cancel_is_stale(
    w: World, log: pytest.LogCaptureFixture, role: str, steps: list[str], data: str
) -> None:
    who = w.people[role]
    unit = (await open_units(w, STREET_A))[0][0]
    await stale_after_cancel(w, who, [s.replace("{unit}", str(unit)) for s in steps], data)
    await refused(w, log, who, data, "button.stale")


# --- codes ------------------------------------------------------------------------------------


def guesses(count: int, seed: int) -> list[str]:
    """Codes shaped like real ones (16 URL-safe characters, as secrets.token_urlsafe(12)
    makes them), and some that are not."""
    pick = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_"
    shaped = ["".join(pick.choice(alphabet) for _ in range(16)) for _ in range(count)]
    return [*shaped, "A" * 64, "0", "-_-_", "x" * 200]


async def test_guessed_invite_codes_are_refused_and_make_nobody_an_officer(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    before = await w.snapshot()
    for n, code in enumerate(guesses(25, seed=9)):
        stranger = w.api.user(70000 + n)
        assert texts(await w.bot.send(stranger, f"/start {code}")) == [seen("invite.unknown")]
        assert lines(log)[-1]["refused"] == "invite.unknown"
    assert await w.snapshot() == before


async def test_guessed_join_codes_are_refused_and_start_nothing(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    await w.press(w.people["officer"], "private", f"jq:m:{w.streets[STREET_A].id}:0")  # a real one
    before = await w.snapshot()
    for n, code in enumerate(["", *guesses(25, seed=10)]):
        stranger = w.api.user(71000 + n)
        assert texts(await w.bot.send(stranger, f"/start join-{code}")) == [
            seen("join.link_unknown")
        ]
        assert lines(log)[-1]["refused"] == "join.link_unknown"
        # Consent pressed with the guessed code (a forged card): nothing starts either.
        if code:
            calls = await w.press(Persona("stranger", stranger, None), "private",
                                  f"jn:ok:{code[:32]}")  # fmt: skip
            assert answer(calls) == [seen("join.link_expired_short")]
    assert await w.snapshot() == before


# --- another bot's commands -------------------------------------------------------------------


def commands(bot: Harness) -> list[str]:
    return sorted(
        c for group in bot.app.handlers.values() for h in group
        if isinstance(h, CommandHandler) for c in h.commands
    )  # fmt: skip


@pytest.mark.parametrize("chat_id", [BOUND_GROUP, UNBOUND_GROUP])
async def test_commands_to_another_bot_are_ignored_in_a_group(
    w: World, log: pytest.LogCaptureFixture, chat_id: int
) -> None:
    kind = "bound" if chat_id == BOUND_GROUP else "unbound"
    before = await w.snapshot()
    for role in ("admin", "officer", "worker", "stranger", "removed"):
        who = w.people[role]
        for command in commands(w.bot):
            calls = await w.send(who, kind, f"/{command}@other_union_bot 良乡镇")
            assert answer(calls) == [], f"{role} /{command}"
            assert not [c for c in calls if c.method.startswith(("send", "edit"))]
            assert "refused" not in lines(log)[-1]
    assert await w.snapshot() == before
    # The same command addressed to this bot is answered.
    assert answer(await w.send(w.people["admin"], kind, f"/help@{w.api.username}"))


# --- who may not press at all ---------------------------------------------------------------


def every_button(w: World, unit: int) -> list[str]:
    """One real press of every kind of button, aimed at street A's records."""
    a = w.streets[STREET_A].id
    return [
        f"st:s:{a}", f"ch:s:{a}", f"ul:s:{a}:-:-:-:-:0", f"uf:band:s:{a}:-:-:-:-:0",
        f"uc:{unit}:s:{a}:-:-:-:-:0", f"cmp:h:{a}", f"un:{unit}", f"ua:{unit}:1",
        f"uo:{unit}:closed", "ue:done", "my:d:1", "mv:d:1", f"vs:u:{unit}", "vs:new", "mb:skip",
        "mi:ok:0000abcd", "di:ok:0000abcd", "wl:edit", f"gd:{a}", "rp:k:m", "ra:v:2018-03",
        "ex:menu", "ob:v", "rm:v", "rm:p:0", "sz:1", f"hist:u:{unit}:0", "off:p:0",
        "erase:ok:1", "bind:d", "lang:en", "inv:role:da", f"inv:st:so:{a}", f"jq:m:{a}:0",
        "ja:ok:1", "mf:kind:worker", "mt:save", "zz:1",
    ]  # fmt: skip


async def test_every_kind_of_button_is_in_the_list_below(bot: Harness, w: World) -> None:
    """So the two tests after this one press every kind there is, but joining's: anyone may
    apply to join, and a member is told they are one (test_joining.py)."""
    pressed = every_button(w, 1)
    for handler in (h for group in bot.app.handlers.values() for h in group):
        if isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
            assert isinstance(handler.pattern, re.Pattern)
            if handler.pattern.match("jn:cancel"):
                continue
            assert any(handler.pattern.match(data) for data in pressed), handler.pattern.pattern


@pytest.mark.parametrize("role", ["removed", "member"])
async def test_a_removed_officer_or_a_member_pressing_officers_buttons(
    w: World, log: pytest.LogCaptureFixture, role: str
) -> None:
    who = w.people[role]
    unit = (await open_units(w, STREET_A))[0][0]
    for data in every_button(w, unit):
        await refused(w, log, who, data, "access.refused_short")


async def test_a_removed_officer_is_told_so_for_every_command(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    removed = w.people["removed"]
    before = await w.snapshot()
    open_to_all = {"join": "join.intro", "stop": "optout.not_member"}
    for command in commands(w.bot):
        calls = await w.send(removed, "private", f"/{command}")
        if command in open_to_all:  # anyone may apply to join, or stop messages
            assert said(calls, open_to_all[command]), command
            continue
        assert texts(calls) == [seen("access.removed")], command
        assert lines(log)[-1]["refused"] == "access.removed"
    for text in ("还差多少？", "今天在拱辰街道开了职工沟通会，45人参加"):
        assert texts(await w.send(removed, "private", text)) == [seen("access.removed")]
    await w.clear(removed)  # /join's consent card is not a write, but drop its draft anyway
    assert await w.snapshot() == before


# --- any data a button may carry -----------------------------------------------------------


def samples(pattern: str, count: int) -> list[str]:
    """`count` strings the pattern accepts, the same ones every run."""
    found: list[str] = []

    @settings(max_examples=count, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.from_regex(pattern, fullmatch=True))
    def collect(data: str) -> None:
        if len(data.encode()) <= 64:  # Telegram's limit for callback data
            found.append(data)

    collect()
    return found


async def test_any_data_a_button_pattern_admits_never_breaks_the_bot(
    w: World, log: pytest.LogCaptureFixture
) -> None:
    """Whatever a pattern lets through reaches a handler: it must answer, never fail, and
    write nothing when it refuses."""
    heavy = ("ex:", "cmp:x", "ch:", "di:")  # files and charts: seconds each, tested elsewhere
    for handler in (h for group in w.bot.app.handlers.values() for h in group):
        if not isinstance(handler, CallbackQueryHandler) or handler.pattern is None:
            continue
        assert isinstance(handler.pattern, re.Pattern)
        for data in samples(handler.pattern.pattern, 40):
            for role in ("officer", "worker", "admin"):
                if role == "admin" and data.startswith(heavy):
                    continue
                before = await w.snapshot()
                calls = await w.press(w.people[role], "private", data)
                assert w.bot.errors == [], f"{role} {data}: {w.bot.errors}"
                assert [c for c in calls if c.method == "answerCallbackQuery"], f"{role} {data}"
                if "refused" in lines(log)[-1]:
                    assert await w.snapshot() == before, f"{role} {data}"


def test_every_refusal_on_the_log_is_a_text_the_bot_has() -> None:
    zh = catalogue(Language.ZH)
    assert [key for key in REFUSALS if key not in zh] == []
