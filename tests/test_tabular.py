"""The import/export framework (bihuan.core.tabular) on its own: readers, parsers, writers, limits."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
from django.utils import translation

from bihuan.core import tabular as tb
from bihuan.core.models import AuditEntry

# A small register that collects rows in memory: enough to drive the framework (whether rows
# reach the database is tested with the tree in test_orgs_import_export.py).
SPEC = tb.Spec(
    columns=(
        tb.Column("code", "编码", tb.text(10, r"\d+", "digits only"), required=True, aliases=("code",)),
        tb.Column("name", "名称", tb.text(20), required=True, aliases=("name",)),
        tb.Column("count", "数量", tb.integer(min_value=0), aliases=("count",)),
        tb.Column("kind", "类别", tb.choice({"甲": "a", "乙": "b"}), aliases=("kind",)),
        tb.Column("day", "日期", tb.parse_date, aliases=("day",)),
        tb.Column("note", "备注", tb.text(50), optional_header=True),
    ),
    unique=("code",),
    sheet_title="测试",
)
HEADERS = ["编码", "名称", "数量", "类别", "日期"]


class Collect(tb.ImportHandler):
    spec = SPEC
    written: list = []

    def feed(self, rows):
        for r in rows:
            if r.ok:
                Collect.written.append(r.values)
                self.ctx.count(r, "created")


KIND = tb.Kind(name="test_notes", label="test", spec=SPEC, handler=Collect,
               export_rows=lambda user, unit=None: [], permission_prefix="test.notes")


@pytest.fixture(autouse=True)
def _reset():
    Collect.written = []
    # Messages are checked in English; zh-Hans is the default language.
    with translation.override("en"):
        yield


def xlsx(path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def csv_file(path, rows, encoding="utf-8-sig"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def run(path, **kw):
    return tb.run_import(KIND, tb.open_source(path), **kw)


# --- readers and file-level refusals -------------------------------------------------------

def test_xlsx_rows_are_parsed_and_typed(db, tmp_path):
    p = xlsx(tmp_path / "a.xlsx", [HEADERS, ["001", "甲一", 3, "甲", date(2024, 1, 31)],
                                   [2, "乙二", "4", "乙", "2024/2/1"]])
    r = run(p)
    assert r.ok and r.applied and r.created == 2
    assert Collect.written[0] == {"code": "001", "name": "甲一", "count": 3, "kind": "a",
                                  "day": date(2024, 1, 31), "note": None}
    assert Collect.written[1]["code"] == "2" and Collect.written[1]["day"] == date(2024, 2, 1)


def test_csv_utf8_sig_and_gb18030_are_read(db, tmp_path):
    rows = [HEADERS, ["1", "任城区", "", "", "2024年3月5日"]]
    assert run(csv_file(tmp_path / "u.csv", rows)).created == 1
    assert run(csv_file(tmp_path / "g.csv", rows, encoding="gb18030")).created == 1
    assert [w["name"] for w in Collect.written] == ["任城区", "任城区"]
    assert Collect.written[0]["day"] == date(2024, 3, 5)


def test_english_header_aliases_and_blank_rows(db, tmp_path):
    p = xlsx(tmp_path / "en.xlsx", [[], ["Code", "Name", "Count", "Kind", "Day"], [], ["7", "x", 1, "甲", None]])
    r = run(p)
    assert r.ok and r.total == 1


def test_renamed_text_file_is_refused(db, tmp_path):
    p = tmp_path / "fake.xlsx"
    p.write_text("编码,名称\n1,x\n", encoding="utf-8")
    before = AuditEntry.objects.count()
    r = run(p)
    assert not r.applied and "XLSX" in r.file_error
    assert Collect.written == []
    assert AuditEntry.objects.count() == before + 1  # the refused attempt is on record


def test_corrupt_zip_is_refused(db, tmp_path):
    good = xlsx(tmp_path / "g.xlsx", [HEADERS, ["1", "x", 1, "甲", None]])
    data = good.read_bytes()
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(data[: len(data) // 2])
    r = run(bad)
    assert r.file_error and not r.applied


def test_empty_files_are_refused(db, tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(tb.TabularError, match="empty"):
        tb.open_source(empty)
    r = run(xlsx(tmp_path / "blank.xlsx", []))
    assert "empty" in r.file_error
    r = run(xlsx(tmp_path / "header-only.xlsx", [HEADERS]))
    assert "no data rows" in r.file_error
    assert Collect.written == []


def test_wrong_or_missing_headers_are_refused(db, tmp_path):
    r = run(xlsx(tmp_path / "w.xlsx", [["编码", "名字", "数量", "类别", "日期", "其他"], ["1", "x", 1, "甲", None]]))
    assert "名称" in r.file_error and "名字" in r.file_error and "其他" in r.file_error
    r = run(xlsx(tmp_path / "d.xlsx", [["编码", "code", "名称", "数量", "类别", "日期"], ["1", "1", "x", 1, "甲", None]]))
    assert "twice" in r.file_error
    assert Collect.written == []


def test_file_over_the_size_limit_is_refused_before_parsing(db, tmp_path, settings):
    p = xlsx(tmp_path / "big.xlsx", [HEADERS] + [[str(i), "x" * 10, i, "甲", None] for i in range(50)])
    settings.BIHUAN_MAX_IMPORT_BYTES = 1000
    with pytest.raises(tb.TabularError) as exc:
        tb.open_source(p)
    assert exc.value.code == "too_large"
    with pytest.raises(tb.TabularError):
        tb.store_upload([p.read_bytes()], "big.xlsx", tmp_path / "store")
    assert not list((tmp_path / "store").glob("*"))  # the partial upload is gone


def test_other_extensions_are_refused(tmp_path):
    p = tmp_path / "a.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(tb.TabularError, match="xlsx"):
        tb.open_source(p)


def test_store_upload_names_the_file_by_its_hash(tmp_path):
    src = tb.store_upload([b"\xef\xbb\xbf", "编码\n".encode()], "x.csv", tmp_path)
    assert src.path.name == f"{src.sha256}.csv"
    assert src.sha256 == tb.sha256_of(src.path)


# --- cells --------------------------------------------------------------------------------

def test_formula_cells_are_refused_never_evaluated(db, tmp_path):
    p = xlsx(tmp_path / "f.xlsx", [HEADERS, ["1", "=1+1", "=SUM(1,2)", "甲", None], ["2", "ok", 1, "甲", None]])
    r = run(p)
    assert not r.applied and r.invalid == 1  # atomic: the good row 3 is not applied either
    assert {(e.row, e.column) for e in r.errors} == {(2, "名称"), (2, "数量")}
    assert "Formula" in r.errors[0].message or "公式" in r.errors[0].message
    r = run(csv_file(tmp_path / "f.csv", [HEADERS, ["1", "=cmd|' /C calc'!A0", "", "", ""]]))
    assert r.invalid == 1 and not r.applied


def test_neutralised_text_round_trips(db, tmp_path):
    r = run(csv_file(tmp_path / "n.csv", [HEADERS, ["1", "'=not a formula", "", "", ""]]))
    assert r.ok and Collect.written[0]["name"] == "=not a formula"


def test_cell_parsers():
    assert tb.parse_date("2024.1.2") == date(2024, 1, 2)
    assert tb.parse_date("20240102") == date(2024, 1, 2)
    assert tb.parse_date(datetime(2024, 1, 2, 0, 0)) == date(2024, 1, 2)
    for bad in ("2024-02-30", "tomorrow", "1/2/2024"):
        with pytest.raises(tb.CellError):
            tb.parse_date(bad)
    assert tb.integer()(3.0) == 3 and tb.integer()("1,200") == 1200
    with pytest.raises(tb.CellError):
        tb.integer()("1.5")
    with pytest.raises(tb.CellError):
        tb.integer(min_value=0)(-1)
    assert tb.text()(370800.0) == "370800"
    assert tb.choice({"是": True})("是") is True
    with pytest.raises(tb.CellError, match="是"):
        tb.choice({"是": True})("maybe")
    assert tb.boolean("否") is False


def test_per_row_errors_and_duplicates_within_the_file(db, tmp_path):
    p = xlsx(tmp_path / "e.xlsx", [HEADERS,
                                   ["1", "a", 1, "甲", None],
                                   ["x1", "", -1, "丙", "soon"],
                                   ["1", "dup", 1, "甲", None]])
    r = run(p)
    assert not r.applied and r.invalid == 2 and r.valid == 1
    by_row = r.errors_by_row()
    assert {e.column for e in by_row[3]} == {"编码", "名称", "数量", "类别", "日期"}
    assert by_row[4][0].column == "编码" and "row 2" in by_row[4][0].message.replace("第", "row ")


def test_valid_only_imports_the_good_rows(db, tmp_path):
    p = xlsx(tmp_path / "v.xlsx", [HEADERS, ["1", "a", 1, "甲", None], ["2", "", 1, "甲", None]])
    before = AuditEntry.objects.count()
    r = run(p, mode=tb.VALID_ONLY)
    assert r.applied and r.outcome == "partial" and r.created == 1 and r.invalid == 1
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 1
    assert entries[0].action == "test.notes.import"
    assert entries[0].extra["sha256"] == r.sha256 and entries[0].extra["result"] == "partial"
    assert entries[0].extra["created"] == 1 and entries[0].extra["invalid"] == 1


def test_dry_run_writes_no_audit_entry(db, tmp_path):
    before = AuditEntry.objects.count()
    r = run(xlsx(tmp_path / "d.xlsx", [HEADERS, ["1", "a", 1, "甲", None]]), dry_run=True)
    assert r.outcome == "preview" and r.created == 1 and not r.applied
    assert AuditEntry.objects.count() == before


def test_progress_callback_counts_rows(db, tmp_path):
    seen = []
    run(xlsx(tmp_path / "p.xlsx", [HEADERS] + [[str(i), "a", 1, "甲", None] for i in range(5)]),
        progress=seen.append)
    assert sum(seen) == 5


# --- writers ------------------------------------------------------------------------------

DANGEROUS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "plain", "a=b"]


def test_xlsx_writer_neutralises_formula_like_text(tmp_path):
    p = tmp_path / "w.xlsx"
    tb.write_xlsx(p, ["名称", "数量", "日期"], [[v, -5, date(2024, 1, 2)] for v in DANGEROUS])
    ws = openpyxl.load_workbook(p).worksheets[0]
    rows = list(ws.iter_rows(min_row=2))
    assert [c.data_type for c in (r[0] for r in rows)] == ["s"] * len(DANGEROUS)
    assert [r[0].value for r in rows] == ["'" + v for v in DANGEROUS[:5]] + ["plain", "a=b"]
    assert rows[0][1].value == -5  # numbers are numbers, not text
    assert rows[0][2].value.date() == date(2024, 1, 2)
    assert [c.value for c in ws[1]] == ["名称", "数量", "日期"]


def test_csv_writer_is_utf8_sig_and_neutralised():
    buf = io.BytesIO()
    tb.write_csv(buf, ["名称", "日期"], [[v, date(2024, 1, 2)] for v in DANGEROUS] + [[None, None]])
    data = buf.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["名称", "日期"]
    assert rows[1] == ["'" + DANGEROUS[0], "2024-01-02"]
    assert [r[0] for r in rows[1:6]] == ["'" + v for v in DANGEROUS[:5]]
    assert rows[-1] == ["", ""]


def test_error_report_has_the_rows_and_an_error_column(db, tmp_path):
    p = xlsx(tmp_path / "r.xlsx", [HEADERS, ["1", "a", 1, "甲", None], ["2", "=1+1", 1, "丁", None]])
    source = tb.open_source(p)
    r = tb.run_import(KIND, source, dry_run=True)
    out = tmp_path / "report.xlsx"
    tb.write_error_report(out, KIND, source, r)
    ws = openpyxl.load_workbook(out).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == [*HEADERS, "错误"]
    assert rows[1][:2] == ["1", "a"] and rows[1][-1] is None
    assert rows[2][1] == "'=1+1"  # the report itself is neutralised
    assert "名称" in rows[2][-1] and "类别" in rows[2][-1]
    # A report fixed by hand re-imports as is: the 错误 column is ignored.
    ws2 = openpyxl.load_workbook(out)
    sh = ws2.worksheets[0]
    sh["B3"], sh["D3"] = "b", "乙"
    ws2.save(tmp_path / "fixed.xlsx")
    assert run(tmp_path / "fixed.xlsx").created == 2


def test_error_report_for_a_refused_file(db, tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_text("not a workbook")
    source = tb.open_source(p)
    r = tb.run_import(KIND, source, dry_run=True)
    out = tmp_path / "rep.xlsx"
    tb.write_error_report(out, KIND, source, r)
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert ws["A1"].value == "错误" and "XLSX" in ws["A2"].value


def test_registry_discovers_app_kinds():
    assert "orgs" in tb.kinds()
    with pytest.raises(tb.TabularError):
        tb.get_kind("nope")
