"""Error types raised at latentedit's API boundary.

Every error a user can cause derives from :class:`LatentEditError`, so callers (and the
CLI, which turns these into one-line messages with exit code 2) can catch one type.
"""


class LatentEditError(Exception):
    """Base class for every error latentedit raises on bad input."""


class ConfigError(LatentEditError, ValueError):
    """A configuration value is missing, of the wrong type, or out of range."""


class DataFormatError(LatentEditError, ValueError):
    """A training or input file cannot be read; the message names the file and line."""


class ModelFolderError(LatentEditError, OSError):
    """A model folder is missing, truncated, unsafe or incompatible."""


class InputError(LatentEditError, ValueError):
    """An argument given to a public call is invalid (empty text, NaN target, ...)."""
