"""The one place that reads the clock. BOT_TODAY pins the business date (demos, training,
acceptance runs) while the time of day keeps moving, so jobs and deadlines behave as on
that day; a BOT_TODAY with a time starts the clock at that moment and lets it run on."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, zone: ZoneInfo, today: date | datetime | None = None) -> None:
        self.zone = zone
        self.fixed_today = today.date() if isinstance(today, datetime) else today
        self._start: datetime | None = None
        if isinstance(today, datetime):
            start = today if today.tzinfo is not None else today.replace(tzinfo=zone)
            self._start = start.astimezone(UTC)
            self._started = time.monotonic()

    def now(self) -> datetime:
        """An aware UTC datetime; on BOT_TODAY when that is set."""
        if self._start is not None:
            return self._start + timedelta(seconds=time.monotonic() - self._started)
        real = datetime.now(UTC)
        if self.fixed_today is None:
            return real
        local = real.astimezone(self.zone)
        return local.replace(
            year=self.fixed_today.year, month=self.fixed_today.month, day=self.fixed_today.day
        ).astimezone(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()
