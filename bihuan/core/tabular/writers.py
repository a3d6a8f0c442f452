"""Writers: XLSX (openpyxl write_only) and CSV as utf-8-sig, streamed; the error report;
and ``export`` of a kind (one audit entry)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

from django.utils.translation import gettext as _

from .. import audit
from .base import ERROR_HEADER, FORMATS, IGNORED_HEADERS, Progress, TabularError
from .importer import ImportResult
from .readers import iter_source
from .registry import Kind, can, get_kind
from .source import Source
from .spec import Spec, _norm_header
from .values import _is_blank, neutralise


def _xlsx_value(v):
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.replace(tzinfo=None)  # openpyxl cannot store aware datetimes; callers pass local
    return neutralise(v)


def write_xlsx(out, headers: list[str], rows: Iterable[list], *, sheet_title: str = "Sheet1",
               widths: list[int] | None = None, progress: Progress | None = None) -> int:
    """Stream rows into an XLSX (openpyxl write_only). ``out`` is a path or binary file."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title[:31])
    for i, w in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for h in headers:
        c = WriteOnlyCell(ws, value=neutralise(h))
        c.font = bold
        header_cells.append(c)
    ws.append(header_cells)
    n = 0
    for row in rows:
        ws.append([_xlsx_value(v) for v in row])
        n += 1
        if progress and n % 1000 == 0:
            progress(1000)
    if progress and n % 1000:
        progress(n % 1000)
    wb.save(out)
    return n


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, datetime | date):
        return v.isoformat()
    return neutralise(v if isinstance(v, str) else str(v))


def write_csv(out, headers: list[str], rows: Iterable[list], *, progress: Progress | None = None) -> int:
    """Stream rows into CSV as utf-8-sig (so Excel opens Chinese text). ``out`` is binary."""
    own = isinstance(out, str | Path)
    fh = open(out, "wb") if own else out
    text_out = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="", write_through=True)
    try:
        w = csv.writer(text_out)
        w.writerow([_csv_value(h) for h in headers])
        n = 0
        for row in rows:
            w.writerow([_csv_value(v) for v in row])
            n += 1
            if progress and n % 1000 == 0:
                progress(1000)
        if progress and n % 1000:
            progress(n % 1000)
        text_out.flush()
    finally:
        text_out.detach()  # leave the caller's file open
        if own:
            fh.close()
    return n


def write_table(out, fmt: str, headers: list[str], rows: Iterable[list], **kw) -> int:
    if fmt == "csv":
        kw.pop("sheet_title", None)
        kw.pop("widths", None)
        return write_csv(out, headers, rows, **kw)
    if fmt == "xlsx":
        return write_xlsx(out, headers, rows, **kw)
    raise TabularError(_("Unknown format %(fmt)s; use xlsx or csv.") % {"fmt": fmt}, code="bad_format")


def spec_rows(spec: Spec, objects: Iterable, *, unmasked: bool = False) -> Iterator[list]:
    """Export cells; free-text columns pass through ``protect.mask_text`` unless ``unmasked``."""
    from ..protect import mask_text

    masked = [c.free_text and not unmasked for c in spec.columns]
    for obj in objects:
        yield [mask_text(v) if m and isinstance(v, str) else v
               for v, m in zip((c.value_of(obj) for c in spec.columns), masked, strict=True)]


def write_error_report(out, kind: Kind | str, source: Source, result: ImportResult, *,
                       only_errors: bool = False) -> int:
    """The file's own rows plus an error column (错误), as XLSX. Fix and re-import it as is."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    widths = [c.width for c in kind.spec.columns] + [60]
    if result.file_error:
        return write_xlsx(out, [ERROR_HEADER], [[result.file_error]], sheet_title=kind.spec.sheet_title,
                          widths=[80])
    by_row = result.errors_by_row()
    lines = ((n, v) for n, v, _f in iter_source(source) if not all(_is_blank(x) for x in v))
    _n, header = next(lines)
    # Leave out an old 错误 column, so a report re-imported and re-checked stays one column wide.
    keep = [i for i, h in enumerate(header) if _norm_header(h) not in IGNORED_HEADERS]

    def rows():
        for number, values in lines:
            msgs = by_row.get(number, [])
            if only_errors and not msgs:
                continue
            message = "；".join(f"{e.column}: {e.message}" if e.column else e.message for e in msgs)
            yield [values[i] if i < len(values) else None for i in keep] + [message]

    return write_xlsx(out, [header[i] if header[i] is not None else "" for i in keep] + [ERROR_HEADER],
                      rows(), sheet_title=kind.spec.sheet_title, widths=widths)


def export(kind: Kind | str, out, *, user=None, fmt: str = "xlsx", unit=None,
           progress: Progress | None = None, now: datetime | None = None, unmasked: bool = False) -> int:
    """Write the rows of ``kind`` in the user's export scope to ``out``; one audit entry.

    ``unmasked`` (kinds with protected numbers) needs ``<prefix>.export_unmasked`` and is audited as such.
    """
    kind = get_kind(kind) if isinstance(kind, str) else kind
    if fmt not in FORMATS:
        raise TabularError(_("Unknown format %(fmt)s; use xlsx or csv.") % {"fmt": fmt}, code="bad_format")
    if unmasked and not can(user, kind, "export_unmasked"):
        from ..errors import PermissionDenied

        raise PermissionDenied(_("Unmasked export needs its own permission."))
    objects = kind.export_rows(user, unit=unit, **({"unmasked": True} if unmasked else {}))
    n = write_table(out, fmt, kind.spec.headers, spec_rows(kind.spec, objects, unmasked=unmasked),
                    sheet_title=kind.spec.sheet_title, widths=[c.width for c in kind.spec.columns],
                    progress=progress)
    audit.record(f"{kind.permission_prefix}.export", object_type=kind.name,
                 object_id=getattr(unit, "pk", "") or "", unit=unit,
                 extra={"kind": kind.name, "format": fmt, "rows": n,
                        "unit": getattr(unit, "code", None), **({"unmasked": True} if unmasked else {})},
                 now=now)
    return n
