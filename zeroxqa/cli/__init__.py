"""The `zeroxqa` command line, one module per command group. Each command is a thin shell over a function
in the package; heavy imports happen inside the commands, so `zeroxqa --help` stays fast."""

from __future__ import annotations

from zeroxqa.cli import data, reader, speed, adapt, flows, serving  # noqa: F401,I001  (each registers its commands, in this order)
from zeroxqa.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
