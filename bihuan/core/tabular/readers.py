"""Readers: (row number, values, indexes of formula cells) from an XLSX's first sheet or a CSV."""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from .base import TabularError
from .source import Source


def iter_xlsx(path: Path) -> Iterator[tuple[int, list, set[int]]]:
    """(row number, values, indexes of formula cells) from the first sheet, streaming.

    ``core.xlsx_reader`` gives what openpyxl's read-only reader gives (formulas as their
    ``"=…"`` text, never a computed value), 3–4× faster; blank rows may be left out."""
    from ..xlsx_reader import XlsxError, iter_rows

    if not zipfile.is_zipfile(path):
        raise TabularError(_("This is not an XLSX workbook (perhaps a renamed or damaged file). "
                             "Save it from your spreadsheet as .xlsx or .csv."), code="bad_format")
    rows = iter_rows(path)
    try:
        yield from rows
    except XlsxError as exc:
        if str(exc) == "no sheet":
            raise TabularError(_("The workbook has no sheet."), code="empty")
        raise TabularError(_("The XLSX workbook cannot be read (%(err)s).") % {"err": exc}, code="bad_format")


def _csv_encoding(path: Path) -> str:
    """utf-8(-sig) as we export it; GB18030 for CSVs saved by Excel in a Chinese locale."""
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            return "gb18030"


def iter_csv(path: Path) -> Iterator[tuple[int, list, set[int]]]:
    encoding = _csv_encoding(path)
    try:
        with open(path, encoding=encoding, newline="", errors="strict") as fh:
            for number, values in enumerate(csv.reader(fh), start=1):
                yield number, values, set()
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TabularError(_("The CSV file cannot be read (%(err)s).") % {"err": exc}, code="bad_format")


def iter_source(source: Source) -> Iterator[tuple[int, list, set[int]]]:
    return iter_xlsx(source.path) if source.fmt == "xlsx" else iter_csv(source.path)
