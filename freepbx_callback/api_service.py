"""What the HTTP API does, over the one service layer: a callback request through the same policy as a
caller's key press (``CallbackService.request``, source ``api``), read back, cancelled; plus the API's own
rules: keys and their queues, rate limits, idempotent retries.

Each method returns ``(status, body, headers)`` or raises :class:`~.api.ApiError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from . import hours, numbers
from .api import ApiError, CallbackBody, body_hash, parse_callback, parse_id, refusal
from .apikeys import KEY_WINDOW, NUMBER_WINDOW, ApiKey, ApiKeys, bearer_token, epoch, windows
from .dialing import NotFound
from .models import Attempt, Request
from .policy import PolicyError
from .service import CallbackService

Answer = tuple[int, dict[str, Any], dict[str, str]]
IDEMPOTENCY_TTL = timedelta(hours=24)
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="freepbx-callback"'}
# What the dialer's hang-up said (dialer.end_cancelled_call), as the API reports it.
CALL_ENDED = {
    "hung up": "hung_up",
    "gone": "ended",
    "connected": "connected",  # the customer talks to an agent: that call is left up
}


def request_detail(
    request: Request, attempts: list[Attempt], events: list[tuple[datetime, str, str]]
) -> dict[str, Any]:
    """One request with its attempts and history (what ``request show --json`` prints)."""
    return request.to_dict() | {
        "attempt_log": [a.to_dict() for a in attempts],
        "events": [
            {"at": a.isoformat(timespec="milliseconds") + "Z", "event": e, "detail": d} for a, e, d in events
        ],
    }


class ApiService:
    def __init__(
        self,
        service: CallbackService,
        on_created: Callable[[], None] | None = None,
        end_call: Callable[[str], str] | None = None,
    ) -> None:
        """``on_created``: wakes the dialer; ``end_call(channel_id)``: hangs up a cancelled request's
        call through AMI (dialer.end_cancelled_call's answer), None where this process has no AMI."""
        self.service, self.on_created, self.end_call = service, on_created, end_call
        self.keys = ApiKeys(service.store, service.clock)
        self.rows = self.keys.rows

    # --- who asks -----------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> ApiKey:
        token = bearer_token(authorization)
        if token is None:
            raise ApiError(
                401,
                "unauthorized",
                "an Authorization: Bearer <token> header is required",
                headers=UNAUTHORIZED,
            )
        key = self.keys.authenticate(token)
        if key is None:
            raise ApiError(401, "invalid_token", "the token is unknown or revoked", headers=UNAUTHORIZED)
        return key

    @staticmethod
    def _allowed(key: ApiKey, queue: str) -> None:
        if not key.allows(queue):
            raise ApiError(
                403, "queue_forbidden", f"key {key.name} may not use queue {queue}", {"queue": queue}
            )

    # --- POST /v1/callbacks -------------------------------------------------------------------------

    def create(self, key: ApiKey, raw: bytes, idempotency_key: str | None = None) -> Answer:
        body = parse_callback(raw)
        self._allowed(key, body.queue)
        if idempotency_key is not None:
            stored = self._idempotent(key, idempotency_key, body_hash(raw))
            if stored is not None:
                return stored
        try:
            answer = self._create(key, body)
        except ApiError as exc:
            if idempotency_key is not None:
                self._keep(key, idempotency_key, (exc.status, exc.body(), exc.headers))
            raise
        except BaseException:
            if idempotency_key is not None:
                self.rows.drop_idempotency(key.id, idempotency_key)
            raise
        if idempotency_key is not None:
            self._keep(key, idempotency_key, answer)
        return answer

    def _keep(self, key: ApiKey, idempotency_key: str, answer: Answer) -> None:
        status, data, headers = answer
        if status == 429:  # not an answer to keep: the same request may pass later
            self.rows.drop_idempotency(key.id, idempotency_key)
        else:
            stored = json.dumps({"body": data, "headers": headers}, default=str)
            self.rows.finish_idempotency(key.id, idempotency_key, status, stored)

    def _idempotent(self, key: ApiKey, idempotency_key: str, digest: str) -> Answer | None:
        """None: this request runs (the key is now taken); else the first answer given to it."""
        now = self.service.clock()
        for _ in range(3):
            if self.rows.claim_idempotency(key.id, idempotency_key, digest, now):
                return None
            stored = self.rows.idempotency(key.id, idempotency_key)
            if stored is None:
                continue  # dropped meanwhile
            first_digest, created, status, response = stored
            if created < now - IDEMPOTENCY_TTL:
                self.rows.drop_idempotency(key.id, idempotency_key, older_than=now - IDEMPOTENCY_TTL)
                continue
            if first_digest != digest:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another body in the last 24 hours",
                )
            if status is None or response is None:
                raise ApiError(
                    409,
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still running",
                    headers={"Retry-After": "1"},
                )
            first = json.loads(response)
            headers = {**first["headers"], "Idempotent-Replayed": "true"}
            if status >= 400:
                error = dict(first["body"]["error"])
                code, message = error.pop("code"), error.pop("message")
                raise ApiError(status, code, message, error, headers)
            return status, first["body"], headers
        raise ApiError(
            409, "idempotency_in_progress", "this Idempotency-Key is busy", headers={"Retry-After": "1"}
        )

    def _create(self, key: ApiKey, body: CallbackBody) -> Answer:
        settings = self.service.settings(body.queue)
        limited = self.keys.count(windows(key, self._number_key(body.number, settings.region)))
        if limited is not None:
            per = "minute" if limited.window.seconds == KEY_WINDOW else "hour"
            what = f"key {key.name}" if limited.window.bucket.startswith("k:") else "this number"
            raise ApiError(
                429,
                "rate_limited",
                f"{what} may make {limited.window.limit} request(s) per {per}",
                {
                    "limit": limited.window.limit,
                    "window_seconds": limited.window.seconds,
                    "scope": "key" if what.startswith("key") else "number",
                },
                {"Retry-After": str(limited.retry_after)},
            )
        when: str | datetime = "asap"
        if body.at is not None:
            try:
                when = hours.utc_of(body.at, settings.timezone)
            except (ValueError, OverflowError) as exc:
                raise ApiError(400, "invalid_field", f"'at': {exc}", {"field": "at"}) from None
            if when < self.service.clock() - timedelta(seconds=60):
                raise ApiError(400, "invalid_field", "'at' is in the past", {"field": "at"})
        result = self.service.request(body.queue, body.number, source="api", when=when)
        if result.kind != "created" or result.request is None:
            existing = result.request.id if result.request is not None else None
            raise refusal(result.kind, result.message, result.reason, existing)
        request = result.request
        self.rows.note_request(request.id, key.name, body.name)
        if self.on_created is not None:
            self.on_created()
        data = self._detail(request)
        return 201, data, {"Location": f"/v1/callbacks/{request.id}"}

    @staticmethod
    def _number_key(raw: str, region: str) -> str:
        """One number however it is written (its E.164 form), for the per-number limit."""
        try:
            number = numbers.parse(raw, region)
        except numbers.InvalidNumber:
            return raw.strip()
        return number.e164 or number.dial

    # --- GET and DELETE /v1/callbacks/{id} ----------------------------------------------------------

    def _get(self, key: ApiKey, text_id: str) -> Request:
        request_id = parse_id(text_id)
        try:
            request = self.service.get(request_id)
        except NotFound:
            raise ApiError(404, "not_found", f"no callback {request_id}") from None
        self._allowed(key, request.queue)
        return request

    def _detail(self, request: Request) -> dict[str, Any]:
        attempts, events = self.service.history(request.id)
        origin = self.rows.request_origin(request.id)
        return request_detail(request, attempts, events) | {"name": origin[1] if origin else None}

    def show(self, key: ApiKey, text_id: str) -> Answer:
        return 200, self._detail(self._get(key, text_id)), {}

    def cancel(self, key: ApiKey, text_id: str) -> Answer:
        """Cancel an open request; a call under way is hung up (the dialer's next tick does it where
        this process cannot reach AMI)."""
        request = self._get(key, text_id)
        if not request.status.is_open:
            raise ApiError(
                409,
                "not_open",
                f"callback {request.id} is {request.status.value}",
                {"status": request.status.value},
            )
        try:
            cancelled = self.service.cancel(request.id)
        except PolicyError:  # closed meanwhile
            now = self.service.get(request.id).status.value
            raise ApiError(409, "not_open", f"callback {request.id} is {now}", {"status": now}) from None
        call = self._end_call(request.id)
        if call is not None and self.on_created is not None:
            self.on_created()  # the dialer's tick hangs up what could not be hung up here
        return 200, self._detail(cancelled) | {"call": call}, {}

    def _end_call(self, request_id: int) -> str | None:
        from .ami import AmiError

        attempt = self.service.open_attempt(request_id)
        if attempt is None or not attempt.channel_id:
            return None
        if self.end_call is None:
            return "pending_hangup"
        try:
            return CALL_ENDED.get(self.end_call(attempt.channel_id), "pending_hangup")
        except AmiError:
            return "pending_hangup"

    # --- housekeeping -------------------------------------------------------------------------------

    def purge(self) -> int:
        """Forget ended rate windows and idempotent answers older than a day."""
        now = self.service.clock()
        return self.rows.purge(int(epoch(now)) - max(KEY_WINDOW, NUMBER_WINDOW), now - IDEMPOTENCY_TTL)
