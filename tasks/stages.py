"""Thin Prefect tasks around the stages in `zeroxqa.pipeline`.

Cache keys are the stages' own content keys (input artifacts' hashes + config + code version), never a
pickle of tensors; results are artifact paths or small JSON summaries. Transient failures are retried.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from zeroxqa import pipeline
from zeroxqa.registry.artifacts import is_done, stage_dir
from zeroxqa.config import (AdaptLMConfig, BenchConfig, MetaConfig, ReaderConfig, RetrievalConfig, ShardConfig, SynthConfig,
                            TrainConfig)
from zeroxqa.progress import PROGRESS_LOGGER

COMMON: dict[str, Any] = {"persist_result": True, "result_serializer": "json", "retries": 1, "retry_delay_seconds": 5}


def keyed(key_fn: Callable[..., str], stage: str) -> Callable:
    """A Prefect cache_key_fn: the pipeline's content key of the stage, plus where its output lives (a
    cached result is a path under `root`, so another root is another cache entry).

    Prefect keeps its cache records apart from the artifacts (in ~/.prefect by default), so a record can
    outlive its output: a fresh clone, a deleted run folder. While the stage's output folder is not done
    there is no key, so Prefect neither reads nor writes a record and the stage runs; once it is done the
    key is the stage's, and Prefect's record of it can be trusted."""
    names = list(inspect.signature(key_fn).parameters)

    def cache_key(context, parameters: dict) -> str | None:
        key = key_fn(**{n: parameters[n] for n in names})
        folder = pipeline.FOLDERS[stage].format(**parameters)
        if not is_done(stage_dir(parameters["root"], folder, key)):
            return None
        return hashlib.sha256(f"{key}:{Path(parameters['root']).resolve()}".encode()).hexdigest()

    return cache_key


@contextmanager
def progress_in_run_log() -> Iterator[None]:
    """While a long stage runs, its progress lines (`zeroxqa.progress`: a line every 15 s, epoch results)
    go to this task run's log in Prefect, not only to the worker's terminal. Tasks run in threads side by
    side, so each forwards only the lines emitted in its own thread (an isolated child's lines are re-emitted
    in the thread that waits for it)."""
    run_log, own = get_run_logger(), threading.get_ident()

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == own:
                run_log.info(record.getMessage())

    progress, handler = logging.getLogger(PROGRESS_LOGGER), Forward()
    progress.addHandler(handler)
    try:
        yield
    finally:
        progress.removeHandler(handler)


@task(name="shard", cache_key_fn=keyed(pipeline.shard_key, "shard"), task_run_name="shard-{name}", **COMMON)
def shard(sources: list[str], root: str, cfg: ShardConfig, name: str) -> str:
    return pipeline.shard_stage(sources, root, cfg, name)


@task(name="meta-train", cache_key_fn=keyed(pipeline.meta_key, "meta"), task_run_name="meta-train", **COMMON)
def meta_train(in_shards: str, root: str, base: str, val_domains: list[str], cfg: MetaConfig, reader_cfg: ReaderConfig) -> str:
    with progress_in_run_log():
        return pipeline.meta_stage(in_shards, root, base, val_domains, cfg, reader_cfg)


@task(name="synthesize", cache_key_fn=keyed(pipeline.synth_key, "synth"), task_run_name="synthesize-{domain}", **COMMON)
def synthesize(shards: str, domain: str, reader: str, root: str, cfg: SynthConfig) -> str:
    with progress_in_run_log():
        return pipeline.synth_stage(shards, domain, reader, root, cfg)


@task(name="adapt-lm", cache_key_fn=keyed(pipeline.adapt_lm_key, "adapt_lm"), task_run_name="adapt-lm-{domain}", **COMMON)
def adapt_lm(init: str, shards: str, domain: str, root: str, cfg: AdaptLMConfig) -> str:
    with progress_in_run_log():
        return pipeline.adapt_lm_stage(init, shards, domain, root, cfg)


@task(name="fine-tune", cache_key_fn=keyed(pipeline.finetune_key, "finetune"), task_run_name="fine-tune-{domain}", **COMMON)
def fine_tune(init: str, shards: str, domain: str, root: str, cfg: TrainConfig, reader_cfg: ReaderConfig) -> str:
    with progress_in_run_log():
        return pipeline.finetune_stage(init, shards, domain, root, cfg, reader_cfg)


@task(name="quantize", cache_key_fn=keyed(pipeline.quantize_key, "quantize"), task_run_name="quantize-{domain}", **COMMON)
def quantize(model_dir: str, root: str, domain: str) -> str:
    """`domain` names the task run only; the output depends on the model alone."""
    return pipeline.quantize_stage(model_dir, root)


@task(name="benchmark", cache_key_fn=keyed(pipeline.benchmark_key, "benchmark"), task_run_name="benchmark-{domain}", **COMMON)
def benchmark(model_dir: str, quantized: str, shards: str, domain: str, root: str, cfg: BenchConfig) -> dict:
    return pipeline.benchmark_stage(model_dir, quantized, shards, domain, root, cfg)


@task(name="decide", cache_key_fn=keyed(pipeline.decide_key, "decide"), task_run_name="decide-{domain}", **COMMON)
def decide(summary: dict, init: str, shards: str, domain: str, root: str) -> dict:
    """The adapted reader against its base on the domain's questions, paired: which one ships, and why."""
    return pipeline.decide_stage(summary, init, shards, domain, root)


