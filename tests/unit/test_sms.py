"""The SMS gateways' pure parts: Aliyun's request signing (checked against the worked example
in Aliyun's documentation and against the documented recipe computed here), the generic
gateway's body template, how answers are read, and the settings each gateway needs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import httpx
import pytest

from bot.settings import PROJECT_ROOT, SettingsError, load_settings
from reminders.sms import (
    DEFAULT_SMS_BODY,
    MAX_WAIT,
    AliyunSmsGateway,
    HttpSmsGateway,
    SmsResult,
    aliyun_signature,
    canonical_query,
    fill_sms_body,
    percent_encode,
    retry_after,
    scrub,
    string_to_sign,
    strip_signature,
)

# The worked example of Aliyun's SMS signature documentation (AccessKeySecret "testSecret").
DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
DOC_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def documented_encode(value: str) -> str:
    """The recipe in Aliyun's documentation: Java-style URL encoding, then + → %20,
    * → %2A, %7E → ~."""
    return quote_plus(value, safe="*").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def documented_signature(params: dict[str, str], secret: str) -> str:
    query = "&".join(
        f"{documented_encode(k)}={documented_encode(params[k])}" for k in sorted(params)
    )
    to_sign = f"GET&{documented_encode('/')}&{documented_encode(query)}"
    return base64.b64encode(
        hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    ).decode()


def test_the_documented_example_signs_as_documented() -> None:
    assert documented_signature(DOC_PARAMS, "testSecret") == DOC_SIGNATURE
    assert aliyun_signature(DOC_PARAMS, "testSecret") == DOC_SIGNATURE
    assert string_to_sign(DOC_PARAMS).startswith(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
    )
    assert "SignName%3D%25E9%2598%25BF" in string_to_sign(DOC_PARAMS)


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("a*b", "a%2Ab"),
        ("a~b", "a~b"),
        ("a+b", "a%2Bb"),
        ("a/b=c&d", "a%2Fb%3Dc%26d"),
        ("-_.", "-_."),
        ("工会", "%E5%B7%A5%E4%BC%9A"),
        ('{"content":"x"}', "%7B%22content%22%3A%22x%22%7D"),
    ],
)
def test_percent_encoding_is_aliyuns(raw: str, encoded: str) -> None:
    assert percent_encode(raw) == encoded == documented_encode(raw)


def test_a_real_request_signs_like_the_recipe_with_awkward_characters() -> None:
    gateway = AliyunSmsGateway(
        access_key_id="id", access_key_secret="s3cr*t ~+/", sign_name="房山区总工会",
        template_code="SMS_1", utcnow=lambda: datetime(2018, 3, 15, 1, 2, 3, tzinfo=UTC),
        nonce=lambda: "nonce-1",
    )  # fmt: skip
    params = gateway.params("13812345678", "【房山区总工会】张三您好 *~+ 欢迎！")
    signature = params.pop("Signature")
    assert signature == documented_signature(params, "s3cr*t ~+/")
    assert params["Timestamp"] == "2018-03-15T01:02:03Z"
    assert params["SignatureNonce"] == "nonce-1"
    assert json.loads(params["TemplateParam"]) == {"content": "张三您好 *~+ 欢迎！"}
    assert canonical_query(params).startswith("AccessKeyId=id&Action=SendSms&Format=JSON&")
    assert "s3cr" not in repr(gateway)


def test_the_signature_prefix_is_left_to_aliyun() -> None:
    assert strip_signature("【房山区总工会】您好") == "您好"
    assert strip_signature("您好【注】") == "您好【注】"


def test_the_body_template_escapes_what_it_fills_in() -> None:
    text = 'He said "hi"\n\\ {mobile} 【工会】'
    body = fill_sms_body('{"to": "{mobile}", "text": "{text}"}', mobile="13812345678", text=text)
    assert json.loads(body) == {"to": "13812345678", "text": text}


@pytest.mark.parametrize(
    ("status", "headers", "result", "wait"),
    [
        (200, {}, SmsResult.SENT, None),
        (202, {}, SmsResult.SENT, None),
        (429, {"Retry-After": "7"}, SmsResult.RETRY, timedelta(seconds=7)),
        (429, {}, SmsResult.RETRY, None),
        (500, {}, SmsResult.RETRY, None),
        (503, {}, SmsResult.RETRY, None),
        (400, {}, SmsResult.PERMANENT, None),
        (422, {}, SmsResult.PERMANENT, None),
        (401, {}, SmsResult.ACCOUNT, None),
        (403, {}, SmsResult.ACCOUNT, None),
    ],
)
def test_http_answers(
    status: int, headers: dict[str, str], result: SmsResult, wait: timedelta | None
) -> None:
    outcome = HttpSmsGateway.outcome(status, httpx.Headers(headers), "")
    assert (outcome.result, outcome.wait) == (result, wait)


def test_retry_after_reads_seconds_and_dates_and_is_capped() -> None:
    now = datetime(2018, 3, 15, tzinfo=UTC)
    assert retry_after("30") == timedelta(seconds=30)
    assert retry_after("Thu, 15 Mar 2018 00:02:00 GMT", now=now) == timedelta(minutes=2)
    assert retry_after("999999") == MAX_WAIT
    assert retry_after("soon") is None


@pytest.mark.parametrize(
    ("status", "code", "result"),
    [
        (200, "OK", SmsResult.SENT),
        (200, "isv.MOBILE_NUMBER_ILLEGAL", SmsResult.PERMANENT),
        (200, "isv.BLACK_KEY_CONTROL_LIMIT", SmsResult.PERMANENT),
        (200, "isv.PARAM_LENGTH_LIMIT", SmsResult.PERMANENT),
        (200, "isv.BUSINESS_LIMIT_CONTROL", SmsResult.RETRY),
        (200, "isp.SYSTEM_ERROR", SmsResult.RETRY),
        (400, "Throttling.User", SmsResult.RETRY),
        (503, "ServiceUnavailable", SmsResult.RETRY),
        (500, "", SmsResult.RETRY),
        (400, "SignatureDoesNotMatch", SmsResult.ACCOUNT),
        (404, "InvalidAccessKeyId.NotFound", SmsResult.ACCOUNT),
        (200, "isv.AMOUNT_NOT_ENOUGH", SmsResult.ACCOUNT),
        (200, "isv.SMS_TEMPLATE_ILLEGAL", SmsResult.ACCOUNT),
        (200, "isv.DAY_LIMIT_CONTROL", SmsResult.ACCOUNT),
    ],
)
def test_aliyun_answers(status: int, code: str, result: SmsResult) -> None:
    answer = {"Code": code, "Message": "m"} if code else {}
    assert AliyunSmsGateway.outcome(status, answer).result is result


def test_reasons_never_carry_a_number() -> None:
    assert scrub("bad number 13812345678, try +8613912345678") == (
        "bad number 138****5678, try +86139****5678"
    )


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"sms_gateway": "http"}, "SMS_HTTP_URL"),
        ({"sms_gateway": "aliyun", "aliyun_access_key_secret": "s"}, "ALIYUN_ACCESS_KEY_ID"),
        (
            {
                "sms_gateway": "aliyun",
                "aliyun_access_key_id": "i",
                "aliyun_sms_sign_name": "n",
                "aliyun_sms_template_code": "t",
            },
            "ALIYUN_ACCESS_KEY_SECRET",
        ),
        (
            {
                "sms_gateway": "aliyun",
                "aliyun_access_key_id": "i",
                "aliyun_access_key_secret": "s",
                "aliyun_sms_template_code": "t",
            },
            "ALIYUN_SMS_SIGN_NAME",
        ),
    ],
)
def test_a_gateway_without_its_settings_stops_the_start(
    values: dict[str, str], names: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("SMS_", "ALIYUN_"))]:
        monkeypatch.delenv(name)
    with pytest.raises(SettingsError, match=f"setting SMS_GATEWAY: .*needs {names}"):
        load_settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("sms_http_body_template", '{"to": "{mobile}"}', "no {text} placeholder"),
        ("sms_http_body_template", '{"to": {mobile}, "text": {text}}', "not valid JSON"),
        ("sms_http_auth_header", "Bearer abc", "header line"),
        ("sms_http_url", "ftp://x", "not an http"),
        ("sms_rate_per_second", "0", "greater than 0"),
    ],
)
def test_malformed_sms_settings_are_named(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=f"setting {name.upper()}:") as caught:
        load_settings(_env_file=None, **{name: value})
    assert says in str(caught.value)


def test_secrets_are_never_in_the_settings_repr() -> None:
    settings = load_settings(
        _env_file=None, sms_gateway="aliyun", aliyun_access_key_id="i",
        aliyun_access_key_secret="very-secret", aliyun_sms_sign_name="n",
        aliyun_sms_template_code="t", sms_http_auth_header="Authorization: Bearer tok3n",
    )  # fmt: skip
    assert "very-secret" not in repr(settings) and "tok3n" not in repr(settings)


def test_the_example_env_file_reads_as_the_defaults() -> None:
    settings = load_settings(_env_file=PROJECT_ROOT / ".env.example")
    assert settings.sms_gateway == ""
    assert settings.sms_http_body_template == DEFAULT_SMS_BODY
    assert settings.aliyun_sms_endpoint == "https://dysmsapi.aliyuncs.com"
