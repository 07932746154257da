"""Measure one variant in a fresh process, so its peak memory is its own and no variant warms another's
caches: EM / F1 on dev rows, latency per question at batch 1 (tokenize + infer + decode) with the median of
each stage, throughput at a larger batch."""

from __future__ import annotations

import math
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from zeroxqa.config import BenchConfig
from zeroxqa.reader.evaluate import ALL, Evaluation
from zeroxqa.reader.engine import STAGES


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image, so unlike ru_maxrss it
    does not inherit the parent's peak across fork + exec."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _latencies(answer_one, rows: list[dict], cfg: BenchConfig) -> list[float]:
    timed = [rows[i % len(rows)] for i in range(cfg.warmup + cfg.latency_questions)]
    out = []
    for i, r in enumerate(timed):
        t = time.perf_counter()
        answer_one(r["question"], r["context"])
        if i >= cfg.warmup:
            out.append((time.perf_counter() - t) * 1000)
    return out


def _summary(name: str, latencies: list[float], seconds: float, n: int, metrics: dict,
             stages: dict[str, float] | None = None, threshold: float = float("nan")) -> dict:
    lat = np.array(latencies)
    return {
        "threshold": threshold,
        **{f"{stage}_ms": (stages or {}).get(stage, float("nan")) for stage in STAGES},
        "variant": name,
        "exact": metrics["exact"],
        "f1": metrics["f1"],
        "HasAns_f1": metrics["HasAns_f1"],
        "NoAns_f1": metrics["NoAns_f1"],
        "span_f1": metrics.get("span_f1", float("nan")),
        "oracle_f1": metrics.get("oracle_f1", float("nan")),
        "questions": n,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "throughput_qps": n / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "latencies_ms": latencies,
    }


def quality(ev: Evaluation) -> dict:
    """The overall metrics at the variant's own threshold, plus two that no threshold moves: span F1 (the
    answerable questions, best span always given) and the oracle F1 (the threshold searched on these very
    rows). A variant's F1 mixes how well it reads with how well its threshold was calibrated on a few
    hundred unanswerable questions; these two separate them (an oracle is for comparing, not for gating)."""
    metrics = next(m for m in ev.per_domain() if m["domain"] == ALL)
    forced = next(m for m in ev.per_domain(threshold=math.inf) if m["domain"] == ALL)
    return {**metrics, "span_f1": forced["HasAns_f1"], "oracle_f1": ev.calibrate()[0]}


def measure_engine(name: str, model_dir: str, rows: list[dict], cfg: BenchConfig) -> dict:
    """Runs in the child process: one `QAEngine` variant."""
    from zeroxqa.reader.engine import QAEngine

    engine = QAEngine.load(model_dir, threads=cfg.threads)
    t = time.perf_counter()
    spans = engine.spans([r["question"] for r in rows], [r["context"] for r in rows], cfg.batch_size)
    seconds = time.perf_counter() - t
    metrics = quality(Evaluation(rows, spans, engine.threshold))
    per_question: list[dict[str, float]] = []

    def answer_one(q: str, c: str) -> None:
        per_question.append({})
        engine.spans([q], [c], timings=per_question[-1])

    latencies = _latencies(answer_one, rows, cfg)
    timed = per_question[cfg.warmup:]
    stages = {s: float(np.median([t[s] for t in timed])) * 1000 for s in STAGES}  # medians: p50 per stage
    return _summary(name, latencies, seconds, len(rows), metrics, stages, engine.threshold)


def measure_hf_pipeline(name: str, model_dir: str, rows: list[dict], cfg: BenchConfig) -> dict:
    """Runs in the child process: the Hugging Face question-answering pipeline on the same fp32 weights,
    with the same window size and stride, deciding no-answer its own way (null score vs best span)."""
    import torch
    from transformers import pipeline

    from zeroxqa.config import ReaderConfig
    from zeroxqa.reader.metrics import gold_texts, squad_metrics
    from zeroxqa.reader.model import read_card

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rc = ReaderConfig(**read_card(model_dir).get("reader_config", {}))
    from zeroxqa.quiet import quiet_libraries

    with quiet_libraries():  # "Device set to use cpu"
        qa = pipeline("question-answering", model=model_dir, tokenizer=model_dir, device=-1)
    kwargs = dict(handle_impossible_answer=True, max_seq_len=rc.max_length, doc_stride=rc.doc_stride,
                  max_answer_len=rc.max_answer_length, max_question_len=rc.max_question_length)
    t = time.perf_counter()
    outs = qa(question=[r["question"] for r in rows], context=[r["context"] for r in rows], batch_size=cfg.batch_size, **kwargs)
    seconds = time.perf_counter() - t
    outs = outs if isinstance(outs, list) else [outs]
    metrics = squad_metrics([gold_texts(r["answers"]) for r in rows], [o["answer"] for o in outs])
    latencies = _latencies(lambda q, c: qa(question=q, context=c, **kwargs), rows, cfg)
    return _summary(name, latencies, seconds, len(rows), metrics)


def measure_in_subprocess(fn, name: str, model_dir: str | Path, rows: list[dict], cfg: BenchConfig) -> dict:
    import os

    from zeroxqa.isolate import die_with_parent

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        return pool.submit(fn, name, str(model_dir), rows, cfg).result()
