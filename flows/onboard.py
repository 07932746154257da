"""onboard_domain: one new domain's labelled examples (and paragraphs) -> shard -> fine-tune from the
current meta model -> quantize -> benchmark -> register. Triggered by a `zeroxqa.domain.arrived` event."""

from __future__ import annotations

from prefect import flow

from tasks import stages
from zeroxqa.config import BenchConfig, ReaderConfig, ShardConfig, TrainConfig
from zeroxqa.pipeline import current_meta_model, domains_of
from zeroxqa.watch import given


@flow(name="onboard-domain")
def onboard_domain(
    domain: str,
    labeled: str | None = None,
    paragraphs: str | None = None,
    out: str = "runs/main",
    meta_model: str | None = None,
    finetune: TrainConfig = TrainConfig(epochs=2, max_steps=30),
    reader: ReaderConfig = ReaderConfig(max_length=192, doc_stride=48),
    bench: BenchConfig = BenchConfig(latency_questions=20, max_questions=40),
) -> dict:
    labeled, paragraphs, out = given(labeled), given(paragraphs), given(out) or "runs/main"
    sources = [f"{domain}={p}" for p in (labeled, paragraphs) if p]
    if not sources:
        raise ValueError(f"domain {domain!r}: the event named no 'labeled' or 'paragraphs' file")
    shards = stages.shard(sources, out, ShardConfig(), f"domain-{domain}")
    if domain not in domains_of(shards, "qa"):
        raise ValueError(f"domain {domain!r} has paragraphs only; synthetic QA generation is not available yet, "
                         "so it needs labelled examples ('labeled') to be onboarded")
    init = meta_model or current_meta_model(f"{out}/registry.json")
    model = stages.fine_tune(init, shards, domain, out, finetune, reader)
    quantized = stages.quantize(model, out)
    summary = stages.benchmark(model, quantized, shards, domain, out, bench)
    promotion = stages.register(f"{out}/registry.json", summary)
    return {"model": model, "benchmark": summary, "promotion": promotion}
