"""Values in and out: text a spreadsheet would run as a formula gets a leading apostrophe on
export, and the import strips it again (round-trip)."""

from __future__ import annotations

from .base import DANGEROUS_PREFIXES


def neutralise(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def _unneutralise(value):
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
