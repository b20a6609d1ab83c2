"""One log line per update: its id, who sent it (their role), the chat type, the handler that
took it, the outcome and how long it took; and, when the bot refused it, the text it refused
with (`refused=card.refused`): a forged button, a stale one, someone without the right.

`LoggedApplication.process_update` is the one place every update passes (polling, the
webhook and the test harness all call it), so it times the update and writes the line. What
happened inside is gathered in a context variable: PTB runs the handlers of one update in
the task that called process_update, so they see the event it set. Every callback is wrapped
as it is added (add_handler), which names the handler that ran and reads the role the
gatekeeper left on the context, without touching the handlers themselves.

Only ids, role and type names are logged: never a message's text or a phone number.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, BaseHandler

from bot import texts
from bot.logs import log_event

log = logging.getLogger("unionbot.updates")

Callback = Callable[[Any, Any], Coroutine[Any, Any, Any]]


# The texts that refuse an update (no right to it, a button no longer valid, a code that is
# not one): the first one rendered while handling an update names the refusal on its line.
REFUSALS = frozenset({
    "access.refused", "access.refused_short", "access.removed", "access.admin_only",
    "button.stale", "units.refused", "card.refused", "card.missing", "status.own_street_only",
    "status.unbound_group", "compare.officers_only", "compare.refused", "compare.missing",
    "member.officers_only", "member.street_refused", "report.officers_only",
    "export.not_allowed", "export.refused", "mine.refused", "join.not_yours", "join.qr_refused",
    "join.link_unknown", "join.link_expired", "join.link_expired_short", "remind.snooze_denied",
    "data_import.admins_only", "history.refused", "invite.unknown", "invite.used",
    "invite.expired", "officers.gone", "erase.gone",
})  # fmt: skip
REFUSAL_PREFIXES = ("refusal.", "report.refusal.")  # the ledger's and the reports' reasons


@dataclass
class UpdateEvent:
    role: str = "none"  # no actor: the gatekeeper did not resolve who sent it
    handler: str = "none"  # no handler took it
    outcome: str = "ok"
    refused: str | None = None  # the text key the bot refused the update with

    def rendered(self, key: str) -> None:
        if self.refused is None and (key in REFUSALS or key.startswith(REFUSAL_PREFIXES)):
            self.refused = key


_current: ContextVar[UpdateEvent | None] = ContextVar("unionbot_update_event", default=None)


def callback_name(callback: Callable[..., Any]) -> str:
    """handlers.status.status_command"""
    return f"{callback.__module__}.{callback.__qualname__}"


def role_of(context: object) -> str:
    """district_admin, street_officer, community_worker, stranger, or none without an actor."""
    try:
        actor = context.actor  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return "none"
    return "stranger" if actor.role is None else str(actor.role.value)


def traced(callback: Callback, *, gate: bool) -> Callback:
    """The callback, noting in the update's event that it ran and who the actor was. A gate
    (the gatekeeper, group -1) counts as the handler only when it stops the update."""
    name = callback_name(callback)

    @functools.wraps(callback)
    async def run(update: Any, context: Any) -> Any:
        event = _current.get()
        took = not gate
        try:
            return await callback(update, context)
        except ApplicationHandlerStop:
            took = True
            raise
        finally:
            if event is not None:
                event.role = role_of(context)
                if took:
                    event.handler = name

    run.__dict__["traced"] = True
    return run


class LoggedApplication(Application[Any, Any, Any, Any, Any, Any]):
    """The application, writing one event line per update (see the module's docstring)."""

    def add_handler(self, handler: BaseHandler[Any, Any, Any], group: int = 0) -> None:
        callback = handler.callback
        if not getattr(callback, "traced", False):
            handler.callback = traced(callback, gate=group < 0)
        super().add_handler(handler, group)

    async def process_update(self, update: object) -> None:
        event = UpdateEvent()
        mark = _current.set(event)
        watching = texts.watch(event.rendered)
        start = time.perf_counter()
        try:
            await super().process_update(update)
        except Exception:
            event.outcome = "error"
            raise
        finally:
            texts.unwatch(watching)
            _current.reset(mark)
            took = (time.perf_counter() - start) * 1000
            chat = update.effective_chat if isinstance(update, Update) else None
            fields: dict[str, object] = {
                "event": "update",
                "update_id": update.update_id if isinstance(update, Update) else None,
                "role": event.role,
                "chat_type": str(chat.type) if chat is not None else None,
                "handler": event.handler,
                "outcome": event.outcome,
                "ms": round(took, 1),
            }
            if event.refused is not None:
                fields["refused"] = event.refused
            log_event(log, logging.INFO if event.outcome == "ok" else logging.WARNING, fields)

    async def process_error(
        self, update: object | None, error: Exception, job: Any = None, coroutine: Any = None
    ) -> bool:
        # Errors in handlers (PTB reports them here) and those the gatekeeper reports itself.
        event = _current.get()
        if event is not None and job is None:
            event.outcome = "error"
        return await super().process_error(update, error, job, coroutine)
