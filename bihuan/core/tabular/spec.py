"""A register's columns (``Column``) and the header match (``Spec.match_headers``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from .base import IGNORED_HEADERS, TabularError
from .parsers import text


@dataclass(frozen=True)
class Column:
    """One column: Chinese ``header`` (as exported), internal ``key``, and how to read it.

    ``get`` extracts the export value from a row object (a dict from ``.values()`` or a
    model instance); by default ``row[key]`` / ``getattr(row, key)``.
    """

    key: str
    header: str
    parse: Callable[[Any], Any] = field(default_factory=text)
    required: bool = False
    aliases: tuple[str, ...] = ()
    get: Callable[[Any], Any] | None = None
    width: int = 14
    # An optional column may be left out of the file entirely.
    optional_header: bool = False
    # Free text a person typed (an address, a note): phone and ID numbers in it are masked on export
    # unless the export is unmasked (core.protect.mask_text; the import keeps a masked cell's text).
    free_text: bool = False

    def headers(self) -> set[str]:
        return {_norm_header(h) for h in (self.header, self.key, *self.aliases)}

    def value_of(self, obj) -> Any:
        if self.get is not None:
            return self.get(obj)
        if isinstance(obj, dict):
            return obj.get(self.key)
        return getattr(obj, self.key, None)


def _norm_header(h) -> str:
    return re.sub(r"\s+", " ", str(h or "").replace("\u3000", " ")).strip().lower()


@dataclass(frozen=True)
class Spec:
    """The columns of a register. ``unique`` is the key a row may appear under only once."""

    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    sheet_title: str = "Sheet1"

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def match_headers(self, header_row: list) -> list[Column | None]:
        """Map each file column to a spec column (None = ignored); TabularError when wrong."""
        lookup: dict[str, Column] = {}
        for c in self.columns:
            for h in c.headers():
                lookup[h] = c
        mapping: list[Column | None] = []
        seen: set[str] = set()
        unknown: list[str] = []
        for raw in header_row:
            h = _norm_header(raw)
            if not h or h in IGNORED_HEADERS:
                mapping.append(None)
                continue
            col = lookup.get(h)
            if col is None:
                unknown.append(str(raw).strip())
                mapping.append(None)
                continue
            if col.key in seen:
                raise TabularError(_("The column %(h)s appears twice in the header row.") % {"h": col.header},
                                   code="bad_headers")
            seen.add(col.key)
            mapping.append(col)
        missing = [c.header for c in self.columns if c.key not in seen and not c.optional_header]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(_("missing columns: %(cols)s") % {"cols": "、".join(missing)})
            if unknown:
                parts.append(_("unknown columns: %(cols)s") % {"cols": "、".join(unknown)})
            raise TabularError(
                _("The header row does not match (%(detail)s). Expected: %(expected)s.")
                % {"detail": "; ".join(parts), "expected": "、".join(self.headers)}, code="bad_headers")
        return mapping
