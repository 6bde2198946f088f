"""``python -m metastroma.cli``: the ``metastroma`` command."""

from metastroma.cli import main

main()
