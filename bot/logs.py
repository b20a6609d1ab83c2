"""Logging for the whole program: one line per event, as key=value pairs or JSON.

`configure_logging` is the one place logging is set up (bot/cli.py calls it). Its handler
carries `Redact`, so no line it writes holds a whole mobile number, the bot token or the
webhook's secret token, whichever module logged it (httpx and PTB included) and whether in
the message, an argument or a traceback.

An event is a record with an `event` attribute (a dict of fields, see `log_event`): the text
format shows its fields as key=value, the JSON format as keys of the object.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

from models.mobile import mask_mobiles

LogFormat = Literal["text", "json"]
TEXT_LAYOUT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
# Loggers that write a line per HTTP request (with the Bot API URL, which holds the token):
# quiet below WARNING whatever LOG_LEVEL says.
_CHATTY = ("httpx", "httpcore")
_HANDLER_NAME = "unionbot"


def key_values(fields: Mapping[str, object]) -> str:
    """update_id=7 role=stranger …: values with spaces, quotes or '=' are JSON-quoted."""
    parts = []
    for key, value in fields.items():
        text = "none" if value is None else str(value)
        if not text or any(c.isspace() or c in '"=' for c in text):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def log_event(logger: logging.Logger, level: int, fields: Mapping[str, object]) -> None:
    """One event: its fields as the message (key=value) and as the record's `event`."""
    if logger.isEnabledFor(level):  # one per update: not even formatted when not wanted
        logger.log(level, "%s", key_values(fields), extra={"event": dict(fields)})


class Redact(logging.Filter):
    """Masks mobile numbers (138****5678) and replaces the given secrets with ***, in the
    message, the event's fields and any traceback. As a handler's filter it sees every
    record that handler writes, from any logger."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return mask_mobiles(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            record.event = {k: self.clean(v) if isinstance(v, str) else v for k, v in event.items()}
        if record.exc_info and not record.exc_text:
            # Rendered here, cleaned, and kept: Formatter.format uses exc_text when set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event's fields, and the
    traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            line.update(event)
        else:
            line["message"] = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_LAYOUT)


def secrets_to_hide(*values: str | None) -> list[str]:
    """The given secrets (the bot token, …) and, when set in the environment, the webhook's
    secret token."""
    return [s for s in (*values, os.environ.get("WEBHOOK_SECRET_TOKEN")) if s]


def configure_logging(
    *, level: str, log_format: LogFormat, secrets: Iterable[str] = ()
) -> logging.Handler:
    """Route every logger to one stderr handler with the format and the redacting filter
    (called again, it replaces its own handler rather than adding a second)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(Redact(secrets))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in root.handlers[:]:
        # Ours from an earlier call; and, as basicConfig would not, we add ours beside others
        # (a test runner's) rather than staying silent.
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
