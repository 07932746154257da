"""onboard_domain: one new domain's labelled examples or paragraphs -> shard -> (synthetic QA when it has
paragraphs only) -> index its paragraphs for retrieval -> (adapt-lm on its paragraphs, when asked) ->
fine-tune from the current initialization (the last retraining's meta model, or its base reader) ->
quantize -> benchmark -> decide (adapted vs base, paired) -> register (model and index). Triggered by a `zeroxqa.domain.arrived` event."""

from __future__ import annotations

from prefect import flow

from tasks import stages
from zeroxqa.config import AdaptLMConfig, BenchConfig, ReaderConfig, RetrievalConfig, ShardConfig, SynthConfig, TrainConfig
from zeroxqa.isolate import reap_children_on_death
from zeroxqa.pipeline import best_registered_reader, current_meta_model, domains_of, synthetic_split_problem
from zeroxqa.watch import onboard_inputs


@flow(name="onboard-domain")
def onboard_domain(
    domain: str,
    labeled: str | None = None,
    paragraphs: str | None = None,
    out: str = "runs/main",
    meta_model: str | None = None,
    finetune: TrainConfig = TrainConfig(epochs=2, max_steps=30),
    reader: ReaderConfig = ReaderConfig(max_length=192, doc_stride=48),
    bench: BenchConfig = BenchConfig(latency_questions=20, max_questions=40, only=["onnx-int8"], hf_pipeline=False),
    synth: SynthConfig = SynthConfig(noun_chunks=True),
    synth_reader: str | None = None,
    adapt_lm: AdaptLMConfig | None = None,
    retrieval: RetrievalConfig = RetrievalConfig(),
) -> dict:
    labeled, paragraphs, out = onboard_inputs(domain, labeled, paragraphs, out)  # an event's payload, checked
    reap_children_on_death()  # killed, this run takes the processes it started with it
    sources = [f"{domain}={p}" for p in (labeled, paragraphs) if p]
    if not sources:
        raise ValueError(f"domain {domain!r}: the event named no 'labeled' or 'paragraphs' file")
    shards = stages.shard(sources, out, ShardConfig(), f"domain-{domain}")
    registry = f"{out}/registry.json"
    paragraphs_of = shards  # what retrieval indexes: the domain's own paragraphs, not the synthetic shards
    if domain not in domains_of(shards, "qa"):  # paragraphs only: train on synthetic QA
        synth_reader = synth_reader or best_registered_reader(registry)
        if synth_reader is None:
            raise ValueError(f"domain {domain!r} has paragraphs only and there is no reader to filter synthetic questions: "
                             "give 'synth_reader' or 'labeled' examples, or run the retrain flow first")
        shards = stages.synthesize(shards, domain, synth_reader, out, synth)
        if problem := synthetic_split_problem(shards):
            raise ValueError(f"domain {domain!r}: {problem}")
    index = stages.build_index(paragraphs_of, domain, out, retrieval)
    stages.record_index(registry, domain, index)  # servable (with the registered or default reader) from now on
    base = init = meta_model or current_meta_model(registry)
    if adapt_lm is not None:
        init = stages.adapt_lm(init, shards, domain, out, adapt_lm)
    model = stages.fine_tune(init, shards, domain, out, finetune, reader)
    quantized = stages.quantize(model, out, domain)
    summary = stages.decide(stages.benchmark(model, quantized, shards, domain, out, bench), base, shards, domain, out)
    promotion = stages.register(registry, domain, summary)
    stages.report_domain(summary, promotion)
    return {"model": model, "benchmark": summary, "promotion": promotion, "index": index}
