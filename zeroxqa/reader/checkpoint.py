"""A training run's full state on disk, so that a long run can stop anywhere and continue exactly.

Tensors (model weights, optimizer moments, the torch RNG) go into one safetensors file, never a pickle;
everything else (step, epoch, position in the epoch's batch order, scheduler-free scalars, history) into a
JSON file beside it. The folder is written atomically: a kill leaves the previous checkpoint whole.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from zeroxqa.registry.atomic import atomic_dir

STATE_FILE, TENSORS_FILE = "state.json", "state.safetensors"


@dataclass
class RunState:
    """Where a training run is: the next batch to take is `batches[batch_in_epoch]` of `epoch`."""

    step: int = 0
    epoch: int = 1
    batch_in_epoch: int = 0
    best_f1: float = -1.0
    data_sha256: str = ""
    history: list[dict] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: RunState) -> Path:
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for i, moments in opt["state"].items():
        for name, value in moments.items():
            tensors[f"optimizer.{i}.{name}"] = value.detach().contiguous().cpu()
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in opt["param_groups"]]
    with atomic_dir(path) as tmp:
        save_file(tensors, tmp / TENSORS_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({"run": asdict(state), "param_groups": groups}, indent=1) + "\n")
    return Path(path)


def has_checkpoint(path: str | Path) -> bool:
    return (Path(path) / STATE_FILE).exists() and (Path(path) / TENSORS_FILE).exists()


def peek_checkpoint(path: str | Path) -> RunState:
    """Where the run of a checkpoint stood, without loading its tensors."""
    return RunState(**json.loads((Path(path) / STATE_FILE).read_text())["run"])


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> RunState:
    """Restore model, optimizer and RNG in place; return where the run stood."""
    path = Path(path)
    meta = json.loads((path / STATE_FILE).read_text())
    tensors = load_file(path / TENSORS_FILE)
    device = next(model.parameters()).device
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, i, name = key.split(".", 2)
            moments.setdefault(int(i), {})[name] = value if name == "step" else value.to(device)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": moments, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return RunState(**meta["run"])
