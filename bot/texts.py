"""User-facing texts, one TOML file per language (bot/texts/zh.toml is the source).

Handlers never hold user-facing strings: they call t("section.key", lang, **values).
"""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from models.enums import Language

TEXTS_DIR = Path(__file__).resolve().parent / "texts"


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
    with (TEXTS_DIR / f"{lang.value}.toml").open("rb") as f:
        return _flatten(tomllib.load(f))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def t(key: str, lang: Language | str, /, **values: object) -> str:
    """The text `key` in `lang`, with `values` filled in. A missing key is a bug: KeyError."""
    return catalogue(Language(lang))[key].format(**values)
