"""A pytest plugin: every log line of a test run, as production would write it, in one file;
at the end of the run that file is scanned for the bot token, the webhook's and the SMS
gateway's secrets and whole mainland mobile numbers, and any one found fails the run.

What is captured:
- every record any logger sends to the root logger, at the level `unionbot run` writes
  (INFO) or lower where a test asks for more, through the same `Redact` filter and both of
  the formats production can write (bot/logs.py). The filter knows the harness's token
  (FAKE_TOKEN, the token the application in tests runs with) and, when a test has called
  `configure_logging`, applies that handler's filter too: what that handler would write.
  httpx and httpcore are kept below WARNING out, as configure_logging keeps them;
- the standard error of every child process a test reads (`unionbot run`, `unionbot
  import`, …): `subprocess` hands it to `add` as the test collects it. A child sets up its
  own logging, with its own token, so a secret found there is a secret the bot wrote.

The secrets looked for are FAKE_TOKEN, the SMS test gateway's credentials and every
string constant named TOKEN or SECRET (or ending in _TOKEN or _SECRET) of the test modules
the run imported; for a bot token also the part after its colon, and each one URL-encoded.

Registered in tests/conftest.py (`pytest_plugins`); tests/test_log_scan.py proves the scan
finds what it should.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.harness import FAKE_TOKEN
from bot.logs import _CHATTY, JsonFormatter, Redact, formatter
from models.mobile import mask_mobile

CAPTURE_LEVEL = logging.INFO  # what `unionbot run` writes by default
PRODUCTION_HANDLER = "unionbot"  # the name configure_logging gives its handler
# A whole mobile number: 11 digits 13x–19x, not part of a longer run of digits, alone or
# after a country code (+86, 0086, 86), as bot/logs.py's filter would have masked it.
WHOLE_MOBILE = re.compile(r"(?:(?<!\d)|(?<=86))1[3-9]\d{9}(?!\d)")
_SECRET_NAME = re.compile(r"^(?:[A-Z0-9_]+_)?(?:TOKEN|SECRET)$")
_MIN_SECRET = 8  # shorter constants are not secrets worth looking for (and match too much)


@dataclass(frozen=True)
class Finding:
    line_number: int
    what: str  # "token", "secret" or "mobile number"
    line: str  # masked: safe to print


class _BothFormats(logging.Formatter):
    """Each record as a text line and as a JSON line: whichever LOG_FORMAT a deployment
    chose, its lines are scanned."""

    def __init__(self) -> None:
        super().__init__()
        self.text, self.json = formatter("text"), JsonFormatter()

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.text.format(record)}\n{self.json.format(record)}"


class _AsWritten(logging.FileHandler):
    """The run's file, written through production's filter (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.setLevel(logging.NOTSET)
        self.setFormatter(_BothFormats())
        self.addFilter(Redact([FAKE_TOKEN]))

    def handle(self, record: logging.LogRecord) -> bool:
        # A copy: Redact rewrites the record it filters, and the other handlers (caplog's
        # among them) must see what the code logged, not what this file holds.
        return super().handle(copy.copy(record))

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in _CHATTY and record.levelno < logging.WARNING:
            return False  # configure_logging keeps these quiet: production never writes them
        for handler in logging.getLogger().handlers:
            if handler is not self and handler.get_name() == PRODUCTION_HANDLER:
                handler.filter(record)  # its Redact, with the secrets that test configured
        return super().filter(record)

    def write_block(self, source: str, text: str) -> None:
        self.acquire()
        try:
            if self.stream is None:
                self.stream = self._open()
            self.stream.write(f"--- {source} ---\n{text.rstrip()}\n--- end of {source} ---\n")
            self.flush()
        finally:
            self.release()


class Capture:
    """One run's file: log records (once `install`ed on the root logger) and added texts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handler = _AsWritten(path)

    def install(self) -> None:
        logging.getLogger().addHandler(self.handler)
        keep_level()

    def remove(self) -> None:
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()

    def add(self, text: str, source: str) -> None:
        if text.strip():
            self.handler.write_block(source, text)


_active: Capture | None = None  # while the run goes on
_scanned: Path | None = None  # the file, once scanned
_findings: list[Finding] = []


def add(text: str | bytes | None, source: str = "child process") -> None:
    """Add a text to the run's scan: what a child process wrote to its standard error."""
    if _active is None or text is None:
        return
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    _active.add(text, source)


def active_path() -> Path | None:
    """The file this run's logs go to (None outside a run with the plugin, or once the
    run has ended)."""
    return _active.path if _active is not None else None


def keep_level() -> None:
    """The root logger at INFO at least: a test that set it higher (configure_logging for a
    command other than `run` sets WARNING) must not hide the next tests' lines."""
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > CAPTURE_LEVEL:
        root.setLevel(CAPTURE_LEVEL)


# --- the scan -------------------------------------------------------------------------


def looked_for(secrets: Iterable[str]) -> list[tuple[str, str]]:
    """(what, text) pairs to look for: each secret, a bot token's secret part after its
    colon, and both URL-encoded; longest first."""
    found: set[tuple[str, str]] = set()
    for secret in secrets:
        what = "token" if re.match(r"^\d+:", secret) else "secret"
        forms = {secret, quote(secret, safe="")}
        if what == "token":
            tail = secret.split(":", 1)[1]
            forms |= {tail, quote(tail, safe="")}
        found |= {(what, form) for form in forms if len(form) >= _MIN_SECRET}
    return sorted(found, key=lambda pair: (-len(pair[1]), pair))


def scan(lines: Iterable[str], secrets: Sequence[str]) -> list[Finding]:
    """Every line holding a secret or a whole mobile number."""
    wanted = looked_for(secrets)
    findings = []
    for number, line in enumerate(lines, 1):
        kinds = [what for what, text in wanted if text in line]
        if WHOLE_MOBILE.search(line):
            kinds.append("mobile number")
        if kinds:
            findings.append(Finding(number, ", ".join(sorted(set(kinds))), masked(line, wanted)))
    return findings


def masked(line: str, wanted: Sequence[tuple[str, str]]) -> str:
    for _, text in wanted:
        line = line.replace(text, "***")
    return WHOLE_MOBILE.sub(lambda m: mask_mobile(m.group(0)), line.rstrip("\n"))


def secrets_of_the_run() -> list[str]:
    """FAKE_TOKEN, the SMS test gateway's credentials, and the secret-looking constants of
    every test module imported so far (see the module's docstring)."""
    found = {FAKE_TOKEN}
    for name, module in list(sys.modules.items()):
        if not name.startswith("tests.") or module is None:
            continue
        for attribute, value in vars(module).items():
            is_secret = _SECRET_NAME.match(attribute) and isinstance(value, str)
            if is_secret and len(value) >= _MIN_SECRET:
                found.add(value)
    return sorted(found)


def scan_file(path: Path, secrets: Sequence[str]) -> list[Finding]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        return scan(lines, secrets)


# --- child processes ------------------------------------------------------------------

_original_communicate = subprocess.Popen.communicate


def _communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
    out, err = _original_communicate(self, *args, **kwargs)
    given: Any = self.args
    command = " ".join(map(str, given)) if isinstance(given, list | tuple) else str(given)
    add(err, f"stderr of {command[:200]}")
    return out, err


def _watch_children() -> None:
    subprocess.Popen.communicate = _communicate  # type: ignore[method-assign]


def _unwatch_children() -> None:
    subprocess.Popen.communicate = _original_communicate  # type: ignore[method-assign]


# --- pytest hooks ---------------------------------------------------------------------


def _run_file(config: pytest.Config) -> Path:
    factory = getattr(config, "_tmp_path_factory", None)
    folder = Path(factory.getbasetemp()) if factory is not None else None
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="unionbot-log-scan-"))
    return folder / f"log-scan-{os.getpid()}.log"


def pytest_sessionstart(session: pytest.Session) -> None:
    global _active
    _active = Capture(_run_file(session.config))
    _active.install()
    _watch_children()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    keep_level()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    global _active, _scanned
    if _active is None:
        return
    _unwatch_children()
    _active.remove()
    _scanned, _active = _active.path, None
    _findings[:] = scan_file(_scanned, secrets_of_the_run())
    if _findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    path = _scanned
    if path is None:
        return
    if not _findings:
        terminalreporter.write_line(f"log scan: no token, secret or whole mobile number in {path}")
        return
    terminalreporter.write_sep("=", "log scan FAILED", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(_findings)} line(s) of {path} hold a secret or a whole mobile number "
        "(shown masked):",
        red=True,
    )
    for finding in _findings[:50]:
        terminalreporter.write_line(
            f"  line {finding.line_number} ({finding.what}): {finding.line}"
        )
    if len(_findings) > 50:
        terminalreporter.write_line(f"  … and {len(_findings) - 50} more")
