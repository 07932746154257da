"""A no-answer threshold that fits the domain.

A reader's threshold was calibrated where it was trained (SQuAD 2.0: about half the questions have no
answer). A domain whose questions are nearly all answerable needs a reader that abstains far less; a domain
like SQuAD 2.0 needs about the same threshold. Two things decide it:

- the domain's share of unanswerable questions, estimated from its labels with a Beta prior centred on the
  share the reader was calibrated at (`PRIOR_STRENGTH` pseudo-questions), so 16 all-answerable labels move it
  some way (4/24), 256 nearly all the way, and none not at all;
- how the reader's `na_score` (null score minus best span score) falls on the domain's answerable and
  unanswerable questions: seen on its labels, each curve shrunk toward the same curve on the reader's own
  calibration questions (its card keeps both), so that a few labels move the threshold only as far as they
  can tell.

`fit_threshold` picks the threshold that maximises the expected F1 of that mixture:
(1 - share) x mean span F1 answered on answerable labels + share x share of unanswerable ones abstained on.
Scores must come from labels the reader was not trained on (the base's own, or out of fold). A card without
the calibration quantiles falls back to moving the threshold by the change of the prior's log-odds (label
shift, Saerens et al. 2002): `na_score` is a log-likelihood ratio of "no answer" against the best span.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

CALIBRATION_SHARE = 0.5  # SQuAD 2.0's share of unanswerable questions: what a card without its own figure assumes
PRIOR_STRENGTH = 8.0  # pseudo-questions behind the prior: 8 labels weigh as much as the calibration
MIN_SHARE = 0.01  # the estimate never reaches 0 or 1 (the log-odds would be infinite)


@dataclass(frozen=True)
class DomainThreshold:
    """A threshold fitted to a domain, and what it was fitted from (kept in cards and reports)."""

    threshold: float
    prior_threshold: float
    calibration_share: float
    share: float  # the estimated share of unanswerable questions in the domain
    labelled: int
    unanswerable: int
    method: str = "label shift"

    def to_dict(self) -> dict:
        return asdict(self)


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def unanswerable_share(unanswerable: int, labelled: int, calibration_share: float = CALIBRATION_SHARE,
                       strength: float = PRIOR_STRENGTH) -> float:
    """Posterior mean of the domain's unanswerable share under a Beta prior centred on `calibration_share`
    with `strength` pseudo-questions, clipped to [MIN_SHARE, 1 - MIN_SHARE]."""
    if not 0 <= unanswerable <= labelled:
        raise ValueError(f"unanswerable ({unanswerable}) must lie between 0 and labelled ({labelled})")
    share = (unanswerable + strength * calibration_share) / (labelled + strength)
    return min(1.0 - MIN_SHARE, max(MIN_SHARE, share))


def domain_threshold(prior_threshold: float, unanswerable: int, labelled: int,
                     calibration_share: float = CALIBRATION_SHARE, strength: float = PRIOR_STRENGTH) -> DomainThreshold:
    """The threshold of a reader calibrated at `prior_threshold` (at `calibration_share` unanswerable) moved to
    a domain whose labels hold `unanswerable` of `labelled` questions without an answer."""
    share = unanswerable_share(unanswerable, labelled, calibration_share, strength)
    cal = min(1.0 - MIN_SHARE, max(MIN_SHARE, calibration_share))
    return DomainThreshold(prior_threshold + logit(cal) - logit(share), prior_threshold, calibration_share, share,
                           labelled, unanswerable)


def calibration_share_of(card: dict) -> float:
    """The unanswerable share a reader's threshold was calibrated at: recorded in its card's calibration, else
    SQuAD 2.0's."""
    share = (card.get("threshold_calibration") or {}).get("unanswerable_share")
    return float(share) if share is not None else CALIBRATION_SHARE


def noans_quantiles_of(card: dict) -> list[float] | None:
    """The na_score quantiles (0, 5, ..., 100 %) of the unanswerable questions of the reader's calibration."""
    q = (card.get("threshold_calibration") or {}).get("noans_na_quantiles")
    return [float(v) for v in q] if q else None


