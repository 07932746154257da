"""retrain: shard -> (index each out-domain's paragraphs for retrieval) -> (meta-train on in-domains, when
asked; else the base reader is the initialization) -> (adapt-lm, when asked) -> fine-tune each labelled
out-domain -> (synthesize QA for paragraph-only out-domains, filtered by a fine-tuned reader -> fine-tune
on it) -> quantize -> benchmark -> decide (adapted vs base, paired) -> register (models and indexes) -> report. It only wires tasks; the work
lives in `zeroxqa.pipeline`."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from tasks import stages
from zeroxqa.config import RetrainParams
from zeroxqa.isolate import reap_children_on_death
from zeroxqa.pipeline import domains_of, synthetic_split_problem


@flow(name="retrain", task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count() or 2))
def retrain(params: RetrainParams = RetrainParams()) -> dict:
    log = get_run_logger()
    reap_children_on_death()  # killed, this run takes the processes it started with it
    # absolute paths: the artifacts, registry entries and report links must not depend on where the
    # serving process was started
    root = str(Path(params.out).resolve())
    registry = str(Path(params.registry_path).resolve())
    in_shards = stages.shard(params.in_domain_sources, root, params.shard, "in") if params.meta_learn else None
    out_shards = stages.shard(params.out_domain_sources, root, params.shard, "out")

    labelled = domains_of(out_shards, "qa")
    unlabelled = [d for d in domains_of(out_shards, "paragraphs") if d not in labelled]

    # every out-domain gets a fresh retrieval index of its paragraphs (cheap; serving reads it)
    out_domains = labelled + unlabelled
    indexes = stages.build_index.map(unmapped(out_shards), out_domains, unmapped(root), unmapped(params.retrieval))
    recorded = stages.record_index.map(unmapped(registry), out_domains, indexes)  # each as soon as it is built

    # the initialization of every out-domain: meta-learned on the in-domains, or the base reader itself
    meta = (stages.meta_train(in_shards, root, params.base, params.val_domains, params.meta, params.reader)
            if params.meta_learn else params.base)
    stages.record_meta_model(registry, meta)
    # one fine-tune per out-domain, concurrent within the machine's cores
    threads = max(1, (os.cpu_count() or 1) // max(1, len(labelled) + len(unlabelled)))
    ft_cfg = params.finetune.model_copy(update={"threads": threads})
    lm_cfg = params.adapt_lm.model_copy(update={"threads": threads}) if params.adapt_lm else None

    def inits(shards, domains: list[str]):
        """Each domain's starting point: the initialization (meta model or base), or it adapted to the domain's text."""
        if lm_cfg is None or not domains:
            return unmapped(meta)
        return stages.adapt_lm.map(unmapped(meta), shards, domains, unmapped(root), unmapped(lm_cfg))

    models = stages.fine_tune.map(inits(unmapped(out_shards), labelled), unmapped(out_shards), labelled, unmapped(root),
                                  unmapped(ft_cfg), unmapped(params.reader))

    # paragraph-only domains: synthetic QA, filtered by a reader of this run (or the one given)
    skipped: dict[str, str] = {}
    synth_reader = params.synth_reader or (models.result()[0] if labelled else None)
    if unlabelled and synth_reader is None:
        skipped = {d: "paragraphs only, and no reader to filter synthetic questions (set synth_reader)" for d in unlabelled}
        unlabelled = []
    synthetic = dict(zip(unlabelled, stages.synthesize.map(unmapped(out_shards), unlabelled, unmapped(synth_reader),
                                                           unmapped(root), unmapped(params.synth)).result() if unlabelled else []))
    for domain, folder in list(synthetic.items()):
        if problem := synthetic_split_problem(folder):
            skipped[domain] = problem
            del synthetic[domain]
    syn_models = stages.fine_tune.map(inits(list(synthetic.values()), list(synthetic)), list(synthetic.values()),
                                      list(synthetic), unmapped(root), unmapped(ft_cfg), unmapped(params.reader)) if synthetic else []
    for domain, why in skipped.items():
        log.warning("%s: %s", domain, why)

    domains = labelled + list(synthetic)
    all_models = list(models.result()) + [m.result() for m in syn_models]
    shards = [out_shards] * len(labelled) + list(synthetic.values())
    quantized = stages.quantize.map(all_models, unmapped(root), domains)
    benchmarks = stages.benchmark.map(all_models, quantized, shards, domains, unmapped(root), unmapped(params.bench))
    # the base is always a candidate: the adapted reader ships only when it measures better on the same questions
    decisions = stages.decide.map(benchmarks, unmapped(params.base), shards, domains, unmapped(root))
    registered = stages.register.map(unmapped(registry), domains, decisions)  # each domain as soon as it is decided
    quantized.result()  # resolve stage by stage, so a failure surfaces as the stage's own error
    benchmarks.result()
    benches = decisions.result()
    promotions = registered.result()
    recorded.result()
    report = stages.report(benches, promotions, skipped, root)
    return {"shards": [s for s in (in_shards, out_shards) if s], "synthetic": synthetic, "meta_model": meta,
            "models": dict(zip(domains, all_models)), "shipped": {b["domain"]: b["model"] for b in benches},
            "registry": registry, "report": report,
            "promotions": promotions, "indexes": dict(zip(out_domains, indexes.result()))}
