"""Who the officers are, kept in the process for a few seconds.

The gatekeeper needs to know every update's sender. Asking the database each time was most of
the cost of a simple update (about 1.6 ms of 2.1 for /help on SQLite), so officers found are
kept for `TTL_SECONDS`. A change made through this process (an invite redeemed, /lang) drops
the entry at once; one made through another instance, or by hand in the database, is seen
within `TTL_SECONDS`. Only officers are kept: someone who is not one yet is looked up every
time, so an invite redeemed on one instance counts on all of them at the next update.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from models.officers import OfficerView

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000  # a district has a few hundred officers; a city, some thousands


class OfficerCache:
    def __init__(
        self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.clock = ttl, clock
        self._views: dict[int, tuple[float, OfficerView]] = {}

    def get(self, user_id: int) -> OfficerView | None:
        found = self._views.get(user_id)
        if found is None:
            return None
        kept_at, view = found
        if self.clock() - kept_at > self.ttl:
            del self._views[user_id]
            return None
        return view

    def keep(self, view: OfficerView) -> None:
        if len(self._views) >= MAX_ENTRIES:
            self._views.clear()  # rare: start afresh rather than track ages
        self._views[view.user_id] = (self.clock(), view)

    def forget(self, user_id: int) -> None:
        self._views.pop(user_id, None)
