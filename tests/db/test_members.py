"""Registering a member writes them once and queues exactly one welcome per channel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select

from bot.db import Database
from models.geography import street_ids, sync_geography
from models.members import (
    Duplicate,
    MemberSource,
    NewMember,
    queue_welcome,
    register_member,
    sms_segments,
    welcomes_queued,
)
from models.plan import load_plan
from models.tables import AuditEntry

PLAN = load_plan(Path("plans/fangshan-2018.toml"))
NOW = datetime(2018, 3, 15, 2, tzinfo=UTC)


async def test_one_member_one_welcome_per_channel_ever(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    await db.upgrade()

    async with db.session(write=True) as session:
        await sync_geography(session=session, plan=PLAN)
        street = (await street_ids(session=session))["拱辰街道"]
        new = NewMember(name="张三", mobile="13812345678", street_id=street,
                        joined_on=date(2018, 3, 15), telegram_user_id=777)  # fmt: skip
        member = await register_member(session=session, member=new, source=MemberSource.OFFICER,
                                       by_user_id=20001, now=NOW, plan=PLAN)  # fmt: skip
        assert not isinstance(member, Duplicate) and member.id is not None
        again = await register_member(session=session, member=new, source=MemberSource.IMPORT,
                                      by_user_id=20001, now=NOW, plan=PLAN)  # fmt: skip
        assert again is Duplicate.MOBILE
        assert await queue_welcome(session=session, member=member, plan=PLAN, now=NOW) == 0
        rows = await welcomes_queued(session=session, member_id=member.id)
        audit = (await session.exec(select(AuditEntry))).all()
    assert [(r.channel.value, r.recipient) for r in rows] == [
        ("sms", "13812345678"),
        ("telegram", "777"),
    ]
    sms, telegram = (r.payload["text"] for r in rows)
    assert sms.startswith("【房山区总工会】张三您好，欢迎加入拱辰街道总工会！")
    assert telegram.startswith("张三您好") and "12351" in telegram
    # The audit log can never be changed, so it never holds a name or a number.
    assert [a.action for a in audit] == ["member.register"]
    assert not {"name", "mobile"} & set(audit[0].after or {})
    await db.dispose()


def test_sms_length_in_segments() -> None:
    assert [sms_segments("字" * n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]
