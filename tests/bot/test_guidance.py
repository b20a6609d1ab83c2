"""/guide: guidance visits to streets count toward the 50% coverage, once a day each."""

from __future__ import annotations

from bot.fake_api import visible
from bot.harness import Harness, alerts, shown, texts
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, seen


async def guidance_line(bot: Harness) -> str:
    [status] = texts(await bot.send(bot.api.user(ADMIN_ID), "/status"))
    return next(line for line in status.splitlines() if line.startswith("区总指导"))


async def test_a_guidance_visit_counts_once(demo_bot: Harness) -> None:
    admin = demo_bot.api.user(ADMIN_ID)
    assert await guidance_line(demo_bot) == "区总指导：已到 0 / 28 个街乡，目标 ≥14 个（50%）"
    [menu] = shown(await demo_bot.send(admin, "/guide"))
    stale_menu = dict(menu)
    [done] = shown(await demo_bot.press(admin, menu, OFFICER_STREET))
    assert visible(done["text"]) == seen(
        "guide.logged", street=OFFICER_STREET, guided=1, streets=28, needed=14
    )
    [again] = shown(await demo_bot.press(admin, stale_menu, OFFICER_STREET))
    assert visible(again["text"]) == seen(
        "guide.already", street=OFFICER_STREET, guided=1, streets=28, needed=14
    )
    assert await guidance_line(demo_bot) == "区总指导：已到 1 / 28 个街乡，目标 ≥14 个（50%）"


async def test_only_admins_log_guidance(demo_bot: Harness) -> None:
    officer = demo_bot.api.user(OFFICER_ID)
    assert texts(await demo_bot.send(officer, "/guide")) == [seen("access.admin_only")]
    [menu] = shown(await demo_bot.send(demo_bot.api.user(ADMIN_ID), "/guide"))
    calls = await demo_bot.press(officer, menu, OFFICER_STREET)
    assert alerts(calls) == [seen("access.admin_only")]
    forged = await demo_bot.process(
        demo_bot.api.callback_update(user=demo_bot.api.user(ADMIN_ID), message=menu, data="gd:999")
    )
    assert alerts(forged) == [seen("button.stale")]
    assert await guidance_line(demo_bot) == "区总指导：已到 0 / 28 个街乡，目标 ≥14 个（50%）"
