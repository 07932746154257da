"""A task worker holds one model copy and runs inner loops. The same class runs in-process
(`--workers 0`) or as a Ray actor, so both paths compute the same thing for the same seed."""

from __future__ import annotations

from dataclasses import dataclass

from zeroxqa.config import MetaConfig, ReaderConfig
from zeroxqa.meta.algorithms import reptile_pseudo_grad
from zeroxqa.meta.inner import State, get_state, inner_adapt, query_gradient, set_state
from zeroxqa.meta.tasks import Task


@dataclass
class TaskUpdate:
    domain: str
    pseudo_grad: State
    support_loss: float
    query_loss: float | None


class TaskWorker:
    def __init__(self, model_source: str, reader_cfg: ReaderConfig, threads: int = 1, device: str = "cpu"):
        import torch

        from zeroxqa.reader.model import load_reader

        torch.set_num_threads(threads)  # actors must not oversubscribe the cores
        reader = load_reader(model_source)
        self.model, self.tokenizer, self.reader_cfg = reader.model.to(device), reader.tokenizer, reader_cfg

    def run(self, meta: State, task: Task, cfg: MetaConfig, seed: int) -> TaskUpdate:
        set_state(self.model, meta)
        support_loss = inner_adapt(self.model, self.tokenizer, task.support, self.reader_cfg, cfg.inner_steps,
                                   cfg.inner_lr, cfg.inner_batch_size, seed)
        if cfg.algorithm == "reptile":
            return TaskUpdate(task.domain, reptile_pseudo_grad(meta, get_state(self.model)), support_loss, None)
        grads, query_loss = query_gradient(self.model, self.tokenizer, task.query, self.reader_cfg)
        return TaskUpdate(task.domain, grads, support_loss, query_loss)


class WorkerPool:
    """Runs a meta-step's tasks: on Ray actors when workers > 0, else one in-process worker. On a GPU
    (`device` cuda, or auto with one visible) the workers' models live there, and Ray actors share it."""

    def __init__(self, model_source: str, reader_cfg: ReaderConfig, workers: int = 0, ray_address: str | None = None,
                 threads: int | None = None, device: str = "auto"):
        import logging
        import os

        from zeroxqa.reader.train import resolve_device

        self.workers = workers
        cpus = os.cpu_count() or 1
        device = resolve_device(device).type
        if workers == 0:
            self.local = TaskWorker(model_source, reader_cfg, threads or cpus, device)
            return
        import ray

        if not ray.is_initialized():
            if ray_address:
                try:
                    ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
                except ConnectionError as e:
                    raise ConnectionError(
                        f"{e}. A cluster started with `ray start` (Ray >= 2.59) accepts clients with its token only: "
                        "set RAY_AUTH_MODE=token here (the token is read from ~/.ray/auth_token, or RAY_AUTH_TOKEN; "
                        "`ray get-auth-token` prints it on the head)") from None
            else:
                # a local Ray (>= 2.59) turns token authentication on by itself (making a token on first use) and
                # warns that it did. Setting RAY_AUTH_MODE here instead would come too late for Ray's cached config
                # and breaks a machine with no token yet, so only that one notice is hushed, and Ray's INFO lines.
                notice = logging.getLogger("ray._private.authentication.authentication_token_setup")
                level = notice.level
                notice.setLevel(logging.ERROR)
                try:
                    ray.init(num_cpus=max(cpus, workers), include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING)
                finally:
                    notice.setLevel(level)
        per_actor = threads or max(1, cpus // workers)
        actor = ray.remote(num_cpus=1, num_gpus=1 / workers if device == "cuda" else 0)(TaskWorker)
        self.actors = [actor.remote(model_source, reader_cfg, per_actor, device) for _ in range(workers)]

    def run(self, meta: State, tasks: list[Task], cfg: MetaConfig, seeds: list[int]) -> list[TaskUpdate]:
        if self.workers == 0:
            return [self.local.run(meta, t, cfg, s) for t, s in zip(tasks, seeds)]
        import ray

        meta_ref = ray.put(meta)  # into the object store once per meta-step, shared by all actors
        refs = [self.actors[i % len(self.actors)].run.remote(meta_ref, t, cfg, s) for i, (t, s) in enumerate(zip(tasks, seeds))]
        return ray.get(refs)

    def close(self) -> None:
        if self.workers:
            import ray

            for a in self.actors:
                ray.kill(a)
