"""Registers as XLSX: the template, import (per-row errors, all or nothing), export, round trip."""

from __future__ import annotations

import io

import openpyxl
import pytest

from bihuan.core import tabular as tb
from bihuan.core.models import AuditEntry
from bihuan.ledgers import services
from bihuan.ledgers.models import Entry, EntryChange
from bihuan.ledgers.tabular import kind_for
from tests.ledgers_helpers import coop, load

pytestmark = pytest.mark.django_db


def _source(tmp_path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    p = tmp_path / "coops.xlsx"
    wb.save(p)
    return tb.open_source(str(p))


def _export(kind, user):
    buf = io.BytesIO()
    tb.export(kind, buf, user=user)
    return [list(r) for r in openpyxl.load_workbook(io.BytesIO(buf.getvalue())).active.iter_rows(values_only=True)]


HEAD = ["单位编码", "合作社名称", "类型", "成员数", "年经营收入", "领办党组织", "示范等级", "入选示范项目库", "成立日期"]


def test_template_headers_are_the_chinese_labels(tree, users):
    kind = kind_for(load()["cooperatives"])
    assert _export(kind, users.liying_staff) == [["编号", *HEAD]]


def test_a_partly_bad_file_reports_every_bad_row_and_imports_nothing(tree, users, tmp_path):
    kind = kind_for(load()["cooperatives"])
    src = _source(tmp_path, [HEAD,
                             ["370811008201", "甲社", "种植", 10, 1000, "芦庙村党支部", "无", "是", "2020-05-01"],
                             ["370811008201", "乙社", "挖矿", 10, None, None, None, None, None],
                             ["370811008201", "丙社", "养殖", -3, None, None, None, None, None],
                             ["370812002003", "丁社", "养殖", 3, None, None, None, None, None]])
    r = tb.run_import(kind, src, user=users.liying_staff)
    assert not r.applied and r.invalid_rows == {3, 4, 5}
    by_row = r.errors_by_row()
    assert by_row[3][0].column == "类型" and by_row[4][0].column == "成员数" and by_row[5][0].column == "单位编码"
    assert not Entry.objects.exists()
    assert AuditEntry.objects.filter(action="ledgers.entry.import").count() == 1


def test_round_trip_and_formulas_stay_text(tree, users, tmp_path):
    regs = load()
    kind = kind_for(regs["cooperatives"])
    services.create_entry(None, regs["cooperatives"], unit=tree.lumiao, values=coop(name="=HYPERLINK(1)"))
    services.create_entry(None, regs["cooperatives"], unit=tree.xianying_v, values=coop(name="仙营社", members=7))
    rows = _export(kind, users.rencheng_admin)
    assert len(rows) == 3 and rows[0][1] == "单位编码"
    names = {r[2] for r in rows[1:]}
    assert "'=HYPERLINK(1)" in names  # not a formula
    src = _source(tmp_path, rows)
    r = tb.run_import(kind, src, user=users.rencheng_admin)
    assert r.applied and (r.created, r.updated, r.unchanged) == (0, 0, 2), r.errors
    assert Entry.objects.filter(data__name="=HYPERLINK(1)").exists()
    rows[2][4] = 8  # one member more in 仙营社
    r = tb.run_import(kind, _source(tmp_path, rows), user=users.rencheng_admin)
    assert (r.created, r.updated, r.unchanged) == (0, 1, 1)
    rows.append([None, "370811008201", "新社", "劳务", 3, None, None, None, None, None])
    r = tb.run_import(kind, _source(tmp_path, rows), user=users.liying_staff)
    assert not r.applied  # 仙营社区 is not liying_staff's: the whole file is refused
    assert Entry.objects.count() == 2


def test_new_rows_are_checked_for_uniqueness_against_the_register_and_the_file(tree, users, tmp_path):
    regs = load()
    kind = kind_for(regs["cooperatives"])
    services.create_entry(None, regs["cooperatives"], unit=tree.lumiao, values=coop(name="老社"))
    row = ["370811008201", None, "种植", 10, None, None, None, None, None]
    src = _source(tmp_path, [HEAD, [row[0], "老社", *row[2:]], [row[0], "新社", *row[2:]],
                             [row[0], "新社", *row[2:]], [row[0], "另一社", *row[2:]]])
    r = tb.run_import(kind, src, user=users.liying_staff)
    assert not r.applied and r.invalid_rows == {2, 4}
    assert {e.column for e in r.errors} == {"合作社名称"}
    r = tb.run_import(kind, _source(tmp_path, [HEAD, [row[0], "新社", *row[2:]], [row[0], "另一社", *row[2:]]]),
                      user=users.liying_staff)
    assert r.applied and r.created == 2
    e = Entry.objects.get(data__name="新社")
    assert e.created_by == users.liying_staff and EntryChange.objects.filter(entry_id_ref=e.pk).exists()
