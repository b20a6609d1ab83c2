"""One-message meeting logs: what the parser reads, and what it refuses to guess."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pytest

from models.enums import MeetingKind, VenueType
from models.plan import load_plan
from models.quicklog import MeetingDraft, Problem, parse_date, parse_meeting, read_date

PLAN_FILE = Path(__file__).parents[2] / "plans" / "fangshan-2018.toml"
STREETS = [s.name for s in load_plan(PLAN_FILE).streets]
TODAY = date(2018, 3, 15)  # a Thursday

D = MeetingDraft
WORKER, ENTERPRISE = MeetingKind.WORKER, MeetingKind.ENTERPRISE
TAXPAYER, FACE, BRIEFING = MeetingKind.TAXPAYER, MeetingKind.FACE_TO_FACE, MeetingKind.BRIEFING
COMMUNITY, OFFICE, SITE = VenueType.COMMUNITY, VenueType.OFFICE_BUILDING, VenueType.SITE
MARKET, FIRM = VenueType.MARKET, VenueType.ENTERPRISE
MAR5, MAR14, MAR15 = date(2018, 3, 5), date(2018, 3, 14), date(2018, 3, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Read in full.
        ("今天在拱辰街道开了职工沟通会，45人参加，新入会12人",
         D(WORKER, MAR15, "拱辰街道", attendees=45, new_members=12)),
        ("3月5日 企业沟通会 良乡镇 20人", D(ENTERPRISE, MAR5, "良乡镇", attendees=20)),
        ("３月５日 税户大会 窦店 ２０人", D(TAXPAYER, MAR5, "窦店镇", attendees=20)),
        ("2018-03-05 职工沟通会 拱辰 参加45人", D(WORKER, MAR5, "拱辰街道", attendees=45)),
        ("2018年3月5日在霞云岭乡开了职工沟通会", D(WORKER, MAR5, "霞云岭乡")),
        ("霞云岭 职工沟通会 3月5号 到会45位", D(WORKER, MAR5, "霞云岭乡", attendees=45)),
        ("昨天在长阳镇万科大厦开了职工沟通会，到会45位",
         D(WORKER, MAR14, "长阳镇", attendees=45, venue_type=OFFICE, place="万科大厦")),
        ("上周五 十渡镇 集中宣讲 三十五人参加", D(BRIEFING, date(2018, 3, 9), "十渡镇", 35)),
        ("周一在琉璃河开职工沟通会 十二名职工参加",
         D(WORKER, date(2018, 3, 12), "琉璃河镇", attendees=12)),
        ("税户会 阎村 一百二十人", D(TAXPAYER, street="阎村镇", attendees=120)),
        ("面对面沟通 在工地 两百人", D(FACE, attendees=200, venue_type=SITE)),
        ("我们开了面对面沟通会", D(FACE)),
        ("在拱辰街道的中铁大厦开了面对面沟通会，一共三十五人参加",
         D(FACE, street="拱辰街道", attendees=35, venue_type=OFFICE, place="中铁大厦")),
        ("在良乡镇苏庄社区开职工沟通会，30人参加",
         D(WORKER, street="良乡镇", attendees=30, venue_type=COMMUNITY, place="苏庄社区")),
        ("在企业开展集中宣讲，发展会员5名", D(BRIEFING, new_members=5, venue_type=FIRM)),
        ("宣讲会 城关 60人 市场", D(BRIEFING, street="城关街道", attendees=60, venue_type=MARKET)),
        ("韩村河 在建筑工地开职工沟通会 80人", D(WORKER, street="韩村河镇", attendees=80,
                                            venue_type=SITE, place="建筑工地")),
        ("企业职工沟通会 石楼 发展会员12名 参会人数：50",
         D(WORKER, street="石楼镇", attendees=50, new_members=12, venue_type=FIRM)),
        ("职工沟通会 拱辰 45人 新入会 12人",
         D(WORKER, street="拱辰街道", attendees=45, new_members=12)),
        ("参加45人新入会12人，职工沟通会", D(WORKER, attendees=45, new_members=12)),
        ("12人入会45人参加 职工沟通会", D(WORKER, attendees=45, new_members=12)),
        ("职工沟通会45名职工参加，其中12人新入会", D(WORKER, attendees=45, new_members=12)),
        ("新会员12个 职工沟通会 参加45人", D(WORKER, attendees=45, new_members=12)),
        ("职工沟通会 参加的有45人 2人入会", D(WORKER, attendees=45, new_members=2)),
        ("在西关社区开了职工沟通会，3个社区的职工参加，共60人",
         D(WORKER, attendees=60, venue_type=COMMUNITY, place="西关社区")),
        ("企业沟通会 20家企业参加", D(ENTERPRISE)),  # 20 firms, not 20 people
        ("十二名职工参加了企业沟通会", D(ENTERPRISE, attendees=12)),
        ("下午2点在韩村河镇开企业沟通会，20人参加", D(ENTERPRISE, street="韩村河镇", attendees=20)),
        ("今天职工沟通会 14:30开始 30人", D(WORKER, MAR15, attendees=30)),
        ("职工沟通会开了2.5小时 30人", D(WORKER, attendees=30)),
        ("职工沟通会 第3次 30人", D(WORKER, attendees=30)),
        ("职工沟通会 13800138000 30人", D(WORKER, attendees=30)),
        ("职工沟通会 在XX公司 5号楼 30人",
         D(WORKER, attendees=30, venue_type=FIRM, place="XX公司")),
        ("在某公司开职工沟通会", D(WORKER, venue_type=FIRM)),  # a firm, but no name to keep
        ("职工沟通会 河北省来的职工 30人", D(WORKER, attendees=30)),  # 河北省 is not 河北镇
        ("<b>职工沟通会</b> 30人", D(WORKER, attendees=30)),
        ("职工沟通会 星期天 30人", D(WORKER, date(2018, 3, 11), attendees=30)),
        ("职工沟通会 2017年12月20日 30人", D(WORKER, date(2017, 12, 20), attendees=30)),
        ("上个月5号 大石窝 职工沟通会 30人次", D(WORKER, date(2018, 2, 5), "大石窝镇", 30)),
        ("本周一 佛子庄 宣讲 25人", D(BRIEFING, date(2018, 3, 12), "佛子庄乡", attendees=25)),
        ("3.5 企业沟通会 南窖", D(ENTERPRISE, MAR5, "南窖乡")),
        ("职工沟通会 5日 史家营 40人参加 吸收会员8人",
         D(WORKER, MAR5, "史家营乡", attendees=40, new_members=8)),
        ("企业沟通会\n西潞街道\n参会30人", D(ENTERPRISE, street="西潞街道", attendees=30)),
        ("12个人参加职工沟通会", D(WORKER, attendees=12)),
        # Refused: fields left empty, and the reason named.
        ("开了沟通会", D(problems=(Problem.AMBIGUOUS_KIND,))),
        ("上个月5号 职工座谈会 30人",
         D(held_on=date(2018, 2, 5), attendees=30, problems=(Problem.AMBIGUOUS_KIND,))),
        ("职工沟通会和企业沟通会", D(problems=(Problem.AMBIGUOUS_KIND,))),
        ("拱辰和良乡联合开了职工沟通会", D(WORKER, problems=(Problem.AMBIGUOUS_STREET,))),
        ("明天开职工沟通会", D(WORKER, problems=(Problem.FUTURE_DATE,))),
        ("宣讲会 下周三", D(BRIEFING, problems=(Problem.FUTURE_DATE,))),
        ("3月20日 企业沟通会", D(ENTERPRISE, problems=(Problem.FUTURE_DATE,))),
        ("准备开职工沟通会", D(WORKER, problems=(Problem.FUTURE_DATE,))),
        ("2月30日职工沟通会", D(WORKER, problems=(Problem.INVALID_DATE,))),
        ("3月5日和3月6日 职工沟通会", D(WORKER, problems=(Problem.AMBIGUOUS_DATE,))),
        ("职工沟通会 45人 60人", D(WORKER, problems=(Problem.AMBIGUOUS_NUMBER,))),
        ("职工沟通会 参加45人新入会", D(WORKER, problems=(Problem.AMBIGUOUS_NUMBER,))),
        ("职工沟通会 两百五人", D(WORKER, problems=(Problem.AMBIGUOUS_NUMBER,))),
        ("在良乡镇苏庄社区开职工沟通会 40多人参加",
         D(WORKER, street="良乡镇", venue_type=COMMUNITY, place="苏庄社区",
           problems=(Problem.APPROXIMATE_NUMBER,))),
        ("职工沟通会 约50人", D(WORKER, problems=(Problem.APPROXIMATE_NUMBER,))),
        ("职工沟通会 50人左右", D(WORKER, problems=(Problem.APPROXIMATE_NUMBER,))),
        ("集中宣讲 社区 工地", D(BRIEFING, problems=(Problem.AMBIGUOUS_VENUE,))),
        # Not meeting logs at all.
        ("你好", D()),
        ("进度", D()),
        ("职工沟通会要开几次？", D()),
        ("今天的职工沟通会取消了", D()),
        ("拱辰街道 45人", D()),
    ],
)  # fmt: skip
def test_phrasings(text: str, expected: MeetingDraft) -> None:
    draft = parse_meeting(text, today=TODAY, streets=STREETS)
    assert draft == expected
    assert draft.recognised == (expected.kind is not None or Problem.AMBIGUOUS_KIND in
                                expected.problems)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-03-05", MAR5), ("2018/3/5", MAR5), ("2018.3.5", MAR5), ("2018年3月5日", MAR5),
        ("3月5日", MAR5), ("3月5号", MAR5), ("三月五日", MAR5), ("３月５日", MAR5), ("3.5", MAR5),
        ("3/5", MAR5), ("5日", MAR5), ("5号", MAR5), (" 3月5日开的 ", MAR5),
        ("今天", MAR15), ("今日", MAR15), ("昨天", MAR14), ("前天", date(2018, 3, 13)),
        # A bare weekday is the most recent one, today included (today is a Thursday).
        ("周四", MAR15), ("星期五", date(2018, 3, 9)), ("礼拜六", date(2018, 3, 10)),
        ("周日", date(2018, 3, 11)), ("星期天", date(2018, 3, 11)),
        ("本周一", date(2018, 3, 12)), ("这周三", date(2018, 3, 14)),
        ("上周五", date(2018, 3, 9)), ("上个星期一", date(2018, 3, 5)),
        ("上周四", date(2018, 3, 8)), ("上上周五", date(2018, 3, 2)),
        ("上月28号", date(2018, 2, 28)), ("2017-12-31", date(2017, 12, 31)),
        ("", None), ("你好", None), ("45", None), ("5号楼", None),
    ],
)  # fmt: skip
def test_parse_date(text: str, expected: date | None) -> None:
    assert parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("明天", Problem.FUTURE_DATE), ("后天", Problem.FUTURE_DATE),
        ("本周五", Problem.FUTURE_DATE), ("下周一", Problem.FUTURE_DATE),
        ("下个月", Problem.FUTURE_DATE), ("3月20日", Problem.FUTURE_DATE),
        ("20日", Problem.FUTURE_DATE), ("2018-12-01", Problem.FUTURE_DATE),
        ("2月30日", Problem.INVALID_DATE), ("13月1日", Problem.INVALID_DATE),
        ("2018-02-29", Problem.INVALID_DATE), ("32号", Problem.INVALID_DATE),
        ("3月5日或3月6日", Problem.AMBIGUOUS_DATE),
    ],
)  # fmt: skip
def test_dates_refused(text: str, problem: Problem) -> None:
    assert read_date(text, today=TODAY) == problem
    assert parse_date(text, today=TODAY) is None


def test_the_year_rolls_back_for_last_month_in_january() -> None:
    assert parse_date("上月28号", today=date(2019, 1, 10)) == date(2018, 12, 28)


@pytest.mark.parametrize("street", STREETS)
def test_every_street_by_full_and_short_name(street: str) -> None:
    short = re.sub("(街道|镇|乡)$", "", street)
    for name in (street, short):
        assert parse_meeting(f"{name}职工沟通会", today=TODAY, streets=STREETS).street == street


def test_a_short_form_shared_by_two_streets_is_ambiguous() -> None:
    draft = parse_meeting("新村 职工沟通会", today=TODAY, streets=["新村镇", "新村乡"])
    assert draft == D(WORKER, problems=(Problem.AMBIGUOUS_STREET,))


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\x00\x07职工沟通会\x1b[31m 30人", "<script>alert('职工沟通会')</script>",
     "&lt;职工沟通会&gt;", "😀🎉", "\u200b\u202e职工沟通会"],
)  # fmt: skip
def test_odd_input_does_not_crash(text: str) -> None:
    parse_meeting(text, today=TODAY, streets=STREETS)
    parse_date(text, today=TODAY)


@pytest.mark.parametrize(
    "text",
    ["职工沟通会" + "一" * 10_000, "在" * 10_000, "1" * 10_000, "职工" * 5_000,
     ("在拱辰街道开了职工沟通会，45人参加，新入会12人" * 400)[:10_000], "3月5日" * 2_000],
)  # fmt: skip
def test_long_text_is_fast(text: str) -> None:
    started = time.perf_counter()
    parse_meeting(text, today=TODAY, streets=STREETS)
    parse_date(text, today=TODAY)
    assert time.perf_counter() - started < 1.0
