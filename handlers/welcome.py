"""/welcome (district admins): the welcome every new member gets, shown, changed, restored.

The current text comes with an example filled in for a sample member and what it costs: its
length with the signature and the number of SMS. Change asks for the new text as the next
message and previews it before it is saved; Restore goes back to the plan's text. Callback
data: "wl:edit", "wl:reset", "wl:save", "wl:cancel". The typed text waits in the admin's
"welcome" draft.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.texts import t
from handlers.common import edit, esc, idle, is_private, keyboard, reply, store_draft
from models.drafts import drop_draft, load_draft
from models.enums import Language
from models.members import union_name, welcome_template
from models.welcome import (
    MAX_TEMPLATE,
    is_default,
    preview,
    restore_default,
    save_template,
    template_problem,
)

DRAFT = "welcome"
WELCOME_CALLBACK = r"^wl:(edit|reset|save|cancel)$"


async def welcome_command(update: Update, context: BotContext) -> None:
    lang = context.lang
    if not context.actor.is_admin:
        await reply(update, t("access.admin_only", lang))
        return
    if not is_private(update):
        await reply(update, t("flow.private_chat", lang))
        return
    await reply(update, await _current(context), _current_buttons(lang))


async def _current(context: BotContext) -> str:
    async with context.db.session() as session:
        template = await welcome_template(session=session, plan=context.plan)
        default = await is_default(session=session)
    title = "welcome.title_default" if default else "welcome.title_custom"
    return preview_text(context, template, title)


def preview_text(context: BotContext, template: str, title: str) -> str:
    """The text, an example for a sample member of the admin's street (or the sample street),
    and its length and SMS count."""
    lang, plan = context.lang, context.plan
    street = context.actor.street_name or t("welcome.sample_street", lang)
    name = t("welcome.sample_name", lang)
    shown = preview(plan, template, name=name, union=union_name(street))
    return "\n".join(
        [
            t(title, lang),
            f"<blockquote>{esc(template)}</blockquote>",
            t("welcome.example", lang),
            f"<blockquote>{esc(shown.example)}</blockquote>",
            t("welcome.length", lang, chars=shown.length, segments=shown.segments,
              signature=esc(plan.welcome.sms_signature)),
        ]
    )  # fmt: skip


def _current_buttons(lang: Language) -> InlineKeyboardMarkup:
    return keyboard(
        [[(t("welcome.edit", lang), "wl:edit"), (t("welcome.restore", lang), "wl:reset")]]
    )


async def welcome_pressed(update: Update, context: BotContext) -> None:
    query, actor, lang = update.callback_query, context.actor, context.lang
    assert query is not None and query.data is not None
    action = query.data.split(":")[1]
    if not actor.is_admin:
        await query.answer(t("access.admin_only", lang), show_alert=True)
        return
    if action == "edit":
        await query.answer()
        await store_draft(context, DRAFT, {"step": "text"})
        await reply(update, t("welcome.ask_text", lang, max=MAX_TEMPLATE))
        return
    if action == "reset":
        async with context.db.session(write=True) as session:
            restored = await restore_default(
                session=session, plan=context.plan, by_user_id=actor.user_id, now=context.now()
            )
            await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        await query.answer()
        said = t("welcome.restored" if restored else "welcome.already_default", lang)
        await edit(update, f"{said}\n\n{await _current(context)}", _current_buttons(lang))
        return
    async with context.db.session(write=True) as session:
        payload = await load_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        if payload is None or payload.get("step") != "confirm":
            await query.answer(t("button.stale", lang), show_alert=True)
            return
        await drop_draft(session=session, user_id=actor.user_id, kind=DRAFT)
        if action == "save":
            await save_template(session=session, plan=context.plan, text=payload["text"],
                                by_user_id=actor.user_id, now=context.now())  # fmt: skip
    await query.answer()
    if action == "save":
        saved = f"{t('welcome.saved', lang)}\n\n{await _current(context)}"
        await edit(update, saved, _current_buttons(lang))
    else:
        await edit(update, t("welcome.cancelled", lang))


async def welcome_answer(update: Update, context: BotContext) -> bool:
    """The new text typed after Change; False if no /welcome waits for one."""
    message, lang = update.effective_message, context.lang
    if message is None or not message.text or not is_private(update):
        return False
    async with context.db.session() as session:
        payload = await load_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
    if payload is None or payload.get("step") != "text":
        return False
    if not context.actor.is_admin or idle(payload, context.now()):
        # Too long ago to be the answer (or no longer an admin): let it go, and say so.
        async with context.db.session(write=True) as session:
            await drop_draft(session=session, user_id=context.actor.user_id, kind=DRAFT)
        await reply(update, t("welcome.timed_out", lang))
        return True
    text = message.text.strip()
    problem = template_problem(text)
    if problem is not None:
        why = t(f"welcome.problem.{problem.value}", lang, max=MAX_TEMPLATE, length=len(text))
        await reply(update, f"{why}\n{t('welcome.ask_again', lang)}")
        return True
    await store_draft(context, DRAFT, {"step": "confirm", "text": text})
    buttons = keyboard(
        [[(t("button.save", lang), "wl:save"), (t("button.cancel", lang), "wl:cancel")]]
    )
    await reply(update, preview_text(context, text, "welcome.title_new"), buttons)
    return True
