"""Performance pages (绩效): a unit and its children over a period, the unit's 12-week trend
(ECharts, data in a ``json_script`` block, script in ``static/loop/performance.js``), and the
same table as XLSX with Chinese headers.

Which unit: ``supervision.unit_for`` (in view scope through ``core.scope``, else 404; no unit →
the user's top unit), the same as the board and the backlog. Figures: ``loop.performance`` over
``loop.metrics``.
"""

from __future__ import annotations

import io

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bihuan.core import tabular as tb
from bihuan.core.views import paginate, querystring_without, requires

from .. import performance
from .supervision import VIEW, _common, unit_for


def _weeks(request) -> int:
    w = request.GET.get("weeks") or ""
    return int(w) if w.isdigit() and int(w) in performance.PERIODS else performance.TREND_WEEKS


def _cells(row: dict) -> list:
    return [performance.cell(row, k, kind) for k, _label, kind in performance.COLUMNS]


@requires(VIEW)
def performance_page(request, unit_id: int | None = None):
    now = timezone.now()
    unit = unit_for(request, unit_id)
    weeks = _weeks(request)
    data = performance.table(unit, weeks=weeks, now=now)
    page = paginate(request, data["children"])
    rows = [(r, _cells(r)) for r in page.object_list]
    ctx = _common(request, unit, "performance")
    ctx.update({
        "weeks": weeks, "periods": performance.PERIODS, "period": data["period"],
        "columns": performance.COLUMNS, "rows": rows, "page": page, "qs": querystring_without(request, "page"),
        "own": _cells(data["own"]), "total": _cells(data["unit"]),
        "has_children": bool(data["children"]), "chart": performance.trend(unit, now=now),
    })
    return render(request, "loop/performance.html", ctx)


@requires(VIEW)
def performance_xlsx(request, unit_id: int):
    now = timezone.now()
    unit = unit_for(request, unit_id)
    weeks = _weeks(request)
    data = performance.table(unit, weeks=weeks, now=now)
    with translation.override("zh-hans"):  # exports use Chinese headers
        headers = [_("Unit"), *[str(label) for _k, label, _kind in performance.COLUMNS]]
        rows = [[r["unit_name"], *_cells(r)] for r in data["children"]]
        rows.append([_("%(unit)s (own level)") % {"unit": unit.name}, *_cells(data["own"])])
        rows.append([_("Total"), *_cells(data["unit"])])
        sheet = _("Performance")
    out = io.BytesIO()
    tb.write_xlsx(out, headers, rows, sheet_title=sheet, widths=[24] + [14] * len(performance.COLUMNS))
    start = data["period"]["from"].astimezone(performance.TZ).date()
    resp = HttpResponse(out.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    name = f"performance-{unit.code or unit.pk}-{start:%Y%m%d}-{weeks}w.xlsx"
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp
