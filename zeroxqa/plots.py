"""Figures written beside what they show: headless (Agg), laid out, saved atomically, closed."""

from __future__ import annotations

from pathlib import Path

from zeroxqa.registry.atomic import atomic_path


def figure(**kwargs):
    """A new matplotlib figure and axes on the headless backend (no display needed on a server)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(**kwargs)


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write `fig` as PNG to `path` (replaced whole or not at all) and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return Path(path)
