"""Progress of long work reaches logs: a bar logs a plain line now and then and when it ends, `note` logs
its line, and an isolated child's lines come back to the thread that waits for it (where a Prefect task
forwards them to its run log)."""

from __future__ import annotations

import logging
import threading

import pytest

from zeroxqa.isolate import run_isolated
from zeroxqa.progress import bar, note


@pytest.fixture
def progress_lines():
    lines: list[tuple[str, int]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append((record.getMessage(), record.thread))

    handler, logger = Keep(), logging.getLogger("zeroxqa.progress")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def count_in_child(n: int) -> int:
    for _ in bar(range(n), desc="child", unit="step", show=False, log_every_s=0):
        pass
    note("child done")
    return n


def test_a_bar_logs_its_progress_and_its_end(progress_lines):
    b = bar(total=4, desc="train", unit="step", show=False, log_every_s=3600)
    for _ in range(4):
        b.update(1)
        b.set_postfix(loss="1.25")
    b.close()
    [(line, _)] = progress_lines  # the interval never passed: only the end is logged
    assert line.startswith("train: 4/4 steps (100%), ") and line.endswith("loss=1.25") and "ETA" not in line
    for _ in bar(range(3), desc="meta-epoch 1", unit="meta-step", show=False, log_every_s=0):
        pass
    assert progress_lines[1][0].startswith("meta-epoch 1: 1/3 meta-steps (33%)") and "ETA" in progress_lines[1][0]
    assert progress_lines[-1][0].startswith("meta-epoch 1: 3/3 meta-steps (100%)")


def test_an_isolated_childs_progress_comes_back_to_the_waiting_thread(progress_lines):
    assert run_isolated(count_in_child, 3) == 3
    messages = [m for m, _ in progress_lines]
    assert messages[0].startswith("child: 1/3 steps (33%)") and messages[2].startswith("child: 3/3 steps (100%)")
    assert messages[-1] == "child done"
    assert {t for _, t in progress_lines} == {threading.get_ident()}
