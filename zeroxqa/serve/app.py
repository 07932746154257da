"""The FastAPI app: `POST /v1/ask` (retrieve + read within a domain), `POST /v1/read` (a paragraph given),
`GET /v1/domains`, `GET /healthz`, `GET /metrics` (Prometheus), the page at `/`, OpenAPI at `/docs`.

Readers run in worker threads, at most `workers` at once; up to `max_queue` more requests wait, and beyond
that a request gets 503 at once, so a burst cannot pile up work and memory.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and the dependency
# `admitted` is local to `create_app`, so they must be evaluated where they are written
import threading
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Callable

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zeroxqa.config import ServeConfig
from zeroxqa.retrieval.ask import DomainAnswer, ask, read_paragraph
from zeroxqa.serve.metrics import ServeMetrics
from zeroxqa.serve.schemas import (AskRequest, AskResponse, DomainInfo, Health, Paragraph, ReadRequest, ReadResponse,
                                   Timings)
from zeroxqa.serve.store import ModelStore, Served


class Admission:
    """At most `workers` requests computing and `max_queue` waiting; the rest are turned away (503)."""

    def __init__(self, workers: int, max_queue: int):
        self.workers, self.limit = workers, workers + max_queue
        self.admitted = 0
        self._lock = threading.Lock()
        self.limiter: anyio.CapacityLimiter | None = None  # made inside the event loop

    def enter(self) -> bool:
        with self._lock:
            if self.admitted >= self.limit:
                return False
            self.admitted += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.admitted -= 1

    async def run(self, fn: Callable, *args):
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.workers)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)


def create_app(cfg: ServeConfig, store: ModelStore | None = None) -> FastAPI:
    store = store or ModelStore(cfg)
    metrics = ServeMetrics()
    admission = Admission(cfg.workers, cfg.max_queue)
    store.on_swap = lambda domain: metrics.swaps.labels(domain).inc()
    store.on_failure = lambda domain: metrics.load_failures.labels(domain).inc()
    max_body = 4 * (cfg.max_question_chars + cfg.max_context_chars) + 4096  # UTF-8 and JSON escapes

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await anyio.to_thread.run_sync(store.start)
        yield
        store.stop()

    app = FastAPI(title="ZeroxQA", version="1", lifespan=lifespan,
                  description="Extractive question answering over many domains: retrieve the paragraph, read the span.")
    app.state.store, app.state.metrics, app.state.admission = store, metrics, admission

    @app.middleware("http")
    async def measure(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            return JSONResponse({"detail": f"request body of {length} bytes; the limit is {max_body}"}, status_code=413)
        t = time.perf_counter()
        response = await call_next(request)
        endpoint = request.scope.get("route").path if request.scope.get("route") else "other"
        domain = getattr(request.state, "domain", "")
        metrics.requests.labels(endpoint, domain, str(response.status_code)).inc()
        if endpoint.startswith("/v1/"):
            metrics.latency.labels(endpoint, domain).observe(time.perf_counter() - t)
        return response

    def admitted():
        """A dependency: a place among the running or waiting requests, or 503."""
        if not admission.enter():
            metrics.rejected.inc()
            raise HTTPException(503, f"busy: {admission.limit} requests running or queued; retry shortly",
                                headers={"Retry-After": "1"})
        metrics.in_flight.inc()
        try:
            yield admission
        finally:
            metrics.in_flight.dec()
            admission.leave()

    def too_long(what: str, text: str, limit: int) -> None:
        if len(text) > limit:
            raise HTTPException(413, f"the {what} has {len(text)} characters; the limit is {limit}")

    def served(domain: str) -> Served:
        found = store.get(domain)
        if found is None:
            known = sorted(store.domains())
            raise HTTPException(404, {"message": f"unknown domain {domain!r}", "known": known})
        return found

    @app.post("/v1/ask", response_model=AskResponse, summary="Answer a question of a domain (retrieve + read)")
    async def ask_domain(body: AskRequest, request: Request, slot: Annotated[Admission, Depends(admitted)]) -> AskResponse:
        request.state.domain = body.domain
        too_long("question", body.question, cfg.max_question_chars)
        if body.top_k is not None and body.top_k > cfg.max_top_k:
            raise HTTPException(422, f"top_k {body.top_k} is above the limit {cfg.max_top_k}")
        target = served(body.domain)
        if target.index is None:
            raise HTTPException(409, f"domain {body.domain!r} has no retrieval index yet (run the retrain or onboard flow); "
                                     "POST /v1/read answers from a paragraph you give")
        t = time.perf_counter()
        result: DomainAnswer = await slot.run(ask, target.index, target.engine, body.question, body.top_k)
        return AskResponse(
            domain=body.domain, question=body.question, answer=result.answer or None, context_id=result.context_id,
            start=result.start if result.answered else None, end=result.end if result.answered else None,
            confidence=result.confidence, model=target.entry.model, variant=target.entry.variant,
            paragraphs=[Paragraph(context_id=p.context_id, text=p.context, retrieval_score=p.retrieval_score,
                                  answer=p.answer or None, start=p.start if p.answer else None,
                                  end=p.end if p.answer else None, confidence=p.confidence) for p in result.paragraphs],
            timings=Timings(retrieve_ms=result.retrieve_ms, read_ms=result.read_ms, total_ms=(time.perf_counter() - t) * 1e3))

    @app.post("/v1/read", response_model=ReadResponse, summary="Read one paragraph given with the question")
    async def read(body: ReadRequest, slot: Annotated[Admission, Depends(admitted)]) -> ReadResponse:
        too_long("question", body.question, cfg.max_question_chars)
        too_long("context", body.context, cfg.max_context_chars)
        engine = store.reader
        t = time.perf_counter()
        found = await slot.run(read_paragraph, engine, body.question, body.context)
        read_ms = (time.perf_counter() - t) * 1e3  # a paragraph given: reading is the whole of it
        return ReadResponse(question=body.question, answer=found.answer or None, start=found.start if found.answer else None,
                            end=found.end if found.answer else None, confidence=found.confidence, model=cfg.reader,
                            timings=Timings(read_ms=read_ms, total_ms=read_ms))

    @app.get("/v1/domains", response_model=list[DomainInfo], summary="The served domains and their models")
    def domains() -> list[DomainInfo]:
        return [DomainInfo(domain=d, model=s.entry.model, variant=s.entry.variant, f1=s.entry.f1,
                           promoted_at=s.entry.promoted_at, paragraphs=len(s.index) if s.index else None,
                           note=s.entry.note, error=store.errors.get(d)) for d, s in store.domains().items()]

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        return Health(status="ok" if store.reader is not None else "loading", domains=len(store.domains()),
                      errors=dict(store.errors))

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(files("zeroxqa.serve").joinpath("page.html").read_text(encoding="utf-8"))

    return app
