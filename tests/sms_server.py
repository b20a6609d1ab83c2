"""Local SMS gateways on 127.0.0.1 (threaded http.server), checking what the real ones check.

- `serve_generic()`: a JSON-over-HTTP gateway. It checks the auth header and that the body is
  JSON with a mobile number and a text, records each accepted message, and can be told to
  answer the next requests with a 429 (Retry-After), a 500 or a slow response (longer than
  the client waits), or to refuse one number with a 400; or, at random (`inject_faults`),
  with a 429, a 5xx, a timeout or a dropped connection.
- `serve_aliyun()`: Aliyun's SendSms (dysmsapi 2017-05-25). It recomputes the signature from
  the query with the known secret, written here from Aliyun's documentation and not taken from
  the code under test, and refuses a wrong one as Aliyun does (HTTP 400, Code
  "SignatureDoesNotMatch"); it checks Action, Version, Format, the signature method and
  version, a fresh SignatureNonce, the Timestamp, PhoneNumbers, SignName, TemplateCode and the
  TemplateParam JSON, and answers {"Code": "OK", "BizId": …}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

MOBILE = re.compile(r"^1[3-9]\d{9}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
TOKEN = "Bearer test-sms-token"
ACCESS_KEY_ID = "LTAItestkeyid"
ACCESS_KEY_SECRET = "test-secret/with+odd*chars~"
SIGN_NAME = "房山区总工会"
TEMPLATE_CODE = "SMS_123456789"
RANDOM_FAULTS = ("429", "5xx", "timeout", "drop")  # what `Gateway.inject_faults` picks from
HOLD_LIMIT = 60.0  # seconds a "timeout" holds its answer at most, the client gone or not


@dataclass(frozen=True)
class Received:
    mobile: str
    text: str


@dataclass
class Fault:
    kind: str  # "429", "500", "slow", "throttle", "isp"
    seconds: float = 0.0


@dataclass
class Gateway:
    """What a test sees of a local gateway, and the faults it injects."""

    url: str = ""
    messages: list[Received] = field(default_factory=list)
    requests: int = 0  # every request, accepted or not
    refusals: list[str] = field(default_factory=list)  # the error codes answered
    invalid: set[str] = field(default_factory=set)  # numbers the operator refuses
    faults: deque[Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The n-th message is held unanswered (a slow network) and `holding` set, so a test can
    # kill the bot with it in flight; held until its client has gone, then dropped unrecorded.
    hold: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    _posts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    # Transient faults at random (seeded): each request fails with chance `fault_rate`, with
    # one of `fault_kinds`:
    #   "429"     Too Many Requests with Retry-After `retry_after` (Aliyun: Throttling.User);
    #   "5xx"     a 500, 502 or 503;
    #   "timeout" the answer held until the client gives up waiting: with chance
    #             `timeout_delivers` the operator had accepted the message first (recorded in
    #             `messages`), else not;
    #   "drop"    the connection closed with no answer, nothing accepted.
    # Each fault met is appended to `faults_met`: "429", "500", "502", "503",
    # "timeout-delivered", "timeout-lost", "drop".
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = RANDOM_FAULTS
    timeout_delivers: float = 0.0
    retry_after: int = 1
    faults_met: list[str] = field(default_factory=list)
    _random: random.Random = field(default_factory=lambda: random.Random(0))

    def inject_faults(
        self,
        rate: float,
        kinds: tuple[str, ...] = RANDOM_FAULTS,
        *,
        seed: int = 0,
        timeout_delivers: float = 0.0,
        retry_after: int = 1,
    ) -> None:
        """Fail a share `rate` of the coming requests at random (see fault_rate)."""
        unknown = set(kinds) - set(RANDOM_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {RANDOM_FAULTS}")
        with self.lock:
            self.fault_rate, self.fault_kinds = rate, tuple(kinds)
            self.timeout_delivers, self.retry_after = timeout_delivers, retry_after
            self._random = random.Random(seed)

    def _draw_fault(self) -> str | None:
        with self.lock:
            draw = self._random
            if not self.fault_rate or not self.fault_kinds or draw.random() >= self.fault_rate:
                return None
            kind = draw.choice(self.fault_kinds)
            if kind == "5xx":
                kind = draw.choice(("500", "502", "503"))
            elif kind == "timeout":
                delivered = draw.random() < self.timeout_delivers
                kind = "timeout-delivered" if delivered else "timeout-lost"
            self.faults_met.append(kind)
            return kind

    def fail_next(self, kind: str, seconds: float = 0.0, times: int = 1) -> None:
        """Answer the next `times` requests with this fault instead of handling them."""
        for _ in range(times):
            self.faults.append(Fault(kind, seconds))

    def _next_fault(self) -> Fault | None:
        with self.lock:
            self.requests += 1
            return self.faults.popleft() if self.faults else None

    def texts_to(self, mobile: str) -> list[str]:
        return [m.text for m in self.messages if m.mobile == mobile]


class _Handler(BaseHTTPRequestHandler):
    gateway: Gateway

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting (a timeout being tested)

    def log_message(self, *args: Any) -> None:
        return None

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)

    def _unanswered(self, fault: str) -> None:
        if fault == "drop":
            self._drop()
        else:
            self._hold()

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _hold(self) -> None:
        """No answer until the client has stopped waiting."""
        waited = time.monotonic()
        while not self._client_gone() and time.monotonic() - waited < HOLD_LIMIT:
            time.sleep(0.01)
        self.close_connection = True


class _Generic(_Handler):
    def do_POST(self) -> None:
        gw = self.gateway
        fault = gw._next_fault()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if fault is not None and self._fault(fault):
            return
        random_fault = gw._draw_fault()
        if random_fault in ("drop", "timeout-lost"):
            self._unanswered(random_fault)
            return
        if random_fault in ("429", "500", "502", "503"):
            self._random_refusal(random_fault)
            return
        if next(gw._posts) == gw.hold:
            gw.holding.set()
            while not self._client_gone():
                time.sleep(0.01)
            return
        if self.headers.get("Authorization") != TOKEN:
            self._refuse(401, "unauthorized")
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._refuse(415, "expected JSON")
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._refuse(400, "body is not JSON")
            return
        mobile, text = body.get("to"), body.get("text")
        if not isinstance(mobile, str) or not MOBILE.match(mobile):
            self._refuse(400, "invalid number")
            return
        if not isinstance(text, str) or not text:
            self._refuse(400, "no text")
            return
        if mobile in gw.invalid:
            self._refuse(400, "number does not exist")
            return
        with gw.lock:
            gw.messages.append(Received(mobile, text))
            n = len(gw.messages)
        if random_fault == "timeout-delivered":
            self._hold()  # accepted, but the answer never reaches the client
            return
        self._answer(200, {"id": f"msg-{n}", "status": "queued"})

    def _random_refusal(self, status: str) -> None:
        if status == "429":
            retry = str(self.gateway.retry_after)
            self._refuse(429, "too many requests", {"Retry-After": retry})
        else:
            self._refuse(int(status), "gateway error")

    def _fault(self, fault: Fault) -> bool:
        if fault.kind == "429":
            self._refuse(429, "too many requests", {"Retry-After": str(int(fault.seconds))})
        elif fault.kind == "500":
            self._refuse(500, "internal error")
        elif fault.kind == "slow":
            # Stalls before accepting anything: the message never reached the operator.
            time.sleep(fault.seconds)
            self._refuse(503, "too late")
        else:
            return False
        return True

    def _refuse(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        with self.gateway.lock:
            self.gateway.refusals.append(f"{status} {error}")
        self._answer(status, {"error": error}, headers)


def aliyun_percent_encode(value: str) -> str:
    """Aliyun's documented recipe: URL-encode as Java's URLEncoder does (UTF-8, space as +),
    then "+" → "%20", "*" → "%2A", "%7E" → "~"."""
    encoded = quote_plus(value, safe="*")
    return encoded.replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_expected_signature(params: dict[str, str], secret: str) -> str:
    canonical = "&".join(
        f"{aliyun_percent_encode(k)}={aliyun_percent_encode(params[k])}"
        for k in sorted(params)
        if k != "Signature"
    )
    to_sign = "GET&" + aliyun_percent_encode("/") + "&" + aliyun_percent_encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class _Aliyun(_Handler):
    nonces: set[str]
    biz_ids = itertools.count(900619746936498)

    def do_GET(self) -> None:
        gw = self.gateway
        fault = gw._next_fault()
        query = urlsplit(self.path).query
        params = dict(parse_qsl(query, keep_blank_values=True))
        if fault is not None:
            if fault.kind == "500":
                self._answer(500, {"Code": "InternalError", "Message": "internal error"})
                return
            if fault.kind == "throttle":
                self._code(400, "Throttling.User", "Request was denied due to user flow control.")
                return
            if fault.kind == "isp":
                self._code(200, "isp.SYSTEM_ERROR", "isp.SYSTEM_ERROR")
                return
        random_fault = gw._draw_fault()
        if random_fault in ("drop", "timeout-lost"):
            self._unanswered(random_fault)
            return
        if random_fault == "429":
            self._code(400, "Throttling.User", "Request was denied due to user flow control.")
            return
        if random_fault in ("500", "502", "503"):
            self._answer(int(random_fault), {"Code": "ServiceUnavailable", "Message": "busy"})
            return
        problem = self._check(params)
        if problem is not None:
            self._code(*problem)
            return
        with gw.lock:
            content = json.loads(params["TemplateParam"])["content"]
            gw.messages.append(Received(params["PhoneNumbers"], content))
        if random_fault == "timeout-delivered":
            self._hold()  # accepted, but the answer never reaches the client
            return
        biz = f"{next(self.biz_ids)}^0"
        self._answer(200, {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": "r"})

    def _check(self, params: dict[str, str]) -> tuple[int, str, str] | None:
        gw = self.gateway
        if params.get("AccessKeyId") != ACCESS_KEY_ID:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return 400, "InvalidParameter", "SignatureMethod or SignatureVersion"
        if params.get("Signature") != aliyun_expected_signature(params, ACCESS_KEY_SECRET):
            return (
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        nonce = params.get("SignatureNonce", "")
        with gw.lock:
            if not nonce or nonce in self.nonces:
                return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
            self.nonces.add(nonce)
        stamp = params.get("Timestamp", "")
        if not TIMESTAMP.match(stamp):
            return 400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((moment - datetime.now(UTC)).total_seconds()) > 15 * 60:
            return (
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date header is expired.",
            )
        if params.get("Action") != "SendSms":
            return 400, "InvalidAction.NotFound", "Specified api is not found."
        if params.get("Version") != "2017-05-25":
            return 400, "InvalidVersion", "Specified parameter Version is not valid."
        if params.get("Format") != "JSON":
            return 400, "InvalidParameter", "Format"
        mobile = params.get("PhoneNumbers", "")
        if not MOBILE.match(mobile) or mobile in gw.invalid:
            return 200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid mobile number"
        if params.get("SignName") != SIGN_NAME:
            return 200, "isv.SMS_SIGNATURE_ILLEGAL", "the signature is not approved"
        if params.get("TemplateCode") != TEMPLATE_CODE:
            return 200, "isv.SMS_TEMPLATE_ILLEGAL", "the template is not approved"
        try:
            values = json.loads(params.get("TemplateParam", ""))
        except json.JSONDecodeError:
            return 200, "isv.INVALID_JSON_PARAM", "JSON parameter is not valid."
        if not isinstance(values, dict) or not isinstance(values.get("content"), str):
            return 200, "isv.TEMPLATE_MISSING_PARAMETERS", "the template needs ${content}"
        if set(values) != {"content"}:
            return 200, "isv.INVALID_PARAMETERS", "unknown template parameters"
        return None

    def _code(self, status: int, code: str, message: str) -> None:
        with self.gateway.lock:
            self.gateway.refusals.append(code)
        body = {"RequestId": "r", "HostId": "dysmsapi.aliyuncs.com", "Code": code,
                "Message": message}  # fmt: skip
        self._answer(status, body)


@contextmanager
def _serve(handler: type[_Handler], gateway: Gateway, path: str) -> Iterator[Gateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_generic() -> Iterator[Gateway]:
    gateway = Gateway()
    handler = type("Generic", (_Generic,), {"gateway": gateway})
    with _serve(handler, gateway, "/v1/sms") as gw:
        yield gw


@contextmanager
def serve_aliyun() -> Iterator[Gateway]:
    gateway = Gateway()
    handler = type("Aliyun", (_Aliyun,), {"gateway": gateway, "nonces": set()})
    with _serve(handler, gateway, "") as gw:
        yield gw
