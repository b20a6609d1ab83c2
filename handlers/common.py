"""Small helpers every handler uses: replying, editing, escaping, keyboards."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.context import BotContext
from bot.texts import t
from models.drafts import save_draft
from models.enums import Language, Role

Button = tuple[str, str]  # (label, callback data)


def esc(value: object) -> str:
    """User-supplied text inside our HTML messages."""
    return html.escape(str(value), quote=False)


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def save_edit_cancel(lang: Language, prefix: str) -> InlineKeyboardMarkup:
    """The row under a summary card: "<prefix>:save", "<prefix>:edit", "<prefix>:cancel"."""
    actions = ("save", "edit", "cancel")
    return keyboard([[(t(f"button.{a}", lang), f"{prefix}:{a}") for a in actions]])


def grid(buttons: Sequence[Button], columns: int) -> list[list[Button]]:
    return [list(buttons[i : i + columns]) for i in range(0, len(buttons), columns)]


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def role_label(role: Role | None, street_name: str | None, lang: Language) -> tuple[str, str]:
    """A role's name and its street suffix (as texts start.street_suffix), for greetings."""
    if role is None:
        return "", ""
    street = t("start.street_suffix", lang, street=street_name) if street_name else ""
    return t(f"role.{role.value}", lang), street


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=markup)


async def edit(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the pressed message's text, so a flow lives in one message, not a flood."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        # Pressing the same button twice would edit to identical content: nothing to do.
        if "not modified" not in str(exc):
            raise


IDLE = timedelta(minutes=30)  # a question left this long is no longer the conversation


def idle(payload: dict[str, Any], now: datetime) -> bool:
    """A draft whose question was left unanswered too long: a message now is not its answer."""
    at = payload.get("at")
    return at is not None and now - datetime.fromisoformat(at) > IDLE


async def store_draft(context: BotContext, kind: str, payload: dict[str, Any]) -> None:
    """Keep a conversation's answers so far (and when the officer last answered)."""
    payload["at"] = context.now().isoformat()
    async with context.db.session(write=True) as session:
        await save_draft(
            session=session, user_id=context.actor.user_id, kind=kind, payload=payload,
            now=context.now(),
        )  # fmt: skip


async def offered_back_if_idle(
    update: Update,
    context: BotContext,
    *,
    kind: str,
    payload: dict[str, Any],
    text: str,
    markup: InlineKeyboardMarkup,
) -> bool:
    """After a long pause a message is likely about something else: it is not taken as the
    answer; the draft is kept (its clock restarted) and offered back. False if not idle."""
    if not idle(payload, context.now()):
        return False
    await store_draft(context, kind, payload)
    await reply(update, text, markup)
    return True
