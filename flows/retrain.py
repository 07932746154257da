"""retrain: shard -> (index each out-domain's paragraphs for retrieval; each index registered as soon as it is
built) -> (meta-train on in-domains, when asked; else the base reader is the initialization) -> (adapt-lm,
when asked) -> domain-chains for the labelled out-domains (fine-tune -> quantize -> benchmark gate -> decide
-> register, per domain, on threads or on Ray: `flows.domain_chain`) -> (synthesize QA for paragraph-only
out-domains, filtered by the base reader -> domain-chains for them) -> report. It only wires tasks; the
work lives in `zeroxqa.pipeline`."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from flows.domain_chain import run_chains
from tasks import stages
from zeroxqa.config import RetrainParams
from zeroxqa.isolate import reap_children_on_death
from zeroxqa.pipeline import domains_of, synthetic_filter, synthetic_split_problem


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

    def inits(shards: list[str], domains: list[str]) -> list[str]:
        """Each domain's starting point: the initialization (meta model or base), or it adapted to the domain's text."""
        if lm_cfg is None or not domains:
            return [meta] * len(domains)
        return list(stages.adapt_lm.map(unmapped(meta), shards, domains, unmapped(root), unmapped(lm_cfg)).result())

    def chains(label: str, domains: list[str], shards: list[str]) -> dict:
        """Each domain's fine-tune -> int8 -> gate -> decide -> register, on threads or on Ray."""
        return run_chains(label, domains, shards, inits(shards, domains), root, registry, params.base, ft_cfg,
                          params.reader, params.bench, params.runner)

    labelled_runs = chains("labelled", labelled, [out_shards] * len(labelled))

    skipped: dict[str, str] = {}
    synth_reader = params.synth_reader or synthetic_filter(params.base, labelled_runs["models"])
    if unlabelled and synth_reader is None:
        skipped = {d: "paragraphs only, and no reader to filter synthetic questions (set synth_reader)" for d in unlabelled}
        unlabelled = []
    synthetic = dict(zip(unlabelled, stages.synthesize.map(unmapped(out_shards), unlabelled, unmapped(synth_reader),
                                                           unmapped(root), unmapped(params.synth)).result() if unlabelled else []))
    for domain, folder in list(synthetic.items()):
        if problem := synthetic_split_problem(folder):
            skipped[domain] = problem
            del synthetic[domain]
    for domain, why in skipped.items():
        log.warning("%s: %s", domain, why)
    synthetic_runs = chains("synthetic", list(synthetic), list(synthetic.values()))

    domains = labelled + list(synthetic)
    all_models = labelled_runs["models"] + synthetic_runs["models"]
    benches = labelled_runs["decisions"] + synthetic_runs["decisions"]
    promotions = labelled_runs["promotions"] + synthetic_runs["promotions"]
    recorded.result()
    report = stages.report(benches, promotions, skipped, root)
    return {"shards": [s for s in (in_shards, out_shards) if s], "synthetic": synthetic, "meta_model": meta,
            "models": dict(zip(domains, all_models)), "shipped": {b["domain"]: b["model"] for b in benches},
            "registry": registry, "report": report,
            "promotions": promotions, "indexes": dict(zip(out_domains, indexes.result()))}
