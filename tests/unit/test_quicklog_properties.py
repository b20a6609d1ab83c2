"""Properties of every pure reader of user text in models/: the one-message meeting parser
above all, and the dates, counts, numbers, codes, periods, templates and answers people type.

For any text (any code point but surrogates, control characters, bidi and zero-width marks,
full-width digits, emoji, markup, SQL, very long text) each reader returns, never raises, and
what it returns keeps its promises; texts written from a known meeting read back as it.
"""

from __future__ import annotations

import string
import time
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from models.credit_code import (
    CHARSET,
    credit_code_check_char,
    is_valid_credit_code,
    organisation_code_check_char,
)
from models.enums import MeetingKind, VenueType
from models.exports import month_of, parse_period, quarter_of, year_of
from models.joining import JOIN_PREFIX, link_code
from models.meetings import MAX_ATTENDEES, read_count
from models.member_import import street_of
from models.members import sms_segments, welcome_text
from models.mobile import mask_mobile, normalise_mobile
from models.plan import load_plan
from models.questions import is_status_question
from models.quicklog import MeetingDraft, Problem, parse_date, parse_meeting, read_date
from models.reports import AnswerProblem, ReportField, answer_problem, max_length
from models.visits import FOLLOW_UP_HORIZON, read_follow_up_date
from models.welcome import MAX_TEMPLATE, template_problem
from tests.strategies import any_text, examples, fullwidth, long_text, pieces

PLAN_FILE = Path(__file__).parents[2] / "plans" / "fangshan-2018.toml"
STREETS = [s.name for s in load_plan(PLAN_FILE).streets]
TODAY = date(2018, 3, 15)  # a Thursday
todays = st.dates(date(2001, 1, 1), date(2098, 12, 31))


def parse(text: str, today: date = TODAY) -> MeetingDraft:
    return parse_meeting(text, today=today, streets=STREETS)


# --- the one-message meeting log ----------------------------------------------------------


@examples(400)
@given(text=any_text(), today=todays)
@example(text="职工沟通会 ፩人", today=TODAY)
@example(text="<b>职工沟通会</b> 在&lt;公司&gt; 30人", today=TODAY)
@example(text="职工沟通会 '; DROP TABLE meeting; -- 30人", today=TODAY)
@example(text="\u202e职工沟通会\u200b 3月5日 ３０人 😀", today=TODAY)
def test_any_text_reads_as_a_draft_that_keeps_its_promises(text: str, today: date) -> None:
    draft = parse(text, today)
    for count in (draft.attendees, draft.new_members):
        # A count is a whole number a reader could not take two ways, never a phone number.
        assert count is None or (type(count) is int and 0 <= count <= 999_999)
    if draft.held_on is not None:
        assert date(2000, 1, 1) <= draft.held_on <= today  # a log is of a meeting held
    assert draft.street is None or draft.street in STREETS
    assert draft.kind is None or isinstance(draft.kind, MeetingKind)
    assert draft.venue_type is None or isinstance(draft.venue_type, VenueType)
    assert len(set(draft.problems)) == len(draft.problems)
    assert all(isinstance(p, Problem) for p in draft.problems)
    if draft.place is not None:
        # Words the officer typed, kept as typed: a short noun phrase without spaces or digits.
        assert draft.place in unicodedata.normalize("NFKC", text)
        assert 2 <= len(draft.place) <= 18
        assert not any(c.isspace() or c.isdecimal() for c in draft.place)
    # Not a log at all, or a log: nothing in between that a handler would half-show.
    assert draft.recognised or draft == MeetingDraft()
    if Problem.AMBIGUOUS_KIND in draft.problems:
        assert draft.kind is None


@examples(60)
@given(text=long_text(10_000, 100_000))
def test_long_text_reads_without_error(text: str) -> None:
    draft = parse(text)
    assert draft.held_on is None or draft.held_on <= TODAY
    parse_date(text, today=TODAY)


@examples(300)
@given(text=any_text())
def test_full_width_typing_reads_the_same(text: str) -> None:
    # Phones type ３月５日，４５人: full-width forms are the same words.
    assert parse(fullwidth(text)) == parse(text)
    assert read_date(fullwidth(text), today=TODAY) == read_date(text, today=TODAY)


