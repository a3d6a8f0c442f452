"""Evaluation (h-eval2): indicator sets exported to XLSX (Chinese headers) and imported back as a new
set — the round trip keeps every indicator; per-row errors; all-or-nothing; scope."""

from __future__ import annotations

import openpyxl
import pytest

from bihuan.core import tabular as tb
from bihuan.evaluation import services
from bihuan.evaluation.models import IndicatorSet

from .loop_helpers import at

pytestmark = pytest.mark.django_db

FIELDS = ("seq", "name", "kind", "weight", "source", "rule", "direction", "floor", "target", "assessor_unit_id",
          "penalty", "max_penalty", "star_cap")


def _set(tree, user):
    return services.create_set(user, unit=tree.city, name="2026年村（社区）考核", period_kind="half",
                               target_kind="village", star_mode="quota", star_thresholds=[92, 80, 70, 60],
                               five_star_quota=15, notice_days=7, now=at("2026-01-05 09:00"), indicators=[
                                   {"name": "响应率", "kind": "auto", "source": "loop.response_rate", "weight": 50,
                                    "floor": 50, "target": 100},
                                   {"name": "响应率排名", "kind": "auto", "source": "loop.response_rate",
                                    "weight": 20, "rule": "rank"},
                                   {"name": "党建工作", "kind": "manual", "weight": 30, "assessor_unit": tree.liying},
                                   {"name": "安全事故", "kind": "deduct", "penalty": 2, "max_penalty": 10},
                                   {"name": "重大信访", "kind": "veto", "star_cap": 3}])


def _rows(path):
    return [list(r) for r in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]


def _write(path, rows):
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)


def _indicators(s):
    return [tuple(getattr(i, f) for f in FIELDS) for i in s.indicators.order_by("seq")]


def test_export_then_import_as_a_new_set_round_trips(tree, users, tmp_path):
    s = _set(tree, users.city_admin)
    f = tmp_path / "sets.xlsx"
    with open(f, "wb") as fh:
        tb.export("evaluation_set", fh, user=users.city_admin)
    rows = _rows(f)
    head = rows[0]
    assert head[:5] == ["区划代码", "考核单位", "指标集", "周期", "考核对象"]
    col = {h: i for i, h in enumerate(head)}
    assert [r[col["指标"]] for r in rows[1:]] == ["响应率", "响应率排名", "党建工作", "安全事故", "重大信访"]
    assert rows[2][col["计分规则"]] == "排名" and rows[1][col["类型"]] == "自动" and rows[1][col["周期"]] == "半年"
    assert rows[1][col["星级分数线"]] == "92,80,70,60"
    for r in rows[1:]:
        r[col["指标集"]] = "2027年村（社区）考核"  # a new version under a new name
    _write(f, rows)
    res = tb.run_import("evaluation_set", tb.open_source(f), user=users.city_admin, now=at("2026-12-01 09:00"))
    assert res.ok and res.created == 5, res.errors
    new = IndicatorSet.objects.get(name="2027年村（社区）考核")
    assert (new.unit, new.period_kind, new.target_kind, new.star_mode, new.five_star_quota, new.notice_days) == \
        (tree.city, "half", "village", "quota", 15, 7)
    assert [float(t) for t in new.star_thresholds] == [92, 80, 70, 60]
    assert _indicators(new) == _indicators(s)
    # the same file again: the name is taken — refused, nothing written
    res = tb.run_import("evaluation_set", tb.open_source(f), user=users.city_admin)
    assert not res.ok and res.created == 0 and IndicatorSet.objects.count() == 2


def test_bad_rows_are_reported_and_nothing_is_written(tree, users, tmp_path):
    _set(tree, users.city_admin)
    f = tmp_path / "sets.xlsx"
    with open(f, "wb") as fh:
        tb.export("evaluation_set", fh, user=users.city_admin)
    rows = _rows(f)
    col = {h: i for i, h in enumerate(rows[0])}
    for r in rows[1:]:
        r[col["指标集"]] = "新指标集"
    rows[1][col["权重"]] = 60  # weights now sum to 110
    rows[2][col["类型"]] = "随便"
    _write(f, rows)
    res = tb.run_import("evaluation_set", tb.open_source(f), user=users.city_admin)
    assert not res.ok and res.created == 0
    by_row = res.errors_by_row()
    assert any(e.column == "类型" for e in by_row[3])
    rows[2][col["类型"]] = "自动"
    _write(f, rows)
    res = tb.run_import("evaluation_set", tb.open_source(f), user=users.city_admin)
    assert not res.ok and "100" in " ".join(e.message for e in res.errors)
    assert not IndicatorSet.objects.filter(name="新指标集").exists()


def test_a_township_cannot_import_a_set_for_the_city(tree, users, tmp_path):
    s = _set(tree, users.city_admin)
    f = tmp_path / "sets.xlsx"
    with open(f, "wb") as fh:
        tb.export("evaluation_set", fh, user=users.city_admin)
    rows = _rows(f)
    col = {h: i for i, h in enumerate(rows[0])}
    for r in rows[1:]:
        r[col["指标集"]] = "越权"
    _write(f, rows)
    res = tb.run_import("evaluation_set", tb.open_source(f), user=users.liying_staff)
    assert not res.ok and not IndicatorSet.objects.filter(name="越权").exists()
    assert s.pk


def test_set_page_offers_the_download_and_the_import(tree, users, client, tmp_path):
    s = _set(tree, users.city_admin)
    client.force_login(users.city_admin)
    page = client.get(f"/evaluation/sets/{s.pk}/").content.decode()
    assert 'data-testid="set-export"' in page and 'data-testid="set-import"' in page
    r = client.get(f"/evaluation/sets/{s.pk}/indicators.xlsx")
    assert r.status_code == 200
    f = tmp_path / "one.xlsx"
    f.write_bytes(r.content)
    assert [row[10] for row in _rows(f)[1:]] == ["响应率", "响应率排名", "党建工作", "安全事故", "重大信访"]
    assert client.get("/evaluation/io/sets/import/").status_code == 200
    # a village secretary sees the set but may not download it
    client.force_login(users.lumiao_secretary)
    assert client.get(f"/evaluation/sets/{s.pk}/indicators.xlsx").status_code in (403, 404)
