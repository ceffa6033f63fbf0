"""``python -m gxpml`` runs the command line."""

from gxpml.cli import main

main()
