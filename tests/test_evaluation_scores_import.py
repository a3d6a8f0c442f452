"""Manual scores from XLSX: the assessor's template (targets × manual indicators in scope), filled
and imported with per-row errors, all-or-nothing; scores go in as entered (approval still needed)."""

from __future__ import annotations

import openpyxl
import pytest

from bihuan.core import tabular as tb
from bihuan.evaluation import services
from bihuan.evaluation.models import ManualScore

from .evaluation_helpers import H1, village_set
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def _export(path, user):
    with open(path, "wb") as fh:
        return tb.export("evaluation_score", fh, user=user)


def _rows(path):
    ws = openpyxl.load_workbook(path).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _write(path, rows):
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(path)


def test_template_fill_import_then_approve(tree, users, tmp_path):
    s = village_set(tree, users.city_admin)
    services.compute_run(users.city_admin, s, H1, now=at("2026-07-01 09:00"))  # the open run: 2026H1
    f = tmp_path / "t.xlsx"
    _export(f, users.liying_staff)
    rows = _rows(f)
    head = rows[0]
    assert head[:6] == ["指标编号", "指标集", "指标", "期间", "区划代码", "单位"]
    assert [(r[2], r[3], r[5]) for r in rows[1:]] == [("党建工作", H1, "芦庙村")]  # 李营街道 scores 芦庙村 only
    _export(f, users.city_admin)
    assert {r[5] for r in _rows(f)[1:]} == {"芦庙村", "仙营社区", "薛庙社区"}
    _export(f, users.liying_staff)
    rows = _rows(f)
    col = {h: i for i, h in enumerate(head)}
    rows[1][col["得分"]], rows[1][col["说明"]], rows[1][col["证据"]] = 88, "材料齐全", "台账照片"
    _write(f, rows)
    r = tb.run_import("evaluation_score", tb.open_source(f), user=users.liying_staff)
    assert r.ok and r.created == 1, r.errors
    sc = ManualScore.objects.get()
    assert (sc.value, sc.state, sc.entered_by, sc.period) == (88, "entered", users.liying_staff, H1)
    r = tb.run_import("evaluation_score", tb.open_source(f), user=users.liying_staff)
    assert r.unchanged == 1 and r.created == r.updated == 0
    services.approve_score(users.rencheng_admin, sc)
    assert ManualScore.objects.get().state == "approved"


def test_bad_rows_are_reported_and_nothing_is_written(tree, users, tmp_path):
    s = village_set(tree, users.city_admin)
    ind = s.indicators.get(kind="manual")
    f = tmp_path / "bad.xlsx"
    _write(f, [["指标编号", "期间", "区划代码", "得分", "说明", "证据"],
               [ind.pk, H1, tree.lumiao.code, 80, "好", ""],
               [ind.pk, H1, tree.lumiao_g1.code, 101, "", ""],  # out of range
               [ind.pk, H1, tree.xuemiao.code, 70, "", ""],  # not 李营街道's
               [999999, H1, tree.lumiao.code, 70, "", ""]])  # no such indicator
    r = tb.run_import("evaluation_score", tb.open_source(f), user=users.liying_staff)
    assert not r.applied and r.invalid == 3
    assert {e.row for e in r.errors} == {3, 4, 5}
    assert not ManualScore.objects.exists()
