"""The organisation tree as XLSX/CSV: export in scope, import round-trip, bad files, web and CLI."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from bihuan.core import tabular as tb
from bihuan.core.errors import NotFound
from bihuan.core.models import AuditEntry
from bihuan.orgs import services as org_services
from bihuan.orgs.models import Level, OrgUnit

HEADERS = ["编码", "名称", "层级", "上级编码", "生效日期", "失效日期"]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def snapshot():
    return list(OrgUnit.objects.order_by("id").values())


def export_to(path, user=None, fmt="xlsx", unit=None):
    tb.export("orgs", path, user=user, fmt=fmt, unit=unit)
    return path


def sheet_rows(path):
    ws = openpyxl.load_workbook(path).worksheets[0]
    return [[c.value for c in row] for row in ws.iter_rows()]


def xlsx(path, rows, headers=HEADERS):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def do_import(path, user=None, **kw):
    return tb.run_import("orgs", tb.open_source(path), user=user, **kw)


def audit_since(n):
    return list(AuditEntry.objects.order_by("id")[n:])


# --- export --------------------------------------------------------------------------------

def test_export_has_chinese_headers_levels_and_parent_codes(tree, tmp_path):
    rows = sheet_rows(export_to(tmp_path / "t.xlsx"))
    assert rows[0] == HEADERS
    by_code = {r[0]: r for r in rows[1:]}
    assert len(by_code) == 11
    assert by_code["370800"][1:4] == ["济宁市", "市", None]
    assert by_code["370811008201"][1:4] == ["芦庙村", "村社区", "370811008000"]
    assert by_code["370811008201001"][2] == "网格"
    # Parents always come before their children.
    order = [r[0] for r in rows[1:]]
    for r in rows[1:]:
        if r[3]:
            assert order.index(r[3]) < order.index(r[0])


def test_export_is_limited_to_the_users_scope(tree, users, tmp_path):
    rows = sheet_rows(export_to(tmp_path / "s.xlsx", user=users.liying_staff))
    assert sorted(r[1] for r in rows[1:]) == sorted(["李营街道", "芦庙村", "芦庙村第一网格", "芦庙村第二网格"])
    with pytest.raises(NotFound):
        tb.export("orgs", tmp_path / "x.xlsx", user=users.rencheng_admin, unit=tree.yanzhou)
    # A user without the export permission gets nothing at all.
    assert len(sheet_rows(export_to(tmp_path / "n.xlsx", user=users.lumiao_secretary))) == 1


def test_export_writes_one_audit_entry_with_the_row_count(tree, users, tmp_path):
    n = AuditEntry.objects.count()
    export_to(tmp_path / "a.csv", user=users.rencheng_admin, fmt="csv", unit=tree.liying)
    [entry] = audit_since(n)
    assert entry.action == "orgs.unit.export"
    assert entry.extra["rows"] == 4 and entry.extra["format"] == "csv" and entry.unit_id == tree.liying.pk


def test_csv_export_is_utf8_sig(tree, tmp_path):
    data = export_to(tmp_path / "t.csv", fmt="csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS and rows[1] == ["370800", "济宁市", "市", "", "", ""]


def test_formula_like_names_are_neutralised_in_exports_and_round_trip(tree, tmp_path):
    org_services.update_unit(None, tree.lumiao_g2, name='=HYPERLINK("http://evil","点我")')
    rows = sheet_rows(export_to(tmp_path / "f.xlsx"))
    cell = next(r[1] for r in rows if r[0] == "370811008201002")
    assert cell == "'=HYPERLINK(\"http://evil\",\"点我\")"
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx").worksheets[0]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    csv_rows = export_to(tmp_path / "f.csv", fmt="csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in csv_rows
    before = snapshot()
    r = do_import(tmp_path / "f.xlsx")
    assert r.applied and r.unchanged == 11 and snapshot() == before


# --- round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_import_round_trip_changes_nothing(tree, tmp_path, fmt):
    org_services.update_unit(None, tree.xianying_v, valid_from=date(2020, 1, 1))
    first = export_to(tmp_path / f"1.{fmt}", fmt=fmt)
    before = snapshot()
    n = AuditEntry.objects.count()
    r = do_import(first)
    assert r.ok and r.applied and (r.created, r.updated, r.unchanged) == (0, 0, 11)
    assert snapshot() == before
    [entry] = audit_since(n)
    assert entry.action == "orgs.unit.import"
    assert entry.extra["sha256"] == tb.sha256_of(first) and entry.extra["result"] == "applied"
    assert entry.extra["rows"] == 11 and entry.extra["unchanged"] == 11
    second = export_to(tmp_path / f"2.{fmt}", fmt=fmt)
    if fmt == "csv":
        assert second.read_bytes() == first.read_bytes()
    else:
        assert sheet_rows(second) == sheet_rows(first)


def test_subtree_round_trip_by_a_county_admin(tree, users, tmp_path):
    p = export_to(tmp_path / "r.xlsx", user=users.rencheng_admin)
    before = snapshot()
    r = do_import(p, user=users.rencheng_admin)
    assert r.applied and r.unchanged == 7 and snapshot() == before


# --- creating and updating -----------------------------------------------------------------

def test_import_creates_units_with_paths_in_any_row_order(tree, users, tmp_path):
    p = xlsx(tmp_path / "new.xlsx", [
        ["370811008202001", "新村第一网格", "网格", "370811008202", None, None],  # child before parent
        ["370811008202", "新村", "村社区", "370811008000", "2024-01-01", None],
        ["370811010000", "新街道", "乡镇街道", "370811", None, None],
        ["370811010001", "新街道社区", "村社区", "370811010000", None, None],
    ])
    n = AuditEntry.objects.count()
    r = do_import(p, user=users.rencheng_admin)
    assert r.ok and r.applied and r.created == 4
    village = OrgUnit.objects.get(code="370811008202")
    grid = OrgUnit.objects.get(code="370811008202001")
    street = OrgUnit.objects.get(code="370811010000")
    assert village.parent == tree.liying and village.valid_from == date(2024, 1, 1)
    assert village.path == f"{tree.liying.path}{village.pk}/" and village.depth == tree.liying.depth + 1
    assert grid.path == f"{village.path}{grid.pk}/" and grid.depth == 4 and grid.level == Level.GRID
    assert street.path == f"{tree.rencheng.path}{street.pk}/"
    assert tree.liying.descendants().filter(code="370811008202001").exists()
    assert len(audit_since(n)) == 1


def test_import_updates_names_and_dates(tree, tmp_path):
    p = export_to(tmp_path / "u.xlsx")
    wb = openpyxl.load_workbook(p)
    ws = wb.worksheets[0]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "370811008201":
            row[1].value, row[4].value = "芦庙新村", "2023-05-01"
    wb.save(p)
    r = do_import(p)
    assert (r.updated, r.unchanged) == (1, 10)
    tree.lumiao.refresh_from_db()
    assert tree.lumiao.name == "芦庙新村" and tree.lumiao.valid_from == date(2023, 5, 1)


def test_import_of_a_large_tree_uses_few_queries(tree, tmp_path):
    rows = []
    for t in range(1, 4):
        town = f"370811{100 + t:03d}000"
        rows.append([town, f"镇{t}", "乡镇街道", "370811", None, None])
        for v in range(1, 21):
            village = f"370811{100 + t:03d}{v:03d}"
            rows.append([village, f"镇{t}村{v}", "村社区", town, None, None])
            rows += [[f"{village}{g:03d}", f"镇{t}村{v}网格{g}", "网格", village, None, None] for g in range(1, 6)]
    p = xlsx(tmp_path / "big.xlsx", rows)
    with CaptureQueriesContext(connection) as q:
        r = do_import(p)
    assert r.created == 3 + 60 + 300
    assert len(q.captured_queries) < 30, [x["sql"][:80] for x in q.captured_queries]
    g = OrgUnit.objects.get(code="370811103020005")
    assert g.path == f"{g.parent.path}{g.pk}/" and g.ancestors().count() == 4


# --- bad input applies nothing -------------------------------------------------------------

def assert_nothing_applied(before, n_audit, result):
    assert snapshot() == before
    entries = audit_since(n_audit)
    assert len(entries) == 1 and entries[0].extra["result"] == "refused"
    assert not result.applied


@pytest.mark.parametrize("case", ["headers", "empty", "renamed", "formula"])
def test_bad_files_apply_nothing(tree, tmp_path, case):
    good = ["370811008203", "好村", "村社区", "370811008000", None, None]
    if case == "headers":
        p = xlsx(tmp_path / "h.xlsx", [good], headers=["编码", "名称", "级别", "上级编码", "生效日期", "失效日期"])
    elif case == "empty":
        p = xlsx(tmp_path / "e.xlsx", [])
    elif case == "renamed":
        p = tmp_path / "r.xlsx"
        p.write_text(",".join(HEADERS) + "\n370811008203,好村,村社区,370811008000,,\n", encoding="utf-8")
    else:
        p = xlsx(tmp_path / "f.xlsx", [good, ["370811008204", "=A2", "村社区", "370811008000", None, None]])
    before, n = snapshot(), AuditEntry.objects.count()
    r = do_import(p)
    assert r.file_error or r.errors
    assert_nothing_applied(before, n, r)


def test_file_over_the_limit_is_refused(tree, tmp_path, settings):
    p = export_to(tmp_path / "big.xlsx")
    settings.BIHUAN_MAX_IMPORT_BYTES = 1024
    before = snapshot()
    with pytest.raises(tb.TabularError) as exc:
        tb.open_source(p)
    assert exc.value.code == "too_large" and snapshot() == before


def test_bad_codes_are_reported_per_row_and_nothing_applied(tree, tmp_path):
    p = xlsx(tmp_path / "c.xlsx", [
        ["370811008203", "好村", "村社区", "370811008000", None, None],
        ["37081100820", "短码", "村社区", "370811008000", None, None],       # 11 digits
        ["370812008204", "错前缀", "村社区", "370811008000", None, None],      # not under its parent
        ["37081100820X", "字母", "村社区", "370811008000", None, None],
        ["370811008205", "层级错", "网格", "370811008000", None, None],        # grid under a township
        ["370811008206", "无上级", "村社区", "370811999000", None, None],      # unknown parent
        ["370811008207", "日期", "村社区", "370811008000", "2024-02-01", "2024-01-01"],
    ])
    before, n = snapshot(), AuditEntry.objects.count()
    r = do_import(p)
    assert r.invalid == 6 and r.valid == 1
    by_row = {row: [e.column for e in errs] for row, errs in r.errors_by_row().items()}
    assert by_row == {3: ["编码"], 4: ["编码"], 5: ["编码"], 6: ["层级"], 7: ["上级编码"], 8: ["失效日期"]}
    assert_nothing_applied(before, n, r)


def test_duplicate_codes_in_the_file_and_against_the_tree(tree, tmp_path):
    p = xlsx(tmp_path / "d.xlsx", [
        ["370811008203", "甲村", "村社区", "370811008000", None, None],
        ["370811008203", "乙村", "村社区", "370811008000", None, None],   # same code twice
        ["370811003101", "仙营社区", "村社区", "370811008000", None, None],  # exists under 仙营街道
        ["370811008201", "芦庙村", "网格", "370811008000", None, None],     # exists as a village
    ])
    before, n = snapshot(), AuditEntry.objects.count()
    r = do_import(p)
    msgs = {e.row: e.message for e in r.errors}
    assert set(msgs) == {3, 4, 5}
    assert "Duplicate of row 2" in msgs[3]
    assert "already used" in msgs[4]
    assert "level" in msgs[5]
    assert_nothing_applied(before, n, r)


def test_parent_outside_the_importers_scope_is_refused(tree, users, tmp_path):
    p = xlsx(tmp_path / "s.xlsx", [
        ["370812002004", "越界社区", "村社区", "370812002000", None, None],   # under 龙桥街道 (兖州区)
        ["370812002003", "改名", "村社区", "370812002000", None, None],       # rename 薛庙社区
        ["370811008203", "本区新村", "村社区", "370811008000", None, None],
    ])
    before, n = snapshot(), AuditEntry.objects.count()
    r = do_import(p, user=users.rencheng_admin)
    msgs = {e.row: e.message for e in r.errors}
    assert set(msgs) == {2, 3}
    assert "outside your scope" in msgs[2] and "outside your scope" in msgs[3]
    assert_nothing_applied(before, n, r)
    # A root unit needs a city-wide scope.
    p = xlsx(tmp_path / "root.xlsx", [["370900", "泰安市", "市", None, None, None]])
    assert do_import(p, user=users.rencheng_admin).invalid == 1
    assert do_import(p, user=users.city_admin).created == 1


def test_valid_only_imports_the_good_rows_and_reports_the_bad(tree, tmp_path):
    p = xlsx(tmp_path / "v.xlsx", [
        ["370811008203", "好村", "村社区", "370811008000", None, None],
        ["370811008203001", "好村网格", "网格", "370811008203", None, None],
        ["3708110082", "坏村", "村社区", "370811008000", None, None],
        ["3708110082001", "坏村网格", "网格", "3708110082", None, None],
    ])
    n = AuditEntry.objects.count()
    r = do_import(p, mode=tb.VALID_ONLY)
    assert r.applied and r.created == 2 and r.invalid == 2
    assert OrgUnit.objects.filter(code__in=["370811008203", "370811008203001"]).count() == 2
    assert not OrgUnit.objects.filter(name__startswith="坏村").exists()
    assert {e.row for e in r.errors} == {4, 5}
    [entry] = audit_since(n)
    assert entry.extra["result"] == "partial" and entry.extra["created"] == 2 and entry.extra["invalid"] == 2
    out = tmp_path / "report.xlsx"
    tb.write_error_report(out, "orgs", tb.open_source(p), r)
    rows = sheet_rows(out)
    assert rows[0] == [*HEADERS, "错误"]
    assert rows[1][-1] is None and rows[3][-1] and rows[4][-1]


# --- web -----------------------------------------------------------------------------------

def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_web_export_downloads_xlsx_and_csv(tree, users, login):
    c = login(users.rencheng_admin)
    n = AuditEntry.objects.count()
    r = c.get(reverse("web:orgs_export"))
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(body(r))).worksheets[0]
    names = [row[1] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert "任城区" in names and "兖州区" not in names and "济宁市" not in names
    r = c.get(reverse("web:orgs_export"), {"format": "csv", "unit": tree.liying.pk})
    data = body(r)
    assert data.startswith(b"\xef\xbb\xbf") and "芦庙村".encode() in data and "仙营".encode() not in data
    assert [e.action for e in audit_since(n)] == ["orgs.unit.export", "orgs.unit.export"]
    assert audit_since(n)[1].extra["rows"] == 4


def test_web_export_of_another_subtree_is_404(tree, users, login):
    c = login(users.rencheng_admin)
    r = c.get(reverse("web:orgs_export"), {"unit": tree.yanzhou.pk})
    assert r.status_code == 404 and "兖州区".encode() not in r.content
    assert c.get(reverse("web:orgs_export"), {"unit": "abc"}).status_code == 404
    # No export permission anywhere: refused, no data.
    r = login(users.lumiao_secretary).get(reverse("web:orgs_export"))
    assert r.status_code in (403, 404) and "芦庙村".encode() not in r.content


def test_web_import_preview_then_apply(tree, users, login, media, tmp_path, settings):
    c = login(users.rencheng_admin)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert c.get(reverse("web:orgs_import")).status_code == 200
    p = xlsx(tmp_path / "web.xlsx", [
        ["370811008203", "网页新村", "村社区", "370811008000", None, None],
        ["370812002004", "越界社区", "村社区", "370812002000", None, None],
    ])
    with open(p, "rb") as fh:
        r = c.post(reverse("web:orgs_import"), {"file": fh})
    assert r.status_code == 302
    sha = tb.sha256_of(p)
    assert (media / "imports" / f"{sha}.xlsx").exists()
    assert (media / "imports" / f"{sha}.xlsx.json").exists()
    preview = c.get(r["Location"])
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "outside your scope" in html and 'data-testid="error-report"' in html and 'data-testid="apply"' in html
    token = f"{sha}.xlsx"
    report = c.get(reverse("web:orgs_import_report"), {"file": token})
    ws = openpyxl.load_workbook(io.BytesIO(body(report))).worksheets[0]
    assert [c_.value for c_ in ws[1]][-1] == "错误"
    assert "outside your scope" in ws["G3"].value
    n = AuditEntry.objects.count()
    # Atomic by default: refused, nothing written. Applying is a job; its page shows the outcome.
    r = c.post(reverse("web:orgs_import_apply"), {"file": token})
    assert r.status_code == 302 and r["Location"].startswith("/imports/")
    html = c.get(r["Location"]).content.decode()
    assert "Nothing was written, because some rows have errors." in html
    assert not OrgUnit.objects.filter(code="370811008203").exists()
    # Valid rows only.
    r = c.post(reverse("web:orgs_import_apply"), {"file": token, "valid_only": "1"})
    html = c.get(r["Location"]).content.decode()
    assert "The valid rows were imported; the rows below were left out." in html
    assert OrgUnit.objects.get(code="370811008203").parent == tree.liying
    assert not OrgUnit.objects.filter(code="370812002004").exists()
    assert [e.extra["result"] for e in audit_since(n)] == ["refused", "partial"]


def test_web_import_refuses_bad_uploads_and_foreign_tokens(tree, users, login, media, tmp_path, settings):
    c = login(users.rencheng_admin)
    fake = tmp_path / "fake.xlsx"
    fake.write_text("hello")
    with open(fake, "rb") as fh:
        r = c.post(reverse("web:orgs_import"), {"file": fh})
    assert r.status_code == 302  # stored; the preview says what is wrong
    preview = c.get(r["Location"])
    assert 'data-testid="import-file-error"' in preview.content.decode()
    assert 'data-testid="apply"' not in preview.content.decode()
    bad_ext = tmp_path / "x.txt"
    bad_ext.write_text("x")
    with open(bad_ext, "rb") as fh:
        assert c.post(reverse("web:orgs_import"), {"file": fh}).status_code == 400
    settings.BIHUAN_MAX_IMPORT_BYTES = 10
    big = xlsx(tmp_path / "big.xlsx", [])
    with open(big, "rb") as fh:
        r = c.post(reverse("web:orgs_import"), {"file": fh})
    assert r.status_code == 400 and not list((media / "imports").glob(f"{tb.sha256_of(big)}*"))
    # A file uploaded by another session cannot be previewed or applied.
    other = login(users.yanzhou_admin)
    token = f"{tb.sha256_of(fake)}.xlsx"
    assert other.get(reverse("web:orgs_import_preview"), {"file": token}).status_code == 404
    assert other.post(reverse("web:orgs_import_apply"), {"file": token}).status_code == 404
    assert other.get(reverse("web:orgs_import_preview"), {"file": "../../etc/passwd"}).status_code == 404


def test_web_import_needs_the_permission(tree, users, login):
    r = login(users.liying_staff).get(reverse("web:orgs_import"))  # may export, not import
    assert r.status_code in (403, 404)


# --- CLI -----------------------------------------------------------------------------------

def test_cli_export_and_import(tree, users, tmp_path):
    out = tmp_path / "cli.csv"
    call_command("export", "orgs", "--unit", "370811008000", "--user", "rencheng_admin", "--out", str(out),
                 verbosity=0)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 5 and rows[1][0] == "370811008000"
    before, n = snapshot(), AuditEntry.objects.count()
    stdout = io.StringIO()
    call_command("import", "orgs", str(out), "--user", "rencheng_admin", "--dry-run", stdout=stdout, verbosity=0)
    assert "dry run" in stdout.getvalue() and len(audit_since(n)) == 0
    with pytest.raises(CommandError, match="may not import"):
        call_command("import", "orgs", str(out), "--user", "liying_staff", stdout=stdout, verbosity=0)
    call_command("import", "orgs", str(out), stdout=stdout, verbosity=0)
    assert "unchanged 4" in stdout.getvalue()
    assert snapshot() == before and len(audit_since(n)) == 1


def test_cli_import_refuses_and_writes_a_report(tree, tmp_path):
    p = xlsx(tmp_path / "bad.xlsx", [["123", "坏", "村社区", "370811008000", None, None]])
    report = tmp_path / "report.xlsx"
    with pytest.raises(CommandError):
        call_command("import", "orgs", str(p), "--report", str(report), stdout=io.StringIO(), verbosity=0)
    assert sheet_rows(report)[0][-1] == "错误"
    with pytest.raises(CommandError):
        call_command("export", "orgs", "--unit", "370812000000", "--user", "rencheng_admin",
                     "--out", str(tmp_path / "x.xlsx"), verbosity=0)
