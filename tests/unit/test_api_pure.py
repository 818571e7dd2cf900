"""The HTTP API's pure parts: tokens, rate windows, request bodies, error mapping, addresses, OpenAPI."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from freepbx_callback import apikeys
from freepbx_callback.api import (
    MAX_NAME,
    ApiError,
    body_hash,
    check_idempotency_key,
    parse_address,
    parse_callback,
    refusal,
)
from freepbx_callback.apikeys import ApiKey, Window, bearer_token, hash_token, new_token, over_limit
from freepbx_callback.http_api import ROUTES
from freepbx_callback.openapi import DOCUMENT
from freepbx_callback.policy import PolicyError


def test_a_token_is_32_random_bytes_and_only_its_sha256_is_kept() -> None:
    token = new_token()
    assert token.startswith("qcb_") and len(token) == 4 + 43
    assert new_token() != token
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in hash_token(token)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer qcb_abc", "qcb_abc"),
        ("bearer   qcb_abc ", "qcb_abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_key_names_and_limits_are_checked() -> None:
    assert apikeys.validate_key_name("crm.web-1") == "crm.web-1"
    for bad in ("", "-x", "a b", "x" * 65, "naïve"):
        with pytest.raises(PolicyError):
            apikeys.validate_key_name(bad)
    with pytest.raises(PolicyError):
        apikeys.validate_limit(0, "per-minute limit")


def test_a_key_limited_to_queues_allows_only_those() -> None:
    assert ApiKey(1, "all", "qcb_abcd").allows("500")
    limited = ApiKey(2, "web", "qcb_abcd", queues=("400", "401"))
    assert limited.allows("401") and not limited.allows("500")
    assert "token_hash" not in limited.to_dict() and limited.to_dict()["queues"] == ["400", "401"]


def test_fixed_windows_count_per_key_minute_and_per_number_hour() -> None:
    key = ApiKey(7, "web", "qcb_abcd", per_minute=60, per_number_hour=3)
    by_key, by_number = apikeys.windows(key, "+12015550123")
    assert (by_key.bucket, by_key.limit, by_key.seconds) == ("k:7", 60, 60)
    assert (by_number.bucket, by_number.limit, by_number.seconds) == ("n:+12015550123", 3, 3600)
    now = 7200.0 + 1234.5
    assert by_number.start(now) == 7200
    assert over_limit(by_number, 3, now) is None
    limited = over_limit(by_number, 4, now)
    assert limited is not None and limited.retry_after == 3600 - 1234  # until the window ends, rounded up
    assert Window("k:1", 1, 60).retry_after(59.999) == 1  # never 0


def test_epoch_of_naive_utc() -> None:
    assert apikeys.epoch(datetime(1970, 1, 1, 0, 1)) == 60.0


def test_a_callback_body_is_read_strictly() -> None:
    body = parse_callback(
        b'{"queue": "400", "number": " 2015550123 ", "name": "Ann", "at": "2026-12-02T10:00Z"}'
    )
    assert (body.queue, body.number, body.name) == ("400", "2015550123", "Ann")
    assert body.at == datetime(2026, 12, 2, 10, tzinfo=UTC)
    local = parse_callback(b'{"queue": "400", "number": 2015550123, "at": "2026-12-02 10:00"}')
    assert local.number == "2015550123" and local.at == datetime(2026, 12, 2, 10)
    offset = parse_callback(b'{"queue": "400", "number": "1", "at": "2026-12-02T10:00:00+03:00"}').at
    assert offset is not None and offset.utcoffset() == timedelta(hours=3)
    assert offset.tzinfo == timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", "invalid_json"),
        (b"\xff", "invalid_json"),
        (b"[1]", "invalid_json"),
        (b'{"number": "2015550123"}', "missing_field"),
        (b'{"queue": "400"}', "missing_field"),
        (b'{"queue": "400", "number": ""}', "missing_field"),
        (b'{"queue": 400, "number": "2015550123"}', "invalid_field"),
        (b'{"queue": "4 0", "number": "2015550123"}', "invalid_field"),
        (b'{"queue": "400", "number": "2015550123", "at": "tomorrow"}', "invalid_field"),
        (b'{"queue": "400", "number": "2015550123", "colour": "red"}', "unknown_field"),
        (
            b'{"queue": "400", "number": "2015550123", "name": "' + b"x" * (MAX_NAME + 1) + b'"}',
            "invalid_field",
        ),
        (b'{"queue": "400", "number": "2015550123", "name": "a\\nb"}', "invalid_field"),
    ],
)
def test_a_bad_body_is_a_400_with_a_stable_code(raw: bytes, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_callback(raw)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert caught.value.body()["error"]["code"] == code


def test_the_idempotency_hash_ignores_spacing_and_key_order() -> None:
    assert body_hash(b'{"queue":"400","number":"1"}') == body_hash(b'{ "number": "1", "queue": "400" }')
    assert body_hash(b'{"queue":"400","number":"1"}') != body_hash(b'{"queue":"400","number":"2"}')
    assert check_idempotency_key("order-42") == "order-42"
    assert check_idempotency_key(None) is None
    for bad in ("", "a b", "x" * 129, "ключ"):
        with pytest.raises(ApiError):
            check_idempotency_key(bad)


def test_each_refusal_has_its_status_and_code() -> None:
    dup = refusal("duplicate", "request 5 is already open", "duplicate", 5)
    assert (dup.status, dup.code, dup.extra["request_id"]) == (409, "duplicate", 5)
    blocked = refusal("blocked", "premium", "premium", None)
    assert (blocked.status, blocked.code, blocked.extra["reason"]) == (422, "number_refused", "premium")
    assert refusal("invalid", "too short", "too_short", None).code == "invalid_number"
    assert (refusal("disabled", "off", "", None).status, refusal("disabled", "off", "", None).code) == (
        422,
        "queue_disabled",
    )
    full = refusal("limit", "full", "limit", None)
    assert (full.status, full.code, full.headers["Retry-After"]) == (429, "queue_full", "60")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:8573", ("127.0.0.1", 8573)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:8573", ("::1", 8573)),
        ("9000", ("127.0.0.1", 9000)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_http_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["", "host", "host:", ":80", "host:99999", "::1:80", "[::1]80", "a:b"])
def test_bad_http_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_every_route_is_in_the_openapi_document() -> None:
    paths = DOCUMENT["paths"]
    for method, template, _, auth in ROUTES:
        assert method.lower() in paths.get(template, {}), f"{method} {template} missing from the document"
        operation = paths[template][method.lower()]
        assert ("security" in operation and operation["security"] == []) == (not auth)
    json.dumps(DOCUMENT)  # serialisable
    assert DOCUMENT["openapi"].startswith("3.")
    refs = re.findall(r'"#/components/schemas/(\w+)"', json.dumps(DOCUMENT))
    assert refs and set(refs) <= set(DOCUMENT["components"]["schemas"])
