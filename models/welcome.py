"""The welcome text a district admin may change (/welcome): checked, previewed, saved.

Only {name} and {union} may be filled in; the text is what every new member's phone shows
after the 【signature】, so its length decides how many SMS each welcome costs. A welcome
already queued keeps the text it was queued with: the outbox row holds the words.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.members import sms_segments, sms_text, welcome_template, welcome_text
from models.plan import Plan
from models.tables import WelcomeTemplate

MAX_TEMPLATE = 500  # characters: seven SMS parts; a welcome is a message, not a leaflet
PLACEHOLDERS = frozenset({"name", "union"})


class TemplateProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    PLACEHOLDER = "placeholder"  # {anything} but {name} and {union}
    BRACES = "braces"  # an unmatched { or }


def template_problem(text: str) -> TemplateProblem | None:
    if not text.strip():
        return TemplateProblem.EMPTY
    if len(text) > MAX_TEMPLATE:
        return TemplateProblem.TOO_LONG
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return TemplateProblem.BRACES
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            return TemplateProblem.PLACEHOLDER
    return None


@dataclass(frozen=True)
class Preview:
    template: str
    example: str  # as the phone shows it, 【signature】 first
    length: int  # characters of `example`
    segments: int  # SMS it costs


def preview(plan: Plan, template: str, *, name: str, union: str) -> Preview:
    example = sms_text(plan, welcome_text(template, name=name, union=union))
    return Preview(template, example, len(example), sms_segments(example))


async def is_default(*, session: AsyncSession) -> bool:
    return await session.get(WelcomeTemplate, 1) is None


async def save_template(
    *, session: AsyncSession, plan: Plan, text: str, by_user_id: int, now: datetime
) -> None:
    """The admin's text replaces the current one; the audit keeps both."""
    if template_problem(text) is not None:
        raise ValueError("template refused")
    before = await welcome_template(session=session, plan=plan)
    row = await session.get(WelcomeTemplate, 1) or WelcomeTemplate(
        id=1, text=text, changed_by=by_user_id, changed_at=now
    )
    row.text, row.changed_by, row.changed_at = text, by_user_id, now
    session.add(row)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="welcome.change",
        entity="welcome_template", entity_id=1, before={"text": before}, after={"text": text},
    )  # fmt: skip


async def restore_default(
    *, session: AsyncSession, plan: Plan, by_user_id: int, now: datetime
) -> bool:
    """Back to the plan's text; False (and nothing written) if it is in use already."""
    row = await session.get(WelcomeTemplate, 1)
    if row is None:
        return False
    before = row.text
    await session.delete(row)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="welcome.restore",
        entity="welcome_template", entity_id=1, before={"text": before},
        after={"text": plan.welcome.template},
    )  # fmt: skip
    return True
