"""One log line per update: its id, who sent it (their role), the chat type, the handler that
took it, the outcome and how long it took.

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

from bot.logs import log_event

log = logging.getLogger("unionbot.updates")

Callback = Callable[[Any, Any], Coroutine[Any, Any, Any]]


@dataclass
class UpdateEvent:
    role: str = "none"  # no actor: the gatekeeper did not resolve who sent it
    handler: str = "none"  # no handler took it
    outcome: str = "ok"


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
        start = time.perf_counter()
        try:
            await super().process_update(update)
        except Exception:
            event.outcome = "error"
            raise
        finally:
            _current.reset(mark)
            took = (time.perf_counter() - start) * 1000
            chat = update.effective_chat if isinstance(update, Update) else None
            log_event(
                log,
                logging.INFO if event.outcome == "ok" else logging.WARNING,
                {
                    "event": "update",
                    "update_id": update.update_id if isinstance(update, Update) else None,
                    "role": event.role,
                    "chat_type": str(chat.type) if chat is not None else None,
                    "handler": event.handler,
                    "outcome": event.outcome,
                    "ms": round(took, 1),
                },
            )

    async def process_error(
        self, update: object | None, error: Exception, job: Any = None, coroutine: Any = None
    ) -> bool:
        # Errors in handlers (PTB reports them here) and those the gatekeeper reports itself.
        event = _current.get()
        if event is not None and job is None:
            event.outcome = "error"
        return await super().process_error(update, error, job, coroutine)
