"""Plans as XLSX: export, import back (round trip), per-row errors, all-or-nothing, the CLI."""

from __future__ import annotations

from io import StringIO

import openpyxl
import pytest
from django.core.management import call_command

from bihuan.core import tabular as tb
from bihuan.core.models import AuditEntry
from bihuan.plans.models import Plan, Task
from tests.plans_helpers import make_plan

pytestmark = pytest.mark.django_db


def _export(path, user=None):
    with open(path, "wb") as fh:
        return tb.export("plan", fh, user=user)


def _rows(path):
    ws = openpyxl.load_workbook(path).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _write(path, rows):
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)


def test_round_trip_and_a_copy_under_a_new_title(tree, users, tmp_path):
    make_plan(tree, users.city_admin)
    f = tmp_path / "plan.xlsx"
    assert _export(f, users.city_admin) == 2
    rows = _rows(f)
    assert rows[0][:7] == ["计划", "发布单位编码", "计划开始", "计划结束", "体系", "重点行动", "任务"]
    canteen = next(r for r in rows if r[6] == "建成幸福食堂")
    assert canteen[7] == "村社区" and canteen[-1] == "过半@2025-06-30=6" and canteen[18] == "每月"
    # Importing the exported file changes nothing.
    r = tb.run_import("plan", tb.open_source(f), user=users.city_admin)
    assert r.ok and (r.created, r.unchanged) == (0, 2)
    # The same sheet under another title is a new draft plan with the same tasks.
    _write(f, [rows[0]] + [["2026年计划", *row[1:]] for row in rows[1:]])
    r = tb.run_import("plan", tb.open_source(f), user=users.city_admin)
    assert r.ok and r.created == 2, r.errors
    copy = Plan.objects.get(title="2026年计划")
    assert copy.state == "draft"
    g = tmp_path / "again.xlsx"
    _export(g, users.city_admin)
    again = [row for row in _rows(g) if row[0] == "2026年计划"]
    assert [row[1:] for row in again] == [row[1:] for row in rows[1:]]


def test_every_bad_row_is_reported_and_nothing_is_imported(tree, users, tmp_path):
    make_plan(tree, users.city_admin)
    f = tmp_path / "plan.xlsx"
    _export(f)
    header, *rows = _rows(f)
    new = [["新计划", *row[1:]] for row in rows]
    new[0][9] = "370811999999"  # a lead unit that does not exist
    new[1][14], new[1][16] = 5, None  # a target without its unit
    new.append(["新计划", *rows[0][1:6], "第三个任务", "村社区", None, None, None, None, None, None, None, None,
                None, None, None, None, None, None, "节点@2027-01-01"])  # milestone after the plan's end
    _write(f, [header, *new])
    r = tb.run_import("plan", tb.open_source(f), user=users.city_admin)
    assert not r.applied and r.invalid == 3
    messages = " ".join(str(e.message) for e in r.errors)
    assert "370811999999" in messages
    assert not Plan.objects.filter(title="新计划").exists() and Task.objects.count() == 2


def test_a_county_cannot_import_a_plan_for_the_city(tree, users, tmp_path):
    make_plan(tree, users.city_admin)
    f = tmp_path / "plan.xlsx"
    _export(f)
    header, *rows = _rows(f)
    _write(f, [header, *[["县里的计划", *row[1:]] for row in rows]])
    r = tb.run_import("plan", tb.open_source(f), user=users.rencheng_admin)
    assert not r.applied and r.invalid == 2
    assert "370800" in " ".join(str(e.message) for e in r.errors)


def test_cli_export_and_import(tree, users, tmp_path):
    make_plan(tree, users.city_admin)
    f = tmp_path / "out.xlsx"
    out = StringIO()
    call_command("export", "plan", "--out", str(f), stdout=out, stderr=StringIO())
    assert "2 rows" in out.getvalue()
    header, *rows = _rows(f)
    _write(f, [header, *[["命令行导入", *row[1:]] for row in rows]])
    out = StringIO()
    call_command("import", "plan", str(f), stdout=out, stderr=StringIO())
    assert Plan.objects.filter(title="命令行导入").exists()
    assert AuditEntry.objects.filter(action="plans.plan.import").count() == 1


def test_web_import_page_and_export_download(tree, users, login, tmp_path):
    make_plan(tree, users.city_admin)
    c = login(users.city_admin)
    r = c.get("/plans/")
    assert "/plans/io/import/" in r.content.decode()
    r = c.get("/plans/io/export/")
    assert r.status_code == 200
    f = tmp_path / "dl.xlsx"
    f.write_bytes(b"".join(r.streaming_content) if r.streaming else r.content)
    assert [row[6] for row in _rows(f)[1:]] == ["建成幸福食堂", "完成换届"]
    assert c.get("/plans/io/import/").status_code == 200
    assert login(users.lumiao_secretary).get("/plans/io/import/").status_code == 403
