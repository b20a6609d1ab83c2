"""Every language has the same texts with the same placeholders, and each renders."""

from __future__ import annotations

import pytest

from bot.fake_api import visible
from bot.texts import catalogue, placeholders, t
from models.enums import Language, Role


def test_every_language_has_the_same_keys() -> None:
    assert set(catalogue(Language.EN)) == set(catalogue(Language.ZH))


@pytest.mark.parametrize("key", sorted(catalogue(Language.ZH)))
def test_placeholders_match_and_the_markup_is_valid(key: str) -> None:
    zh, en = catalogue(Language.ZH)[key], catalogue(Language.EN)[key]
    assert placeholders(zh) == placeholders(en)
    for lang in Language:
        rendered = t(key, lang, **dict.fromkeys(placeholders(zh), "x"))
        visible(rendered)  # raises where Telegram would refuse the HTML


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_a_name(role: Role) -> None:
    assert t(f"role.{role.value}", Language.ZH) and t(f"role.{role.value}", Language.EN)
