"""Evaluating a reader on canonical rows: EM / F1 overall and per domain, with the HasAns / NoAns split."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from zeroxqa.config import ReaderConfig
from zeroxqa.reader.decode import SpanPrediction
from zeroxqa.reader.metrics import best_f1_threshold, gold_texts, is_answerable, squad_metrics
from zeroxqa.reader.engine import QAEngine

ALL = "(all)"


@dataclass
class Evaluation:
    rows: list[dict]
    spans: list[SpanPrediction]
    threshold: float

    @property
    def golds(self) -> list[list[str]]:
        return [gold_texts(r["answers"]) for r in self.rows]

    def answers(self, threshold: float | None = None) -> list[str]:
        t = self.threshold if threshold is None else threshold
        return [s.answer(t) for s in self.spans]

    def calibrate(self) -> tuple[float, float]:
        """(best F1, threshold) of the SQuAD 2.0 best-F1 search on these rows."""
        return best_f1_threshold(self.golds, [s.text for s in self.spans], [s.na_score for s in self.spans])

    def abstention_threshold(self) -> float:
        """The no-answer threshold a reader should keep after these rows: calibrated on the rows of the
        domains that hold unanswerable questions; with none, raised to answer all of them but never lowered.

        A domain whose questions were all written to be answerable (SQuAD 1.1, NewsQA, K labelled shots)
        can only tell the reader to answer more: the plain search there returns "answer everything up to the
        highest na_score seen", which on 16 shots lies far below the scores of new questions and would make
        the reader abstain on most of them. Mixed into a SQuAD 2.0 domain such rows would also dilute the
        unanswerable rate the threshold is tuned for, so they are left out of its search."""
        tuning = self.tuning_rows()
        if tuning is self:
            return max(self.threshold, self.calibrate()[1]) if self.rows else self.threshold
        return tuning.calibrate()[1]

    def of_domain(self, domain: str) -> "Evaluation":
        """The rows of one domain (all rows for "(all)")."""
        if domain == ALL:
            return self
        idx = [i for i, r in enumerate(self.rows) if r["domain"] == domain]
        return Evaluation([self.rows[i] for i in idx], [self.spans[i] for i in idx], self.threshold)

    def tuning_rows(self) -> "Evaluation":
        """The rows a threshold is tuned on: those of the domains that hold unanswerable questions, or all
        rows (this very evaluation) when no domain does."""
        mixed = {r["domain"] for r in self.rows if not is_answerable(r)}
        idx = [i for i, r in enumerate(self.rows) if r["domain"] in mixed]
        if not idx:
            return self
        return Evaluation([self.rows[i] for i in idx], [self.spans[i] for i in idx], self.threshold)

    def abstained(self, threshold: float | None = None) -> float:
        """The share of the tuning rows answered "no answer" at `threshold` (the evaluation's by default)."""
        tuning = self.tuning_rows()
        t = self.threshold if threshold is None else threshold
        return sum(s.answer(t) == "" for s in tuning.spans) / max(len(tuning.spans), 1)

    def threshold_abstaining_on(self, share: float) -> float:
        """The threshold at which this reader abstains on `share` of the tuning rows.

        A variant of a reader (quantized, skimming, distilled) ranks questions by confidence almost as the
        reader does, but its scores are shifted. Making it abstain as often as the reader does at the
        reader's calibrated threshold transfers that decision. A fresh best-F1 search on a few hundred
        unanswerable questions instead lands on either of two near-equal optima (measured: the same model
        files at -2.53 and -3.71, eval19 F1 49.0 and 51.8)."""
        spans = self.tuning_rows().spans
        scores = sorted(s.na_score for s in spans if s.text)  # a question with no span abstains at any threshold
        if not scores:
            return self.threshold
        answered = min(len(spans) - round(share * len(spans)), len(scores))  # the lowest na_scores answer
        below = scores[answered - 1] if answered > 0 else scores[0] - 2.0
        above = scores[answered] if answered < len(scores) else below + 2.0
        return float((below + above) / 2)

    def per_domain(self, threshold: float | None = None) -> list[dict]:
        """One metrics dict per domain, then one over all rows (domain = "(all)")."""
        preds = self.answers(threshold)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.rows):
            groups[r["domain"]].append(i)
        golds = self.golds
        out = []
        for domain in sorted(groups) + [ALL]:
            idx = groups[domain] if domain != ALL else list(range(len(self.rows)))
            out.append({"domain": domain, **squad_metrics([golds[i] for i in idx], [preds[i] for i in idx])})
        return out


def evaluate(engine: QAEngine, rows: list[dict], batch_size: int = 64, threshold: float | None = None,
             progress: bool = False) -> Evaluation:
    """Run the engine (torch or ONNX) over the rows; metrics come from the returned `Evaluation`."""
    if not rows:  # a domain with no labelled question yet: nothing to run, nothing to score
        return Evaluation([], [], engine.threshold if threshold is None else threshold)
    spans = engine.spans([r["question"] for r in rows], [r["context"] for r in rows], batch_size, progress)
    return Evaluation(rows, spans, engine.threshold if threshold is None else threshold)


@dataclass(frozen=True)
class Recalibration:
    """A reader's threshold before and after calibrating it again, F1 on the calibration rows at each, and
    the share of those rows it abstains on at the new one (what a variant of it is matched to)."""

    old: float
    new: float
    f1_old: float
    f1_new: float
    abstained: float


def recalibrate(folder: str | Path, rows: list[dict], cfg: ReaderConfig | None = None, split: str = "dev",
                batch_size: int = 64, progress: bool = False, abstain_share: float | None = None) -> Recalibration:
    """Calibrate the no-answer threshold of the reader in `folder` again on labelled rows and write it into its
    card. Quantizing, skimming or distilling a reader shifts its null scores, so each variant needs its own
    threshold: by the best-F1 search, or, given `abstain_share` (its reference's `abstained` on the same
    rows), the threshold at which it abstains as often as the reference (`threshold_abstaining_on`)."""
    from zeroxqa.registry.atomic import write_json
    from zeroxqa.reader.card import CARD_FILE, read_card
    from zeroxqa.ingest.dataset import rows_sha256

    folder = Path(folder)
    ev = evaluate(QAEngine.load(str(folder), cfg=cfg), rows, batch_size, progress=progress)
    if abstain_share is None:
        threshold, method = ev.abstention_threshold(), "best F1"
    else:
        threshold, method = ev.threshold_abstaining_on(abstain_share), "abstains as often as its reference"
    f1 = {t: next(m for m in ev.per_domain(t) if m["domain"] == ALL)["f1"] for t in (ev.threshold, threshold)}
    card = read_card(folder)
    card.update({"null_threshold": threshold, "threshold_calibrated": True,
                 "threshold_calibration": {"rows": len(rows), "data_sha256": rows_sha256(rows), "split": split,
                                           "previous": ev.threshold, "method": method,
                                           "abstained": ev.abstained(threshold)}})
    write_json(card, folder / CARD_FILE)
    return Recalibration(ev.threshold, threshold, f1[ev.threshold], f1[threshold], ev.abstained(threshold))


def reference_abstention(folder: str | Path, rows: list[dict], cfg: ReaderConfig | None = None, batch_size: int = 64,
                         progress: bool = False) -> float:
    """The share of `rows` the reader in `folder` abstains on at the threshold the best-F1 search finds on
    them (its card is left as it is): what a variant of it calibrated on the same rows is matched to."""
    ev = evaluate(QAEngine.load(str(folder), cfg=cfg), rows, batch_size, progress=progress)
    return ev.abstained(ev.abstention_threshold())