def answered_curve_of(card: dict) -> tuple[list[float], list[float]] | None:
    """(na_score grid, mean span F1 answered at each grid threshold) of the calibration's answerable questions."""
    cal = card.get("threshold_calibration") or {}
    grid, curve = cal.get("hasans_na_grid"), cal.get("hasans_answered_f1")
    return ([float(v) for v in grid], [float(v) for v in curve]) if grid and curve else None


def prior_abstained(t: float, quantiles: list[float]) -> float:
    """Share of the calibration's unanswerable questions whose na_score lies above `t` (abstained on)."""
    levels = np.linspace(0.0, 1.0, len(quantiles))
    return float(1.0 - np.interp(t, quantiles, levels, left=0.0, right=1.0))


def fit_threshold(card: dict, threshold: float, na_scores: list[float], span_f1: list[float], has_answer: list[bool],
                  strength: float = PRIOR_STRENGTH) -> DomainThreshold:
    """The threshold that maximises the domain's expected F1 (module docstring) for a reader whose card is
    `card` and whose current threshold is `threshold`, from its `na_scores` and best-span F1 (0-1) on the
    domain's labelled questions (`has_answer` says which have an answer)."""
    n, unanswerable = len(has_answer), sum(not h for h in has_answer)
    shifted = domain_threshold(threshold, unanswerable, n, calibration_share_of(card), strength)
    quantiles, answered_prior = noans_quantiles_of(card), answered_curve_of(card)
    answerable = [(s, f) for s, f, h in zip(na_scores, span_f1, has_answer) if h]
    if not answerable or (quantiles is None and not unanswerable):
        return shifted
    noans = np.array([s for s, h in zip(na_scores, has_answer) if not h], dtype=float)
    ans_scores = np.array([s for s, _ in answerable], dtype=float)
    ans_f1 = np.array([f for _, f in answerable], dtype=float)
    grid = answered_prior[0] if answered_prior else []
    points = np.unique(np.concatenate([ans_scores, noans, quantiles or [], grid, [threshold]]))
    candidates = np.concatenate([[points[0] - 1.0], (points[:-1] + points[1:]) / 2, [points[-1] + 1.0]])
    answered = np.array([ans_f1[ans_scores <= t].sum() / len(ans_f1) for t in candidates])
    if answered_prior:  # shrunk toward the calibration's curve: a few labels make a coarse step function
        prior = np.interp(candidates, grid, answered_prior[1], left=0.0, right=answered_prior[1][-1])
        answered = (len(ans_f1) * answered + strength * prior) / (len(ans_f1) + strength)
    seen = np.array([(noans > t).mean() if noans.size else 0.0 for t in candidates])
    if quantiles is None:
        abstained = seen
    else:
        prior = np.array([prior_abstained(t, quantiles) for t in candidates])
        abstained = (noans.size * seen + strength * prior) / (noans.size + strength)
    expected = (1.0 - shifted.share) * answered + shifted.share * abstained
    best = np.flatnonzero(expected >= expected.max() - 1e-12)
    pick = candidates[best[np.argmin(np.abs(candidates[best] - shifted.threshold))]]  # ties: nearest the shifted one
    method = "labels + calibration prior" if quantiles is not None else "labels"
    return DomainThreshold(float(pick), threshold, shifted.calibration_share, shifted.share, n, unanswerable, method)


def fit_to_evaluation(card: dict, threshold: float, evaluation, strength: float = PRIOR_STRENGTH) -> DomainThreshold:
    """`fit_threshold` from an `Evaluation` (rows and the reader's spans on them)."""
    from zeroxqa.reader.metrics import is_answerable, score

    has = [is_answerable(r) for r in evaluation.rows]
    f1 = [score(g, s.text)[1] if s.text else 0.0 for g, s in zip(evaluation.golds, evaluation.spans)]
    return fit_threshold(card, threshold, [s.na_score for s in evaluation.spans], f1, has, strength)
