"""Hypothesis strategies for what people type, and the settings the property tests run with.

Free text reaches the bot from anyone on Telegram: every strategy here mixes the domain's own
phrases (so that parsers get past their first check) with what breaks software: markup the
bot's HTML messages would take for their own, SQL, format fields, control characters, bidi
and zero-width marks, full-width and non-Latin digits, emoji, combining marks.

Profiles (chosen by UNIONBOT_HYPOTHESIS, default "ci"): "ci" is derandomised, so a run is
the same run everywhere and CI never fails on a draw it cannot repeat; "explore" draws at
random, with more examples, to hunt for new failures locally. Registered here, not in
conftest.py, so that only the property tests use them.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,  # derandomised runs need no example database (and leave no .hypothesis/)
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore",
    parent=settings.get_profile("ci"),
    derandomize=False,
)
PROFILE = settings.get_profile(os.environ.get("UNIONBOT_HYPOTHESIS", "ci"))
EXPLORING = os.environ.get("UNIONBOT_HYPOTHESIS") == "explore"


def examples(n: int) -> settings:
    """The profile with `n` examples (ten times as many when exploring)."""
    return settings(PROFILE, max_examples=n * 10 if EXPLORING else n)


TELEGRAM_TEXT_MAX = 4096  # what Telegram delivers at most in one message

# Pieces that mean something to one layer or another of the bot.
MARKUP = [
    "<b>", "</b>", "<b>粗</b>", "<i>x</i>", "<u>", "</u>", "<s>x</s>", "<pre>", "</code>",
    "<code>x</code>", "<blockquote>", "<tg-spoiler>剧透</tg-spoiler>", "<br>", "<script>",
    "<a href=\"http://example.com\">链接</a>", "<a href='javascript:alert(1)'>x</a>",
    "<span class=\"tg-spoiler\">x</span>", "<img src=x onerror=alert(1)>", "<!-- -->",
    "&", "&amp;", "&lt;", "&gt;", "&nbsp;", "&#60;", "&#x3c;", "&bogus;", "<", ">", "</",
    "<<>>", "<b><i></b></i>", "*粗*", "_斜_", "`代码`", "```", "[链接](http://e.com)",
    "||剧透||", "~删~", "\\", "\\n", "#", "!", ".", "-", "=", "|", "+",
]  # fmt: skip
SQL = [
    "'", "\"", "';", "'; DROP TABLE unit; --", "' OR '1'='1", "1; DELETE FROM meeting",
    "%", "_", "%%", "%_%", "\\%", "UNION SELECT * FROM officer", "NULL", "--", "/*", "*/",
]  # fmt: skip
FORMAT = ["{", "}", "{}", "{0}", "{name}", "{union}", "{name!r}", "{name:>9}", "{x}", "%s",
          "%(name)s", "{{", "}}", "{name.__class__}", "$1", "${x}"]  # fmt: skip
CONTROL = ["\x00", "\x07", "\x08", "\x1b[31m", "\r", "\r\n", "\t", "\x0b", "\x0c", "\x7f",
           "\x85", "\u2028", "\u2029", "\n\n\n"]  # fmt: skip
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f",
             "\u202a", "\u202b", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069", "\u061c",
             "\u3000", "\u00a0", "\u2003"]  # fmt: skip
DIGITS = ["１２３", "４５人", "３月５日", "，", "：", "１３８００１３８０００", "²", "①", "፩", "٣",
          "३", "๓", "〇", "十二", "两百五", "一百零五", "9" * 12, "0", "-1", "1e9", "3.5",
          "13800138000", "+86 138-0013-8000", "0086 13800138000"]  # fmt: skip
EMOJI = ["😀", "👨‍👩‍👧‍👦", "🇨🇳", "🏳️‍🌈", "👍🏽", "\U0001f9d1\u200d\U0001f4bb", "🀄", "𠀀", "𪚥"]
SCRIPTS = ["مرحبا", "שלום", "Привет", "ℌ𝔢𝔩𝔩𝔬", "e\u0301", "\u0300\u0301\u0302",
           "Z̤͔ͧ̑̓ä͖̭̈̇l͖͎g̞̥͈ͬo̘͚", "ﷺ", "ᄀᄀᄀ", "ǅ", "ﬁ", "Ⅻ", "㍿"]  # fmt: skip
DOMAIN = [
    "职工沟通会", "企业沟通会", "沟通会", "座谈会", "税户大会", "面对面沟通会", "集中宣讲",
    "宣讲会", "拱辰街道", "拱辰", "良乡镇", "良乡", "窦店", "河北省", "在", "开了", "今天",
    "昨天", "明天", "上周五", "下周一", "3月5日", "2月30日", "2018-03-05", "5号", "5号楼",
    "45人", "参加", "新入会12人", "发展会员5名", "约50人", "40多人", "第3次", "下午2点",
    "苏庄社区", "万科大厦", "工地", "市场", "公司", "进度", "还剩多少", "取消", "吗", "？",
    "准备", "人", "名", "位", "个", "，", "。", "、", " ", "\n", "房山", "公司名称",
    "/", "/start", "@unionbot_demo_bot", "@otherbot",
]  # fmt: skip
PIECES = MARKUP + SQL + FORMAT + CONTROL + INVISIBLE + DIGITS + EMOJI + SCRIPTS + DOMAIN


def pieces(max_pieces: int = 12) -> st.SearchStrategy[str]:
    """Hostile and domain pieces run together, with a little free text between them."""
    piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=4))
    return st.lists(piece, max_size=max_pieces).map("".join)


def any_text(max_size: int = 200) -> st.SearchStrategy[str]:
    """Anything a person, a phone or a script could type: any code point but surrogates
    (Telegram sends UTF-8, which cannot carry them), weighted toward trouble."""
    odd = st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Nd", "No", "Co"])
    return st.one_of(
        pieces(),
        st.text(max_size=max_size),
        st.text(alphabet=odd, max_size=40),
        st.builds(
            "".join, st.lists(st.one_of(pieces(4), st.text(alphabet=odd, max_size=3)), max_size=6)
        ),
    )


def long_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """A long text: hostile pieces repeated up to a size between `min_size` and `max_size`."""
    return st.builds(
        lambda unit, size: (unit * (size // max(len(unit), 1) + 1))[:size],
        pieces(6).filter(bool),
        st.integers(min_size, max_size),
    )


def message_text(max_size: int = TELEGRAM_TEXT_MAX) -> st.SearchStrategy[str]:
    """The text of one Telegram message: not empty, at most 4,096 characters (what
    Telegram delivers), often hostile, sometimes long."""
    return st.one_of(any_text(), any_text(), any_text(), long_text(300, max_size)).filter(bool)


def fullwidth(text: str) -> str:
    """Printable ASCII as a Chinese phone's full-width keyboard types it (３月５日，４５人)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
