"""A bulletin as PDF (red-header official style), DOCX and XLSX — all three from its snapshot, so
they carry the same numbers, and an issued bulletin renders the same figures every time.

A render that fails (the font missing, a chart that cannot be drawn) raises ``RenderError`` with
the cause; nothing is written, the bulletin stays as it was.
"""

from __future__ import annotations

import base64
import io

from django.template.loader import render_to_string
from django.utils import translation

from bihuan.core import documents

from . import charts

RED = "#c00000"
FORMATS = {"pdf": "application/pdf",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class RenderError(RuntimeError):
    pass


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:g}"
    return f"{v}{unit if unit in ('%',) else ''}"


def _number(bulletin) -> str:
    if bulletin.number:
        return f"第{bulletin.number}期"
    return "第　期（草稿）"


def header(bulletin) -> dict:
    snap = bulletin.snapshot
    when = bulletin.issued_at or bulletin.created_at
    local = when.astimezone(documents_tz())
    return {"issuer": snap["unit"]["name"], "template": snap["template_label"], "number": _number(bulletin),
            "date": f"{local.year}年{local.month}月{local.day}日", "period": snap["period"]["label"],
            "title": bulletin.title, "draft": not bulletin.issued}


def documents_tz():
    from .kinds import TZ

    return TZ


def table(sec: dict) -> tuple[list[str], list[list[str]]]:
    """One section as a header row and body rows of text (the same cells in every format)."""
    head = ["名次", "单位"] + [c["label"] + (f"（{c['unit']}）" if c["unit"] else "") for c in sec["columns"]]
    if sec.get("previous"):
        head.append("较上期")
    body = []
    for r in sec["rows"]:
        row = [str(r.get("rank", "—")), r["unit_name"]] + [fmt(r["values"].get(c["key"]), c["unit"])
                                                            for c in sec["columns"]]
        if sec.get("previous"):
            ch = r.get("change")
            row.append("—" if ch is None else f"{ch:+g}")
        body.append(row)
    return head, body


def _charts(snap) -> list[bytes]:
    try:
        return [charts.section_chart(s) for s in snap["sections"]]
    except (charts.ChartError, OSError, ValueError) as exc:
        raise RenderError(f"chart: {exc}") from exc


def pdf(bulletin, *, compress: bool = True) -> bytes:
    snap = bulletin.snapshot
    imgs = _charts(snap)
    sections = [{"sec": s, "table": table(s), "chart": "data:image/png;base64," + base64.b64encode(i).decode()}
                for s, i in zip(snap["sections"], imgs, strict=True)]
    with translation.override("zh-hans"):
        html = render_to_string("reports/bulletin_pdf.html", {"h": header(bulletin), "sections": sections,
                                                              "paragraphs": bulletin.paragraphs, "red": RED})
    try:
        return documents.html_to_pdf(html, extra_css=PDF_CSS, compress=compress)
    except Exception as exc:  # noqa: BLE001 - WeasyPrint raises many kinds; the cause is reported
        raise RenderError(f"pdf: {exc}") from exc


PDF_CSS = f"""
.red-head {{ color: {RED}; text-align: center; font-size: 26pt; letter-spacing: 2pt; margin: 0; font-weight: bold; }}
.number {{ text-align: center; margin: 6pt 0; }}
.meta {{ display: flex; justify-content: space-between; font-size: 11pt; }}
.red-rule {{ border: 0; border-top: 2.5pt solid {RED}; margin: 4pt 0 14pt; }}
h2.title {{ text-align: center; font-size: 17pt; }}
h3 {{ font-size: 13pt; margin-top: 14pt; }}
.honour {{ color: {RED}; }} .behind {{ color: #333; }}
td.n {{ text-align: right; }}
"""


def docx(bulletin) -> bytes:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    snap = bulletin.snapshot
    imgs = _charts(snap)
    h = header(bulletin)
    doc = documents.new_docx()
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(f"{h['issuer']}{h['template']}")
    run.bold, run.font.size, run.font.color.rgb = True, Pt(24), RGBColor(0xC0, 0, 0)
    p = doc.add_paragraph(h["number"])
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(f"{h['issuer']}　　　　{h['date']}")
    rule = doc.add_paragraph("━" * 24)
    rule.runs[0].font.color.rgb = RGBColor(0xC0, 0, 0)
    t = doc.add_paragraph()
    t.alignment = WD_ALIGN_PARAGRAPH.CENTER
    tr = t.add_run(h["title"])
    tr.bold, tr.font.size = True, Pt(16)
    doc.add_paragraph(f"统计周期：{h['period']}")
    for i, (sec, img) in enumerate(zip(snap["sections"], imgs, strict=True), 1):
        doc.add_heading(f"{_cn(i)}、{sec['label']}", level=2)
        if sec["ahead"]:
            doc.add_paragraph("红榜：" + "、".join(u["name"] for u in sec["ahead"]))
        if sec["behind"]:
            doc.add_paragraph("黑榜（后进）：" + "、".join(u["name"] for u in sec["behind"]))
        head, body = table(sec)
        tbl = doc.add_table(rows=1 + len(body), cols=len(head))
        tbl.style = "Table Grid"
        for j, text in enumerate(head):
            tbl.rows[0].cells[j].text = text
        for k, row in enumerate(body, 1):
            cells = tbl.rows[k].cells
            for j, text in enumerate(row):
                cells[j].text = text
        doc.add_picture(io.BytesIO(img), width=Cm(16))
    if bulletin.paragraphs:
        doc.add_heading("工作要求", level=2)
        for para in bulletin.paragraphs:
            doc.add_paragraph(para)
    return documents.docx_bytes(doc)


def xlsx(bulletin) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    snap = bulletin.snapshot
    h = header(bulletin)
    wb = Workbook()
    ws = wb.active
    ws.title = "通报"
    for row in (["发文单位", h["issuer"]], ["通报", h["template"]], ["期号", h["number"]], ["日期", h["date"]],
                ["统计周期", h["period"]], ["标题", h["title"]]):
        ws.append(row)
    for para in bulletin.paragraphs:
        ws.append(["工作要求", para])
    for i, sec in enumerate(snap["sections"], 1):
        sheet = wb.create_sheet(f"{i}.{sec['label']}"[:31].replace("/", "／").replace(":", "："))
        head, body = table(sec)
        sheet.append(head)
        for c in sheet[1]:
            c.font = Font(bold=True)
        for row in body:
            sheet.append(row)
        sheet.append([])
        sheet.append(["红榜", "、".join(u["name"] for u in sec["ahead"])])
        sheet.append(["黑榜", "、".join(u["name"] for u in sec["behind"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cn(n: int) -> str:
    return "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else str(n)


def render(bulletin, fmt_: str) -> bytes:
    return {"pdf": pdf, "docx": docx, "xlsx": xlsx}[fmt_](bulletin)


def filename(bulletin, fmt_: str) -> str:
    return f"bulletin-{bulletin.pk}.{fmt_}"


def section_xlsx(sec: dict, *, title: str) -> bytes:
    """One section's table as XLSX (the generic "figures to XLSX")."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = sec["label"][:31].replace("/", "／").replace(":", "：")
    ws.append([title])
    head, body = table(sec)
    ws.append(head)
    for c in ws[2]:
        c.font = Font(bold=True)
    for row in body:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