@examples(300)
@given(text=any_text(), controls=st.text(alphabet=st.sampled_from("\x00\x07\x1b\t\r\x7f\x85")))
def test_control_characters_read_as_spaces(text: str, controls: str) -> None:
    # A pasted text carries control characters where spaces were: they separate words alike.
    assume(controls)
    spaced = text.replace("\n", " ")
    mangled = "".join(controls[i % len(controls)] if c == " " else c for i, c in enumerate(spaced))
    assert parse(mangled) == parse(spaced)


MEETING_WORD_CHARS = set("沟座恳税宣") | {"面对面"[0]}


@examples(300)
@given(text=any_text())
def test_text_without_a_meeting_word_is_never_a_log(text: str) -> None:
    assume(not MEETING_WORD_CHARS & set(unicodedata.normalize("NFKC", text)))
    assert parse(text) == MeetingDraft()


@examples(200)
@given(text=any_text(), question=st.sampled_from(["进度", "还剩多少", "完成情况", "多少家"]))
def test_a_question_is_never_a_log(text: str, question: str) -> None:
    asked = f"职工沟通会 {text} {question}"
    assert is_status_question(asked)
    assert parse(asked) == MeetingDraft()


# Round trips: a meeting written out as officers write it reads back as that meeting.

KIND_WORDS = {
    "职工沟通会": MeetingKind.WORKER, "企业沟通会": MeetingKind.ENTERPRISE,
    "企业职工沟通会": MeetingKind.WORKER, "税户大会": MeetingKind.TAXPAYER,
    "纳税户大会": MeetingKind.TAXPAYER, "面对面沟通会": MeetingKind.FACE_TO_FACE,
    "集中宣讲": MeetingKind.BRIEFING, "宣讲会": MeetingKind.BRIEFING,
}  # fmt: skip
PLACE_NAMES = ["苏庄", "西关", "万科", "中铁", "建筑", "农贸", "阳光", "金隅", "绿地"]
VENUE_WORDS = {
    "社区": VenueType.COMMUNITY, "大厦": VenueType.OFFICE_BUILDING,
    "写字楼": VenueType.OFFICE_BUILDING, "工地": VenueType.SITE, "市场": VenueType.MARKET,
    "公司": VenueType.ENTERPRISE,
}  # fmt: skip
CN_DIGITS = "零一二三四五六七八九"


