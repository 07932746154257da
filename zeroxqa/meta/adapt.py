"""K-shot adaptation and its score: what a meta-learned initialization is for, so it is also how
checkpoints are selected and how initializations are compared (`zeroxqa adapt-eval`)."""

from __future__ import annotations

import math
import random
import time
from typing import Callable, Iterable

from zeroxqa.config import AdaptConfig, ReaderConfig
from zeroxqa.reader.evaluate import ALL, evaluate
from zeroxqa.reader.engine import QAEngine
from zeroxqa.meta.inner import inner_adapt
from zeroxqa.reader.model import Reader

MEAN = "(mean)"


def k_shot(rows: list[dict], k: int, seed: int) -> list[dict]:
    """The first K of a seeded shuffle (all of them when K is 0 or larger than the set)."""
    rows = sorted(rows, key=lambda r: r["id"])
    random.Random(seed).shuffle(rows)
    return rows if k <= 0 else rows[:k]


def adapt_and_score(reader: Reader, train_rows: list[dict], dev_rows: list[dict], k: int, cfg: AdaptConfig,
                    reader_cfg: ReaderConfig) -> dict:
    """Adapt `reader` in place on K examples, calibrate the no-answer threshold on those same K examples
    (all a user with K labels has; when none of them is unanswerable, they can only raise the reader's own),
    and score the domain's dev rows at that threshold, on `cfg.device`."""
    from zeroxqa.reader.train import resolve_device

    shots = k_shot(train_rows, k, cfg.seed)
    started = time.perf_counter()
    reader.model.to(resolve_device(cfg.device))
    steps = cfg.steps(len(shots))
    inner_adapt(reader.model, reader.tokenizer, shots, reader_cfg, steps, cfg.learning_rate, cfg.batch_size, cfg.seed)
    engine = QAEngine.from_reader(reader, reader_cfg)
    threshold = evaluate(engine, shots).abstention_threshold()
    dev = evaluate(engine, dev_rows[: cfg.max_dev] if cfg.max_dev else dev_rows, threshold=threshold)
    metrics = next(m for m in dev.per_domain() if m["domain"] == ALL)
    # the best span always given: how good the spans are, whatever K examples made of the threshold
    forced = next(m for m in dev.per_domain(threshold=math.inf) if m["domain"] == ALL)
    return {"shots": len(shots), "steps": steps, "threshold": threshold, "seconds": time.perf_counter() - started,
            **{k_: metrics[k_] for k_ in ("n", "exact", "f1", "HasAns_f1", "NoAns_f1")}, "span_f1": forced["HasAns_f1"]}


def cell(row: dict) -> tuple[str, str, str, str, str]:
    """What a table row measures: initialization, domain, K (as text: "16", "all"), seed and the setup (the
    initialization's path and every other setting), so a resumed run never reuses a row measured differently."""
    return row["init"], row["domain"], str(row["K"]), str(row.get("seed")), row.get("setup") or ""


def setup_of(source: str, cfg: AdaptConfig, reader_cfg: ReaderConfig) -> str:
    """Where a cell ran (CPU or GPU) is not part of what it measures: a table begun on one machine may be
    finished on another."""
    return f"{source} {cfg.model_dump_json(exclude={'shots', 'seed', 'seeds', 'device'})} {reader_cfg.model_dump_json()}"


def seeds_for(k: int, cfg: AdaptConfig) -> list[int]:
    """Several seeds where few-shot variance is large (0 < K <= multi_seed_max_k), else the first one."""
    n = cfg.seeds if 0 < k <= cfg.multi_seed_max_k else 1
    return [cfg.seed + i for i in range(n)]


def adapt_eval(inits: dict[str, str], targets: dict[str, tuple[list[dict], list[dict]]], cfg: AdaptConfig,
               reader_cfg: ReaderConfig, progress: Callable[[str], None] = lambda msg: None,
               done: Iterable[dict] = (), on_row: Callable[[list[dict]], None] = lambda rows: None) -> list[dict]:
    """Every initialization x every target domain x every K: one row each, then the mean over domains.

    Each row holds the fine-tune's own scores beside the base reader's, the base with a threshold fitted to
    the domain, and what the decision made on the K labels alone ships (`zeroxqa.adapt.kshot`). A run is
    long (each cell is several fine-tunes), so `on_row` gets the rows so far after every cell, and the cells
    already in `done` (an interrupted run's rows) are kept rather than measured again."""
    setups = {setup_of(source, cfg, reader_cfg) for source in inits.values()}
    rows = [r for r in done if r["domain"] != MEAN and r.get("seed") is not None and r.get("setup") in setups]
    measured = {cell(r) for r in rows}
    for name, source in inits.items():
        for domain, (train_rows, dev_rows) in targets.items():
            dev_rows = dev_rows[: cfg.max_dev] if cfg.max_dev else dev_rows
            base_dev = None  # the base on the dev rows: the same for every K and seed, evaluated once
            for k in cfg.shots:
                for seed in seeds_for(k, cfg):
                    row = {"init": name, "domain": domain, "K": str(k or "all"), "seed": seed,
                           "setup": setup_of(source, cfg, reader_cfg)}
                    if cell(row) in measured:
                        continue
                    progress(f"{name} -> {domain}, K={row['K']}, seed {seed}")
                    if base_dev is None:
                        base_dev = base_evaluation(source, dev_rows, reader_cfg)
                    scored = adapt_and_decide(source, k_shot(train_rows, k, seed), dev_rows,
                                              cfg.model_copy(update={"seed": seed}), reader_cfg, base_dev)
                    rows.append({**row, **scored})
                    on_row(rows)
    return rows + summarize(rows, list(inits), list(targets), cfg.shots)


