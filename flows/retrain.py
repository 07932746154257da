"""retrain: shard -> (synthesize) -> meta-train on in-domains -> fine-tune each out-domain -> quantize ->
benchmark -> register -> report. It only wires tasks; the work lives in `zeroxqa.pipeline`."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from tasks import stages
from zeroxqa.config import RetrainParams
from zeroxqa.pipeline import domains_of


@flow(name="retrain", task_runner=ThreadPoolTaskRunner(max_workers=os.cpu_count() or 2))
def retrain(params: RetrainParams = RetrainParams()) -> dict:
    log = get_run_logger()
    root = params.out
    in_shards = stages.shard(params.in_domain_sources, root, params.shard, "in")
    out_shards = stages.shard(params.out_domain_sources, root, params.shard, "out")

    labelled = domains_of(out_shards, "qa")
    skipped = {d: "paragraphs only: synthetic QA generation is not available yet"
               for d in domains_of(out_shards, "paragraphs") if d not in labelled}
    for domain, why in skipped.items():
        log.warning("%s: %s", domain, why)

    meta = stages.meta_train(in_shards, root, params.base, params.val_domains, params.meta, params.reader)
    stages.record_meta_model(params.registry_path, meta)
    # one fine-tune per out-domain, concurrent within the machine's cores
    ft_cfg = params.finetune.model_copy(update={"threads": max(1, (os.cpu_count() or 1) // max(1, len(labelled)))})
    models = stages.fine_tune.map(unmapped(meta), unmapped(out_shards), labelled, unmapped(root), unmapped(ft_cfg),
                                  unmapped(params.reader))
    quantized = stages.quantize.map(models, unmapped(root))
    benchmarks = stages.benchmark.map(models, quantized, unmapped(out_shards), labelled, unmapped(root),
                                      unmapped(params.bench))
    # resolve stage by stage, so a failure surfaces as the stage's own error
    models.result(), quantized.result()
    benches = benchmarks.result()
    promotions = [stages.register(params.registry_path, b) for b in benches]
    report = stages.report(benches, promotions, skipped, root)
    return {"shards": [in_shards, out_shards], "meta_model": meta, "models": dict(zip(labelled, models.result())),
            "registry": str(Path(params.registry_path)), "report": report, "promotions": promotions}
