"""Needs surveys as XLSX: import (by ID number, name checked, all-or-nothing), export masked."""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest

from bihuan.care.models import Survey
from bihuan.core import tabular as tb
from bihuan.people import services as people
from bihuan.people.validators import build_id_number

pytestmark = pytest.mark.django_db

HEAD = ["身份证号", "姓名", "摸排日期", "居住状况", "需要帮助事项", "救助类别", "需求", "风险等级", "紧急联系人", "关系",
        "联系人电话"]


def _write(path, rows):
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)


@pytest.fixture
def residents(tree):
    a = people.create_person(None, unit=tree.lumiao_g1, name="李大爷",
                             id_number=build_id_number("370811", date(1948, 5, 2), 11))
    b = people.create_person(None, unit=tree.lumiao_g1, name="孙奶奶",
                             id_number=build_id_number("370811", date(1944, 3, 9), 22))
    far = people.create_person(None, unit=tree.xuemiao, name="薛大娘",
                               id_number=build_id_number("370812", date(1950, 1, 1), 33))
    return a, b, far


def test_import_then_export_masked(tree, users, tmp_path, residents):
    a, b, _far = residents
    f = tmp_path / "s.xlsx"
    _write(f, [HEAD, [build_id_number("370811", date(1948, 5, 2), 11), "李大爷", "2026-03-01", "独居", "洗澡、服药",
                      "低保", "助餐、探访", "高", "李儿子", "儿子", "13905370009"],
               [build_id_number("370811", date(1944, 3, 9), 22), "孙奶奶", "2026-03-02", "空巢", "", "无", "助餐", "中",
                "", "", ""]])
    r = tb.run_import("care_survey", tb.open_source(f), user=users.lumiao_secretary)
    assert r.ok and r.created == 2, r.errors
    s = Survey.objects.get(person=a)
    assert (s.living, s.self_care, s.income_support, s.need_meals, s.help_medicine) == \
        ("alone", "partial", "dibao", True, True)
    out = tmp_path / "out.xlsx"
    with open(out, "wb") as fh:
        assert tb.export("care_survey", fh, user=users.lumiao_secretary) == 2
    rows = [list(x) for x in openpyxl.load_workbook(out).active.iter_rows(values_only=True)]
    assert rows[0] == HEAD
    text = str(rows)
    assert "13905370009" not in text and "139****0009" in text and a.id_number_masked in text


def test_bad_rows_reported_and_nothing_imported(tree, users, tmp_path, residents):
    f = tmp_path / "s.xlsx"
    _write(f, [HEAD, [build_id_number("370811", date(1948, 5, 2), 11), "李大爷", "2026-03-01", "独居", "", "", "", "",
                      "", "", ""],
               [build_id_number("370811", date(1944, 3, 9), 22), "王奶奶", "2026-03-01", "独居", "", "", "", "",
                "", "", ""],
               [build_id_number("370812", date(1950, 1, 1), 33), "薛大娘", "2026-03-01", "独居", "", "", "", "", "",
                "", ""],
               ["123", "某某", "2026-03-01", "城堡", "飞行", "", "", "", "", "", ""]])
    r = tb.run_import("care_survey", tb.open_source(f), user=users.lumiao_secretary)
    assert not r.ok and Survey.objects.count() == 0
    messages = " ".join(str(e) for e in r.errors)
    assert "姓名" in messages or "name" in messages
    assert len({e.row for e in r.errors}) == 3


# --- the care-plan register -------------------------------------------------------------------

PLAN_HEAD = ["服务标识", "身份证号", "姓名", "计划开始日期", "计划结束日期", "服务项目", "名称", "重复规则", "开始时间",
             "结束时间", "帮扶人账号", "后备帮扶人账号", "计划备注"]


@pytest.fixture
def helpers(tree, users):
    from bihuan.care import services

    vol = people.create_person(None, unit=tree.lumiao_g1, name="赵志愿")
    grid = people.create_person(None, unit=tree.lumiao_g1, name="钱网格")
    h, _u = services.register_helper(None, vol, password="Bihuan-Test-2026")
    services.register_helper(None, grid, kind="grid_worker", login=users.lumiao_grid)
    return h.user.username


