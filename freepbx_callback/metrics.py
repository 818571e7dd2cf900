"""``GET /metrics`` on serve's HTTP server: Prometheus text format 0.0.4, written here (no dependency).

Two kinds of figures: the database's (requests by status and queue, attempts by outcome: read at each
scrape with two grouped queries over covering indexes, so every node reports the same totals) and this
process's (dialer tick durations, AMI errors, FastAGI calls served, HTTP answers by code, the journal
backlog in its spool folder). A scrape that cannot reach the database still answers, with
``qcb_database_up 0`` and the process's own figures.

No token by default (the server listens on loopback); ``serve --metrics-token`` (``$QCB_METRICS_TOKEN``)
asks scrapers for ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import gc
import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .api import ApiError
from .store import StoreError

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; a tick is a few queries and AMI actions, a slow one waits on the database or the manager.
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The figures only this process knows, updated from the dialer loop's thread."""

    def __init__(self, buckets: tuple[float, ...] = TICK_BUCKETS) -> None:
        self._lock = threading.Lock()
        self.buckets = buckets
        self.tick_buckets = [0] * len(buckets)
        self.tick_count = 0
        self.tick_sum = 0.0
        self.ami_errors: dict[str, int] = {}

    def observe_tick(self, seconds: float) -> None:
        with self._lock:
            self.tick_count += 1
            self.tick_sum += seconds
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    self.tick_buckets[i] += 1

    def ami_error(self, kind: str) -> None:
        """``kind``: ``connect`` (login or connection refused), ``lost`` (the connection dropped),
        ``tick`` (a tick found the manager unusable)."""
        with self._lock:
            self.ami_errors[kind] = self.ami_errors.get(kind, 0) + 1

    def snapshot(self) -> tuple[list[int], int, float, dict[str, int]]:
        with self._lock:
            return list(self.tick_buckets), self.tick_count, self.tick_sum, dict(self.ami_errors)


# --- the text format ------------------------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


