"""Error types raised at latentedit's API boundary.

Every error a user can cause derives from :class:`LatentEditError`, so callers (and the
CLI, which turns these into one-line messages with exit code 2) can catch one type.

A LatentEditError's message is always one line: line breaks in it (a path or a file's content
quoted in the message) are written as visible escapes.

>>> str(ConfigError("config file a\\nb does not exist"))
'config file a\\\\nb does not exist'
"""

import re

#: what str.splitlines() splits on
LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with every line break written as its escape (``\\n``, ``\\r``, ``\\u2028``, ...)."""
    return LINE_BREAKS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class LatentEditError(Exception):
    """Base class for every error latentedit raises on bad input."""

    def __init__(self, message: object = ""):
        super().__init__(one_line(str(message)))


class ConfigError(LatentEditError, ValueError):
    """A configuration value is missing, of the wrong type, or out of range."""


class DataFormatError(LatentEditError, ValueError):
    """A training or input file cannot be read; the message names the file and line."""


class ModelFolderError(LatentEditError, OSError):
    """A model folder is missing, truncated, unsafe or incompatible."""


class InputError(LatentEditError, ValueError):
    """An argument given to a public call is invalid (empty text, NaN target, ...)."""
