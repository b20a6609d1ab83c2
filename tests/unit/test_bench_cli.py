"""`python -m bench`: its options, and the table it prints (no benchmark is run here)."""

from __future__ import annotations

import subprocess
import sys

from bench.__main__ import Table, parser


def test_help_names_the_options() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--help"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    for option in ("--welcomes", "--json", "--postgres", "--no-postgres", "--updates"):
        assert option in done.stdout
    args = parser().parse_args([])
    assert (args.welcomes, str(args.json)) == (10_000, "bench-results.json")


def test_a_column_per_database_and_the_target_noted() -> None:
    table = Table(["sqlite", "postgresql"])
    table.put("/status district, served, p50 / p95", "sqlite", "5.0 / 9.0 ms",
              target="p95 ≤ 50 ms", met=True, p95_ms=9.0)  # fmt: skip
    table.put("/status district, served, p50 / p95", "postgresql", "30.0 / 60.0 ms",
              met=False, p95_ms=60.0)  # fmt: skip
    table.put("SMS", "sqlite", "47 SMS/s")
    heading, status, sms = table.render().splitlines()
    assert heading.split() == ["benchmark", "sqlite", "postgresql", "target"]
    assert "5.0 / 9.0 ms (met)" in status and "30.0 / 60.0 ms (NOT met)" in status
    assert status.endswith("p95 ≤ 50 ms")
    assert "—" in sms  # not run on PostgreSQL
    assert table.markdown().splitlines()[2] == (
        "| /status district, served, p50 / p95 | 5.0 / 9.0 ms (met) | 30.0 / 60.0 ms (NOT met)"
        " | p95 ≤ 50 ms |"
    )
