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
