"""Settings from the environment or `.env` (names as in the README and .env.example)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.plan import ZoneName
from reminders.sms import DEFAULT_SMS_BODY, fill_sms_body

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Tokens copied from .env.example or docs must be refused, not sent to Telegram.
PLACEHOLDER_TOKENS = {"", "changeme", "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "your-token"}
# What SMS_GATEWAY=aliyun cannot do without.
ALIYUN_NEEDS = (
    "aliyun_access_key_id", "aliyun_access_key_secret", "aliyun_sms_sign_name",
    "aliyun_sms_template_code",
)  # fmt: skip

# Webhook mode: Telegram's rule for the secret token, a plain URL path, and the path the
# health check answers on (bot/web.py).
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
HEALTH_PATH = "/health"


class SettingsError(Exception):
    """A setting is missing or malformed; str() is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    database_url: str = "sqlite+aiosqlite:///data/unionbot.db"
    bot_admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    timezone: ZoneName = "Asia/Shanghai"
    default_language: Literal["zh", "en"] = "zh"
    plan_file: Path = Path("plans/fangshan-2018.toml")
    # A date pins the business day (the time of day moves on); a date and time also starts
    # the clock there, so a run can begin just before a reminder falls due.
    bot_today: datetime | date | None = None
    media_dir: Path = Path("data/media")
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    reminder_tick_seconds: int = Field(default=60, ge=0, le=3600)  # 0: no reminder jobs
    outbox_interval_seconds: float = Field(default=2.0, gt=0, le=600)
    # How long an instance may hold claimed outbox rows before another may send them: if it
    # dies, its few claimed rows wait this long. Longer than one send can take.
    outbox_lease_seconds: int = Field(default=60, ge=5, le=3600)
    # SMS (reminders/sms.py). Every field the gateways need comes before SMS_GATEWAY, whose
    # validator checks that the chosen gateway has them.
    sms_rate_per_second: float = Field(default=10.0, gt=0, le=1000)
    sms_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    sms_http_url: str = ""
    sms_http_auth_header: SecretStr | None = None  # "Authorization: Bearer …": secret
    sms_http_body_template: str = DEFAULT_SMS_BODY
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sms_sign_name: str = ""
    aliyun_sms_template_code: str = ""
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    sms_gateway: Literal["", "http", "aliyun"] = ""  # "": none, SMS wait in the outbox
    # Logging (bot/logs.py). LOG_LEVEL empty: INFO for `unionbot run`, WARNING otherwise.
    log_level: Literal["", "DEBUG", "INFO", "WARNING", "ERROR"] = ""
    log_format: Literal["text", "json"] = "text"
    # Webhook mode (`unionbot run --webhook`, bot/web.py): Telegram posts each update to
    # WEBHOOK_URL + WEBHOOK_PATH, which a reverse proxy forwards to WEBHOOK_LISTEN:WEBHOOK_PORT.
    webhook_url: str = ""  # the public https:// base URL
    webhook_path: str = "/telegram"
    webhook_listen: str = "127.0.0.1"  # behind a reverse proxy; 0.0.0.0 to listen on all
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token: only Telegram knows it. Secret.
    webhook_secret_token: SecretStr | None = None
    webhook_max_connections: int = Field(default=40, ge=1, le=100)  # Telegram allows 1-100

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_bot_token")
    @classmethod
    def _real_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() in PLACEHOLDER_TOKENS:
            raise ValueError("is the example placeholder; put the token from @BotFather here")
        if value is not None and ":" not in value.get_secret_value():
            raise ValueError("does not look like a bot token (expected 123456789:AA…)")
        return value

    @field_validator(
        "sms_http_auth_header", "aliyun_access_key_secret", "webhook_secret_token", mode="before"
    )
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sms_http_auth_header")
    @classmethod
    def _header_line(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            name, colon, _ = value.get_secret_value().partition(":")
            if not colon or not name.strip() or " " in name.strip():
                raise ValueError("expected a header line such as 'Authorization: Bearer abc'")
        return value

    @field_validator("sms_http_url", "aliyun_sms_endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _public_https(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("https://"):
            raise ValueError(f"{value!r} is not an https:// URL (Telegram posts only over HTTPS)")
        if "?" in value or "#" in value:
            raise ValueError("is a base URL: no ?query or #fragment (the path is WEBHOOK_PATH)")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _url_path(cls, value: str) -> str:
        value = value.strip()
        if not WEBHOOK_PATH.fullmatch(value):
            raise ValueError(f"{value!r} is not a URL path such as /telegram")
        if value == HEALTH_PATH:
            raise ValueError(f"{HEALTH_PATH} is the health check's; choose another path")
        return value

    @field_validator("webhook_secret_token")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN.fullmatch(value.get_secret_value()):
            # Never echo the value: it is a secret, even when malformed.
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("sms_http_body_template", mode="before")
    @classmethod
    def _body_template(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return DEFAULT_SMS_BODY
        if isinstance(value, str):
            missing = [p for p in ("{mobile}", "{text}") if p not in value]
            if missing:
                raise ValueError(f"has no {missing[0]} placeholder")
            try:
                json.loads(fill_sms_body(value, mobile="13800000000", text='a "b"\n'))
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not valid JSON once filled in ({exc.msg})") from None
        return value

    @field_validator("sms_gateway")
    @classmethod
    def _gateway_settings(cls, value: str, info: ValidationInfo) -> str:
        # The fields checked here are declared before sms_gateway, so info.data has them
        # (unless they failed on their own, which is then the error reported first).
        needed = {"http": ("sms_http_url",), "aliyun": ALIYUN_NEEDS}.get(value, ())
        for name in needed:
            if name in info.data and not info.data[name]:
                raise ValueError(f"{value!r} needs {name.upper()}, which is not set")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        level = value.strip().upper()
        if level not in ("", "DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_name(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        name = value.strip().lower() or "text"
        if name not in ("text", "json"):
            raise ValueError(f"{value!r} is not text or json")
        return name

    @field_validator("bot_today", mode="before")
    @classmethod
    def _day_or_moment(cls, value: object) -> object:
        # "2018-03-15" is a date, "2018-03-15T08:59" a moment (pydantic alone would read both
        # as a datetime).
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        try:
            return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a date (2018-03-15) or a date and time (2018-03-15T08:59)"
            ) from None

    @field_validator("bot_admin_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
            bad = [v for v in items if not v.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a numeric Telegram user id")
            return tuple(int(v) for v in items)
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("plan_file", "media_dir")
    @classmethod
    def _from_project(cls, value: Path) -> Path:
        # Relative paths mean "in this checkout" when the working directory lacks them, so
        # the demo works from any directory.
        if value.is_absolute() or value.exists():
            return value
        return PROJECT_ROOT / value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def token(self) -> str:
        if self.telegram_bot_token is None:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in the environment "
                "or .env (or try `unionbot demo`, which needs none)"
            )
        return self.telegram_bot_token.get_secret_value()

    def webhook(self) -> tuple[str, str]:
        """Webhook mode's public URL and secret token, or a SettingsError naming what is
        missing."""
        if not self.webhook_url:
            raise SettingsError(
                "WEBHOOK_URL is not set: webhook mode needs the public https:// address that "
                "Telegram posts updates to (your reverse proxy's)"
            )
        if self.webhook_secret_token is None:
            raise SettingsError(
                "WEBHOOK_SECRET_TOKEN is not set: webhook mode needs a secret of 1-256 "
                "characters (A-Z, a-z, 0-9, _ and -) that Telegram sends with every update"
            )
        return self.webhook_url + self.webhook_path, self.webhook_secret_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Settings, or a SettingsError naming the first bad one as its environment variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        reason = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"setting {name}: {reason}") from None
