"""Prometheus metrics of one app (its own registry, so several apps in one process do not collide)."""

from __future__ import annotations

import time
from typing import Callable, Container

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes and friends
        self.requests = Counter("zeroxqa_requests", "HTTP requests", ["endpoint", "domain", "status"], registry=self.registry)
        self.latency = Histogram("zeroxqa_request_seconds", "Time to answer a request", ["endpoint", "domain"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("zeroxqa_requests_in_flight", "Requests admitted and not finished", registry=self.registry)
        self.rejected = Counter("zeroxqa_requests_rejected", "Requests refused with 503 (queue full)", registry=self.registry)
        self.swaps = Counter("zeroxqa_model_swaps", "Models or indexes loaded while serving", ["domain"], registry=self.registry)
        self.load_failures = Counter("zeroxqa_model_load_failures", "Promoted models or indexes that failed to load",
                                     ["domain"], registry=self.registry)


class Measured:
    """ASGI middleware: count every HTTP request by endpoint, domain and status, and time the API's. Only
    registered domains (`known()`) become label values; any other name is counted as "other", so requests
    naming made-up domains cannot grow the metrics without bound."""

    def __init__(self, app, metrics: ServeMetrics, known: Callable[[], Container[str]]):
        self.app, self.metrics, self.known = app, metrics, known

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t, status = time.perf_counter(), [500]

        async def recorded(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recorded)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            domain = scope.get("zeroxqa.domain", "")
            domain = domain if domain in self.known() else ("other" if domain else "")
            self.metrics.requests.labels(endpoint, domain, str(status[0])).inc()
            if endpoint.startswith("/v1/"):
                self.metrics.latency.labels(endpoint, domain).observe(time.perf_counter() - t)
