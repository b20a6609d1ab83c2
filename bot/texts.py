"""User-facing texts: per language, bot/texts/<lang>.toml and the feature files in
bot/texts/<lang>/ (zh is the source). A key defined twice is a bug: ValueError.

Handlers never hold user-facing strings: they call t("section.key", lang, **values).
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable
from contextvars import ContextVar, Token
from functools import cache
from pathlib import Path
from typing import Any

from models.enums import Language

TEXTS_DIR = Path(__file__).resolve().parent / "texts"

# Who wants to know which texts are rendered while an update is handled: bot/update_log.py,
# so an update's log line can say the bot refused it, and with which text.
Watcher = Callable[[str], None]
_watcher: ContextVar[Watcher | None] = ContextVar("unionbot_texts_watcher", default=None)


def watch(watcher: Watcher) -> Token[Watcher | None]:
    """Call `watcher` with every key rendered in this context, until `unwatch`."""
    return _watcher.set(watcher)


def unwatch(token: Token[Watcher | None]) -> None:
    _watcher.reset(token)


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(lang: Language) -> dict[str, str]:
    merged: dict[str, str] = {}
    features = sorted((TEXTS_DIR / lang.value).glob("*.toml"))
    for path in [TEXTS_DIR / f"{lang.value}.toml", *features]:
        with path.open("rb") as f:
            texts = _flatten(tomllib.load(f))
        if twice := merged.keys() & texts.keys():
            raise ValueError(f"{path.name} defines {sorted(twice)[:3]} again")
        merged.update(texts)
    return merged


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def t(key: str, lang: Language | str, /, **values: object) -> str:
    """The text `key` in `lang`, with `values` filled in. A missing key is a bug: KeyError."""
    watcher = _watcher.get()
    if watcher is not None:
        watcher(key)
    return catalogue(Language(lang))[key].format(**values)
