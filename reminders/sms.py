"""SMS gateways: one call, `await gateway.send(mobile, text)`, and what became of it.

Two adapters, chosen by SMS_GATEWAY: a generic HTTP gateway (a JSON body from a template,
POSTed with an optional auth header) and Aliyun's SendSms (dysmsapi, RPC style, signed
requests). Each answers an SmsOutcome the sender acts on:

- sent: the gateway accepted the message;
- retry: try this message again (429 and its Retry-After, 5xx, timeouts, network errors);
- permanent: this message can never go (an invalid number, refused content, other 4xx);
- account: the gateway refuses the account or the settings (credentials, signature, template,
  balance, daily quota). Every message would fail alike, so none is failed for it: they
  wait, and the district admins are told.

Mobile numbers never reach a log line unmasked: reasons are scrubbed (a gateway may quote
the number), and Aliyun's GET query, which holds the number, is masked in httpx's log.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import httpx

from bot.logs import Redact
from models.mobile import mask_mobiles

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("unionbot.sms")

DEFAULT_SMS_BODY = '{"to": "{mobile}", "text": "{text}"}'
ALIYUN_VERSION = "2017-05-25"
MAX_WAIT = timedelta(hours=1)  # a Retry-After longer than this is read as an hour
_PLACEHOLDER = re.compile(r"\{(mobile|text)\}")
_SIGNATURE = re.compile(r"^【[^】]*】")


class SmsResult(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    PERMANENT = "permanent"
    ACCOUNT = "account"


@dataclass(frozen=True)
class SmsOutcome:
    result: SmsResult
    reason: str = ""  # short, for the outbox row's last_error and the logs; numbers masked
    wait: timedelta | None = None  # retry: how long the gateway asked us to wait

    @classmethod
    def sent(cls, reason: str = "") -> SmsOutcome:
        return cls(SmsResult.SENT, scrub(reason))

    @classmethod
    def retry(cls, reason: str, wait: timedelta | None = None) -> SmsOutcome:
        return cls(SmsResult.RETRY, scrub(reason), wait)

    @classmethod
    def permanent(cls, reason: str) -> SmsOutcome:
        return cls(SmsResult.PERMANENT, scrub(reason))

    @classmethod
    def account(cls, reason: str) -> SmsOutcome:
        return cls(SmsResult.ACCOUNT, scrub(reason))


class SmsGateway(Protocol):
    name: str

    async def send(self, mobile: str, text: str) -> SmsOutcome: ...

    async def aclose(self) -> None: ...


def scrub(text: str, limit: int = 300) -> str:
    """A gateway's words, shortened, with any mobile number in them masked."""
    return mask_mobiles(" ".join(text.split()))[:limit]


# httpx logs each request's URL at INFO and Aliyun's URL carries PhoneNumbers: masked here
# too, for a program that logs without bot.logs.configure_logging (its root handler has it).
logging.getLogger("httpx").addFilter(Redact())


def strip_signature(text: str) -> str:
    """The text without its leading 【signature】 (Aliyun adds the approved one itself)."""
    return _SIGNATURE.sub("", text, count=1)


def fill_sms_body(template: str, *, mobile: str, text: str) -> str:
    """SMS_HTTP_BODY_TEMPLATE with {mobile} and {text} replaced by their JSON-escaped values,
    in one pass (a text that itself contains "{mobile}" stays as it is)."""
    values = {"mobile": mobile, "text": text}
    return _PLACEHOLDER.sub(
        lambda m: json.dumps(values[m.group(1)], ensure_ascii=False)[1:-1], template
    )


def retry_after(value: str | None, *, now: datetime | None = None) -> timedelta | None:
    """A Retry-After header: seconds, or an HTTP date; at most MAX_WAIT."""
    if not value:
        return None
    value = value.strip()
    try:
        wait = timedelta(seconds=max(float(value), 0))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        wait = max(when - (now or datetime.now(UTC)), timedelta(0))
    return min(wait, MAX_WAIT)


def _transport_failure(exc: httpx.TransportError) -> SmsOutcome:
    # The class name, not str(exc): it says what happened without quoting the request.
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "network error"
    return SmsOutcome.retry(f"{kind} ({type(exc).__name__})")


class HttpSmsGateway:
    """Any gateway that takes one JSON POST per message: 2xx sent, 429 and 5xx later, a
    refused login (401, 403) or a wrong address (404, 405) stops all SMS, other 4xx fail the
    message."""

    name = "http"

    def __init__(
        self,
        *,
        url: str,
        auth_header: str | None = None,
        body_template: str = DEFAULT_SMS_BODY,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.body_template = body_template
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if auth_header:
            header, _, value = auth_header.partition(":")
            headers[header.strip()] = value.strip()
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def send(self, mobile: str, text: str) -> SmsOutcome:
        body = fill_sms_body(self.body_template, mobile=mobile, text=text)
        try:
            response = await self._client.post(self.url, content=body.encode())
        except httpx.TransportError as exc:
            return _transport_failure(exc)
        return self.outcome(response.status_code, response.headers, response.text)

    @staticmethod
    def outcome(status: int, headers: httpx.Headers | dict[str, str], body: str) -> SmsOutcome:
        reason = f"HTTP {status}: {body}" if body.strip() else f"HTTP {status}"
        if 200 <= status < 300:
            return SmsOutcome.sent()
        if status == 429:
            return SmsOutcome.retry(reason, retry_after(headers.get("Retry-After")))
        if status >= 500:
            return SmsOutcome.retry(reason)
        if status in (401, 403, 404, 405, 407):
            return SmsOutcome.account(reason)
        return SmsOutcome.permanent(reason)

    async def aclose(self) -> None:
        await self._client.aclose()


# Aliyun codes that mean the account or the settings are wrong, not this message.
ALIYUN_ACCOUNT_CODES = {
    "SignatureDoesNotMatch", "IncompleteSignature", "InvalidTimeStamp.Expired",
    "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL", "isv.AMOUNT_NOT_ENOUGH",
    "isv.OUT_OF_SERVICE", "isv.PRODUCT_UN_SUBSCRIPT", "isv.PRODUCT_UNSUBSCRIBE",
    "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS", "isv.DAY_LIMIT_CONTROL", "isv.RAM_PERMISSION_DENY",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL", "isv.EXTEND_CODE_ERROR", "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
}  # fmt: skip
ALIYUN_ACCOUNT_PREFIXES = ("InvalidAccessKeyId", "Forbidden")
# Flow control on one number (1 a minute, 5 an hour, 10 a day): the message can go later.
ALIYUN_NUMBER_LIMIT = "isv.BUSINESS_LIMIT_CONTROL"


def percent_encode(value: str) -> str:
    """RFC 3986 as Aliyun signs it: unreserved characters (A-Z a-z 0-9 - _ . ~) as they are,
    every other UTF-8 byte as %XX; so a space is %20 (not +), * is %2A, ~ stays."""
    return quote(value, safe="~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(params: dict[str, str], method: str = "GET") -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """HMAC-SHA1 over the string to sign, keyed with AccessKeySecret + "&", in base64."""
    digest = hmac.new(
        f"{secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def aliyun_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunSmsGateway:
    """Aliyun SMS SendSms, API version 2017-05-25, as a signed GET. The text goes into the
    approved template as TemplateParam {"content": …}; Aliyun adds the signature itself."""

    name = "aliyun"

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        endpoint: str = "https://dysmsapi.aliyuncs.com",
        timeout: float = 10.0,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.endpoint = endpoint.rstrip("/")
        # Aliyun checks the timestamp against its own clock: the real time, never BOT_TODAY.
        self._utcnow = utcnow
        self._nonce = nonce
        self._client = httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"AliyunSmsGateway(access_key_id={self.access_key_id!r}, secret=**********)"

    def params(self, mobile: str, text: str) -> dict[str, str]:
        """The request's parameters, signed."""
        content = json.dumps({"content": strip_signature(text)}, ensure_ascii=False)
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": mobile,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": content,
            "Timestamp": aliyun_timestamp(self._utcnow()),
            "Version": ALIYUN_VERSION,
        }
        return {"Signature": aliyun_signature(params, self._secret), **params}

    async def send(self, mobile: str, text: str) -> SmsOutcome:
        url = f"{self.endpoint}/?{canonical_query(self.params(mobile, text))}"
        try:
            response = await self._client.get(url)
        except httpx.TransportError as exc:
            return _transport_failure(exc)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        return self.outcome(response.status_code, answer)

    @staticmethod
    def outcome(status: int, answer: dict[str, Any]) -> SmsOutcome:
        code = str(answer.get("Code") or "")
        reason = f"{code}: {answer.get('Message', '')}" if code else f"HTTP {status}"
        if code == "OK" and status < 300:
            return SmsOutcome.sent(str(answer.get("BizId", "")))
        if code in ALIYUN_ACCOUNT_CODES or code.startswith(ALIYUN_ACCOUNT_PREFIXES):
            return SmsOutcome.account(reason)
        if code == ALIYUN_NUMBER_LIMIT:
            return SmsOutcome.retry(reason, MAX_WAIT)
        if code.startswith(("isp.", "Throttling", "ServiceUnavailable", "InternalError")):
            return SmsOutcome.retry(reason)
        if status >= 500 or status == 429:
            return SmsOutcome.retry(reason)
        return SmsOutcome.permanent(reason)

    async def aclose(self) -> None:
        await self._client.aclose()


def build_gateway(settings: Settings) -> SmsGateway | None:
    """The gateway SMS_GATEWAY names, or None (the settings checked that it has what it needs)."""
    if settings.sms_gateway == "http":
        header = settings.sms_http_auth_header
        return HttpSmsGateway(
            url=settings.sms_http_url,
            auth_header=header.get_secret_value() if header else None,
            body_template=settings.sms_http_body_template,
            timeout=settings.sms_timeout_seconds,
        )
    if settings.sms_gateway == "aliyun":
        assert settings.aliyun_access_key_secret is not None
        return AliyunSmsGateway(
            access_key_id=settings.aliyun_access_key_id,
            access_key_secret=settings.aliyun_access_key_secret.get_secret_value(),
            sign_name=settings.aliyun_sms_sign_name,
            template_code=settings.aliyun_sms_template_code,
            endpoint=settings.aliyun_sms_endpoint,
            timeout=settings.sms_timeout_seconds,
        )
    return None
