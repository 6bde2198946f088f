"""Exceptions raised at the package's edges; each subclasses a built-in so callers can catch broadly."""

from __future__ import annotations


class ConfigError(ValueError):
    """A scenario or option is invalid; the message names file, line, key path and allowed range."""


class RunDirectoryError(FileExistsError):
    """A run directory cannot be used as asked (finished run without ``--force``, missing checkpoint)."""


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or belongs to another configuration."""


__all__ = ["CheckpointError", "ConfigError", "RunDirectoryError"]
