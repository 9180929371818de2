"""`python -m lp` is the `lp` command."""

from lp.cli import main

main()
