"""Rebuild the embedded sample in zeroxqa/assets/sample/ from the real data in ../shared/data/.

Run once by a developer (`python scripts/make_sample.py ../shared/data`); the package never reads
../shared at run time. Picks the first paragraphs of a few themes so the sample is small and stable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SQUAD_THEMES = ["Normans", "Steam_engine", "Immune_system", "Warsaw", "Harvard_University", "Force"]
SQUAD_PARAGRAPHS = 8
POLICY_LABELED = {"ted.com": 10, "walmart.com": 10}
POLICY_UNLABELED = "yahoo.com"
POLICY_PARAGRAPHS_UNLABELED = 12


def main(shared: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    squad = json.loads((shared / "squad/squad_v2_dev_half.json").read_text())
    articles = [
        {"title": a["title"], "paragraphs": a["paragraphs"][:SQUAD_PARAGRAPHS]}
        for a in squad["data"]
        if a["title"] in SQUAD_THEMES
    ]
    (out / "squad_v2_themes.json").write_text(json.dumps({"version": "v2.0", "data": articles}, ensure_ascii=False))

    policy = json.loads((shared / "policyqa/dev.json").read_text())
    labeled = []
    for a in policy["data"]:
        if a["title"] in POLICY_LABELED:
            paras = [{"context": p["context"], "qas": p["qas"]} for p in a["paragraphs"][: POLICY_LABELED[a["title"]]]]
            labeled.append({"title": a["title"], "paragraphs": paras})
        if a["title"] == POLICY_UNLABELED:
            lines = [json.dumps({"domain": a["title"], "paragraph": p["context"]}, ensure_ascii=False)
                     for p in a["paragraphs"][:POLICY_PARAGRAPHS_UNLABELED]]
            (out / "policyqa_unlabeled_paragraphs.jsonl").write_text("\n".join(lines) + "\n")
    (out / "policyqa_sites.json").write_text(json.dumps({"version": "1.1", "data": labeled}, ensure_ascii=False))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"), Path(__file__).parents[1] / "zeroxqa/assets/sample")