class Exposition:
    """Families in the order they are added, each with its HELP and TYPE lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {_help(help_text)}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(
        self, name: str, help_text: str, bounds: Iterable[float], counts: list[int], total: int, sum_: float
    ) -> None:
        self.lines.append(f"# HELP {name} {_help(help_text)}")
        self.lines.append(f"# TYPE {name} histogram")
        for bound, count in zip(bounds, counts, strict=True):
            self.lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {count}')
        self.lines.append(f'{name}_bucket{{le="+Inf"}} {total}')
        self.lines.append(f"{name}_sum {_number(sum_)}")
        self.lines.append(f"{name}_count {total}")

    def text(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode()


# --- the scrape -----------------------------------------------------------------------------------------


@dataclass
class Sources:
    """Where a scrape reads from; any but the first three may be missing (``serve --no-http`` has no
    answers to count)."""

    metrics: Metrics
    checkout: Callable[[], Any]  # a CallbackService (its store), given back after the two queries
    give_back: Callable[[Any, bool], None]
    journal: Any = None  # a Journal
    fastagi_calls: Callable[[], int] | None = None
    http_responses: Callable[[], dict[int, int]] | None = None


def render(sources: Sources) -> bytes:
    out = Exposition()
    requests: list[tuple[str, str, int]] | None = None
    attempts: list[tuple[str, int]] | None = None
    try:
        svc = sources.checkout()
    except StoreError as exc:
        log.warning("metrics: database unavailable: %s", exc)
        svc = None
    if svc is not None:
        clean = False
        try:
            requests, attempts = svc.store.request_counts(), svc.store.attempt_counts()
            clean = True
        except StoreError as exc:
            log.warning("metrics: database query failed: %s", exc)
        finally:
            sources.give_back(svc, clean)
    out.family(
        "qcb_database_up",
        "gauge",
        "1 when this scrape could read the database, else 0 (the database figures are then missing).",
        [({}, 1 if requests is not None else 0)],
    )
    if requests is not None and attempts is not None:
        out.family(
            "qcb_requests",
            "gauge",
            "Callback requests in the database by status and queue.",
            [({"status": s, "queue": q}, n) for s, q, n in requests],
        )
        out.family(
            "qcb_attempts_total",
            "counter",
            "Ended callback attempts in the database by outcome.",
            [({"outcome": o}, n) for o, n in attempts],
        )
    buckets, count, total, ami_errors = sources.metrics.snapshot()
    out.histogram(
        "qcb_dialer_tick_seconds",
        "Duration of this process's dialer ticks.",
        sources.metrics.buckets,
        buckets,
        count,
        total,
    )
    out.family(
        "qcb_ami_errors_total",
        "counter",
        "AMI errors seen by this process's dialer loop (connect: refused or login failed; lost: the "
        "connection dropped; tick: a tick found the manager unusable).",
        [({"kind": k}, ami_errors.get(k, 0)) for k in sorted({"connect", "lost", "tick", *ami_errors})],
    )
    if sources.journal is not None:
        try:
            waiting = sources.journal.waiting()
        except OSError as exc:
            log.warning("metrics: journal folder unreadable: %s", exc)
            waiting = None
        if waiting is not None:
            kinds = {"request": 0, "leg": 0, "unreadable": 0}
            for item in waiting:
                kinds[item.kind] = kinds.get(item.kind, 0) + 1
            out.family(
                "qcb_journal_backlog",
                "gauge",
                "Entries waiting in this node's journal (spool) for the database: requests, call "
                "outcomes (leg), unreadable files.",
                [({"kind": k}, n) for k, n in kinds.items()],
            )
    if sources.fastagi_calls is not None:
        out.family(
            "qcb_fastagi_calls_total",
            "counter",
            "FastAGI calls served by this process.",
            [({}, sources.fastagi_calls())],
        )
    if sources.http_responses is not None:
        out.family(
            "qcb_http_requests_total",
            "counter",
            "HTTP requests answered by this process, by status code.",
            [({"code": str(code)}, n) for code, n in sorted(sources.http_responses().items())],
        )
    out.family(
        "python_gc_collections_total",
        "counter",
        "Collections of Python's cycle collector in this process, by generation.",
        [({"generation": str(g)}, stats["collections"]) for g, stats in enumerate(gc.get_stats())],
    )
    out.family(
        "python_gc_frozen_objects",
        "gauge",
        "Objects serve froze once started (gc.freeze): the full collections never scan them.",
        [({}, gc.get_freeze_count())],
    )
    return out.text()


def route(sources: Sources, token: str | None) -> Callable[[Any], tuple[int, bytes, dict[str, str]]]:
    """The ``GET /metrics`` handler for :meth:`~freepbx_callback.http_api.ApiServer.add_route`."""

    def get_metrics(call: Any) -> tuple[int, bytes, dict[str, str]]:
        if token:
            given = call.headers.get("Authorization") or ""
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                raise ApiError(
                    401,
                    "unauthorized",
                    "this server's metrics need Authorization: Bearer <metrics token>",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        return 200, render(sources), {"Content-Type": CONTENT_TYPE}

    return get_metrics


def install(http: Any, metrics: Metrics, journal: Any, fastagi: Any, token: str | None) -> None:
    """Add ``GET /metrics`` to serve's HTTP server ``http`` (an :class:`~.http_api.ApiServer`)."""
    sources = Sources(
        metrics,
        http.checkout,
        http.give_back,
        journal,
        lambda: int(fastagi.calls),
        http.response_counts,
    )
    http.add_route("GET", "/metrics", route(sources, token), auth=False)


def observe(loop: Any, metrics: Metrics) -> Any:
    """Let ``metrics`` hear a :class:`~.loop.DialerLoop`'s ticks and AMI errors; returns the loop."""
    loop.on_tick, loop.on_ami_error = metrics.observe_tick, metrics.ami_error
    return loop