def base_evaluation(source: str, dev_rows: list[dict], reader_cfg: ReaderConfig):
    """The initialization itself on a target's dev rows: the same for every K and seed of that target."""
    return evaluate(QAEngine.load(source, cfg=reader_cfg), dev_rows)


def adapt_and_decide(source: str, shots: list[dict], dev_rows: list[dict], cfg: AdaptConfig, reader_cfg: ReaderConfig,
                     base_dev=None) -> dict:
    """One cell's row (`zeroxqa.adapt.kshot.adapt_and_decide`), imported when a cell is measured."""
    from zeroxqa.adapt.kshot import adapt_and_decide as cell_scores

    return cell_scores(source, shots, dev_rows, cfg, reader_cfg, base_dev)


METRICS = ("f1", "exact", "HasAns_f1", "span_f1", "abstain_f1", "base_f1", "base_HasAns_f1", "threshold_f1", "wise_f1", "shipped_f1",
           "shipped_HasAns_f1", "shipped_gain")


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0


def summarize(rows: list[dict], inits: list[str], domains: list[str], shots: list[int]) -> list[dict]:
    """Mean and standard deviation over seeds per (initialization, domain, K); then, per (initialization,
    K), the mean over domains with the standard deviation over seeds of that mean (seeds are paired across
    domains). Summary rows have no `seed` and carry `seeds`, the number of seeds behind them."""
    out = []
    for name in inits:
        for k in (str(k or "all") for k in shots):
            mine = [r for r in rows if r["init"] == name and r["K"] == k and r.get("seed") is not None]
            for domain in domains:
                group = [r for r in mine if r["domain"] == domain]
                if group:
                    stats = {m: _mean_std([r.get(m, math.nan) for r in group]) for m in METRICS}
                    out.append({"init": name, "domain": domain, "K": k, "seed": None, "seeds": len(group),
                                **{m: stats[m][0] for m in METRICS}, "f1_std": stats["f1"][1],
                                "shipped_gain_std": stats["shipped_gain"][1], "shipped": shipped_names(group),
                                "seconds": sum(r.get("seconds", 0.0) for r in group)})
            by_seed = {}
            for r in mine:
                if r["domain"] in domains:
                    by_seed.setdefault(r["seed"], []).append(r)
            complete = [g for g in by_seed.values() if len(g) == len({r["domain"] for r in g}) == len(domains)]
            if complete:
                per_seed = {m: [sum(r.get(m, math.nan) for r in g) / len(g) for g in complete] for m in METRICS}
                out.append({"init": name, "domain": MEAN, "K": k, "seed": None, "seeds": len(complete),
                            **{m: _mean_std(per_seed[m])[0] for m in METRICS}, "f1_std": _mean_std(per_seed["f1"])[1],
                            "shipped_gain_std": _mean_std(per_seed["shipped_gain"])[1],
                            "shipped": shipped_names([r for g in complete for r in g]),
                            "seconds": sum(r.get("seconds", 0.0) for g in complete for r in g)})
    return out


def shipped_names(rows: list[dict]) -> str:
    """What the decision shipped over these rows, e.g. "fine-tune 2, base 1"."""
    from collections import Counter

    counts = Counter(r.get("shipped") for r in rows if r.get("shipped"))
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def plot_adapt_eval(summary: list[dict], path) -> None:
    """F1 against K for each initialization (mean over seeds, ± one standard deviation): the fine-tune
    (solid), what the decision ships (dashed) and the base reader (dotted), one panel per target domain and
    one for their mean."""
    from zeroxqa.plots import figure, save_figure

    domains = sorted({r["domain"] for r in summary if r["domain"] != MEAN}) + [MEAN]
    fig, axes = figure(ncols=len(domains), figsize=(3.2 * len(domains), 3.2), sharey=True, squeeze=False)
    order = sorted({r["K"] for r in summary}, key=lambda k: (k == "all", int(k) if k != "all" else 0))
    for ax, domain in zip(axes[0], domains):
        for name in sorted({r["init"] for r in summary}):
            points = {r["K"]: r for r in summary if r["init"] == name and r["domain"] == domain}
            ks = [k for k in order if k in points]
            line = ax.errorbar(range(len(ks)), [points[k]["f1"] for k in ks], yerr=[points[k]["f1_std"] for k in ks],
                               marker="o", capsize=3, label=f"{name}: fine-tune")
            color = line[0].get_color()
            if all(_has(points[k], "shipped_f1") for k in ks):
                ax.plot(range(len(ks)), [points[k]["shipped_f1"] for k in ks], "s--", color=color, alpha=0.8,
                        label=f"{name}: shipped")
            if all(_has(points[k], "base_f1") for k in ks):
                ax.plot(range(len(ks)), [points[k]["base_f1"] for k in ks], ":", color="grey", label="base")
            ax.set_xticks(range(len(ks)), ks)
        ax.set_title(domain, fontsize=9)
        ax.set_xlabel("K (labelled examples)")
    axes[0][0].set_ylabel("dev F1")
    axes[0][-1].legend(fontsize=7)
    save_figure(fig, path)


def _has(row: dict, key: str) -> bool:
    value = row.get(key)
    return value is not None and not (isinstance(value, float) and math.isnan(value))