def _plan_rows(vol):
    a = build_id_number("370811", date(1948, 5, 2), 11)
    b = build_id_number("370811", date(1944, 3, 9), 22)
    return [PLAN_HEAD,
            [None, a, "李大爷", "2026-03-01", None, "送餐", "午餐", "FREQ=DAILY", "11:00", "12:30", vol, "lumiao_grid",
             "一对一帮扶"],
            [None, a, "李大爷", "2026-03-01", None, "探访", "探访", "FREQ=DAILY", "15:00", "16:00", vol, None, None],
            [None, b, "孙奶奶", "2026-03-01", None, "保洁", None, "FREQ=WEEKLY;BYDAY=MO", "09:00", "10:00", vol, None,
             None]]


def test_plans_import_export_round_trip(tree, users, tmp_path, residents, helpers):
    from bihuan.care.models import CarePlan, CareService

    f = tmp_path / "p.xlsx"
    _write(f, _plan_rows(helpers))
    r = tb.run_import("care_plan", tb.open_source(f), user=users.lumiao_secretary)
    assert r.ok and r.created == 3, r.errors
    assert CarePlan.objects.count() == 2 and CareService.objects.count() == 3
    lunch = CareService.objects.get(label="午餐")
    assert (lunch.plan.person.name, lunch.plan.note, lunch.backup.username) == ("李大爷", "一对一帮扶", "lumiao_grid")
    out = tmp_path / "out.xlsx"
    with open(out, "wb") as fh:
        assert tb.export("care_plan", fh, user=users.lumiao_secretary) == 3
    wb = openpyxl.load_workbook(out)
    rows = [list(x) for x in wb.active.iter_rows(values_only=True)]
    assert rows[0] == PLAN_HEAD and residents[0].id_number_masked in str(rows)
    assert build_id_number("370811", date(1948, 5, 2), 11) not in str(rows)
    # read back as exported: every row is its own service, unchanged
    r = tb.run_import("care_plan", tb.open_source(out), user=users.lumiao_secretary)
    assert r.ok and (r.unchanged, r.created, r.updated) == (3, 0, 0), r.errors
    # a changed window goes through the service (version, audit)
    ws = wb.active
    for row in ws.iter_rows(min_row=2):
        if row[6].value == "午餐":
            row[8].value, row[9].value = "11:30", "13:00"
    wb.save(out)
    r = tb.run_import("care_plan", tb.open_source(out), user=users.lumiao_secretary)
    assert r.ok and (r.unchanged, r.updated) == (2, 1), r.errors
    lunch.refresh_from_db()
    assert f"{lunch.window_start:%H:%M}-{lunch.window_end:%H:%M}" == "11:30-13:00" and lunch.version == 2


def test_plans_import_bad_rows_nothing_written(tree, users, tmp_path, residents, helpers):
    from bihuan.care.models import CarePlan, CareService

    rows = _plan_rows(helpers)
    rows[1][7] = "FREQ=SECONDLY"  # a rule the app does not take
    rows[2][10] = "nobody_here"  # no such helper
    rows[3][2] = "王奶奶"  # the name does not match
    rows.append([None, build_id_number("370812", date(1950, 1, 1), 33), "薛大娘", "2026-03-01", None, "送餐", None,
                 "FREQ=DAILY", "11:00", "12:00", helpers, None, None])  # out of scope
    rows.append([None, None, "某某", "2026-03-01", None, "飞行", None, "FREQ=DAILY", "25:00", "12:00", None, None,
                 None])
    f = tmp_path / "p.xlsx"
    _write(f, rows)
    r = tb.run_import("care_plan", tb.open_source(f), user=users.lumiao_secretary)
    assert not r.ok and CarePlan.objects.count() == 0 and CareService.objects.count() == 0
    assert len({e.row for e in r.errors}) == 5
    text = " ".join(f"{e.column}:{e.message}" for e in r.errors)
    assert "重复规则" in text and "帮扶人账号" in text and "姓名" in text


def test_plans_export_needs_scope(tree, users, tmp_path, residents, helpers):
    f = tmp_path / "p.xlsx"
    _write(f, _plan_rows(helpers))
    assert tb.run_import("care_plan", tb.open_source(f), user=users.lumiao_secretary).ok
    out = tmp_path / "o.xlsx"
    with open(out, "wb") as fh:
        assert tb.export("care_plan", fh, user=users.yanzhou_admin) == 0
