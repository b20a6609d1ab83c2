"""The real application driven through the fake Bot API: what tests and the console use.

Updates go in through application.process_update(), exactly as polling or a webhook would
deliver them, and what the bot sends comes back as recorded Bot API calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update

from bot.app import UnionApp, build_application
from bot.fake_api import JSON, ApiCall, FakeBotApi, buttons
from bot.settings import Settings

FAKE_TOKEN = "7000000001:offline-fake-bot-api"
SENDS = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument"}


class Harness:
    def __init__(self, app: UnionApp, api: FakeBotApi, *, raise_errors: bool) -> None:
        self.app = app
        self.api = api
        self.errors: list[BaseException] = []
        self.raise_errors = raise_errors

    @classmethod
    @asynccontextmanager
    async def running(
        cls, settings: Settings, *, raise_errors: bool = True, **build: Any
    ) -> AsyncIterator[Harness]:
        """Build, initialise and start the application (jobs run); stop it afterwards."""
        api = FakeBotApi()
        app = build_application(
            settings, token=FAKE_TOKEN, request=api, get_updates_request=api, **build
        )
        harness = cls(app, api, raise_errors=raise_errors)
        app.add_error_handler(harness._record_error)
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        await app.start()
        try:
            yield harness
        finally:
            await app.stop()
            await app.shutdown()
            if app.post_shutdown:
                await app.post_shutdown(app)

    async def _record_error(self, update: object, context: Any) -> None:
        self.errors.append(context.error)

    async def process(self, update: JSON) -> list[ApiCall]:
        """Feed one update through the whole bot; return the Bot API calls it caused."""
        mark = len(self.api.calls)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        while self.app.bot_data.background:  # what the update started, to its end
            await asyncio.gather(*self.app.bot_data.background, return_exceptions=True)
        if self.raise_errors and self.errors:
            raise self.errors[0]
        return self.api.since(mark)

    async def send(self, user: JSON, text: str, chat: JSON | None = None) -> list[ApiCall]:
        return await self.process(self.api.message_update(user=user, text=text, chat=chat))

    async def press(self, user: JSON, message: JSON, label_or_data: str) -> list[ApiCall]:
        """Press the button whose label (or callback data) is given, on a bot message."""
        for label, data in buttons(message):
            if label_or_data in (label, data):
                return await self.process(
                    self.api.callback_update(user=user, message=message, data=data)
                )
        raise LookupError(f"no button {label_or_data!r} in {buttons(message)}")


def shown(calls: list[ApiCall]) -> list[JSON]:
    """The messages the user sees after these calls (sent or edited), in order."""
    return [c.result for c in calls if c.method in SENDS and c.status == 200]


def texts(calls: list[ApiCall]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in shown(calls)]


def alerts(calls: list[ApiCall]) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in calls
        if c.method == "answerCallbackQuery" and c.params.get("text")
    ]
