"""The `zeroxqa` command line, one module per command group. Each command is a thin shell over a function
in the package; heavy imports happen inside the commands, so `zeroxqa --help` stays fast."""

from __future__ import annotations

from zeroxqa.cli import data, reader, speed, skimming, adapt, flows, serving  # noqa: F401,I001  (each registers its commands, in this order)
from zeroxqa.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """The `zeroxqa` command. Options that no config accepts together (a window too short for the question and
    the stride, say) end with exit 2 and the rule they break, not a traceback."""
    import sys

    from pydantic import ValidationError

    from zeroxqa.cli.common import err_console

    try:
        app()
    except ValidationError as e:
        for problem in e.errors():
            where = ".".join(str(p) for p in problem["loc"]) or e.title
            err_console.print(f"[red]error:[/red] invalid options ({where}): {problem['msg']}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
