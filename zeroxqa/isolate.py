"""Running a torch-heavy function in a fresh process.

Loading a model with transformers switches torch's global default device while it builds the model, so
two stages loading or training models in threads of one process can corrupt each other. Stages that may
run concurrently (fine-tunes and exports of several domains) therefore each run in a spawned process:
isolated, with their own threads and memory, and truly parallel.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any, Callable

from zeroxqa.progress import PROGRESS_LOGGER


def _send_progress_to(channel) -> None:
    """In the child: its progress log records go back to the parent through `channel`."""
    logging.getLogger(PROGRESS_LOGGER).addHandler(logging.handlers.QueueHandler(channel))


def _pass_on(channel) -> None:
    """In the parent: re-emit the child's progress records in this thread, as if they were its own (so a
    Prefect task forwarding its thread's progress to its run log gets them)."""
    while True:
        try:
            record = channel.get_nowait()
        except queue.Empty:
            return
        record.thread = threading.get_ident()
        logging.getLogger(record.name).handle(record)


def run_isolated(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call module-level `fn(*args, **kwargs)` in a spawned process and return its (picklable) result; its
    progress log records (`zeroxqa.progress`) are re-emitted here while it runs."""
    context = get_context("spawn")
    channel = context.Queue()
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_send_progress_to, initargs=(channel,)) as pool:
        future = pool.submit(fn, *args, **kwargs)
        while not wait([future], timeout=0.5, return_when=FIRST_COMPLETED)[0]:
            _pass_on(channel)
        result = future.result()
    _pass_on(channel)
    return result
