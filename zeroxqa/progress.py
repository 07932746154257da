"""Progress of long work, for the terminal and for logs.

`bar` is a tqdm bar that also logs a plain line to the `zeroxqa.progress` logger every `LOG_EVERY_S`
seconds and when it ends ("train: 120/1500 steps (8%), 2.31 s/step, ETA 53 min, loss=1.09"); `note`
prints a line above the bars and logs it too. An orchestrator shows those log records where its users look:
the Prefect tasks forward them to the task run's log (`tasks/stages.py`), from isolated child processes too
(`zeroxqa.isolate` passes them back).
"""

from __future__ import annotations

import logging
import time

from tqdm.auto import tqdm

LOG_EVERY_S = 15.0
PROGRESS_LOGGER = "zeroxqa.progress"
log = logging.getLogger(PROGRESS_LOGGER)
# its records go to the handlers attached on purpose (a Prefect task run's log, an isolated child's queue),
# not to whatever the root logger prints: the terminal already has the bars
log.setLevel(logging.INFO)
log.propagate = False
log.addHandler(logging.NullHandler())


def _duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):  # nan / unknown
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class _Nowhere:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class bar(tqdm):  # noqa: N801  (used like tqdm)
    """tqdm, plus a log line now and then. `show=False` keeps the terminal quiet (a stage among several
    running at once) and still logs."""

    def __init__(self, *args, log_every_s: float = LOG_EVERY_S, show: bool = True, **kwargs):
        if not show:
            kwargs["file"] = _Nowhere()
        super().__init__(*args, **kwargs)
        self._log_every, self._logged_at = log_every_s, time.monotonic()

    def line(self) -> str:
        d = self.format_dict
        n, total, elapsed, unit = d["n"], d["total"], d["elapsed"], d.get("unit") or "it"
        rate = n / elapsed if elapsed > 0 and n else 0.0
        text = f"{d.get('prefix') or 'progress'}: {n}/{total or '?'} {unit}s"
        if total:
            text += f" ({100 * n / total:.0f}%)"
        if rate:
            text += f", {1 / rate:.2f} s/{unit}" if rate < 1 else f", {rate:.1f} {unit}/s"
            if total and n < total:
                text += f", ETA {_duration((total - n) / rate)}"
        return text + (f", {d['postfix']}" if d.get("postfix") else "")

    def update(self, n: float | None = 1) -> bool | None:
        shown = super().update(n)
        if self.disable:
            return shown
        now = time.monotonic()
        if now - self._logged_at >= self._log_every or (self.total and self.n >= self.total):
            self._logged_at = now
            log.info(self.line())
        return shown

    def __iter__(self):
        # tqdm's own iterator counts without calling `update`; counting through it logs as well
        if self.disable:
            yield from self.iterable
            return
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()


def note(message: str) -> None:
    """A line above the progress bars, and in the log."""
    tqdm.write(message)
    log.info(message)
