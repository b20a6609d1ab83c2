"""The log scan of a test run (tests/log_scan.py) finds what it is there to find: a token, a
secret and a whole mobile number, in a line that never went through the redacting filter;
it passes masked lines; the run's file holds each record as production writes it and the
standard error of child processes; and a run with a leak fails."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.harness import FAKE_TOKEN
from bot.logs import formatter
from tests import log_scan

SECRET = "planted-webhook-secret-42"  # a constant named SECRET: looked for in every run
MOBILE = "13812345678"
PROJECT = Path(__file__).resolve().parent.parent


def written_without_the_filter(path: Path, *messages: str) -> None:
    """Lines as a handler without Redact writes them: what a leak looks like."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(formatter("text"))
    logger = logging.getLogger("unionbot.test.planted")
    logger.addHandler(handler)
    logger.propagate = False  # this run's own file must not get them
    try:
        for message in messages:
            logger.warning("%s", message)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        handler.close()


def test_a_planted_token_secret_and_number_are_found_and_masked_lines_pass(
    tmp_path: Path,
) -> None:
    path = tmp_path / "leaky.log"
    written_without_the_filter(
        path,
        f"POST https://api.telegram.org/bot{FAKE_TOKEN}/sendMessage",
        "sms to 13912345678 failed",
        "sent to +8615011112222",
        f"header X-Telegram-Bot-Api-Secret-Token: {SECRET}",
        "token in a query: bot7000000001%3Aoffline-fake-bot-api",
        "member 138****5678 registered, update 213812345678, user 7000000001",
        "POST /bot***/sendMessage",
    )
    findings = log_scan.scan_file(path, [FAKE_TOKEN, SECRET])
    assert [(f.line_number, f.what) for f in findings] == [
        (1, "token"), (2, "mobile number"), (3, "mobile number"), (4, "secret"), (5, "token"),
    ]  # fmt: skip
    shown = "\n".join(f.line for f in findings)
    assert "/bot***/sendMessage" in shown and "139****5678" in shown
    assert "+86150****2222" in shown and "Secret-Token: ***" in shown
    for raw in (FAKE_TOKEN, "offline-fake-bot-api", SECRET, "13912345678", "15011112222"):
        assert raw not in shown
    # Clean text: masked numbers, other runs of digits, masked secrets.
    assert log_scan.scan(path.read_text().splitlines()[5:], [FAKE_TOKEN, SECRET]) == []


def test_the_secrets_looked_for_include_the_test_modules_constants() -> None:
    secrets = log_scan.secrets_of_the_run()
    assert FAKE_TOKEN in secrets and SECRET in secrets
    forms = {text for _, text in log_scan.looked_for([FAKE_TOKEN])}
    assert forms == {
        FAKE_TOKEN, "7000000001%3Aoffline-fake-bot-api", "offline-fake-bot-api"
    }  # fmt: skip


def test_the_runs_file_holds_each_record_as_production_writes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = log_scan.active_path()
    assert path is not None, "the plugin is registered in tests/conftest.py"
    logging.getLogger("unionbot.test.scan").warning(
        "scan-marker-1 sent to %s via /bot%s/x", MOBILE, FAKE_TOKEN
    )
    lines = [line for line in path.read_text().splitlines() if "scan-marker-1" in line]
    assert len(lines) == 2  # as a text line and as a JSON line
    assert lines[0].endswith(
        "WARNING unionbot.test.scan: scan-marker-1 sent to 138****5678 via /bot***/x"
    )
    assert '"message": "scan-marker-1 sent to 138****5678 via /bot***/x"' in lines[1]
    # The other handlers (caplog's here) still see what the code logged.
    assert MOBILE in caplog.records[-1].getMessage()


def test_info_lines_are_captured_as_unionbot_run_writes_them() -> None:
    path = log_scan.active_path()
    assert path is not None
    logging.getLogger("unionbot.test.scan").info("scan-marker-2")
    logging.getLogger("httpx").info("scan-marker-3")  # production keeps httpx below WARNING out
    text = path.read_text()
    assert "INFO unionbot.test.scan: scan-marker-2" in text
    assert "scan-marker-3" not in text


def test_a_child_processes_standard_error_is_added() -> None:
    path = log_scan.active_path()
    assert path is not None
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.stderr.write('scan-marker-4 from a child')"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stderr == "scan-marker-4 from a child"
    text = path.read_text()
    assert "scan-marker-4 from a child" in text
    assert "--- stderr of " in text.split("scan-marker-4")[0].splitlines()[-1]


def inner_run(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """A pytest run of one test with the plugin, in a child process."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.log_scan", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "temp"), str(tmp_path / "test_inner.py")],
        cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_run_whose_logs_leak_fails_and_shows_the_lines_masked(tmp_path: Path) -> None:
    leaky = inner_run(
        tmp_path,
        f"""
        from tests import log_scan

        def test_a_child_that_leaks():
            log_scan.add("POST /bot{FAKE_TOKEN}/sendMessage to {MOBILE}", "a child")
        """,
    )
    assert leaky.returncode == 1, leaky.stdout + leaky.stderr
    assert "1 passed" in leaky.stdout and "log scan FAILED" in leaky.stdout
    assert "(mobile number, token): POST /bot***/sendMessage to 138****5678" in leaky.stdout
    assert FAKE_TOKEN not in leaky.stdout and MOBILE not in leaky.stdout

    clean = inner_run(
        tmp_path,
        """
        import logging

        def test_that_logs_masked():
            logging.getLogger("unionbot").warning("to %s", "13812345678")
        """,
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "log scan: no token, secret or whole mobile number in" in clean.stdout
