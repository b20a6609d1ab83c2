"""Reminders as the recipient reads them: the planner's text key and figures, in their
language, with whatever came from users escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from bot.texts import t
from models.enums import Language
from reminders.planner import Recipient, Reminder, Rule

MISSED_SHOWN = 20  # lines in the admins' list of reminders that came too late to send


def _value(value: Any, language: Language) -> Any:
    if isinstance(value, date):
        return t("fmt.day", language, y=value.year, m=value.month, d=value.day)
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


def render(reminder: Reminder) -> str:
    language = reminder.recipient.language
    values = {k: _value(v, language) for k, v in reminder.params.items()}
    return t(reminder.text, language, **values)


def explain(reminder: Reminder, language: Language) -> str:
    """Why it is sent: for the preview and /reminders."""
    values = {k: _value(v, language) for k, v in reminder.params.items()}
    return t(reminder.why, language, **values)


def rule_label(rule: Rule, language: Language) -> str:
    return t(f"remind.rule.{rule.value.replace('.', '_')}", language)


def when(at: datetime, zone: Any, language: Language) -> str:
    local = at.astimezone(zone)
    return t("remind.when", language, m=local.month, d=local.day, hm=local.strftime("%H:%M"))


def payload(reminder: Reminder) -> dict[str, Any]:
    """What the outbox row keeps: the text to send, and enough to snooze it."""
    return {
        "text": render(reminder),
        "rule": reminder.rule.value,
        "occasion": reminder.occasion,
        "nominal": reminder.nominal.isoformat(),
        "street_id": reminder.street_id,
        "language": reminder.recipient.language.value,
        "private": reminder.recipient.private,
        "name": reminder.recipient.name,
        "snooze": True,
    }


def missed_text(stale: Sequence[Reminder], recipient: Recipient, zone: Any) -> str:
    """The admins' notice of reminders that fell due while the bot was down, too long ago
    to send late."""
    language = recipient.language
    lines = [
        t("remind.missed_line", language, when=when(r.due_at, zone, language),
          rule=rule_label(r.rule, language), to=html.escape(r.recipient.name, quote=False))
        for r in stale[:MISSED_SHOWN]
    ]  # fmt: skip
    if len(stale) > MISSED_SHOWN:
        lines.append(t("remind.missed_more", language, count=len(stale) - MISSED_SHOWN))
    return t("remind.missed", language, count=len(stale), lines="\n".join(lines))
