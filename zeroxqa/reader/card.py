"""A model folder's card (`zeroxqa_card.json`: what it was trained on, its threshold, its window settings),
readable without torch or transformers (the lean ONNX engine reads it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FILE = "zeroxqa_card.json"


def read_card(path: str | Path) -> dict[str, Any]:
    card = Path(path) / CARD_FILE
    return json.loads(card.read_text()) if card.exists() else {}
