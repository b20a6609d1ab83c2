"""A terminal chat with the real bot through the fake Bot API (`unionbot console`/`demo`).

The person types what they would type in Telegram; a number presses the inline button with
that number on the last message that has buttons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.fake_api import JSON, ApiCall, buttons
from bot.harness import Harness
from bot.settings import Settings
from bot.texts import t
from models.enums import Language, Role


@dataclass(frozen=True)
class DemoUser:
    user_id: int
    name: str
    role: Role | None
    street: str | None = None


# The people of the demo: who `--as` can be. Ids are made up; none is a real account.
DEMO_USERS = {
    "admin": DemoUser(10001, "区总组织部·王老师", Role.DISTRICT_ADMIN),
    "officer": DemoUser(20001, "拱辰街道·李干事", Role.STREET_OFFICER, "拱辰街道"),
    "worker": DemoUser(30001, "良乡镇·张社工", Role.COMMUNITY_WORKER, "良乡镇"),
    "stranger": DemoUser(99999, "路人", None),
}


class Console:
    def __init__(
        self,
        harness: Harness,
        user: DemoUser,
        lang: Language,
        write: Callable[[str], None] = print,
        files_dir: Path | None = None,
    ) -> None:
        self.harness = harness
        self.user = harness.api.user(
            user.user_id, user.name, "zh-hans" if lang is Language.ZH else "en"
        )
        self.lang = lang
        self.write = write
        self.keyboard_message: JSON | None = None
        self.files_dir = files_dir  # where pictures and documents the bot sends are saved
        self.mark = len(harness.api.calls)  # Bot API calls shown (or not for us) so far

    async def handle(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        self.show_unasked()
        choices = buttons(self.keyboard_message) if self.keyboard_message else []
        if line.isdigit() and 1 <= int(line) <= len(choices) and self.keyboard_message:
            calls = await self.harness.press(
                self.user, self.keyboard_message, choices[int(line) - 1][1]
            )
        else:
            calls = await self.harness.send(self.user, line)
        self.mark = len(self.harness.api.calls)
        self.show(calls)

    def show_unasked(self) -> None:
        """What the bot sent this person on its own (a reminder) since the last reply."""
        calls = self.harness.api.since(self.mark)
        self.mark += len(calls)
        mine = [
            c for c in calls
            if c.method == "sendMessage" and c.status == 200
            and c.result["chat"]["id"] == self.user["id"]
        ]  # fmt: skip
        if mine:
            self.write(f"  {t('console.unasked', self.lang)}")
            self.show(mine)

    def show(self, calls: list[ApiCall]) -> None:
        for call in calls:
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self.write(f"  ⚠ {call.params['text']}")
            if call.status != 200 or not isinstance(call.result, dict):
                continue
            message = call.result
            self._save_files(call, message)
            body = message.get("text") or message.get("caption")
            if body is None:
                continue
            edited = f"{t('console.edited', self.lang)} " if call.method.startswith("edit") else ""
            self.write("")
            for line in f"{edited}{body}".splitlines():
                self.write(f"  │ {line}")
            labels = buttons(message)
            if labels:
                self.keyboard_message = message
                self.write(f"  {t('console.buttons', self.lang)}")
                for n, (label, _) in enumerate(labels, 1):
                    self.write(f"   [{n}] {label}")
        self.write("")

    def _save_files(self, call: ApiCall, message: JSON) -> None:
        """A terminal can't show a picture: save it and say where."""
        if self.files_dir is None:
            return
        for field, data in call.files.items():
            suffix = ".png" if data.startswith(b"\x89PNG") else ".bin"
            path = self.files_dir / f"{field}-{message['message_id']}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.write(f"  📎 {t('console.saved', self.lang, path=path)}")


async def chat(settings: Settings, user: DemoUser, *, database_label: str) -> None:
    lang = Language(settings.default_language)
    async with Harness.running(settings, raise_errors=False) as harness:
        console = Console(harness, user, lang, files_dir=settings.media_dir / "console")
        console.write(
            t(
                "console.banner",
                lang,
                who=user.name,
                user_id=user.user_id,
                today=harness.app.bot_data.clock.today(),
                database=database_label,
            )
        )
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except EOFError:
                break
            if line.strip() in ("/quit", "/exit"):
                break
            await console.handle(line)
        console.write(t("console.bye", lang))
