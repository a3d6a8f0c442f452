"""The progress map as an XLSX workbook, cells filled with the same colours as the page."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _

from .models import Status

# openpyxl is imported inside the functions: 10 MB every web worker would otherwise hold from start-up.

# One palette for the page (plans/_status_css.html) and the workbook.
COLOURS = {
    Status.DONE: "2FB344",
    Status.ON_TRACK: "206BC4",
    Status.AT_RISK: "F59F00",
    Status.LATE: "D63939",
    Status.NOT_STARTED: "ADB5BD",
}


def _cell_text(c) -> str:
    if not c.total:
        return ""
    if c.total == 1:
        label = str(Status(c.status).label)
        return f"{label} {c.value}" if c.value is not None else label
    return f"{c.done}/{c.total}"


def map_workbook(m: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = _("Progress map")[:31]
    ws.append([f"{m['plan'].title} · {m['unit'].name}"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([_("Unit"), *[c["title"] for c in m["columns"]], _("Done rate"), _("On-track rate")])
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r in m["rows"]:
        ws.append([r["name"], *[_cell_text(c) for c in r["cells"]], r["done_pct"], r["on_track_pct"]])
        row = ws.max_row
        for j, c in enumerate(r["cells"], start=2):
            if c.total:
                x = ws.cell(row=row, column=j)
                x.fill = PatternFill("solid", fgColor=COLOURS[c.status])
                x.font = Font(color="FFFFFF" if c.status != Status.NOT_STARTED else "000000")
    ws.append([_("Total (done rate)"), *[t["done_pct"] for t in m["totals"]], m["grand"]["done_pct"], None])
    ws.append([])
    ws.append([_("Legend")])
    for s in Status:
        ws.append([str(s.label)])
        ws.cell(row=ws.max_row, column=1).fill = PatternFill("solid", fgColor=COLOURS[s])
    ws.column_dimensions["A"].width = 22
    ws.freeze_panes = "B3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
