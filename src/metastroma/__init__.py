"""metastroma: breast cancer metastasis around the DDR2 mechanism, from tissue to body.

The public API: :func:`run` (one tissue run into a run directory), :func:`resume`,
:func:`load_scenario`; see the README and docs/.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("metastroma")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from metastroma.config import Scenario, load_scenario
from metastroma.errors import CheckpointError, ConfigError, RunDirectoryError

if TYPE_CHECKING:
    from metastroma.runner import RunResult, resume, run

_LAZY = {"RunResult", "resume", "run"}


def __getattr__(name: str) -> Any:
    """Import the runner (numba, zarr, pyarrow) only when ``run``/``resume`` is used."""
    if name in _LAZY:
        from metastroma import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'metastroma' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "ConfigError",
    "RunDirectoryError",
    "RunResult",
    "Scenario",
    "__version__",
    "load_scenario",
    "resume",
    "run",
]
