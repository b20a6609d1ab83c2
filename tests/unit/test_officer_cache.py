"""Officers kept for a few seconds: found again until the time is up, forgotten at once."""

from __future__ import annotations

from bot.officer_cache import OfficerCache
from models.enums import Language, Role
from models.officers import OfficerView

VIEW = OfficerView(user_id=20001, role=Role.STREET_OFFICER, active=True, language=Language.ZH,
                   street_id=7, street_name="拱辰街道")  # fmt: skip


def test_kept_until_the_time_is_up_then_asked_again() -> None:
    now = [100.0]
    cache = OfficerCache(ttl=5.0, clock=lambda: now[0])
    assert cache.get(20001) is None
    cache.keep(VIEW)
    now[0] += 5.0
    assert cache.get(20001) == VIEW
    now[0] += 0.1
    assert cache.get(20001) is None  # another instance's change is seen from here on


def test_a_change_made_here_counts_at_once() -> None:
    cache = OfficerCache()
    cache.keep(VIEW)
    cache.forget(20001)
    assert cache.get(20001) is None
    cache.forget(20001)  # forgetting twice is harmless
