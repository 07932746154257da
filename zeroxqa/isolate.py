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


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to kill this process when its parent dies (`prctl(PR_SET_PDEATHSIG, SIGKILL)`), so a killed
    flow run leaves no child training or exporting on its own; if the parent is already gone, exit now.
    Elsewhere than Linux: nothing (the children end when their work does)."""
    import ctypes
    import os
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def descendants(pid: int) -> list[int]:
    """Every process `pid` started, and theirs (from /proc: the children of each of its threads)."""
    import os

    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
    except OSError:
        return kids
    return kids + [g for k in kids for g in descendants(k)]


def reap(parent: int) -> None:
    """The reaper's loop (`python -m zeroxqa.isolate PARENT`): note the parent's descendants every 0.5 s; once
    it is reparented (the parent is gone, however it died), kill them: SIGTERM, then SIGKILL."""
    import os
    import signal
    import time

    me, known = os.getpid(), set()
    while os.getppid() == parent:
        known = {p for p in known | set(descendants(parent)) if p != me and os.path.exists(f"/proc/{p}")}
        time.sleep(0.5)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in known:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        time.sleep(2)


_reaper = None


def reap_children_on_death() -> None:
    """Start (once per process) a small watcher that, when this process dies, however it dies, kills every
    process it had started, grandchildren included: what `die_with_parent` cannot reach, such as Prefect's
    temporary API server. It notes the descendants every 0.5 s; Linux only (elsewhere: nothing)."""
    import os
    import subprocess
    import sys

    global _reaper
    if not os.path.isdir("/proc") or (_reaper is not None and _reaper.poll() is None):
        return
    _reaper = subprocess.Popen([sys.executable, "-m", "zeroxqa.isolate", str(os.getpid())], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _send_progress_to(channel, parent: int | None = None) -> None:
    """In the child: die with the parent; its progress log records go back to the parent through `channel`."""
    die_with_parent(parent)
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
    import os

    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_send_progress_to,
                             initargs=(channel, os.getpid())) as pool:
        future = pool.submit(fn, *args, **kwargs)
        while not wait([future], timeout=0.5, return_when=FIRST_COMPLETED)[0]:
            _pass_on(channel)
        result = future.result()
    _pass_on(channel)
    return result


if __name__ == "__main__":
    import sys

    reap(int(sys.argv[1]))