@task(name="index", cache_key_fn=keyed(pipeline.index_key, "index"), task_run_name="index-{domain}", **COMMON)
def build_index(shards: str, domain: str, root: str, cfg: RetrievalConfig) -> str:
    return pipeline.index_stage(shards, domain, root, cfg)


@task(name="record-index", task_run_name="record-index-{domain}")
def record_index(registry: str, domain: str, index: str) -> str:
    """The registry names each domain's current index: what serving answers questions of the domain from."""
    from zeroxqa.registry.store import record_index as record

    record(registry, domain, index)
    return index


@task(name="register", task_run_name="register-{domain}")
def register(registry: str, domain: str, summary: dict) -> dict:
    """Promotion gate: the domain's model is replaced only if what the decision ships is measurably better than
    the current one on the same questions (or, measured on other questions, at least as good)."""
    keys = ("f1", "exact", "p50_ms", "cpu", "model", "accepted", "report", "shipped", "base_f1", "adapted_f1", "interval",
            "questions_sha256", "f1_per_question")
    return pipeline.register_stage(registry, domain, {k: summary[k] for k in keys if k in summary})


@task(name="record-meta-model", task_run_name="record-meta-model")
def record_meta_model(registry: str, model: str) -> str:
    from zeroxqa.registry.store import record_meta_model as record

    record(registry, model)
    return model


@task(name="report", task_run_name="report")
def report(benchmarks: list[dict], promotions: list[dict], skipped: dict[str, str], out: str) -> str:
    """The retraining report, written to disk and published as Prefect artifacts (markdown and table)."""
    from zeroxqa.registry.atomic import write_text

    text = pipeline.report_markdown(benchmarks, promotions, skipped)
    path = write_text(text, Path(out) / "report.md")
    create_markdown_artifact(markdown=text, key="zeroxqa-retrain-report", description="ZeroxQA retraining report")
    rows = [benchmark_row(b["domain"], r) for b in benchmarks for r in b["table"]]
    if rows:
        create_table_artifact(table=rows, key="zeroxqa-benchmark", description="Benchmark of every variant per domain")
    return str(path)


def benchmark_row(domain: str, row: dict) -> dict:
    """One variant's figures as a person reads them: rounded (2 decimals, sizes to 0.1 MB)."""
    keys = ("variant", "f1", "exact", "p50_ms", "p95_ms", "throughput_qps", "size_mb")
    return {"domain": domain, **{k: round(row[k], 1 if k == "size_mb" else 2) if isinstance(row[k], float) else row[k]
                                 for k in keys}}


@task(name="report-domain", task_run_name="report-{summary[domain]}")
def report_domain(summary: dict, promotion: dict) -> str:
    """The onboarding result in Prefect: a Markdown artifact (F1, accepted variant, promotion decision)
    and a table artifact of every variant."""
    import re

    domain = summary["domain"]
    text = "\n".join([
        f"# ZeroxQA onboarding: {domain}", "",
        f"- scored on: {summary.get('eval_data', 'dev')}",
        f"- shipped: **{summary.get('shipped', 'adapted')}** (F1 {summary['f1']:.2f}, EM {summary['exact']:.2f}); "
        f"base F1 {summary.get('base_f1', float('nan')):.2f}, adapted F1 {summary.get('adapted_f1', summary['f1']):.2f}, "
        f"adapted - base {summary.get('interval', '')}",
        f"- why: {summary.get('decision', '')}",
        f"- adapted reader's accepted variant: {summary['accepted']} (p50 {summary['p50_ms']:.1f} ms)",
        f"- registry: {'promoted' if promotion.get('promoted') else 'kept the current model'}: {promotion.get('reason', '')}",
        f"- benchmark report: `{summary['report']}`", ""])
    key = re.sub(r"[^a-z0-9-]+", "-", f"zeroxqa-onboard-{domain}".lower()).strip("-")[:100]
    create_markdown_artifact(markdown=text, key=key, description=f"Onboarding of {domain}")
    create_table_artifact(table=[benchmark_row(domain, r) for r in summary["table"]], key=f"{key}-benchmark"[:100],
                          description=f"Benchmark of every variant for {domain}")
    return text
