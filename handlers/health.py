"""/health (district admins): what webhook mode's GET /health reports, as a message: the
database and how fast it answers, the outbox's backlog by channel, what it gave up on, the
last reminder tick and whether it is late, and which instance answered."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from telegram import Update

from bot.context import BotContext
from bot.health import probe
from bot.texts import t
from handlers.common import esc, reply
from models.enums import Language
from models.health import Health
from reminders.messages import when


async def health_command(update: Update, context: BotContext) -> None:
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", context.lang))
        return
    report = await probe(context.application)
    await reply(update, health_text(report, context.lang, context.plan.zone))


def health_text(report: Health, lang: Language, zone: ZoneInfo) -> str:
    lines = [t("health.title", lang, when=when(report.now, zone, lang))]
    if report.database_ok and report.latency_ms is not None:
        lines.append(t("health.database_ok", lang, latency=f"{report.latency_ms:.1f}"))
    else:
        lines.append(t("health.database_down", lang, problem=esc(report.problem or "?")))
    figures = report.figures
    if figures is not None:
        for b in figures.backlog:
            age = b.oldest_age(report.now)
            oldest = "" if age is None else t("health.oldest", lang, age=span(age, lang))
            lines.append(t("health.backlog", lang,
                           channel=t(f"outbox.channel_{b.channel.value}", lang),
                           due=f"{b.due:,}", oldest=oldest, failed=f"{b.failed:,}",
                           blocked=f"{b.blocked:,}"))  # fmt: skip
        overdue = figures.tick_overdue(report.tick_seconds)
        if overdue is None:
            lines.append(t("health.tick_off", lang))
        elif figures.last_tick is None or figures.tick_age is None:
            lines.append(t("health.tick_never", lang))
        else:
            verdict = (
                t("health.tick_overdue", lang, every=report.tick_seconds)
                if overdue
                else t("health.tick_ok", lang)
            )
            lines.append(t("health.tick", lang, when=when(figures.last_tick, zone, lang),
                           age=span(figures.tick_age, lang), verdict=verdict))  # fmt: skip
    lines.append(t("health.instance", lang, mode=t(f"health.mode_{report.mode}", lang),
                   instance=esc(report.instance), version=esc(report.version)))  # fmt: skip
    return "\n".join(lines)


def span(age: timedelta, lang: Language) -> str:
    """An age as people say it: 40 seconds, 3 minutes, 2 hours, 5 days (rounded down)."""
    seconds = int(age.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return t(f"health.age_{unit}", lang, n=seconds // size)
    return t("health.age_seconds", lang, n=seconds)
