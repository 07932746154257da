"""The acceptance gate: int8 is taken only if its F1 is within `max_f1_drop` of the fp32 reference, and its
span F1 too where both were measured; otherwise the fastest variant that passes is kept, and the decision
says why. F1 alone is not enough: a threshold set on a few hundred unanswerable questions can hide a reader
that reads worse (measured: the same int8 skimming variant 0.6 F1 under fp32 in one run and 5.3 under in
the next, its span F1 4.2 under), and so can a set half unanswerable, where abstaining better makes up for
missed answers (two sentences read: F1 0.06 under fp32 at a transferred threshold, span F1 2.5 under)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from zeroxqa.speed.bench.variants import REFERENCE

HF_PIPELINE = "hf-pipeline"


@dataclass
class GateDecision:
    accepted: str
    reference_f1: float
    max_f1_drop: float
    reasons: list[str]
    passed: list[str]  # every variant within the budget, the accepted one among them

    def to_dict(self) -> dict:
        return asdict(self)


def decide(results: list[dict], max_f1_drop: float = 1.0, reference: str = REFERENCE) -> GateDecision:
    by_name = {r["variant"]: r for r in results}
    ref_f1 = by_name[reference]["f1"]
    ref_span_f1 = by_name[reference].get("span_f1", math.nan)  # nan: not measured
    reasons, passing = [], []
    for r in results:
        if r["variant"] == HF_PIPELINE:
            continue  # a yardstick, not a candidate
        drop = ref_f1 - r["f1"]
        span_drop = ref_span_f1 - r.get("span_f1", math.nan)
        ok = drop <= max_f1_drop and not span_drop > max_f1_drop
        span = "" if math.isnan(span_drop) else f", span F1 {r['span_f1']:.2f} ({-span_drop:+.2f})"
        reasons.append(f"{r['variant']}: F1 {r['f1']:.2f} ({-drop:+.2f} vs {reference}){span} -> "
                       f"{'passes' if ok else 'rejected, drop > ' + str(max_f1_drop)}")
        if ok:
            passing.append(r)
    int8 = [r for r in passing if "int8" in r["variant"]]
    pool = int8 or passing
    best = min(pool, key=lambda r: r["p50_ms"])
    if int8:
        reasons.append(f"accepted {best['variant']}: the fastest int8 variant within the allowed F1 drop")
    else:
        reasons.append(f"no int8 variant is within {max_f1_drop} F1 of {reference}; kept {best['variant']}, the fastest passing variant")
    return GateDecision(best["variant"], ref_f1, max_f1_drop, reasons, [r["variant"] for r in passing])
