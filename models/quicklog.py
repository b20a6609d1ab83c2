"""Reading a one-message meeting log, as an officer types it on a phone, into a draft.

"今天在拱辰街道开了职工沟通会，45人参加，新入会12人" becomes a MeetingDraft that pre-fills a card
the officer confirms or fixes. A wrong field that looks right on that card is worse than an
empty one, so every rule here leaves a field empty, or names a Problem, rather than guess.
Pure: `today` and the plan's street names are arguments; nothing here reads the clock.
Every regex is a bounded alternation (no nested quantifiers), so the cost stays linear.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar

from models.enums import MeetingKind, VenueType
from models.questions import is_status_question


class Problem(StrEnum):
    """Why a field was left empty; the handler turns each code into a sentence of the texts."""

    AMBIGUOUS_KIND = "ambiguous_kind"  # bare 沟通会/座谈会, or two different kinds
    AMBIGUOUS_STREET = "ambiguous_street"  # two different streets
    AMBIGUOUS_NUMBER = "ambiguous_number"  # two counts for one field, or an unreadable numeral
    APPROXIMATE_NUMBER = "approximate_number"  # 40多人, 约50人: the figures must be exact
    AMBIGUOUS_VENUE = "ambiguous_venue"  # two different venue types
    AMBIGUOUS_DATE = "ambiguous_date"  # two different dates
    FUTURE_DATE = "future_date"  # 明天, 下周一, 3月20日 on 3月15日: not held yet
    INVALID_DATE = "invalid_date"  # 2月30日


@dataclass(frozen=True)
class MeetingDraft:
    kind: MeetingKind | None = None
    held_on: date | None = None
    street: str | None = None  # the full name, as the plan spells it
    attendees: int | None = None
    new_members: int | None = None
    venue_type: VenueType | None = None
    place: str | None = None  # "苏庄社区", "万科大厦": only when stated after 在
    problems: tuple[Problem, ...] = ()

    @property
    def recognised(self) -> bool:
        """The message logs a meeting — even one whose kind is unclear: the card asks for it."""
        return self.kind is not None or Problem.AMBIGUOUS_KIND in self.problems


T = TypeVar("T")
_CUT = ";"  # what a consumed phrase is replaced with: it ends the word windows around numbers
_BOUNDARY = re.compile(r"[,;!?、。()\n]")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
# Questions, and meetings called off, are not logs: leave them to other handlers.
_NOT_A_LOG = re.compile(r"\?|吗|几次|几场|多少|怎么|如何|什么|是否|哪|取消|延期|改期|没开|未开")
# 准备开职工沟通会: not held yet, whatever the date says.
_NOT_YET = re.compile(r"准备|计划|打算|将于|即将")

# Specific kinds first; what they consume cannot be read again as a bare 沟通会.
_KINDS = re.compile(
    r"(?P<taxpayer>纳?税户大?会)|(?P<face>面对面(?:沟通|交流|座谈)?会?)"
    r"|(?P<briefing>(?:集中)?宣讲(?:会|活动)?)"
    # The qualifier nearest to 沟通会 decides: 企业职工沟通会 is a worker meeting in an enterprise.
    r"|(?P<qualified>(?:职工|企业)[^\d\s,;。、职企]{0,6}沟通会)"
)
_GENERIC_MEETING = re.compile(r"沟通会|座谈会|恳谈会")
_KIND_OF = {"taxpayer": MeetingKind.TAXPAYER, "face": MeetingKind.FACE_TO_FACE}
_KIND_OF["briefing"] = MeetingKind.BRIEFING

# Clock times and durations are removed before dates and counts: 下午2点 is not 2 people.
_TIME = re.compile(
    r"(?:上午|下午|晚上|早上|中午)?(?:\d{1,2}:\d{2}"
    r"|(?:\d{1,2}|[一二两三四五六七八九十]{1,3})[点时](?:半|\d{1,2}分?|[一二三四五六七八九十]{1,3}分)?)"
    r"|(?:\d{1,3}(?:\.\d)?|[一二两三四五六七八九十半]{1,3})个?半?(?:小时|分钟)"
)
_DATE = re.compile(
    r"(?<!\d)(?P<y>20\d\d)[-/.年](?P<ym>\d{1,2})[-/.月](?P<yd>\d{1,2})[日号]?"
    r"|上个?月(?P<lmd>\d{1,2})[日号]"
    r"|(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})月份?"
    r"(?:(?P<md>\d{1,2})(?!\d)[日号]?|(?P<mcd>[一二三四五六七八九十]{1,3})[日号])"
    r"|(?<![\d.])(?P<sm>\d{1,2})[./](?P<sd>\d{1,2})(?![\d.%万千元])"
    r"|(?<![\d月])(?P<d>\d{1,2})[日号](?![楼院线门室])"
    r"|(?P<rel>今天|今日|昨天|昨日|前天|明天|明日|后天)"
    r"|(?P<week>上上|上|本|这|下)?个?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"
    r"|(?P<later>下个?(?:周|星期|礼拜|月))"  # "下周开" names no day but is surely not past
)
_RELATIVE = dict(今天=0, 今日=0, 昨天=-1, 昨日=-1, 前天=-2, 明天=1, 明日=1, 后天=2)
_WEEKDAY = {c: i % 7 for i, c in enumerate("一二三四五六日1234567")} | {"天": 6}
_WEEK_OFFSET = {None: 0, "本": 0, "这": 0, "上": -7, "上上": -14, "下": 7}

_COUNT = re.compile(
    r"(?P<about>约|近|大约|将近)?(?P<n>\d+|[零〇一二两三四五六七八九十百千]+)(?P<more>多|余|来)?"
    r"(?P<unit>人次|人|名|位|个)?(?P<around>左右|以上)?"
)
_FIELD_WORDS = (
    ("new", ("新入会", "入会", "新会员", "发展", "加入工会", "新增会员", "吸收")),
    ("attend", ("参加", "参会", "到会", "出席", "与会", "职工")),
)
_WINDOW = 8  # characters either side of a number searched for the word that says what it counts

_VENUES = {"社区": VenueType.COMMUNITY, "工地": VenueType.SITE, "市场": VenueType.MARKET}
_VENUES |= dict.fromkeys(("楼宇", "大厦", "写字楼", "商务楼"), VenueType.OFFICE_BUILDING)
_VENUES |= dict.fromkeys(("企业", "公司", "厂"), VenueType.ENTERPRISE)
# "3个社区", "20家企业" count places; they do not say where the meeting was.
_VENUE = re.compile(r"(?<![家个所座处])(" + "|".join(_VENUES) + ")")


def _normalise(text: str) -> str:
    # NFKC turns full-width digits and punctuation (３月５日，) into ASCII ones.
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(c) == "Cc" and c != "\n" else c for c in text)


def _cn_int(s: str) -> int | None:
    """12, 三十五, 两百, 一百零五 → int; None for what a reader could take two ways (两百五)."""
    if s.isdecimal():  # more than 6 digits is a phone number, not a head count
        return int(s) if len(s) <= 6 else None
    if not any(c in _CN_UNITS for c in s):  # 二五 reads digit by digit
        return int("".join(str(_CN_DIGITS[c]) for c in s)) if len(s) <= 4 else None
    total, digit, last_unit = 0, None, 10_000
    for c in s:
        if c in _CN_DIGITS:
            if digit is not None and digit != 0:
                return None
            digit = _CN_DIGITS[c]
        else:
            unit = _CN_UNITS[c]
            if unit >= last_unit:
                return None
            total, digit, last_unit = total + (digit or 1) * unit, None, unit
    if digit and last_unit > 10 and s[-2] != "零":  # 两百五: 250 or 205? Refuse.
        return None
    return total + (digit or 0)


def _resolve(m: re.Match[str], today: date) -> date | Problem:
    g = m.groupdict()
    if g["later"]:
        return Problem.FUTURE_DATE
    if g["rel"]:
        day = today + timedelta(days=_RELATIVE[g["rel"]])
    elif g["wd"]:
        # A bare 周五 is the most recent Friday, today included; 本周五 is this week's
        # (Monday to Sunday) and may lie ahead; 上周五 is last week's.
        wd = _WEEKDAY[g["wd"]]
        if g["week"] is None:
            day = today - timedelta(days=(today.weekday() - wd) % 7)
        else:
            monday = today - timedelta(days=today.weekday() - _WEEK_OFFSET[g["week"]])
            day = monday + timedelta(days=wd)
    else:
        parts = (
            (g["y"], g["ym"], g["yd"]) if g["y"]
            else (today.year, today.month - 1 or 12, g["lmd"]) if g["lmd"]
            else (today.year, g["m"], g["md"] or g["mcd"]) if g["m"]
            else (today.year, g["sm"], g["sd"]) if g["sm"]
            else (today.year, today.month, g["d"])
        )  # fmt: skip
        numbers = [_cn_int(str(p)) for p in parts]
        if g["lmd"] and today.month == 1:
            numbers[0] = today.year - 1
        try:
            day = date(*numbers)  # type: ignore[arg-type]  # None raises TypeError below
        except (ValueError, TypeError):
            return Problem.INVALID_DATE
    return Problem.FUTURE_DATE if day > today else day


def _dates(text: str, today: date) -> tuple[list[date | Problem], str]:
    text = _TIME.sub(_CUT, text)
    found = [_resolve(m, today) for m in _DATE.finditer(text)]
    return found, _DATE.sub(_CUT, text)


def _one_date(found: list[date | Problem]) -> date | Problem | None:
    """The single date a text names; a problem if any mention is wrong or they disagree."""
    problems = [f for f in found if isinstance(f, Problem)]
    if problems:
        return problems[0]
    distinct = set(found)
    return Problem.AMBIGUOUS_DATE if len(distinct) > 1 else next(iter(distinct), None)


def read_date(text: str, *, today: date) -> date | Problem | None:
    """The date a text names, the Problem that stops us using it, or None if it names none."""
    return _one_date(_dates(_normalise(text), today)[0])


def parse_date(text: str, *, today: date) -> date | None:
    """2018-03-05, 3月5号, 3.5, 5日, 昨天, 上周五, ３月５日 …; None if absent, future or invalid."""
    found = read_date(text, today=today)
    return found if isinstance(found, date) else None


@lru_cache(maxsize=8)
def _street_forms(streets: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, set[str]]]:
    """Full names and short forms (拱辰街道/拱辰), longest first so 韩村河镇 wins over 河北."""
    names: dict[str, set[str]] = {}
    for name in streets:
        names.setdefault(name, set()).add(name)
        short = re.sub(r"(街道|镇|乡)$", "", name)
        if len(short) >= 2:  # a one-character short form would match everyday words
            names.setdefault(short, set()).add(name)
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return re.compile(f"(?:{alternatives})(?!省)"), names  # 河北省 is not 河北镇


def _one(values: set[T], problem: Problem, problems: list[Problem]) -> T | None:
    """The value if all mentions agree; otherwise None and the problem."""
    if len(values) > 1:
        problems.append(problem)
    return next(iter(values)) if len(values) == 1 else None


def _place(text: str, streets: re.Pattern[str]) -> str | None:
    """The noun phrase after 在 that ends in a venue word: 在良乡镇苏庄社区 → 苏庄社区."""
    suffix = "|".join(w for w in _VENUES if w != "企业")
    m = re.search(rf"在(?:{streets.pattern})?的?([^\s\d,;!?:、。]{{1,15}}?(?:{suffix}))", text)
    if m is None or re.search("[了会开]", m[1]) or m[1][0] in "一某这那该本":
        return None  # it ran over a verb (在社区开了…公司) or names no particular place
    return None if streets.search(m[1]) else m[1]


def _words(window: str, bounded: bool, reverse: bool = False) -> list[tuple[int, bool, str]]:
    """The words in a window that say what a number counts, by distance from the number."""
    return [
        (window.find(w[::-1] if reverse else w), bounded, field)
        for field, words in _FIELD_WORDS
        for w in words
        if (w[::-1] if reverse else w) in window
    ]


def _counts(text: str, problems: list[Problem]) -> tuple[int | None, int | None]:
    # A number counts people if it carries a person unit, or sits right after a word such as
    # 参会人数/新入会; 个 needs such a word (3个社区). The nearest word decides which figure it is.
    tokens = [
        m for m in _COUNT.finditer(text)
        if (m["unit"] or m["n"].isdecimal()) and text[m.start() - 1 : m.start()] != "第"
    ]  # fmt: skip
    found: dict[str, set[int | None]] = {"attend": set(), "new": set()}
    for i, m in enumerate(tokens):
        lo = max(m.start() - _WINDOW, tokens[i - 1].end() if i else 0)
        hi = min(m.end() + _WINDOW, tokens[i + 1].start() if i + 1 < len(tokens) else len(text))
        pre = _BOUNDARY.split(text[lo : m.start()])[-1].replace(" ", "")
        post = _BOUNDARY.split(text[m.end() : hi])[0]
        if i + 1 < len(tokens) and hi == tokens[i + 1].start():
            post = re.split(r"\s", post)[0]  # 12名 参会人数50: past a space, words lead on
        post = post.replace(" ", "")
        # (distance, window stops at another number, field): a word between two numbers
        # belongs to the one it touches, so on a tie the side that ends at a number loses.
        sides = sorted(
            _words(pre[::-1], i > 0 and lo == tokens[i - 1].end(), reverse=True)
            + _words(post, i + 1 < len(tokens) and hi == tokens[i + 1].start())
        )
        if len(sides) > 1 and sides[0][:2] == sides[1][:2] and sides[0][2] != sides[1][2]:
            problems.append(Problem.AMBIGUOUS_NUMBER)  # 参加45人新入会: which figure is it?
            found["new"].add(None)
            found["attend"].add(None)
            continue
        if m["unit"] is None and re.match(r"[\u4e00-\u9fff]", text[m.end() : m.end() + 1]):
            continue  # 20家企业, 3次: a bare number directly followed by a word counts that
        if m["unit"] in (None, "个") and not (sides and sides[0][0] <= (1 if m["unit"] else 3)):
            continue  # 参会人数:50 and 新会员12个 are counts, 3个社区的职工 is not
        field = sides[0][2] if sides else "attend"
        approximate = m["about"] or m["more"] or m["around"]
        value = None if approximate else _cn_int(m["n"])
        if value is None:  # 40多人 is not 40, and 两百五 is 250 or 205
            problems.append(Problem.APPROXIMATE_NUMBER if approximate else Problem.AMBIGUOUS_NUMBER)
        found[field].add(value)
    if any(len(v) > 1 and None not in v for v in found.values()):
        problems.append(Problem.AMBIGUOUS_NUMBER)  # 45人 60人: both cannot be right
    attendees, new_members = (next(iter(v)) if len(v) == 1 else None for v in found.values())
    return attendees, new_members


def parse_meeting(text: str, *, today: date, streets: Sequence[str]) -> MeetingDraft:
    """Read what a one-message log states; see MeetingDraft.recognised for 'is it a log'."""
    text = _normalise(text)
    if not text.strip() or _NOT_A_LOG.search(text) or is_status_question(text):
        return MeetingDraft()
    problems: list[Problem] = []
    street_re, street_names = _street_forms(tuple(streets))
    place = _place(text, street_re)
    found_streets = {n for m in street_re.finditer(text) for n in street_names[m[0]]}
    street = _one(found_streets, Problem.AMBIGUOUS_STREET, problems)
    rest = street_re.sub(_CUT, text)

    kinds = {
        _KIND_OF.get(m.lastgroup or "")
        or (MeetingKind.WORKER if m[0].startswith("职工") else MeetingKind.ENTERPRISE)
        for m in _KINDS.finditer(rest)
    }
    if not kinds and not _GENERIC_MEETING.search(rest):
        return MeetingDraft()  # not a meeting log: leave the message to other handlers
    kind = _one(kinds, Problem.AMBIGUOUS_KIND, problems)
    if not kinds:  # a bare 沟通会 could be 职工 or 企业; 座谈会 names no kind of the plan
        problems.append(Problem.AMBIGUOUS_KIND)
    rest = _GENERIC_MEETING.sub(_CUT, _KINDS.sub(_CUT, rest))

    found, rest = _dates(rest, today)
    held_on = _one_date(found)
    if isinstance(held_on, Problem) or _NOT_YET.search(rest):
        problems.append(held_on if isinstance(held_on, Problem) else Problem.FUTURE_DATE)
    attendees, new_members = _counts(rest, problems)

    venues = {_VENUES[m[0]] for m in _VENUE.finditer(place or rest)}
    venue_type = _one(venues, Problem.AMBIGUOUS_VENUE, problems)
    held_on = held_on if isinstance(held_on, date) else None
    return MeetingDraft(kind, held_on, street, attendees, new_members, venue_type, place,
                        tuple(dict.fromkeys(problems)))  # fmt: skip
