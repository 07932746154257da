"""The FastAPI app: `POST /v1/ask` (retrieve + read within a domain), `POST /v1/read` (a paragraph given),
`GET /v1/domains`, `GET /healthz`, `GET /metrics` (Prometheus), the page at `/`, OpenAPI at `/docs`.

Readers run in worker threads, at most `workers` at once, with no lock between them (each thread has its
own tokenizer; onnxruntime sessions are shared); up to `max_queue` more requests wait, and beyond that a
request gets 503 at once, so a burst cannot pile up work and memory. What a request may cost is bounded
before it is parsed: its body is counted as it arrives (413 past `max_body_bytes`, chunked or not) and
must arrive within `body_timeout_s` (408); only registered domains become metric labels.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and the dependency
# `admitted` is local to `create_app`, so they must be evaluated where they are written
import json
import math
import os
import threading
import time
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Callable

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zeroxqa.config import ServeConfig
from zeroxqa.retrieval.ask import DomainAnswer, ask, read_paragraph
from zeroxqa.serve.limits import BodyLimit, shown
from zeroxqa.serve.metrics import Measured, ServeMetrics
from zeroxqa.serve.schemas import (AskRequest, AskResponse, DomainInfo, Health, Paragraph, ReadRequest, ReadResponse,
                                   Timings)
from zeroxqa.serve.store import ModelStore

KNOWN_SHOWN = 20  # domain names listed in a 404


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


def _safe(value):
    """A validation error's input as JSON can carry it: non-finite numbers and long strings shortened."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return shown(repr(value))


def create_app(cfg: ServeConfig, store: ModelStore | None = None) -> FastAPI:
    store = store or ModelStore(cfg)
    metrics = ServeMetrics()
    admission = Admission(cfg.workers, cfg.max_queue)
    store.on_swap = lambda domain: metrics.swaps.labels(domain).inc()
    store.on_failure = lambda domain: metrics.load_failures.labels(domain).inc()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await anyio.to_thread.run_sync(store.start)
        yield
        store.stop()

    app = FastAPI(title="ZeroxQA", version="1", lifespan=lifespan,
                  description="Extractive question answering over many domains: retrieve the paragraph, read the span.")
    app.state.store, app.state.metrics, app.state.admission = store, metrics, admission

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each field, its input made safe to echo (FastAPI's own handler fails on `1e400`)."""
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", ""),
                   **({"input": _safe(e["input"])} if "input" in e else {})} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    # ASGI middlewares, not `@app.middleware("http")`: that one runs each request through an extra task group
    # and body stream, and costs milliseconds per request. BodyLimit is inside Measured, so its errors reach
    # FastAPI's body reading directly.
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes, timeout_s=cfg.body_timeout_s)
    app.add_middleware(Measured, metrics=metrics, known=lambda: store.catalog)

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

    def unknown(domain: str) -> HTTPException:
        known = sorted(store.catalog)
        return HTTPException(404, {"message": f"unknown domain {shown(domain)!r}", "known": known[:KNOWN_SHOWN],
                                   "registered": len(known)})


    @app.post("/v1/ask", response_model=AskResponse, summary="Answer a question of a domain (retrieve + read)")
    async def ask_domain(body: AskRequest, request: Request, slot: Annotated[Admission, Depends(admitted)]) -> AskResponse:
        request.scope["zeroxqa.domain"] = body.domain
        too_long("question", body.question, cfg.max_question_chars)
        if body.top_k is not None and body.top_k > cfg.max_top_k:
            raise HTTPException(422, f"top_k {body.top_k} is above the limit {cfg.max_top_k}")
        if body.domain not in store.catalog:
            raise unknown(body.domain)
        t = time.perf_counter()
        try:  # loading a domain happens outside the readers' places, so it never holds up other requests
            target = await anyio.to_thread.run_sync(store.get, body.domain)
        except Exception as e:  # noqa: BLE001  (the domain's model or index failed to load)
            store.errors[body.domain] = f"{type(e).__name__}: {e}"
            raise HTTPException(503, f"domain {body.domain!r} could not be loaded: {type(e).__name__}: {shown(str(e), 300)}") from None
        if target is None:
            raise unknown(body.domain)
        if target.index is None:
            raise HTTPException(409, f"domain {body.domain!r} has no retrieval index yet (run the retrain or onboard flow, "
                                     "or `zeroxqa register`); POST /v1/read answers from a paragraph you give")
        result: DomainAnswer = await slot.run(ask, target.index, target.engine, body.question, body.top_k)
        return AskResponse(
            domain=body.domain, question=body.question, answer=result.answer or None, context_id=result.context_id,
            start=result.start if result.answered else None, end=result.end if result.answered else None,
            confidence=result.confidence, model=target.entry.model, variant=target.entry.variant,
            paragraphs=[Paragraph(context_id=p.context_id, text=p.context, retrieval_score=p.retrieval_score,
                                  similarity=p.similarity, bm25=p.bm25, answer=p.answer or None,
                                  start=p.start if p.answer else None, end=p.end if p.answer else None,
                                  confidence=p.confidence) for p in result.paragraphs],
            timings=Timings(retrieve_ms=result.retrieve_ms, read_ms=result.read_ms, total_ms=(time.perf_counter() - t) * 1e3))

    @app.post("/v1/read", response_model=ReadResponse, summary="Read one paragraph given with the question")
    async def read(body: ReadRequest, slot: Annotated[Admission, Depends(admitted)]) -> ReadResponse:
        too_long("question", body.question, cfg.max_question_chars)
        too_long("context", body.context, cfg.max_context_chars)
        engine = store.reader
        if engine is None:
            raise HTTPException(503, "the reader is still loading; retry shortly", headers={"Retry-After": "1"})
        t = time.perf_counter()
        found = await slot.run(read_paragraph, engine, body.question, body.context)
        read_ms = (time.perf_counter() - t) * 1e3  # a paragraph given: reading is the whole of it
        return ReadResponse(question=body.question, answer=found.answer or None, start=found.start if found.answer else None,
                            end=found.end if found.answer else None, confidence=found.confidence, model=cfg.reader,
                            timings=Timings(read_ms=read_ms, total_ms=read_ms))

    @app.get("/v1/domains", response_model=list[DomainInfo], summary="The registered domains, their models, and which are loaded")
    def domains() -> list[DomainInfo]:
        out = []
        for d, entry in store.catalog.items():
            served = store.if_loaded(d)
            shown_entry = served.entry if served else entry
            out.append(DomainInfo(domain=d, model=shown_entry.model, variant=shown_entry.variant, f1=shown_entry.f1,
                                  promoted_at=shown_entry.promoted_at, indexed=entry.index is not None, loaded=served is not None,
                                  paragraphs=len(served.index) if served and served.index else None,
                                  note=shown_entry.note or entry.note, error=store.errors.get(d)))
        return out

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        status = "loading" if store.reader is None else "degraded" if store.errors else "ok"
        return Health(status=status, domains=len(store.catalog), loaded=len(store.loaded()), errors=dict(store.errors))

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(files("zeroxqa.serve").joinpath("page.html").read_text(encoding="utf-8"))

    return app


CONFIG_ENV = "ZEROXQA_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """The app of the config in `$ZEROXQA_SERVE_CONFIG` (JSON): what each uvicorn worker process builds when
    `zeroxqa serve --processes N` starts several."""
    return create_app(ServeConfig(**json.loads(os.environ[CONFIG_ENV])))
