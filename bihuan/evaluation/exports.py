"""Results of a run as an XLSX workbook: rank, stars and every indicator's points (Chinese headers)."""

from __future__ import annotations

import io

from .models import Line, PeerGroup

# openpyxl is imported inside the functions: 10 MB every web worker would otherwise hold from start-up.

PEER_ZH = {PeerGroup.TOWNSHIP: "乡镇街道", PeerGroup.VILLAGE: "村", PeerGroup.COMMUNITY: "社区",
           PeerGroup.PARTY_ORG: "党支部"}


def results_workbook(run, results) -> bytes:
    """``results`` (a queryset the user may see) of ``run``: one row per target, one column per indicator."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    inds = run.inputs.get("indicators", [])
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(f"{run.period}考核结果"[:31])
    bold = Font(bold=True)
    head = ["类别", "排名", "较上期", "单位", "区划代码", "上级单位", "得分", "星级",
            *[_head(i) for i in inds]]
    ws.append([_bold(ws, h, bold) for h in head])
    ids = list(results.values_list("pk", flat=True)[:100000])
    points: dict[int, dict[int, object]] = {}
    for rid, ind_id, p, v, note in Line.objects.filter(result_id__in=ids).values_list(
            "result_id", "indicator_id", "points", "value", "note"):
        # A veto shows as 否决 with its incidents; every other line as its points (deductions negative).
        points.setdefault(rid, {})[ind_id] = f"否决（{int(v or 0)}次）" if note == "veto" else p
    for r in results.iterator(chunk_size=2000):
        change = r.change
        ws.append([PEER_ZH.get(r.peer_group, r.peer_group), r.rank, "" if change is None else
                   (f"↑{change}" if change > 0 else f"↓{-change}" if change < 0 else "—"), r.name, r.unit.code,
                   r.unit.parent.name if r.unit.parent_id else "", None if r.score is None else float(r.score),
                   r.stars, *[(None if points.get(r.pk, {}).get(i["id"]) is None
                               else _cell(points[r.pk][i["id"]])) for i in inds]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


PDF_ROWS = 1500  # a printable document; the XLSX has every row


def results_pdf(run, results) -> bytes:
    """The results of ``run`` (``results``: what the user may see) as a PDF (A4 landscape, CJK font):
    rank, change, stars, score, each indicator's points; then every deduction and veto (where
    points were lost) with its incidents."""
    from django.template.loader import render_to_string

    from bihuan.core.documents import html_to_pdf

    inds = run.inputs.get("indicators", [])
    rows = list(results.select_related("unit", "unit__parent")[:PDF_ROWS])
    ids = [r.pk for r in rows]
    lines: dict[int, dict[int, object]] = {}
    penalties = []
    names = {r.pk: r.name for r in rows}
    for rid, ind_id, p, v, note in Line.objects.filter(result_id__in=ids).values_list(
            "result_id", "indicator_id", "points", "value", "note"):
        lines.setdefault(rid, {})[ind_id] = f"否决（{int(v or 0)}次）" if note == "veto" else p
        if note in ("veto", "deduction"):
            ind = next((i for i in inds if i["id"] == ind_id), {})
            penalties.append({"target": names[rid], "indicator": ind.get("name", ""), "incidents": int(v or 0),
                              "effect": (f"最高{ind.get('star_cap') or 1}星" if note == "veto" else f"{p}分")})
    table = [{"group": PEER_ZH.get(r.peer_group, r.peer_group), "rank": r.rank, "change": r.change, "name": r.name,
              "parent": r.unit.parent.name if r.unit.parent_id else "", "score": r.score, "stars": r.stars,
              "cells": [lines.get(r.pk, {}).get(i["id"]) for i in inds]} for r in rows]
    html = render_to_string("evaluation/results_pdf.html", {
        "run": run, "heads": [_head(i) for i in inds], "rows": table, "penalties": penalties,
        "truncated": results.count() > PDF_ROWS, "limit": PDF_ROWS})
    return html_to_pdf(html, extra_css="@page { size: A4 landscape; margin: 1.5cm; } td, th { font-size: 8pt; }")


def nominations_workbook(rnd, nominations) -> bytes:
    """A round's nominations the user may see: unit, nominee, deeds, state, citation (Chinese headers)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from .models import NominationState

    states = {NominationState.NOMINATED: "待审核", NominationState.ACCEPTED: "拟表彰（公示）",
              NominationState.REJECTED: "未通过", NominationState.NAMED: "已命名"}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(rnd.name[:31])
    bold = Font(bold=True)
    ws.append([_bold(ws, h, bold) for h in ["推荐单位", "区划代码", "推荐对象", "主要事迹", "状态", "表彰词"]])
    for n in nominations.iterator(chunk_size=2000):
        ws.append([n.unit.name, n.unit.code, n.nominee, n.deeds, states.get(n.state, n.state), n.citation])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _head(ind: dict) -> str:
    if ind["kind"] == "deduct":
        return f"{ind['name']}（扣分项，每次{ind.get('penalty')}分）"
    if ind["kind"] == "veto":
        return f"{ind['name']}（一票否决，最高{ind.get('star_cap') or 1}星）"
    return f"{ind['name']}（{ind['weight']}分）"


def _cell(v):
    return v if isinstance(v, str) else float(v)


def _bold(ws, text, font):
    from openpyxl.cell import WriteOnlyCell

    c = WriteOnlyCell(ws, value=text)
    c.font = font
    return c
