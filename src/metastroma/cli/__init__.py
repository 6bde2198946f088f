"""The ``metastroma`` command: it parses options and calls the Python API, nothing more.

One module per family of commands, each registering its commands on the one Typer app:
:mod:`~metastroma.cli.tissue` (run, demo, align, plot, schema, experiment),
:mod:`~metastroma.cli.body` (cohort, trial) and :mod:`~metastroma.cli.ensemble` (sweep,
sensitivity, calibrate, link); shared parts in :mod:`~metastroma.cli._common`.

Exit codes: 0 success; 2 bad input (scenario, option, run directory, checkpoint), with a
message naming the problem and where it is; 1 an unexpected error (out of memory included);
130 interrupted (a tissue run directory is left resumable; a cohort writes nothing).
"""

# importing a family registers its commands; --help lists them in this order
from metastroma.cli import tissue, body, ensemble  # noqa: F401, I001
from metastroma.cli._common import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
