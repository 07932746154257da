"""The embedded sample (see zeroxqa/assets/NOTICE.md): what the main job and the tests run on."""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).parents[1] / "assets" / "sample"
SQUAD_THEMES = SAMPLE_DIR / "squad_v2_themes.json"  # in-domain themes
POLICY_SITES = SAMPLE_DIR / "policyqa_sites.json"  # labeled out-of-domain targets
POLICY_UNLABELED = SAMPLE_DIR / "policyqa_unlabeled_paragraphs.jsonl"  # a new domain without questions


def sample_files() -> list[Path]:
    return [SQUAD_THEMES, POLICY_SITES, POLICY_UNLABELED]
