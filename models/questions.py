"""Plain-language questions the bot understands without a command."""

from __future__ import annotations

import re

# "进度", "还差多少", "还剩几家", "完成得怎么样" … and their English counterparts. Words an
# officer types when asking how much work is left, not when logging work done.
STATUS_QUESTION = re.compile(
    r"进度|还差|还剩|差多少|剩多少|剩几|完成(情况|得怎么样|了多少)|多少家|任务量"
    r"|\bstatus\b|\bprogress\b|how much is left|how many (are )?left",
    re.IGNORECASE,
)


def is_status_question(text: str) -> bool:
    return STATUS_QUESTION.search(text) is not None
