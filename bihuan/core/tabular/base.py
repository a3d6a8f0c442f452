"""What every part of the import/export framework shares: the two errors, modes, formats,
the error-report header and the characters that make a spreadsheet run a formula."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ServiceError

Progress = Callable[[int], Any]

ERROR_HEADER = "错误"
# Headers of an error report's own column, ignored on import so a fixed report re-imports as is.
IGNORED_HEADERS = {ERROR_HEADER, "errors", "error"}
FORMATS = ("xlsx", "csv")
ATOMIC, VALID_ONLY = "atomic", "valid_only"
# Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BATCH_ROWS = 1000


class TabularError(ServiceError):
    """The file as a whole is refused (size, format, headers, emptiness): nothing applied."""

    def __init__(self, message, code: str = "bad_file"):
        super().__init__(message, code=code)


class CellError(ValueError):
    """Raised by a column parser; the message is shown in the row's error report."""
