"""Running a torch-heavy function in a fresh process.

Loading a model with transformers switches torch's global default device while it builds the model, so
two stages loading or training models in threads of one process can corrupt each other. Stages that may
run concurrently (fine-tunes and exports of several domains) therefore each run in a spawned process:
isolated, with their own threads and memory, and truly parallel.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Callable


def run_isolated(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call module-level `fn(*args, **kwargs)` in a spawned process and return its (picklable) result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kwargs).result()
