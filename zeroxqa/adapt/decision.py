"""Which reader a domain ships: the adapted one only when it is measurably better than the base.

Every candidate is scored on the same labelled questions, so differences are paired: a question that is hard
for one reader is hard for the others. `paired_bootstrap` resamples those questions to put an interval on the
mean F1 difference; a candidate ships only when the lower end of its interval against every reference (the
base, and the domain's current model when there is one) is above zero (a one-sided test at 5%), and its F1
on answerable questions is not significantly below the base's (a reader must not buy F1 by abstaining).
Otherwise the current model stays, or the base ships, and the decision says why. "Always abstain" is scored
beside them: where no reader beats it, the domain needs more labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

BASE = "base"
CURRENT = "current"
ALWAYS_ABSTAIN = "always abstain"  # the trivial reader: "no answer" to every question
MIN_LABELS = 4  # fewer labelled questions than this: no evidence either way, the base ships
CONFIDENCE = 0.90  # two-sided; its lower end is a one-sided 95% bound: a gain shipped is a gain at 5% risk
RESAMPLES = 2000


@dataclass(frozen=True)
class Scored:
    """One candidate's per-question F1 (0-100) on the decision's questions, and whether each has an answer."""

    name: str
    f1: list[float]
    has_answer: list[bool]

    @property
    def mean(self) -> float:
        return float(np.mean(self.f1)) if self.f1 else float("nan")

    @property
    def has_ans_mean(self) -> float:
        vals = [f for f, h in zip(self.f1, self.has_answer) if h]
        return float(np.mean(vals)) if vals else float("nan")


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"


def paired_bootstrap(a: list[float], b: list[float], seed: int = 0, resamples: int = RESAMPLES,
                     confidence: float = CONFIDENCE) -> Interval:
    """Mean of a - b over paired questions, with a percentile bootstrap interval (questions resampled)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    idx = np.random.default_rng(seed).integers(0, diff.size, size=(resamples, diff.size))
    means = diff[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return Interval(float(diff.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail)))


@dataclass
class Decision:
    shipped: str  # a candidate's name, BASE or CURRENT
    reason: str
    n: int
    f1: dict[str, float]  # every reader's mean F1 on the decision's questions ("always abstain" included)
    has_ans_f1: dict[str, float]
    intervals: dict[str, str] = field(default_factory=dict)  # "candidate vs reference" -> "+d [lo, hi]"
    needs_more_labels: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def always_abstain(has_answer: list[bool]) -> list[float]:
    return [0.0 if h else 100.0 for h in has_answer]


def decide(candidates: list[Scored], base: Scored, current: Scored | None = None, seed: int = 0) -> Decision:
    """Ship the candidate with the highest mean F1 among those whose gain over the base (and over the
    current model) is real and whose HasAns F1 is not significantly below the base's; else keep the current
    model, else the base."""
    n = len(base.f1)
    readers = [base] + ([current] if current else []) + list(candidates)
    f1 = {r.name: r.mean for r in readers}
    has_ans = {r.name: r.has_ans_mean for r in readers}
    abstain = Scored(ALWAYS_ABSTAIN, always_abstain(base.has_answer), base.has_answer)
    f1[abstain.name], has_ans[abstain.name] = abstain.mean, abstain.has_ans_mean
    fallback = CURRENT if current else BASE
    if n < MIN_LABELS:
        return Decision(fallback, f"{n} labelled question(s): too few to tell readers apart, kept the "
                        f"{'current model' if current else 'base reader'}", n, f1, has_ans)
    references = [base] + ([current] if current else [])
    intervals, passing, why_not = {}, [], []
    for c in candidates:
        ok = True
        for ref in references:
            iv = paired_bootstrap(c.f1, ref.f1, seed)
            intervals[f"{c.name} vs {ref.name}"] = str(iv)
            if not iv.low > 0:
                ok = False
                why_not.append(f"{c.name}: F1 {iv} vs {ref.name}, not above zero")
        answerable = [i for i, h in enumerate(base.has_answer) if h]
        if answerable:
            iv = paired_bootstrap([c.f1[i] for i in answerable], [base.f1[i] for i in answerable], seed)
            intervals[f"{c.name} vs {BASE} (HasAns)"] = str(iv)
            if iv.high < 0:
                ok = False
                why_not.append(f"{c.name}: HasAns F1 {iv} vs {BASE}, below it")
        if ok:
            passing.append(c)
    best_reader = max(readers, key=lambda r: r.mean)
    needs_more = not paired_bootstrap(best_reader.f1, abstain.f1, seed).low > 0
    if passing:
        pick = max(passing, key=lambda c: c.mean)
        reason = (f"shipped {pick.name}: F1 {pick.mean:.1f} against {', '.join(f'{r.name} {r.mean:.1f}' for r in references)}"
                  f" on {n} questions, " + "; ".join(intervals[f"{pick.name} vs {r.name}"] + f" vs {r.name}" for r in references))
        return Decision(pick.name, reason, n, f1, has_ans, intervals, needs_more)
    reason = (f"kept the {'current model' if current else 'base reader'}: " + ("; ".join(why_not) or "no candidate")
              + f" ({n} questions)")
    return Decision(fallback, reason, n, f1, has_ans, intervals, needs_more)