def chinese(n: int) -> str:
    """1 to 9,999 as written in words: 十二, 三十五, 一百零五, 一千二百三十."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    out, zero = "", False
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit = n // size % 10
        if digit == 0:
            zero = bool(out)
            continue
        out += ("零" if zero else "") + CN_DIGITS[digit] + unit
        zero = False
    return out


def date_phrases(d: date, today: date) -> list[str]:
    """The ways an officer names a day that has passed."""
    phrases = [f"{d.year}年{d.month}月{d.day}日", f"{d:%Y-%m-%d}", f"{d.year}/{d.month}/{d.day}"]
    if d.year == today.year:
        phrases += [f"{d.month}月{d.day}日", f"{d.month}月{d.day}号", f"{chinese(d.month)}月"
                    f"{chinese(d.day)}日"]  # fmt: skip
        if d.month == today.month:
            phrases += [f"{d.day}日", f"{d.day}号"]
    phrases += {0: ["今天", "今日"], 1: ["昨天", "昨日"], 2: ["前天"]}.get((today - d).days, [])
    return phrases


@st.composite
def written_meetings(draw: st.DrawFn) -> tuple[str, date, MeetingDraft]:
    """A meeting, the day it is logged on, and the text an officer writes for it."""
    today = draw(todays)
    kind_word = draw(st.sampled_from(sorted(KIND_WORDS)))
    # Years are read as 20xx: a meeting logged is of this century.
    held = draw(st.none() | st.dates(max(today - timedelta(days=500), date(2000, 1, 1)), today))
    street = draw(st.none() | st.sampled_from(STREETS))
    street_word = street and draw(st.sampled_from([street, street[:-2] if street.endswith(
        "街道") else street[:-1]]))  # fmt: skip
    place = draw(st.none() | st.tuples(st.sampled_from(PLACE_NAMES), st.sampled_from(
        sorted(VENUE_WORDS))))  # fmt: skip
    attendees = draw(st.none() | st.integers(0, MAX_ATTENDEES))
    new = draw(st.none() | st.integers(0, 9_999))

    def count(n: int) -> str:
        return chinese(n) if 0 < n < 10_000 and draw(st.booleans()) else str(n)

    when = draw(st.sampled_from(date_phrases(held, today))) if held else ""
    where = "".join(place) if place else ""
    template = draw(st.integers(0, 2))
    if template == 0:
        at = f"在{street_word or ''}{where}" if street_word or where else ""
        came = f"，{count(attendees)}人参加" if attendees is not None else ""
        joined = f"，新入会{count(new)}人" if new is not None else ""
        text = f"{when}{at}开了{kind_word}{came}{joined}"
    elif template == 1:
        at = f"在{where}" if where else ""
        came = f" 参加{count(attendees)}人" if attendees is not None else ""
        joined = f" 发展会员{count(new)}名" if new is not None else ""
        text = f"{kind_word} {street_word or ''} {when} {at}{came}{joined}"
    else:
        at = f"在{where}开的" if where else ""
        came = f"\n参会人数：{attendees}" if attendees is not None else ""
        joined = f"\n新入会{count(new)}人" if new is not None else ""
        text = f"{street_word or ''}{kind_word}\n{when}\n{at}{came}{joined}"
    # 企业职工沟通会 is a worker meeting held in an enterprise: the venue, when no place says.
    venue = VENUE_WORDS[place[1]] if place else None
    if venue is None and kind_word == "企业职工沟通会":
        venue = VenueType.ENTERPRISE
    expected = MeetingDraft(
        kind=KIND_WORDS[kind_word], held_on=held, street=street, attendees=attendees,
        new_members=new, venue_type=venue, place=where or None,
    )  # fmt: skip
    return text, today, expected


def test_written_numbers() -> None:
    assert [chinese(n) for n in (1, 10, 12, 35, 105, 120, 250, 1005, 1230, 9999)] == [
        "一", "十", "十二", "三十五", "一百零五", "一百二十", "二百五十", "一千零五",
        "一千二百三十", "九千九百九十九"]  # fmt: skip


@examples(500)
@given(written=written_meetings())
def test_a_written_meeting_reads_back(written: tuple[str, date, MeetingDraft]) -> None:
    text, today, expected = written
    assert parse(text, today) == expected, text


@examples(200)
@given(written=written_meetings(), noise=st.sampled_from(["😀", "！", "~", "...", "  "]))
def test_a_written_meeting_survives_full_width_and_emoji(
    written: tuple[str, date, MeetingDraft], noise: str
) -> None:
    text, today, expected = written
    assert parse(fullwidth(text) + noise, today) == expected, text


# Linear time: the parser's cost must grow with the text, not with its square. A timed
# property would be flaky; ten times the text taking ten times the time (with slack) is not.


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parse(text)
        parse_date(text, today=TODAY)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize(
    "unit",
    ["职工沟通会", "在", "1", "一", "十", "约", "人", "1 ", "职工", "3月5日", "3.5 ", "在拱辰",
     "今天在拱辰街道开了职工沟通会，45人参加，新入会12人", "<b>&amp;", "\u200b", "😀",
     "在苏庄社区", "下午2点", "参加45人新入会", "两百五", "1" * 7 + "人", "沟通会 ", "\x00"],
)  # fmt: skip
def test_ten_times_the_text_costs_about_ten_times_the_time(unit: str) -> None:
    short = (unit * (10_000 // len(unit) + 1))[:10_000]
    long = (unit * (100_000 // len(unit) + 1))[:100_000]
    small, large = _seconds(short), _seconds(long)
    # Linear is 10x; quadratic would be 100x. 25x leaves room for a busy machine.
    assert large <= 25 * small + 0.05, f"{unit!r}: {small:.4f}s for 10 KB, {large:.4f}s for 100 KB"
    assert large < 2.0


# --- dates and counts typed as answers ----------------------------------------------------


@examples(300)
@given(text=any_text(), today=todays)
def test_a_typed_date_is_a_past_day_or_a_reason(text: str, today: date) -> None:
    found = read_date(text, today=today)
    assert found is None or isinstance(found, Problem) or found <= today
    assert parse_date(text, today=today) == (found if isinstance(found, date) else None)


@examples(200)
@given(day=st.dates(date(2001, 1, 1), date(2098, 12, 31)), back=st.integers(0, 400))
def test_a_past_day_reads_back_however_it_is_written(day: date, back: int) -> None:
    held = day - timedelta(days=back)
    assume(held.year >= 2000)
    for phrase in date_phrases(held, day):
        assert read_date(phrase, today=day) == held, phrase
        assert read_date(fullwidth(phrase), today=day) == held, phrase


@examples(300)
@given(text=any_text())
@example(text="፩")  # Ethiopic one: a digit to str.isdigit(), not to int()
@example(text="²")
def test_a_typed_count_is_a_head_count_or_nothing(text: str) -> None:
    count = read_count(text)
    assert count is None or (type(count) is int and 0 <= count <= MAX_ATTENDEES)


@examples(200)
@given(n=st.integers(0, MAX_ATTENDEES), unit=st.sampled_from(["", "人", "名", "位", " 人"]),
       pad=st.sampled_from(["", " ", "\t", "\u3000"]), wide=st.booleans())  # fmt: skip
def test_a_count_reads_back(n: int, unit: str, pad: str, wide: bool) -> None:
    typed = f"{pad}{n}{unit}{pad}"
    assert read_count(fullwidth(typed) if wide else typed) == n
    assert read_count(str(MAX_ATTENDEES + 1 + n)) is None


@examples(200)
@given(text=any_text(), today=todays)
def test_a_follow_up_date_is_ahead_and_within_a_year(text: str, today: date) -> None:
    found = read_follow_up_date(text, today=today)
    assert found is None or today <= found <= today + FOLLOW_UP_HORIZON


def _next_such_day(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found >= today:
            return found
    return None


@examples(200)
@given(today=todays, ahead=st.integers(0, FOLLOW_UP_HORIZON.days))
@example(today=date(2019, 3, 10), ahead=356)  # 2月29日: next year's, in a year with one
def test_a_follow_up_date_reads_back(today: date, ahead: int) -> None:
    on = today + timedelta(days=ahead)
    assume(on <= today + FOLLOW_UP_HORIZON)
    for typed in (
        f"{on:%Y-%m-%d}",
        f"{on.year}年{on.month}月{on.day}日",
        f"{on.year}.{on.month}.{on.day}",
    ):
        assert read_follow_up_date(typed, today=today) == on
        assert read_follow_up_date(fullwidth(typed), today=today) == on
    if _next_such_day(today, on.month, on.day) == on:  # without a year: the next such day
        assert read_follow_up_date(f"{on.month}月{on.day}日", today=today) == on


# --- mobile numbers ------------------------------------------------------------------------

ascii_mobile = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)


@examples(400)
@given(text=any_text())
@example(text="138٠٠١٣٨٠٠٠")  # Arabic-Indic digits: not a number an SMS gateway can dial
@example(text="13८0013८000")
def test_a_normalised_mobile_is_eleven_ascii_digits(text: str) -> None:
    mobile = normalise_mobile(text)
    if mobile is not None:
        assert mobile.isascii() and mobile.isdigit() and len(mobile) == 11
        assert mobile[0] == "1" and mobile[1] in "3456789"
        assert normalise_mobile(mobile) == mobile


@examples(200)
@given(mobile=ascii_mobile, style=st.integers(0, 5))
def test_a_mobile_reads_back_however_it_is_typed(mobile: str, style: int) -> None:
    typed = [
        mobile, fullwidth(mobile), f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}", f"+86 {mobile}", f"0086{mobile}",
    ][style]  # fmt: skip
    assert normalise_mobile(typed) == mobile
    assert mask_mobile(mobile) == f"{mobile[:3]}****{mobile[-4:]}"


# --- credit codes --------------------------------------------------------------------------

code_bodies = st.text(alphabet=CHARSET, min_size=17, max_size=17)


@examples(300)
@given(text=any_text())
def test_any_text_is_a_valid_credit_code_or_not_without_error(text: str) -> None:
    assert is_valid_credit_code(text) in (True, False)


@examples(300)
@given(body=code_bodies, position=st.integers(0, 17), replacement=st.sampled_from(CHARSET))
def test_a_check_character_catches_every_single_typo(
    body: str, position: int, replacement: str
) -> None:
    code = body + credit_code_check_char(body)
    assert is_valid_credit_code(code)
    typo = code[:position] + replacement + code[position + 1 :]
    assert is_valid_credit_code(typo) == (typo == code)


@examples(200)
@given(body=st.text(max_size=10))
def test_an_organisation_code_check_is_a_digit_or_x_or_a_refusal(body: str) -> None:
    try:
        check = organisation_code_check_char(body)
    except ValueError:
        return
    assert len(body) == 8 and check in "0123456789X"


# --- periods, answers, templates, links, streets -----------------------------------------


@examples(300)
@given(
    text=any_text()
    | st.sampled_from(
        [
            "2018",
            "2018-03",
            "2018-Q1",
            "2018-13",
            "2018-02-01..2018-02-28",
            "2018-03-01..2018-02-01",
            "2018-02-30..2018-03-01",
            " 2018-Q4 ",
            "1899",
        ]
    )
)
def test_a_period_is_days_in_order_or_nothing(text: str) -> None:
    period = parse_period(text)
    if period is not None:
        assert period.first <= period.last
        assert period.label == text.strip()
        assert period.first.year >= 1900


@examples(200)
@given(day=st.dates(date(1901, 1, 1), date(9998, 12, 31)), back=st.integers(0, 24))
def test_named_periods_read_back(day: date, back: int) -> None:
    assume(day.year * 12 + day.month - 3 * back > 1901 * 12)
    for period in (month_of(day, back), quarter_of(day, back // 3), year_of(day)):
        assert parse_period(period.label) == period


@examples(200)
@given(text=any_text() | long_text(1_900, 4_200), field=st.sampled_from(list(ReportField)))
def test_a_report_answer_is_taken_or_refused_for_a_reason(text: str, field: ReportField) -> None:
    problem = answer_problem(field, text)
    stripped = text.strip()
    if not stripped:
        assert problem is AnswerProblem.EMPTY
    elif len(stripped) > max_length(field):
        assert problem is AnswerProblem.TOO_LONG
    else:
        assert problem is None


@examples(400)
@given(text=any_text() | long_text(400, 600), name=any_text(), union=any_text())
@example(text="欢迎{name}加入{union}", name="{union}", union="{name}")
@example(text="{name[0]}", name="x", union="y")
@example(text="{name.__class__}", name="x", union="y")
def test_an_accepted_welcome_template_always_fills_in(text: str, name: str, union: str) -> None:
    if template_problem(text) is not None:
        return
    assert text.strip() and len(text) <= MAX_TEMPLATE
    filled = welcome_text(text, name=name, union=union)
    # Only {name} and {union} are filled in, and what they are filled with is not read again.
    literal = "".join(part for part, _, _, _ in string.Formatter().parse(text))
    assert len(filled) >= len(literal)
    assert sms_segments(filled) >= 1


@examples(200)
@given(text=any_text() | long_text(60, 2_000))
def test_sms_parts_grow_with_the_text(text: str) -> None:
    assert sms_segments(text) >= 1
    assert sms_segments(text + "字") >= sms_segments(text)


@examples(200)
@given(payload=any_text() | pieces().map(lambda p: JOIN_PREFIX + p))
def test_a_join_link_code_comes_only_from_a_join_payload(payload: str) -> None:
    code = link_code(payload)
    if code is None:
        assert not payload.startswith(JOIN_PREFIX)
    else:
        assert payload.startswith(JOIN_PREFIX + code) and len(code) <= 32


STREET_IDS = {name: i for i, name in enumerate(STREETS, start=1)}


@examples(300)
@given(text=any_text() | st.sampled_from(STREETS) | st.sampled_from([s[:2] for s in STREETS]))
def test_a_street_is_one_of_the_plan_or_none(text: str) -> None:
    found = street_of(text, STREET_IDS)
    assert found is None or found in STREET_IDS.values()
    if text in STREET_IDS:
        assert found == STREET_IDS[text]
