"""What reading an import file may cost, as settings, and the messages for a broken limit.

Every limit of ``core.xlsx_reader.Limits`` is a setting (Django setting or environment variable
of the same name) with a safe default; the CSV reader uses the same ones that apply to it.
See docs/import-export.md, "Hostile files".
"""

from __future__ import annotations

import os

from django.conf import settings
from django.utils.translation import gettext as _

from ..xlsx_reader import BadXml, LimitExceeded, Limits

# setting → field of Limits
SETTINGS = {
    "BIHUAN_IMPORT_MAX_ENTRIES": "max_entries",
    "BIHUAN_IMPORT_MAX_UNPACKED_BYTES": "max_unpacked_bytes",
    "BIHUAN_IMPORT_MAX_RATIO": "max_ratio",
    "BIHUAN_IMPORT_MAX_PART_BYTES": "max_part_bytes",
    "BIHUAN_IMPORT_MAX_SHEET_ROWS": "max_rows",
    "BIHUAN_IMPORT_MAX_BLANK_ROWS": "max_blank_rows",
    "BIHUAN_IMPORT_MAX_COLUMNS": "max_columns",
    "BIHUAN_IMPORT_MAX_CELLS": "max_cells",
    "BIHUAN_IMPORT_MAX_CELL_CHARS": "max_cell_chars",
    "BIHUAN_IMPORT_MAX_ROW_CHARS": "max_row_chars",
    "BIHUAN_IMPORT_MAX_SHARED_STRINGS": "max_shared_strings",
    "BIHUAN_IMPORT_MAX_SHARED_BYTES": "max_shared_bytes",
    "BIHUAN_IMPORT_MAX_XML_DEPTH": "max_depth",
    "BIHUAN_IMPORT_MAX_SECONDS": "max_seconds",
}


def read_limits(*, timed: bool = True) -> Limits:
    """The configured limits. ``timed=False`` drops the time limit: the import's second pass,
    inside its transaction, reads a file the first pass already bounded, at the database's pace."""
    kw = {}
    for name, field in SETTINGS.items():
        raw = getattr(settings, name, None)
        if raw is None:
            raw = os.environ.get(name) or None
        if raw is not None:
            kw[field] = float(raw) if field == "max_seconds" else int(raw)
    if not timed:
        kw["max_seconds"] = None
    return Limits(**kw)


def _n(value) -> str:
    if isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        return f"{value >> 20} MB"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def limit_message(exc: LimitExceeded) -> str:
    """What a user reads when a file breaks a limit (nothing of the file was applied)."""
    n = _n(exc.value)
    messages = {
        "max_entries": _("The workbook has more than %(n)s parts."),
        "max_unpacked_bytes": _("The workbook unpacks to more than %(n)s."),
        "max_ratio": _("The workbook is compressed more than %(n)s to 1, as only a zip bomb is."),
        "max_part_bytes": _("A part of the workbook is larger than %(n)s."),
        "odd_entry": _("The workbook contains an entry that a plain workbook never has (%(detail)s): "
                       "encrypted, compressed unusually, an embedded file or a strange path."),
        "dtd": _("The workbook's XML declares a DTD or entities, which a plain workbook never does."),
        "max_depth": _("The workbook's XML is nested more than %(n)s levels deep."),
        "max_rows": _("The sheet has more than %(n)s rows (blank rows included)."),
        "max_blank_rows": _("The sheet has more than %(n)s blank rows."),
        "max_columns": _("The sheet has a cell beyond column %(n)s."),
        "max_cells": _("The sheet has more than %(n)s cells."),
        "max_cell_chars": _("A cell holds more than %(n)s characters."),
        "max_row_chars": _("A row holds more than %(n)s characters."),
        "max_shared_strings": _("The workbook has more than %(n)s distinct texts."),
        "max_shared_bytes": _("The workbook's texts together are larger than %(n)s."),
        "max_seconds": _("Reading the file took longer than %(n)s seconds."),
    }
    message = messages.get(exc.limit, _("The file is beyond a limit (%(detail)s)."))
    return str(message % {"n": n, "detail": exc.detail or exc.limit}) + " " + str(
        _("It was refused and nothing was applied; save the data as a plain workbook or CSV, or split it."))


def bad_xml_message(exc: BadXml) -> str:
    return str(_("The XLSX workbook cannot be read: its part %(part)s is not well-formed XML or not valid "
                 "text (%(reason)s, line %(line)s).") % {"part": exc.part, "reason": exc.reason,
                                                          "line": exc.line or "?"})
