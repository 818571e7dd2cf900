"""The Prometheus text that ``GET /metrics`` writes reads back, strictly, as what was put in: HELP and TYPE
before the samples, escaped labels, a cumulative histogram ending at +Inf."""

from __future__ import annotations

from freepbx_callback.metrics import Exposition, Metrics
from tests.testbed.prometheus import parse, value


def test_families_labels_and_a_histogram_read_back() -> None:
    figures = Metrics(buckets=(0.1, 1.0))
    for seconds in (0.05, 0.5, 0.5, 3.0):
        figures.observe_tick(seconds)
    figures.ami_error("connect")
    figures.ami_error("connect")
    out = Exposition()
    out.family(
        "qcb_requests",
        "gauge",
        "Requests by status and queue.",
        [({"status": "pending", "queue": 'sales "A"\\n'}, 3), ({"status": "done", "queue": "400"}, 1)],
    )
    buckets, count, total, errors = figures.snapshot()
    out.histogram("qcb_dialer_tick_seconds", "Tick durations.", figures.buckets, buckets, count, total)
    out.family(
        "qcb_ami_errors_total", "counter", "AMI errors.", [({"kind": k}, n) for k, n in errors.items()]
    )
    families = parse(out.text().decode())
    assert families["qcb_requests"].type == "gauge"
    assert value(families, "qcb_requests", status="pending", queue='sales "A"\\n') == 3
    assert value(families, "qcb_requests", status="done", queue="400") == 1
    histogram = families["qcb_dialer_tick_seconds"]
    assert histogram.type == "histogram"
    assert value(families, "qcb_dialer_tick_seconds_bucket", le="0.1") == 1
    assert value(families, "qcb_dialer_tick_seconds_bucket", le="1") == 3
    assert value(families, "qcb_dialer_tick_seconds_bucket", le="+Inf") == 4
    assert value(families, "qcb_dialer_tick_seconds_count") == 4
    assert value(families, "qcb_dialer_tick_seconds_sum") == 4.05
    assert value(families, "qcb_ami_errors_total", kind="connect") == 2
