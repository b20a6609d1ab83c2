"""Which plain messages ask how much is left."""

from __future__ import annotations

import pytest

from models.questions import is_status_question


@pytest.mark.parametrize(
    "text",
    ["进度", "还差多少？", "我们街道还剩几家没建会", "完成情况怎么样", "任务量还有多少",
     "@unionbot_demo_bot 进度", "status", "What's our progress?", "how much is left"],
)  # fmt: skip
def test_questions_about_what_is_left(text: str) -> None:
    assert is_status_question(text)


@pytest.mark.parametrize(
    "text",
    ["今天在拱辰街道开了职工沟通会，45人参加", "你好", "statuses of units", "/help", ""],
)
def test_other_messages_are_not(text: str) -> None:
    assert not is_status_question(text)
