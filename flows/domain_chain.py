"""domain-chains: each domain's chain, fine-tune -> quantize (ONNX export + int8) -> benchmark (the gate) ->
decide (adapted vs base, paired) -> register, for many domains at once. A subflow of `retrain`, run on the
task runner its `DomainRunner` names: threads of this machine, or Ray tasks (a local Ray the flow starts
and stops, or a cluster at `ray_address`), each asking Ray for the CPUs and memory a domain needs. It only
wires tasks; the work lives in `zeroxqa.pipeline`."""

from __future__ import annotations

import os
from contextlib import nullcontext

from prefect import flow, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from tasks import stages
from zeroxqa.config import BenchConfig, DomainRunner, ReaderConfig, TrainConfig


def task_runner(runner: DomainRunner):
    """Threads, or Ray (`prefect-ray`'s RayTaskRunner: tasks keep their names, caching, logs and retries)."""
    if not runner.ray:
        return ThreadPoolTaskRunner(max_workers=os.cpu_count() or 2)
    from prefect_ray.task_runners import RayTaskRunner

    local = {} if runner.ray_address else {"num_cpus": os.cpu_count() or 2, "log_to_driver": False}
    return RayTaskRunner(address=runner.ray_address, init_kwargs=local)


def resources(runner: DomainRunner):
    """What each task of a domain asks Ray for (nothing to ask of threads)."""
    if not runner.ray:
        return nullcontext()
    from prefect_ray.context import remote_options

    return remote_options(num_cpus=runner.cpus_per_domain, memory=int(runner.memory_gb_per_domain * 2**30))


@flow(name="domain-chains", flow_run_name="domain-chains-{label}")
def domain_chains(label: str, domains: list[str], shards: list[str], inits: list[str], root: str, registry: str,
                  base: str, finetune: TrainConfig, reader: ReaderConfig, bench: BenchConfig,
                  runner: DomainRunner = DomainRunner()) -> dict:
    with resources(runner):
        models = stages.fine_tune.map(inits, shards, domains, unmapped(root), unmapped(finetune), unmapped(reader))
        quantized = stages.quantize.map(models, unmapped(root), domains)
        benchmarks = stages.benchmark.map(models, quantized, shards, domains, unmapped(root), unmapped(bench))
        decisions = stages.decide.map(benchmarks, unmapped(base), shards, domains, unmapped(root))
        registered = stages.register.map(unmapped(registry), domains, decisions)  # each as soon as it is decided
    models.result()  # resolve stage by stage, so a failure surfaces as the stage's own error
    quantized.result()
    benchmarks.result()
    return {"models": list(models.result()), "decisions": list(decisions.result()), "promotions": list(registered.result())}


def run_chains(label: str, domains: list[str], shards: list[str], inits: list[str], root: str, registry: str, base: str,
               finetune: TrainConfig, reader: ReaderConfig, bench: BenchConfig, runner: DomainRunner) -> dict:
    """The subflow on the runner the parameters name (none to run: empty results)."""
    if not domains:
        return {"models": [], "decisions": [], "promotions": []}
    chains = domain_chains.with_options(task_runner=task_runner(runner))
    return chains(label, domains, shards, inits, root, registry, base, finetune, reader, bench, runner)
