"""Webhook mode's settings: `unionbot run --webhook` refuses, in one line and before touching
the network, to start without its URL or secret, with a malformed one, or on a port in use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from tests.unit.test_cli import unionbot

TOKEN = "123456789:TEST-token-for-the-local-fake"
SECRET = "s3cret_Token-for-tests"


def run_webhook(tmp_path: Path, **env: str) -> str:
    """`unionbot run --webhook`'s one line on stderr; it must exit 2 without a traceback."""
    base = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        # Nothing listens there: a run that got past the settings would fail differently.
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
    }
    result = unionbot("run", "--webhook", cwd=tmp_path, env={**base, **env})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert TOKEN not in line
    return line


def test_webhook_mode_without_its_url_or_secret_stops_with_one_line(tmp_path: Path) -> None:
    line = run_webhook(tmp_path, WEBHOOK_SECRET_TOKEN=SECRET)
    assert line.startswith("unionbot: WEBHOOK_URL is not set")
    line = run_webhook(tmp_path, WEBHOOK_URL="https://bot.example.org")
    assert line.startswith("unionbot: WEBHOOK_SECRET_TOKEN is not set")
    assert not (tmp_path / "x.db").exists()  # refused before anything was done


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEBHOOK_SECRET_TOKEN", "has spaces and !", "1-256 characters of A-Z, a-z, 0-9, _ and -"),
        ("WEBHOOK_SECRET_TOKEN", "x" * 257, "1-256 characters"),
        ("WEBHOOK_URL", "http://bot.example.org", "is not an https:// URL"),
        ("WEBHOOK_URL", "https://bot.example.org/?a=1", "no ?query"),
        ("WEBHOOK_PATH", "telegram", "is not a URL path"),
        ("WEBHOOK_PATH", "/health", "the health check's"),
        ("WEBHOOK_PORT", "70000", "less than or equal to 65535"),
        ("WEBHOOK_MAX_CONNECTIONS", "0", "greater than or equal to 1"),
    ],
)
def test_a_malformed_webhook_setting_stops_with_one_line_naming_it(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    good = {"WEBHOOK_URL": "https://bot.example.org", "WEBHOOK_SECRET_TOKEN": SECRET}
    line = run_webhook(tmp_path, **{**good, name: value})
    assert line.startswith(f"unionbot: setting {name}:")
    assert says in line
    if name == "WEBHOOK_SECRET_TOKEN":
        assert value not in line  # a secret is not echoed, even a malformed one


def test_a_port_in_use_stops_webhook_mode_with_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        line = run_webhook(
            tmp_path, WEBHOOK_URL="https://bot.example.org", WEBHOOK_SECRET_TOKEN=SECRET,
            WEBHOOK_PORT=str(port),
        )  # fmt: skip
    assert line.startswith("unionbot: setting WEBHOOK_LISTEN/WEBHOOK_PORT: cannot listen on")
    assert f"127.0.0.1:{port}" in line


def test_the_webhook_settings_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/unionbot/")
    monkeypatch.setenv("WEBHOOK_SECRET_TOKEN", SECRET)
    settings = load_settings(_env_file=None)
    assert settings.webhook() == ("https://bot.example.org/unionbot/telegram", SECRET)
    assert (settings.webhook_listen, settings.webhook_port) == ("127.0.0.1", 8080)
    assert settings.webhook_max_connections == 40
    assert SECRET not in repr(settings)
    monkeypatch.setenv("WEBHOOK_SECRET_TOKEN", "  ")
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET_TOKEN is not set"):
        load_settings(_env_file=None).webhook()
