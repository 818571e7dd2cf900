"""The HTTP API's rules against the real database: keys, queues, rate limits shared by every serve node,
idempotent retries, the same policy as a key press, read back and cancel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from freepbx_callback.api import ApiError
from freepbx_callback.api_service import ApiService
from freepbx_callback.apikeys import ApiKey, ApiKeys, KeyExists, epoch, hash_token
from freepbx_callback.config import Dsn
from freepbx_callback.dialing import NotFound
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.conftest import Clock


def body(number: str = "2015550123", queue: str = "400", **extra: str) -> bytes:
    return json.dumps({"queue": queue, "number": number, **extra}).encode()


def error_of(call: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    return caught.value


@pytest.fixture
def api(service: CallbackService) -> ApiService:
    service.set_queue("400", enabled=True, did="5551000")
    service.set_queue("401", enabled=True)
    return ApiService(service)


def test_keys_store_only_a_hash_and_a_revoked_token_stops_working(
    api: ApiService, store: Store, clock: Clock
) -> None:
    keys = ApiKeys(store, clock)
    key, token = keys.add("web", ("400",), per_minute=10, per_number_hour=2)
    assert (key.queues, key.per_minute, key.per_number_hour) == (("400",), 10, 2)
    [row] = store._all("SELECT token_hash, token_hint FROM qcb_api_keys")
    assert row == (hash_token(token), token[:8])
    assert token not in json.dumps([k.to_dict() for k in keys.list()])
    assert api.authenticate(f"Bearer {token}").name == "web"
    with pytest.raises(KeyExists):
        keys.add("web")
    keys.revoke("web")
    assert error_of(lambda: api.authenticate(f"Bearer {token}")).code == "invalid_token"
    assert keys.list() == [] and [k.name for k in keys.list(include_revoked=True)] == ["web"]
    with pytest.raises(NotFound):
        keys.revoke("web")
    again, new_token = keys.add("web")  # a revoked key's name may be taken again
    assert new_token != token and again.queues == () and api.authenticate(f"Bearer {new_token}")
    assert error_of(lambda: api.authenticate(None)).status == 401
    assert error_of(lambda: api.authenticate("Bearer qcb_nothing")).code == "invalid_token"


def test_a_request_goes_through_the_key_press_policy(api: ApiService, store: Store) -> None:
    key, _ = ApiKeys(store, api.service.clock).add("crm")
    status, data, headers = api.create(key, body(name="Ann Smith"))
    assert status == 201 and data["status"] == "pending" and data["name"] == "Ann Smith"
    assert headers["Location"] == f"/v1/callbacks/{data['id']}"
    stored = api.service.get(data["id"])
    assert (stored.source, stored.did, stored.number) == ("api", "5551000", "2015550123")
    # dedupe, naming the open request
    dup = error_of(lambda: api.create(key, body("+1 201 555 0123")))
    assert (dup.status, dup.code, dup.extra["request_id"]) == (409, "duplicate", data["id"])
    # toll-fraud rules and validation
    premium = error_of(lambda: api.create(key, body("9005550123")))
    assert (premium.status, premium.code, premium.extra["reason"]) == (422, "number_refused", "premium")
    assert error_of(lambda: api.create(key, body("911"))).extra["reason"] == "emergency"
    assert error_of(lambda: api.create(key, body("12a"))).code == "invalid_number"
    # a queue without callback, and a full one
    assert error_of(lambda: api.create(key, body(queue="999"))).code == "queue_disabled"
    api.service.set_queue("401", max_pending=1)
    assert api.create(key, body("2015550124", queue="401"))[0] == 201
    full = error_of(lambda: api.create(key, body("2015550125", queue="401")))
    assert (full.status, full.code, full.headers["Retry-After"]) == (429, "queue_full", "60")


def test_at_is_the_first_due_time_in_the_queues_time_zone(
    api: ApiService, store: Store, clock: Clock
) -> None:
    api.service.set_queue("400", timezone="Europe/Moscow")
    key, _ = ApiKeys(store, clock).add("crm")
    local = (clock.now + timedelta(hours=3 + 2)).replace(microsecond=0)  # UTC+3, in two hours
    status, data, _ = api.create(key, body(at=local.isoformat()))
    assert status == 201
    assert api.service.get(data["id"]).next_attempt_at == local - timedelta(hours=3)
    utc = (clock.now + timedelta(hours=1)).replace(microsecond=0)
    _, data, _ = api.create(key, body("2015550124", at=utc.isoformat() + "Z"))
    assert api.service.get(data["id"]).next_attempt_at == utc
    past = error_of(
        lambda: api.create(key, body("2015550125", at=(clock.now - timedelta(hours=1)).isoformat() + "Z"))
    )
    assert (past.status, past.extra["field"]) == (400, "at")


def test_a_key_limited_to_a_queue_gets_403_elsewhere(api: ApiService, store: Store, clock: Clock) -> None:
    keys = ApiKeys(store, clock)
    web, _ = keys.add("web", ("401",))
    crm, _ = keys.add("crm")
    forbidden = error_of(lambda: api.create(web, body(queue="400")))
    assert (forbidden.status, forbidden.code) == (403, "queue_forbidden")
    _, data, _ = api.create(crm, body(queue="400"))
    assert error_of(lambda: api.show(web, str(data["id"]))).status == 403
    assert error_of(lambda: api.cancel(web, str(data["id"]))).status == 403
    assert api.show(crm, str(data["id"]))[0] == 200
    assert error_of(lambda: api.show(crm, "999999")).status == 404
    assert error_of(lambda: api.show(crm, "abc")).status == 404


def test_rate_limits_are_shared_by_every_node_and_end_with_their_window(
    api: ApiService, dsn: Dsn, store: Store, clock: Clock
) -> None:
    """Two services on two connections (two serve nodes) count in the same rows."""
    key, _ = ApiKeys(store, clock).add("web", per_minute=3, per_number_hour=2)
    other_store = Store.connect(dsn)
    try:
        other = ApiService(CallbackService(other_store, clock))
        clock.now = clock.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        assert api.create(key, body("2015550123"))[0] == 201
        assert error_of(lambda: other.create(key, body("2015550123"))).status == 409  # counted too
        third = error_of(
            lambda: other.create(key, body("+12015550123"))
        )  # the same number, written another way
        assert (third.status, third.code, third.extra["scope"]) == (429, "rate_limited", "number")
        assert int(third.headers["Retry-After"]) > 0
        over = error_of(lambda: api.create(key, body("2015550130")))  # the key's 4th this minute
        assert (over.code, over.extra["scope"], over.headers["Retry-After"]) == ("rate_limited", "key", "60")
        clock.advance(60)  # the next minute: the key may ask again; the number's hour is not over
        assert api.create(key, body("2015550131"))[0] == 201
        assert error_of(lambda: api.create(key, body("2015550123"))).extra["scope"] == "number"
        clock.advance(3600)
        assert error_of(lambda: api.create(key, body("2015550123"))).code == "duplicate"
        assert api.purge() > 0  # ended windows are dropped
        now = int(epoch(clock.now))
        left = store._all("SELECT bucket, window_start FROM qcb_api_rates")
        assert all(start >= now - 3600 for _, start in left), left  # no window older than an hour
        assert ("n:+12015550123", now // 3600 * 3600) in left and ("k:1", now // 60 * 60) in left
    finally:
        other_store.close()


def test_the_same_idempotency_key_and_body_returns_the_first_answer(
    api: ApiService, store: Store, clock: Clock
) -> None:
    key, _ = ApiKeys(store, clock).add("web", per_minute=2)
    clock.now = clock.now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # all in one minute
    first = api.create(key, body(), "order-1")
    assert first[0] == 201
    again = api.create(key, b'{ "number": "2015550123", "queue": "400" }', "order-1")
    assert again[:2] == first[:2] and again[2]["Idempotent-Replayed"] == "true"
    assert again[2]["Location"] == first[2]["Location"]
    assert len(api.service.list()) == 1
    reused = error_of(lambda: api.create(key, body("2015550124"), "order-1"))
    assert (reused.status, reused.code) == (422, "idempotency_key_reused")
    # an error answer is kept too; replays are not counted against the rate limit
    refused = error_of(lambda: api.create(key, body("9005550123"), "order-2"))
    assert refused.status == 422
    for _ in range(3):
        replayed = error_of(lambda: api.create(key, body("9005550123"), "order-2"))
        assert replayed.body() == refused.body() and replayed.headers["Idempotent-Replayed"] == "true"
    # a rate-limited answer is not kept: the same key passes once the window is over
    assert error_of(lambda: api.create(key, body("2015550140"), "order-3")).status == 429
    clock.advance(60)
    assert api.create(key, body("2015550140"), "order-3")[0] == 201
    # after 24 hours the key is free again
    clock.advance(24 * 3600 + 1)
    assert api.create(key, body("2015550141"), "order-1")[0] == 201


def test_another_key_has_its_own_idempotency_keys(api: ApiService, store: Store, clock: Clock) -> None:
    keys = ApiKeys(store, clock)
    a, _ = keys.add("a")
    b, _ = keys.add("b")
    assert api.create(a, body(), "same")[0] == 201
    assert error_of(lambda: api.create(b, body(), "same")).code == "duplicate"  # not a's answer: b's own


def test_get_returns_the_attempts_and_delete_cancels(api: ApiService, store: Store, clock: Clock) -> None:
    key, _ = ApiKeys(store, clock).add("crm")
    _, data, _ = api.create(key, body(name="Ann"))
    [(request, attempt)] = api.service.claim("400", 1, "node", 60)
    status, shown, _ = api.show(key, str(request.id))
    assert status == 200 and shown["status"] == "dialing" and shown["name"] == "Ann"
    assert [a["attempt_no"] for a in shown["attempt_log"]] == [attempt.attempt_no]
    assert [e["event"] for e in shown["events"]][:1] == ["requested"]
    status, cancelled, _ = api.cancel(key, str(data["id"]))
    assert status == 200 and cancelled["status"] == "cancelled"
    assert cancelled["call"] == "pending_hangup"  # no AMI here: the dialer's tick hangs it up
    assert api.service.get(data["id"]).status is Status.CANCELLED
    again = error_of(lambda: api.cancel(key, str(data["id"])))
    assert (again.status, again.code, again.extra["status"]) == (409, "not_open", "cancelled")


def test_delete_of_a_dialling_request_hangs_up_its_call(api: ApiService, store: Store, clock: Clock) -> None:
    ended: list[str] = []

    def end_call(channel_id: str) -> str:
        ended.append(channel_id)
        return "hung up"

    woken: list[bool] = []
    hanging = ApiService(api.service, lambda: woken.append(True), end_call)
    key, _ = ApiKeys(store, clock).add("crm")
    _, data, _ = hanging.create(key, body())
    assert woken == [True]  # a new request wakes the dialer
    [(_, attempt)] = api.service.claim("400", 1, "node", 60)
    _, cancelled, _ = hanging.cancel(key, str(data["id"]))
    assert cancelled["call"] == "hung_up" and ended == [attempt.channel_id]


def test_the_name_is_kept_and_shown_by_request_show(api: ApiService, store: Store, clock: Clock) -> None:
    key, _ = ApiKeys(store, clock).add("crm")
    _, data, _ = api.create(key, body(name="Ann"))
    assert api.rows.request_origin(data["id"]) == ("crm", "Ann")
    unused = ApiKey(0, "x", "qcb_")
    assert unused.allows("400")


def test_hits_from_many_connections_at_once_are_all_counted(dsn: Dsn, clock: Clock) -> None:
    """A new window's first hits arrive together (a burst, several serve nodes): none is lost, none fails."""
    import threading

    from freepbx_callback.store_api import ApiStore

    stores = [Store.connect(dsn) for _ in range(12)]
    barrier = threading.Barrier(len(stores))
    seen: list[int] = []
    errors: list[BaseException] = []

    def hit(store: Store) -> None:
        barrier.wait()
        try:
            for window in range(5):
                seen.append(ApiStore(store).hit("k:1", window))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hit, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        for window in range(5):
            [(hits,)] = stores[0]._all("SELECT hits FROM qcb_api_rates WHERE window_start = %s", (window,))
            assert hits == len(stores)
        assert sorted(seen) == sorted(list(range(1, len(stores) + 1)) * 5)  # each hit saw its own count
    finally:
        for s in stores:
            s.close()
