"""The one place that reads the clock. BOT_TODAY pins the business date (demos, training,
acceptance runs) while the time of day keeps moving, so jobs and deadlines behave as on
that day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, zone: ZoneInfo, today: date | None = None) -> None:
        self.zone = zone
        self.fixed_today = today

    def now(self) -> datetime:
        """An aware UTC datetime; on BOT_TODAY when that is set."""
        real = datetime.now(UTC)
        if self.fixed_today is None:
            return real
        local = real.astimezone(self.zone)
        return local.replace(
            year=self.fixed_today.year, month=self.fixed_today.month, day=self.fixed_today.day
        ).astimezone(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()
