"""Prometheus metrics, one registry per app (tests and embedders make many apps in one process).

Events are counted as they happen: a request finishing (by route, never by raw path, so a crawler
cannot create a label per URL) and a render's stage times. Levels that already live in the service's
objects (cache size, hits, images in flight, requests shed) are read at scrape time by a collector,
so a request pays nothing for them and they can never drift from the truth.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

# Renders of thumbnails take milliseconds, big scans seconds: buckets cover 1 ms .. 10 s.
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"  # the endpoint label of requests that matched no route (404, 405)


class Metrics:
    def __init__(self, service: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("imgserve_requests", "HTTP requests answered, by route and status",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("imgserve_request_duration_seconds", "Time to answer a request, by route and status",
                                 ["endpoint", "status"], registry=self.registry)
        self.stages = Histogram("imgserve_render_stage_seconds", "Time of each render stage (decode, process, encode)",
                                ["stage"], buckets=STAGE_BUCKETS, registry=self.registry)
        self.registry.register(ServiceCollector(service))
        ProcessCollector(registry=self.registry)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, looked up once: labels() validates and locks on every call. The label
        sets are routes x statuses and stages, a few dozen."""
        child = self._children.get((metric, values))
        if child is None:
            child = self._children[metric, values] = metric.labels(*values)
        return child

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self._child(self.requests, endpoint, str(status)).inc()
        self._child(self.latency, endpoint, str(status)).observe(seconds)

    def rendered(self, seconds: Mapping[str, float]) -> None:
        """A render that really ran (not a cache hit, not a waiter on someone else's render)."""
        for stage, value in seconds.items():
            self._child(self.stages, stage).observe(value)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The classic text format (0.0.4), or OpenMetrics when the scraper asks for it."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class ServiceCollector:
    """The result cache and admission, read live at scrape time."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        cache, admission = self.service.cache, self.service.admission
        for family, name, help, value in (
            (CounterMetricFamily, "imgserve_result_cache_hits", "Results served from the in-memory cache",
             cache.hits),
            (CounterMetricFamily, "imgserve_result_cache_misses", "Results not in the cache (rendered, or waited for)",
             cache.misses),
            (GaugeMetricFamily, "imgserve_result_cache_bytes", "Bytes the cached results weigh", cache.bytes),
            (GaugeMetricFamily, "imgserve_result_cache_limit_bytes", "The cache budget (IMGSERVE_CACHE_BYTES)",
             cache.max_bytes),
            (GaugeMetricFamily, "imgserve_result_cache_entries", "Results in the cache", len(cache)),
            (GaugeMetricFamily, "imgserve_images_in_flight", "Images being decoded and processed now",
             admission.in_flight),
            (GaugeMetricFamily, "imgserve_images_in_flight_limit", "Processing slots (IMGSERVE_MAX_IN_FLIGHT)",
             admission.limit),
            (GaugeMetricFamily, "imgserve_images_waiting", "Requests waiting for a processing slot",
             admission.waiting),
            (GaugeMetricFamily, "imgserve_images_waiting_limit", "Queue places (IMGSERVE_MAX_QUEUE)", admission.queue),
            (GaugeMetricFamily, "imgserve_image_memory_reserved_bytes", "Memory reserved now: by renders, and by "
             "response bodies being sent", admission.reserved),
            (GaugeMetricFamily, "imgserve_response_memory_held_bytes", "Response bodies being sent, counted once "
             "each (part of the reserved memory)", admission.held),
            (GaugeMetricFamily, "imgserve_image_memory_limit_bytes", "The render memory budget (IMGSERVE_MAX_MEMORY)",
             admission.memory),
            (CounterMetricFamily, "imgserve_requests_shed", "Renders refused with 503: slots and queue were full",
             admission.shed),
            (CounterMetricFamily, "imgserve_requests_abandoned", "Queued renders dropped: their client hung up",
             admission.abandoned),
        ):
            yield family(name, help, value=value)
