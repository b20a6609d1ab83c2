"""Welcome SMS from the outbox through the SMS gateways, on the demo district with an explicit
clock: members registered as officers register them, their SMS reaching a local gateway
(tests/sms_server.py) exactly once each, and what 429s, 5xx, timeouts, refused numbers,
opted-out members, a refused account and a missing gateway do."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.context import BotContext
from bot.fake_api import visible
from bot.harness import Harness
from models.enums import Language, OutboxChannel, OutboxStatus
from models.geography import street_ids
from models.members import Duplicate, MemberSource, NewMember, register_member
from models.outbox import MAX_ATTEMPTS
from models.tables import Member, OutboxMessage
from reminders.jobs import send_sms
from reminders.sender import drain
from reminders.sms import AliyunSmsGateway, HttpSmsGateway, SmsGateway
from reminders.sms_sender import ACCOUNT_PAUSE, SmsChannel, SmsDrain, drain_sms
from tests import sms_server
from tests.conftest import ADMIN_ID, OFFICER_ID, OFFICER_STREET, make_settings
from tests.sms_server import Gateway

CST = ZoneInfo("Asia/Shanghai")
T0 = datetime(2018, 3, 15, 10, tzinfo=CST)
SIGNATURE = "【房山区总工会】"


async def register(
    h: Harness,
    name: str,
    mobile: str,
    telegram_user_id: int | None = None,
    now: datetime = T0,
) -> int:
    data = h.app.bot_data
    async with data.db.session(write=True) as session:
        street = (await street_ids(session=session))[OFFICER_STREET]
        new = NewMember(name=name, mobile=mobile, street_id=street, joined_on=date(2018, 3, 15),
                        telegram_user_id=telegram_user_id)  # fmt: skip
        member = await register_member(session=session, member=new, source=MemberSource.OFFICER,
                                       by_user_id=OFFICER_ID, now=now, plan=data.plan)  # fmt: skip
    assert not isinstance(member, Duplicate) and member.id is not None
    return member.id


async def sms_rows(h: Harness) -> dict[str, OutboxMessage]:
    """The SMS rows by number."""
    async with h.app.bot_data.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.channel == OutboxChannel.SMS)
            .order_by(col(OutboxMessage.id))
        )
        return {r.recipient: r for r in rows.all()}


async def outbox_keys(h: Harness, prefix: str) -> list[str]:
    async with h.app.bot_data.db.session() as session:
        rows = await session.exec(
            select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).startswith(prefix))
        )
        return list(rows.all())


async def run(h: Harness, channel: SmsChannel, when: datetime) -> SmsDrain:
    return await drain_sms(
        channel=channel, db=h.app.bot_data.db, now=lambda: when, worker="test",
        admins=(ADMIN_ID,), language=Language.ZH,
    )  # fmt: skip


def channel_for(gateway: SmsGateway | None, rate: float = 200.0) -> SmsChannel:
    return SmsChannel(gateway, rate)


@pytest.fixture
def generic() -> Iterator[Gateway]:
    with sms_server.serve_generic() as gw:
        yield gw


@pytest.fixture
async def http(generic: Gateway) -> AsyncIterator[SmsChannel]:
    channel = channel_for(
        HttpSmsGateway(url=generic.url, auth_header=f"Authorization: {sms_server.TOKEN}",
                       timeout=0.5)
    )  # fmt: skip
    yield channel
    await channel.aclose()


@pytest.fixture
def aliyun_server() -> Iterator[Gateway]:
    with sms_server.serve_aliyun() as gw:
        yield gw


def aliyun_gateway(server: Gateway, secret: str = sms_server.ACCESS_KEY_SECRET) -> AliyunSmsGateway:
    return AliyunSmsGateway(
        access_key_id=sms_server.ACCESS_KEY_ID, access_key_secret=secret,
        sign_name=sms_server.SIGN_NAME, template_code=sms_server.TEMPLATE_CODE,
        endpoint=server.url, timeout=2,
    )  # fmt: skip


@pytest.fixture
async def aliyun(aliyun_server: Gateway) -> AsyncIterator[SmsChannel]:
    channel = channel_for(aliyun_gateway(aliyun_server))
    yield channel
    await channel.aclose()


async def test_welcomes_reach_the_gateway_once_each(
    demo_bot: Harness, generic: Gateway, http: SmsChannel
) -> None:
    members = {"13812345678": "张三", "13987654321": "李四", "15011112222": "王五"}
    for mobile, name in members.items():
        await register(demo_bot, name, mobile, telegram_user_id=777 if name == "张三" else None)

    assert (await run(demo_bot, http, T0)).handled == 3
    assert (await run(demo_bot, http, T0 + timedelta(hours=1))).handled == 0

    rows = await sms_rows(demo_bot)
    for mobile, name in members.items():
        assert generic.texts_to(mobile) == [rows[mobile].payload["text"]]
        assert generic.texts_to(mobile)[0].startswith(
            f"{SIGNATURE}{name}您好，欢迎加入拱辰街道总工会"
        )
        assert rows[mobile].status is OutboxStatus.SENT
    assert len(generic.messages) == generic.requests == 3
    # The Telegram welcome is the Telegram sender's: the SMS sender left it alone.
    async with demo_bot.app.bot_data.db.session() as session:
        telegram = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.recipient == "777"))
        ).one()
    assert telegram.status is OutboxStatus.PENDING


async def test_429_and_5xx_are_ridden_out(
    demo_bot: Harness, generic: Gateway, http: SmsChannel
) -> None:
    mobiles = ["13812345678", "13987654321", "15011112222"]
    for i, mobile in enumerate(mobiles):
        await register(demo_bot, f"会员{i}", mobile)
    generic.fail_next("429", seconds=30)
    generic.fail_next("500")

    await run(demo_bot, http, T0)
    rows = await sms_rows(demo_bot)
    waiting = sorted(
        (r.attempts, r.not_before - T0) for r in rows.values() if r.status is OutboxStatus.PENDING
    )
    # The 429 waits its Retry-After and does not count; the 500 backs off 5 s and counts.
    assert waiting == [(0, timedelta(seconds=30)), (1, timedelta(seconds=5))]
    assert len(generic.messages) == 1

    await run(demo_bot, http, T0 + timedelta(seconds=10))
    assert len(generic.messages) == 2
    await run(demo_bot, http, T0 + timedelta(seconds=31))
    rows = await sms_rows(demo_bot)
    assert all(r.status is OutboxStatus.SENT for r in rows.values())
    assert sorted(m.mobile for m in generic.messages) == sorted(mobiles)  # each exactly once
    assert generic.requests == 5


async def test_a_slow_gateway_times_out_and_the_message_goes_later(
    demo_bot: Harness, generic: Gateway, http: SmsChannel
) -> None:
    await register(demo_bot, "张三", "13812345678")
    generic.fail_next("slow", seconds=1.5)  # the client waits 0.5 s

    await run(demo_bot, http, T0)
    row = (await sms_rows(demo_bot))["13812345678"]
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.last_error is not None and "timeout" in row.last_error

    await run(demo_bot, http, T0 + timedelta(seconds=10))
    assert (await sms_rows(demo_bot))["13812345678"].status is OutboxStatus.SENT
    assert len(generic.texts_to("13812345678")) == 1


async def test_an_invalid_number_fails_at_once_and_is_not_retried(
    demo_bot: Harness, generic: Gateway, http: SmsChannel
) -> None:
    await register(demo_bot, "张三", "13812345678")
    await register(demo_bot, "李四", "19900000000")
    generic.invalid.add("19900000000")

    await run(demo_bot, http, T0)
    await run(demo_bot, http, T0 + timedelta(days=1))
    rows = await sms_rows(demo_bot)
    failed = rows["19900000000"]
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 0)
    assert failed.last_error is not None and "number does not exist" in failed.last_error
    assert rows["13812345678"].status is OutboxStatus.SENT
    assert generic.requests == 2


async def test_transient_failures_are_given_up_after_max_attempts(
    demo_bot: Harness, generic: Gateway, http: SmsChannel
) -> None:
    await register(demo_bot, "张三", "13812345678")
    generic.fail_next("500", times=MAX_ATTEMPTS + 5)
    for hour in range(MAX_ATTEMPTS + 3):
        await run(demo_bot, http, T0 + timedelta(hours=hour))
    row = (await sms_rows(demo_bot))["13812345678"]
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, MAX_ATTEMPTS)
    assert generic.requests == MAX_ATTEMPTS and generic.messages == []


async def test_an_opted_out_member_is_cancelled_not_sent(
    demo_bot: Harness, generic: Gateway, http: SmsChannel
) -> None:
    member_id = await register(demo_bot, "张三", "13812345678")
    await register(demo_bot, "李四", "13987654321")
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        member = await session.get(Member, member_id)
        assert member is not None
        member.opted_out_at = T0  # 退订 after the welcome was queued, before it went
        session.add(member)

    await run(demo_bot, http, T0)
    rows = await sms_rows(demo_bot)
    assert rows["13812345678"].status is OutboxStatus.CANCELLED
    assert rows["13987654321"].status is OutboxStatus.SENT
    assert [m.mobile for m in generic.messages] == ["13987654321"]


async def test_without_a_gateway_sms_wait_and_the_admin_is_told_once(demo_bot: Harness) -> None:
    data = demo_bot.app.bot_data
    assert data.sms.gateway is None  # the test settings name no gateway
    await register(demo_bot, "张三", "13812345678")
    await register(demo_bot, "李四", "13987654321")
    context = BotContext(demo_bot.app)
    for _ in range(3):
        await send_sms(context)
    await register(demo_bot, "王五", "15011112222")
    await send_sms(context)

    rows = await sms_rows(demo_bot)
    assert [r.status for r in rows.values()] == [OutboxStatus.PENDING] * 3
    assert await outbox_keys(demo_bot, "sms-unconfigured|") == [f"sms-unconfigured|{ADMIN_ID}"]

    mark = len(demo_bot.api.calls)
    await drain(bot=demo_bot.app.bot, db=data.db, now=data.clock.now, worker="test")
    to_admin = [
        visible(str(c.params["text"]))
        for c in demo_bot.api.since(mark)
        if c.method == "sendMessage" and c.params["chat_id"] == ADMIN_ID
    ]
    assert len(to_admin) == 1
    assert "2 条短信在等待发送" in to_admin[0] and "SMS_GATEWAY" in to_admin[0]


async def test_aliyun_signs_and_sends_the_text_into_the_template(
    demo_bot: Harness, aliyun_server: Gateway, aliyun: SmsChannel
) -> None:
    await register(demo_bot, "张三", "13812345678")
    await register(demo_bot, "李四", "13987654321")
    await register(demo_bot, "王五", "19900000000")
    aliyun_server.invalid.add("19900000000")
    aliyun_server.fail_next("throttle")

    await run(demo_bot, aliyun, T0)
    await run(demo_bot, aliyun, T0 + timedelta(minutes=1))
    rows = await sms_rows(demo_bot)
    for mobile in ("13812345678", "13987654321"):
        text = rows[mobile].payload["text"]
        assert text.startswith(SIGNATURE)
        # Aliyun adds the approved signature itself: the template gets the text without it.
        assert aliyun_server.texts_to(mobile) == [text.removeprefix(SIGNATURE)]
        assert rows[mobile].status is OutboxStatus.SENT
    refused = rows["19900000000"]
    assert refused.status is OutboxStatus.FAILED
    assert refused.last_error is not None
    assert refused.last_error.startswith("isv.MOBILE_NUMBER_ILLEGAL")
    assert aliyun_server.refusals == ["Throttling.User", "isv.MOBILE_NUMBER_ILLEGAL"]


async def test_a_wrong_aliyun_secret_pauses_sms_and_tells_the_admin(
    demo_bot: Harness, aliyun_server: Gateway
) -> None:
    await register(demo_bot, "张三", "13812345678")
    await register(demo_bot, "李四", "13987654321")
    channel = channel_for(aliyun_gateway(aliyun_server, secret="not-the-secret"))
    try:
        result = await run(demo_bot, channel, T0)
        assert result.refused is not None and result.refused.startswith("SignatureDoesNotMatch")
        rows = await sms_rows(demo_bot)
        # Nothing failed for it: the rows wait, not counted, and no message was accepted.
        assert [(r.status, r.attempts) for r in rows.values()] == [(OutboxStatus.PENDING, 0)] * 2
        assert aliyun_server.messages == []
        assert set(aliyun_server.refusals) == {"SignatureDoesNotMatch"}
        assert await outbox_keys(demo_bot, "sms-refused|") == [f"sms-refused|{ADMIN_ID}|2018-03-15"]

        asked = aliyun_server.requests
        await run(demo_bot, channel, T0 + timedelta(minutes=1))  # paused: no request
        assert aliyun_server.requests == asked
        await run(demo_bot, channel, T0 + ACCOUNT_PAUSE + timedelta(seconds=1))
        assert aliyun_server.requests > asked
        assert len(await outbox_keys(demo_bot, "sms-refused|")) == 1  # once a day
    finally:
        await channel.aclose()


async def test_sms_keep_to_the_rate(demo_bot: Harness, generic: Gateway) -> None:
    for i in range(10):
        await register(demo_bot, f"会员{i}", f"1381234{i:04d}")
    channel = channel_for(
        HttpSmsGateway(url=generic.url, auth_header=f"Authorization: {sms_server.TOKEN}"),
        rate=20,
    )  # fmt: skip
    try:
        started = time.monotonic()
        assert (await run(demo_bot, channel, T0)).handled == 10
        elapsed = time.monotonic() - started
    finally:
        await channel.aclose()
    assert len(generic.messages) == 10
    assert elapsed >= 9 / 20 * 0.9  # 10 messages at 20 a second: 9 intervals of 50 ms


async def test_no_log_line_shows_a_mobile_number(
    demo_bot: Harness,
    generic: Gateway,
    http: SmsChannel,
    aliyun: SmsChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What `unionbot run` logs (INFO), and everything of ours and of httpx. (Third-party
    # DEBUG lines such as aiosqlite's carry SQL parameters; production never logs them.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="unionbot")
    caplog.set_level(logging.DEBUG, logger="httpx")
    mobiles = ["13812345678", "13987654321", "15011112222", "19900000000", "18600001111"]
    member_ids = [await register(demo_bot, f"会员{i}", m) for i, m in enumerate(mobiles)]
    generic.invalid.add("19900000000")
    generic.fail_next("500")
    async with demo_bot.app.bot_data.db.session(write=True) as session:
        member = await session.get(Member, member_ids[-1])
        assert member is not None
        member.opted_out_at = T0
        session.add(member)
    await run(demo_bot, http, T0)
    await run(demo_bot, http, T0 + timedelta(minutes=1))
    await register(demo_bot, "赵六", "13700001111")
    await run(demo_bot, aliyun, T0 + timedelta(minutes=2))  # httpx logs Aliyun's GET URL

    logged = [r.getMessage() for r in caplog.records]
    assert any("199****0000" in line for line in logged)  # the refused number, masked
    assert any("PhoneNumbers=137****1111" in line for line in logged)  # httpx's line, masked
    for mobile in [*mobiles, "13700001111"]:
        assert not [line for line in logged if mobile in line]


async def test_the_running_bot_sends_sms_through_the_configured_gateway(
    demo_template: Path, tmp_path: Path, generic: Gateway
) -> None:
    shutil.copy(demo_template, tmp_path / "unionbot.db")
    settings = make_settings(
        tmp_path, sms_gateway="http", sms_http_url=generic.url,
        sms_http_auth_header=f"Authorization: {sms_server.TOKEN}",
        sms_http_body_template='{"to": "{mobile}", "text": "{text}", "sender": "unionbot"}',
    )  # fmt: skip
    async with Harness.running(settings) as harness:
        assert isinstance(harness.app.bot_data.sms.gateway, HttpSmsGateway)
        await register(harness, "张三", "13812345678", now=harness.app.bot_data.clock.now())
        await send_sms(BotContext(harness.app))
        assert [m.mobile for m in generic.messages] == ["13812345678"]
        assert (await sms_rows(harness))["13812345678"].status is OutboxStatus.SENT


def test_a_slow_rate_claims_few_rows_at_once() -> None:
    lease = timedelta(seconds=60)
    assert SmsChannel(None, 10).batch(lease) == 10
    assert SmsChannel(None, 0.1).batch(lease) == 2  # 2 rows take 20 s of a 60 s lease
    assert SmsChannel(None, 0.01).batch(lease) == 1
