"""Prometheus metrics (`GET /metrics`), through prometheus-client.

Several worker processes (the production server, gateway/server.py) share one view through prometheus-client's
multiprocess mode: the server sets PROMETHEUS_MULTIPROC_DIR before the workers start, each worker writes its
figures there, and whichever worker answers /metrics adds them up. One process (tests, `make serve`): the
default registry. What lives in the database (the check-in queue, the indexer) is read at scrape time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "gateway_requests_total",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "gateway_request_seconds",
    "Time from admission to the end of the answer, by route template",
    ["route"],
    buckets=_BUCKETS,
)
LANE_LIMIT = Gauge(
    "gateway_lane_limit", "Requests a lane runs at once (per process)", ["lane"], multiprocess_mode="livesum"
)
LANE_ACTIVE = Gauge(
    "gateway_lane_active", "Requests running in a lane", ["lane"], multiprocess_mode="livesum"
)
LANE_QUEUED = Gauge(
    "gateway_lane_queued", "Requests waiting for a slot in a lane", ["lane"], multiprocess_mode="livesum"
)
QUEUE_WAIT = Histogram(
    "gateway_lane_wait_seconds", "Time a request waited for its slot", ["lane"], buckets=_BUCKETS
)
SHED = Counter(
    "gateway_shed_total", "Requests answered 503 by admission control, by lane and reason", ["lane", "reason"]
)
POOL_IN_USE = Gauge(
    "gateway_db_connections_in_use",
    "Database connections checked out, by engine",
    ["engine"],
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "gateway_db_pool_size", "Database connections an engine may hold", ["engine"], multiprocess_mode="livesum"
)


class _Live(Collector):
    """Gauges read at scrape time from `read()` -> {(name, help): value or None}."""

    def __init__(self, read: Callable[[], dict[tuple[str, str], float | None]]):
        self.read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for (name, text), value in self.read().items():
            if value is not None:
                yield GaugeMetricFamily(name, text, value=value)


def render(read_live: Callable[[], dict[tuple[str, str], float | None]] | None = None) -> tuple[bytes, str]:
    """The exposition text and its content type: this process's (or every worker's) metrics, then the live
    ones."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    text = generate_latest(registry)
    if read_live is not None:
        live = CollectorRegistry()
        live.register(_Live(read_live))
        text += generate_latest(live)
    return text, CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """For the server's supervisor: a worker that exited stops counting in the live gauges."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
