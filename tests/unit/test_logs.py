"""Log lines: key=value or JSON, and the filter that keeps tokens and phone numbers out."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot.logs import Redact, configure_logging, formatter, key_values, log_event
from bot.settings import SettingsError, load_settings

TOKEN = "123456789:AAHsecret-token_value"


def written(log_format: str, emit: object, secrets: tuple[str, ...] = (TOKEN,)) -> str:
    """What a handler set up as configure_logging sets one up writes for `emit(logger)`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(log_format))  # type: ignore[arg-type]
    handler.addFilter(Redact(secrets))
    logger = logging.getLogger(f"unionbot.test.{log_format}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        emit(logger)  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_key_values_quotes_what_would_be_ambiguous() -> None:
    assert key_values({"update_id": 7, "role": "stranger", "handler": None}) == (
        "update_id=7 role=stranger handler=none"
    )
    assert key_values({"reason": "two words", "eq": "a=b", "empty": ""}) == (
        'reason="two words" eq="a=b" empty=""'
    )


def test_an_event_as_text_and_as_json() -> None:
    fields = {"event": "update", "update_id": 3, "role": "street_officer", "ms": 1.5}
    text = written("text", lambda log: log_event(log, logging.INFO, fields))
    assert text.rstrip().endswith(
        "INFO unionbot.test.text: event=update update_id=3 role=street_officer ms=1.5"
    )
    line = json.loads(written("json", lambda log: log_event(log, logging.INFO, fields)))
    assert {k: line[k] for k in fields} == fields
    assert line["level"] == "INFO" and line["logger"] == "unionbot.test.json"


def test_numbers_and_secrets_are_masked_in_messages_arguments_and_tracebacks() -> None:
    def emit(log: logging.Logger) -> None:
        log.warning("sent to %s via https://api.telegram.org/bot%s/x", "+8613812345678", TOKEN)
        log.info("numbers 15912345678 and id 213812345678")
        try:
            raise RuntimeError(f"POST /bot{TOKEN}/sendMessage for 18600001111")
        except RuntimeError:
            log.exception("failed")

    text = written("text", emit)
    assert TOKEN not in text and "AAHsecret" not in text
    assert "+86138****5678" in text and "/bot***/x" in text
    assert "159****5678" in text
    assert "id 213812345678" in text  # 12 digits: not a mobile number
    assert "Traceback" in text and "/bot***/sendMessage for 186****1111" in text
    assert "18600001111" not in text and "15912345678" not in text


def test_json_lines_are_masked_too() -> None:
    def emit(log: logging.Logger) -> None:
        log_event(log, logging.INFO, {"event": "x", "note": f"{TOKEN} 13812345678"})
        log.error("plain %s", "13812345678")

    first, second = (json.loads(line) for line in written("json", emit).splitlines())
    assert first["note"] == "*** 138****5678"
    assert second["message"] == "plain 138****5678"


def test_the_webhook_secret_from_the_environment_is_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET_TOKEN", "hook-secret-42")
    from bot.logs import secrets_to_hide

    handler = configure_logging(level="INFO", log_format="json", secrets=secrets_to_hide(TOKEN))
    try:
        assert handler.stream is sys.stderr  # type: ignore[attr-defined]
        logging.getLogger("unionbot.test.env").info("%s and %s", TOKEN, "hook-secret-42")
        [line] = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
        assert line["message"] == "*** and ***"
        # Called again, it replaces its own handler.
        again = configure_logging(level="WARNING", log_format="text")
        assert handler not in logging.getLogger().handlers
        assert again in logging.getLogger().handlers
        handler = again
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "log_level",
            "loud",
            "setting LOG_LEVEL: 'loud' is not one of DEBUG, INFO, WARNING, ERROR",
        ),
        ("log_format", "xml", "setting LOG_FORMAT: 'xml' is not text or json"),
    ],
)
def test_a_bad_logging_setting_is_one_line(setting: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, **{setting: value})
    assert str(refused.value) == message


def test_logging_settings_are_read_leniently() -> None:
    settings = load_settings(_env_file=None, log_level="debug", log_format=" JSON ")
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
