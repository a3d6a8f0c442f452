"""Column parsers. A parser takes the cell's value (str, int, float, datetime … as read, never
None or "") and returns the internal value or raises ``CellError``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from .base import CellError


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed as a number: 370800.0 → "370800"
    if isinstance(value, datetime):
        value = value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


as_text = _as_text  # public name: a cell value as trimmed text (numbers without ".0", dates ISO)


def text(max_length: int | None = None, pattern: str | None = None, pattern_message: str = ""):
    rx = re.compile(pattern) if pattern else None

    def parse(value):
        s = value.strip() if value.__class__ is str else _as_text(value)  # str: the common case, quickly
        if max_length is not None and len(s) > max_length:
            raise CellError(_("At most %(n)d characters.") % {"n": max_length})
        if rx and not rx.fullmatch(s):
            raise CellError(str(pattern_message or _("Wrong format.")))
        return s

    return parse


def integer(min_value: int | None = None, max_value: int | None = None):
    def parse(value):
        if isinstance(value, bool):
            raise CellError(_("A whole number is required."))
        try:
            d = Decimal(_as_text(value).replace(",", ""))
        except InvalidOperation:
            raise CellError(_("A whole number is required."))
        if d != d.to_integral_value():
            raise CellError(_("A whole number is required."))
        n = int(d)
        if min_value is not None and n < min_value:
            raise CellError(_("At least %(n)d.") % {"n": min_value})
        if max_value is not None and n > max_value:
            raise CellError(_("At most %(n)d.") % {"n": max_value})
        return n

    return parse


def decimal(places: int = 2):
    def parse(value):
        try:
            d = Decimal(_as_text(value).replace(",", ""))
        except InvalidOperation:
            raise CellError(_("A number is required."))
        if not d.is_finite():
            raise CellError(_("A number is required."))
        return d.quantize(Decimal(1).scaleb(-places))

    return parse


_DATE_RX = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def parse_date(value):
    """A date cell, or text as 2024-01-31, 2024/1/31, 2024.1.31, 2024年1月31日 or 20240131."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    s = _as_text(value)
    m = _DATE_RX.fullmatch(s) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", s)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    raise CellError(_("Not a date (write it as 2024-01-31)."))


def choice(mapping: dict[str, Any], *, case_insensitive: bool = True, shown: Iterable[str] | None = None):
    """An enumeration: ``mapping`` of accepted labels → internal value (``shown`` in errors)."""
    table = {(k.lower() if case_insensitive else k): v for k, v in mapping.items()}
    shown = " / ".join(dict.fromkeys(str(k) for k in (shown or mapping)))

    def parse(value):
        s = _as_text(value)
        key = s.lower() if case_insensitive else s
        if key in table:
            return table[key]
        raise CellError(_("Must be one of: %(choices)s.") % {"choices": shown})

    return parse


def boolean(value):
    s = _as_text(value).lower()
    if s in {"是", "1", "true", "yes", "y", "t"}:
        return True
    if s in {"否", "0", "false", "no", "n", "f"}:
        return False
    raise CellError(_("Must be 是 or 否."))
