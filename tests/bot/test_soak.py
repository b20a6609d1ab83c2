"""The soak run in its short form, on both databases: hundreds of mixed updates from dozens
of users side by side, with the fake Bot API and the SMS gateway failing at random. The full
form (6,000 updates from 300 users) is `python -m bench.soak`; both are bench/soak.py."""

from __future__ import annotations

from pathlib import Path

from bench.soak import SHORT, run_soak

# Memory may settle after the warm-up, but must not keep climbing: the second half of the
# run may add at most this much (a leak of one record per update would add far more).
FLAT_MIB = 15.0
MANY = ("meetings", "visits", "join", "ledger", "audit", "outbox")


async def test_a_short_soak_loses_nothing_writes_nothing_twice_and_logs_only_the_faults(
    demo_database_url: str, tmp_path: Path, backend: str
) -> None:
    result = await run_soak(demo_database_url, tmp_path, SHORT, backend)

    assert result.failures == [], result.report()
    assert result.updates >= SHORT.updates
    assert sum(result.faults.values()) > 0, "no fault was injected: the run proves nothing"
    # The records every short run writes many of were checked, so "no failure" is about real
    # rows. (Reports, decisions and SMS welcomes are few, and in a short run may be none.)
    counts = {check.name.split()[0]: check.count for check in result.checks}
    # (Visits are the fewest of these: 8 or 9 in a short run, so at least one, not five.)
    assert all(counts[name] >= 1 for name in MANY), result.report()
    assert result.rss_growth_second_half < FLAT_MIB, result.report()
