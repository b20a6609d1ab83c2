"""The bot's own memory with the full-size dataset loaded.

`python -m bench.memory DATABASE_URL`, in a fresh process: the application as `unionbot run`
builds it (every handler, the job queue, the status cache), on the fake Bot API instead of
Telegram, serves /status for the district and a street, served and cold, then /meeting up to
its place question; it prints its max RSS as JSON. The benchmark runs it as a child so that
the number is the bot's, not the benchmark's (which also builds the dataset and times
everything).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date

from bench.rss import max_rss_mib
from bot.harness import Harness
from bot.settings import Settings
from models.status import StatusCache

ADMIN, OFFICER = 10001, 20001  # as in bench/__main__.py
TODAY = date(2018, 9, 15)


async def serve(url: str, n: int) -> dict[str, float]:
    settings = Settings(
        _env_file=None,
        database_url=url,
        bot_admin_ids=str(ADMIN),
        bot_today=TODAY.isoformat(),
        reminder_tick_seconds=0,
    )
    started = max_rss_mib()
    async with Harness.running(settings, rate_limit=False) as harness:
        admin, officer = harness.api.user(ADMIN), harness.api.user(OFFICER)
        ready = max_rss_mib()
        for _ in range(n):
            await harness.send(admin, "/status")
            await harness.send(officer, "/status")
        for _ in range(max(1, n // 10)):
            harness.app.bot_data.status_cache = StatusCache()  # as after a write
            await harness.send(admin, "/status")
        await harness.send(officer, "/meeting")
    return {"interpreter_mib": started, "ready_mib": ready, "max_rss_mib": max_rss_mib()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(serve(sys.argv[1], int(sys.argv[2]) if sys.argv[2:] else 100))))
