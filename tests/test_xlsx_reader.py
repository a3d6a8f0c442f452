"""core.xlsx_reader reads what openpyxl's read-only reader reads (it replaced it for imports)."""

import re
import zipfile
from datetime import date, datetime, time

import pytest
from openpyxl import Workbook, load_workbook

from bihuan.core import tabular as tb
from bihuan.core import xlsx_reader


def _openpyxl_rows(path):
    wb = load_workbook(path, read_only=True, data_only=False)
    out = []
    for number, cells in enumerate(wb.worksheets[0].iter_rows(), start=1):
        values = [c.value for c in cells]
        while values and values[-1] is None:
            values.pop()
        if values:
            out.append((number, values))
    wb.close()
    return out


def _ours(path):
    out = []
    for number, values, _formulas in xlsx_reader.iter_rows(path):
        values = list(values)
        while values and values[-1] is None:
            values.pop()
        if values:
            out.append((number, values))
    return out


@pytest.mark.parametrize("write_only", [False, True])
def test_same_values_as_openpyxl(tmp_path, write_only):
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet() if write_only else wb.active
    rows = [
        ["姓名", "身份证号", "出生日期", "数字", "小数", "布尔", "公式", None, "时间"],
        ["张晓明", "370811199001011234", date(1990, 1, 1), 42, 3.5, True, "=A1&B1", None,
         datetime(2024, 5, 6, 7, 8, 9)],
        [],
        ["only A", None, None, 7],
        [None, "=SUM(D2:D4)", time(12, 30), -1e-3, 12345678901234567890, False],
        ["=1+1", None, "a'b&<c>\"", " 前后空格 ", "多\n行"],
    ]
    for r in rows:
        ws.append(r)
    path = tmp_path / "t.xlsx"
    wb.save(path)
    assert _ours(path) == _openpyxl_rows(path)
    formulas = {n: f for n, _v, f in xlsx_reader.iter_rows(path)}
    assert formulas[2] == {6} and formulas[5] == {1} and formulas[6] == {0}


def _rewrite(path, part, fn):
    with zipfile.ZipFile(path) as zf:
        items = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    items[part] = fn(items.get(part, b"").decode()).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in items.items():
            zf.writestr(name, data)


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED = (f'<sst xmlns="{MAIN}" count="3" uniqueCount="3"><si><t>单位</t></si><si><t>姓名</t></si>'
          '<si><r><t>曾</t></r><r><rPr><b/></rPr><t>晓</t></r><rPh sb="0" eb="1"><t>zeng</t></rPh></si></sst>')


def test_shared_strings_rich_text_and_a_prefixed_namespace(tmp_path):
    """Excel and WPS write shared strings (openpyxl writes inline ones), rich text with phonetic
    runs, and some writers use an "x:" prefix."""
    wb = Workbook()
    wb.active.append(["单位", "姓名"])
    wb.active.append(["芦庙村", "曾晓", date(2024, 1, 31)])
    wb.active["C2"].number_format = "yyyy/m/d"
    path = tmp_path / "p.xlsx"
    wb.save(path)

    def sheet(xml):
        xml = xml.replace('<c r="A1" t="inlineStr"><is><t>单位</t></is></c>', '<c r="A1" t="s"><v>0</v></c>')
        xml = xml.replace('<c r="B1" t="inlineStr"><is><t>姓名</t></is></c>', '<c r="B1" t="s"><v>1</v></c>')
        xml = xml.replace('<c r="B2" t="inlineStr"><is><t>曾晓</t></is></c>', '<c r="B2" t="s"><v>2</v></c>')
        xml = xml.replace(f'xmlns="{MAIN}"', f'xmlns:x="{MAIN}"')
        return re.sub(r"<(/?)([a-zA-Z])", r"<\1x:\2", xml)

    _rewrite(path, "xl/worksheets/sheet1.xml", sheet)
    _rewrite(path, "xl/sharedStrings.xml", lambda _: SHARED)
    _rewrite(path, "xl/_rels/workbook.xml.rels", lambda xml: xml.replace("</Relationships>", (
        '<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml" Id="rId9" /></Relationships>')))
    _rewrite(path, "[Content_Types].xml", lambda xml: xml.replace("</Types>", (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')))
    expected = [(1, ["单位", "姓名"]), (2, ["芦庙村", "曾晓", datetime(2024, 1, 31)])]
    assert _ours(path) == expected
    assert _openpyxl_rows(path) == expected  # the crafted file is valid for openpyxl too


def test_damaged_workbook_is_a_clear_error(tmp_path):
    wb = Workbook()
    wb.active.append(["a"] * 3)
    for _ in range(200):
        wb.active.append(["x" * 20] * 3)
    path = tmp_path / "d.xlsx"
    wb.save(path)
    _rewrite(path, "xl/worksheets/sheet1.xml", lambda xml: xml[: len(xml) // 2])  # cut mid-way
    with pytest.raises(tb.TabularError) as exc:
        list(tb.iter_xlsx(path))
    assert exc.value.code == "bad_format"
