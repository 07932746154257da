"""`python -m zeroxqa`: the `zeroxqa` command, for an environment whose scripts folder is not on PATH."""

from zeroxqa.cli import main

main()
