"""Registers' pages: list, filters, summary, add/edit with the definition's validation, history,
import/export, collection rounds; out of scope is 404."""

from __future__ import annotations

import io
import json
from datetime import date

import openpyxl
import pytest
from django.utils import timezone

from bihuan.ledgers import services
from bihuan.ledgers.models import Entry, Register, Submission
from tests.ledgers_helpers import coop, load

pytestmark = pytest.mark.django_db


@pytest.fixture
def regs(tree):
    return load()


def test_list_detail_filters_and_summary(client, tree, users, regs):
    r = regs["cooperatives"]
    services.create_entry(None, r, unit=tree.lumiao, values=coop(name="芦庙果蔬", members=10))
    services.create_entry(None, r, unit=tree.xianying_v, values=coop(name="仙营养殖", members=7, kind="养殖"))
    services.create_entry(None, r, unit=tree.xuemiao, values=coop(name="薛庙合作社", members=99))
    client.force_login(users.rencheng_admin)
    page = client.get("/ledgers/").content.decode()
    assert "党组织领办合作社" in page
    body = client.get(f"/ledgers/r/{r.code}/").content.decode()
    assert "芦庙果蔬" in body and "仙营养殖" in body and "薛庙" not in body and "兖州区" not in body
    assert 'data-testid="summary-total">2<' in body
    body = client.get(f"/ledgers/r/{r.code}/", {"kind": "养殖"}).content.decode()
    assert "仙营养殖" in body and "芦庙果蔬" not in body
    body = client.get(f"/ledgers/r/{r.code}/", {"members__min": "8", "group": 3, "q": "果蔬"}).content.decode()
    assert "芦庙果蔬" in body and "李营街道" in body
    assert client.get(f"/ledgers/r/{r.code}/", {"members__min": "abc", "group": "x", "page": "9" * 30}).status_code == 200


def test_add_edit_with_validation_history_and_409(client, tree, users, regs):
    r = regs["cooperatives"]
    client.force_login(users.lumiao_secretary)
    url = f"/ledgers/r/{r.code}/new/"
    bad = client.post(url, {"unit": tree.lumiao.pk, "name": "新社", "kind": "种植", "members": "-5"})
    assert bad.status_code == 400 and "field-error-members" in bad.content.decode()
    assert not Entry.objects.exists()
    ok = client.post(url, {"unit": tree.lumiao.pk, "name": "新社", "kind": "种植", "members": "12",
                           "revenue": "1,000.50", "in_project_library": "是"})
    assert ok.status_code == 302
    e = Entry.objects.get()
    assert e.data["revenue"] == 1000.5 and e.data["in_project_library"] is True
    detail = f"/ledgers/entries/{e.pk}/"
    r1 = client.post(detail, {"version": 1, "name": "新社", "kind": "种植", "members": "13"})
    assert r1.status_code == 302
    stale = client.post(detail, {"version": 1, "name": "新社", "kind": "种植", "members": "14"})
    assert stale.status_code == 409
    page = client.get(detail).content.decode()
    assert "12 → 13" in page and "lumiao_secretary" in page
    client.force_login(users.yanzhou_admin)
    assert client.get(detail).status_code == 404
    assert client.post(f"/ledgers/entries/{e.pk}/delete/", {"version": 2}).status_code == 404


def test_define_a_register_from_the_page(client, tree, users, regs):
    client.force_login(users.city_admin)
    fields = [{"key": "name", "label": "名称", "type": "text", "required": True, "listed": True},
              {"key": "seats", "label": "座位", "type": "number", "min": 0, "listed": True}]
    r = client.post("/ledgers/new/", {"code": "canteens", "name": "幸福食堂", "level": 4, "unit": tree.city.pk,
                                      "definition": json.dumps(fields)})
    assert r.status_code == 302, r.content.decode()[:2000]
    reg = Register.objects.get(code="canteens")
    bad = client.post(f"/ledgers/r/{reg.code}/edit/", {"name": "幸福食堂", "version": reg.version,
                                                       "definition": json.dumps([{**fields[1], "type": "text"}])})
    assert bad.status_code == 400 and "type" in bad.content.decode()
    assert client.post("/ledgers/new/", {"code": "x1", "name": "x", "level": 4, "unit": tree.city.pk,
                                         "definition": "[{"}).status_code == 400
    client.force_login(users.rencheng_admin)
    assert client.get(f"/ledgers/r/{reg.code}/edit/").status_code == 404


def test_export_and_import_pages(client, tree, users, regs):
    r = regs["cooperatives"]
    services.create_entry(None, r, unit=tree.lumiao, values=coop())
    client.force_login(users.liying_staff)
    resp = client.get(f"/ledgers/r/{r.code}/export.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("编号", "单位编码", "合作社名称") and rows[1][2] == "芦庙果蔬合作社"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(rows[0]))
    ws.append(list(rows[1]))
    ws.append([None, "370811008201", "新社", "挖矿", 3])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "coops.xlsx"
    page = client.post(f"/ledgers/r/{r.code}/import/", {"file": buf})
    assert page.status_code == 400 and "挖矿" in page.content.decode(), page.content.decode()[-3000:]
    assert Entry.objects.count() == 1


def test_round_page_submit_return_and_late(client, tree, users, regs):
    r = regs["cooperatives"]
    today = timezone.localdate()
    rd = services.open_round(users.city_admin, r, within=tree.rencheng, title="合作社年报",
                             due_on=date(today.year + 1, 1, 1))
    client.force_login(users.lumiao_secretary)
    assert client.post(f"/ledgers/rounds/{rd.pk}/", {"unit": tree.lumiao.pk}).status_code == 302
    s = Submission.objects.get()
    client.force_login(users.rencheng_admin)
    body = client.get(f"/ledgers/rounds/{rd.pk}/").content.decode()
    assert "芦庙村" in body and "仙营社区" in body
    client.post(f"/ledgers/rounds/{rd.pk}/return/", {"submission": s.pk, "reason": "缺成员数"})
    s.refresh_from_db()
    assert s.state == "returned" and s.return_reason == "缺成员数"
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/ledgers/rounds/{rd.pk}/").status_code == 404


def test_a_proposal_at_an_office_becomes_a_loop_matter_listed_on_the_office(client, tree, users, regs):
    from bihuan.ledgers.models import OfficeProposal
    from bihuan.loop.models import Matter

    office = services.create_entry(None, regs["rep_offices"], unit=tree.liying,
                                   values={"name": "李营街道党代表工作室", "location": "党群服务中心"})
    client.force_login(users.liying_staff)
    url = f"/ledgers/entries/{office.pk}/"
    r = client.post(url + "proposals/", {"representative": "王建国", "title": "增设老年助餐点",
                                         "description": "芦庙村老人多，建议增设助餐点。"})
    assert r.status_code == 302
    m = Matter.objects.get()
    assert m.kind == "proposal" and m.location_unit_id == tree.liying.pk and "王建国" in m.description
    assert OfficeProposal.objects.get().matter_id == m.pk
    page = client.get(url).content.decode()
    assert "增设老年助餐点" in page and "王建国" in page
    coop_entry = services.create_entry(None, regs["cooperatives"], unit=tree.lumiao, values=coop())
    r = client.post(f"/ledgers/entries/{coop_entry.pk}/proposals/", {"representative": "x", "title": "x",
                                                                      "description": "x"})
    assert r.status_code in (302, 400) and Matter.objects.count() == 1
    client.force_login(users.yanzhou_admin)
    assert client.post(url + "proposals/", {"representative": "x", "title": "x", "description": "x"}).status_code == 404
