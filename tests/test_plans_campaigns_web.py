"""Campaign, key project and key enterprise pages, API and XLSX registers, as a user meets them."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import openpyxl
import pytest
from django.utils import timezone

from bihuan.core import tabular as tb
from bihuan.plans.models import CampaignCheckIn, CampaignTarget, KeyEnterprise, KeyProject, ProjectMonth
from bihuan.plans.services import campaigns, registers

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_campaign(tree):
    """A 50-day sprint that started 9 days ago (today is day 10)."""
    today = timezone.localdate()
    start = today - timedelta(days=9)
    return campaigns.create_campaign(None, unit=tree.city, title="大干五十天、冲刺四季度", starts_on=start,
                                     ends_on=start + timedelta(days=49), target_unit="万元", cadence="weekly",
                                     targets=[(tree.liying, 100), (tree.xianying, 80), (tree.longqiao, 60)])


def test_campaign_page_shows_the_day_the_countdown_and_the_leaderboard(login, tree, users, live_campaign):
    campaigns.check_in(None, CampaignTarget.objects.get(unit=tree.xianying), value=40)
    c = login(users.city_admin)
    text = c.get(f"/plans/campaigns/{live_campaign.pk}/").content.decode()
    assert "第 10 天 / 共 50 天" in text
    assert "还剩 40 天" in text
    assert 'id="campaign-chart"' in text and "campaign-data" in text
    rows = [line for line in text.split('data-testid="leader-row"')[1:]]
    assert 'data-unit="仙营街道"' in rows[0]  # best first
    # A county sees its own units only.
    text = login(users.rencheng_admin).get(f"/plans/campaigns/{live_campaign.pk}/").content.decode()
    assert "仙营街道" in text and "龙桥街道" not in text


def test_a_township_checks_in_on_the_campaign_page(login, tree, users, live_campaign):
    c = login(users.liying_staff)
    text = c.get(f"/plans/campaigns/{live_campaign.pk}/").content.decode()
    t = CampaignTarget.objects.get(unit=tree.liying)
    assert f'data-target="{t.pk}"' in text
    r = c.post(f"/plans/campaigns/targets/{t.pk}/checkin/", {f"t{t.pk}-value": "35", f"t{t.pk}-note": "新签约2个"})
    assert r.status_code == 302
    assert CampaignCheckIn.objects.get(target=t).value == 35
    r = c.post(f"/plans/campaigns/targets/{t.pk}/checkin/", {f"t{t.pk}-value": "-3"}, follow=True)
    assert "调度未记录" in r.content.decode() or "Check-in not recorded" in r.content.decode()
    assert CampaignCheckIn.objects.count() == 1
    other = CampaignTarget.objects.get(unit=tree.longqiao)
    assert c.post(f"/plans/campaigns/targets/{other.pk}/checkin/", {f"t{other.pk}-value": "1"}).status_code == 404


def test_the_city_creates_a_campaign_from_the_form(login, tree, users):
    c = login(users.city_admin)
    assert c.get("/plans/campaigns/new/").status_code == 200
    today = timezone.localdate()
    data = {"unit": tree.city.pk, "title": "冲刺四季度", "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=49)).isoformat(), "cadence": "daily", "grace_days": 1,
            "target_unit": "个", "targets": "370811008000 10\n370812002000，6"}
    r = c.post("/plans/campaigns/new/", data)
    assert r.status_code == 302
    assert sorted(CampaignTarget.objects.values_list("unit__name", "target")) == [("李营街道", 10), ("龙桥街道", 6)]
    r = c.post("/plans/campaigns/new/", {**data, "title": "二", "targets": "999999 5"})
    assert r.status_code == 400 and "999999" in r.content.decode()
    assert login(users.liying_staff).get("/plans/campaigns/new/").status_code == 403


def test_campaign_api(client, tree, users, live_campaign, token_for):
    auth = token_for(users.rencheng_admin)
    r = client.get(f"/api/v1/campaigns/{live_campaign.pk}", **auth)
    assert r.status_code == 200 and r.json()["day"] == 10 and r.json()["units"] == 2
    t = CampaignTarget.objects.get(unit=tree.liying)
    r = client.post(f"/api/v1/campaigns/targets/{t.pk}/checkins", json.dumps({"value": "55.5"}),
                    content_type="application/json", **auth)
    assert r.status_code == 201
    r = client.get(f"/api/v1/campaigns/{live_campaign.pk}/targets", **auth)
    assert [i["unit_name"] for i in r.json()["items"]] == ["李营街道", "仙营街道"] and r.json()["total"] == 2
    for bad in ({"value": -1}, {"value": "x"}, {"value": 1, "note": "a" * 3000}, {}):
        r = client.post(f"/api/v1/campaigns/targets/{t.pk}/checkins", json.dumps(bad),
                        content_type="application/json", **auth)
        assert r.status_code in (400, 422), bad
    other = CampaignTarget.objects.get(unit=tree.longqiao)
    r = client.post(f"/api/v1/campaigns/targets/{other.pk}/checkins", json.dumps({"value": 1}),
                    content_type="application/json", **auth)
    assert r.status_code == 404
    body = {"unit": "370811", "title": "区级攻坚", "starts_on": "2025-11-01", "ends_on": "2025-12-20",
            "target_unit": "个", "targets": [{"unit": "370811008000", "target": 5}]}
    r = client.post("/api/v1/campaigns", json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 201
    r = client.post("/api/v1/campaigns", json.dumps({**body, "targets": [{"unit": "370812002000", "target": 5}]}),
                    content_type="application/json", **auth)
    assert r.status_code == 400


def test_project_pages_highlight_the_projects_behind_plan(login, tree, users):
    year = timezone.localdate().year
    behind, _ = registers.save_project(None, unit=tree.rencheng, year=year, name="新能源装备产业园",
                                       level="provincial", plan={m: 100 for m in range(1, 13)},
                                       start_planned=date(year, 1, 2))
    fine, _ = registers.save_project(None, unit=tree.liying, year=year, name="社区服务中心", level="county",
                                     plan={1: 0})
    c = login(users.rencheng_admin)
    text = c.get("/plans/projects/").content.decode()
    first_row = text.split('data-testid="project-row"')[1]
    if timezone.localdate().month > 1:
        assert 'data-behind="1"' in first_row and "新能源装备产业园" in first_row
    text = c.get("/plans/projects/?behind=1").content.decode()
    assert "社区服务中心" not in text
    r = c.post(f"/plans/projects/{behind.pk}/", {"month": "1", "actual": "150"})
    assert r.status_code == 302
    assert ProjectMonth.objects.get(project=behind, month=date(year, 1, 1)).actual == 150
    r = c.post(f"/plans/projects/{behind.pk}/", {"month": "1", "actual": "-1"})
    assert r.status_code == 400
    assert login(users.yanzhou_admin).get(f"/plans/projects/{fine.pk}/").status_code == 404


def test_enterprise_page_sends_a_demand_into_the_loop(login, tree, users):
    from bihuan.loop.models import Matter

    e, _ = registers.save_enterprise(None, unit=tree.liying, group="四新经济", name="济宁某科技公司",
                                     credit_code="91370800MA3C12345X", officials="李某")
    c = login(users.liying_staff)
    text = c.get("/plans/enterprises/").content.decode()
    assert "济宁某科技公司" in text and "四新经济" in text
    r = c.post(f"/plans/enterprises/{e.pk}/", {"title": "融资需求", "description": "需要贷款贴息政策对接"})
    assert r.status_code == 302
    m = Matter.objects.get(kind="demand")
    assert m.handling_unit_id == tree.liying.pk
    assert c.post(f"/plans/enterprises/{e.pk}/", {"title": "", "description": "x"}).status_code == 400
    assert Matter.objects.count() == 1


def _xlsx(rows: list[list]) -> io.BytesIO:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


def _run(kind, buf, user, tmp_path):
    path = tmp_path / "in.xlsx"
    path.write_bytes(buf.getvalue())
    return tb.run_import(kind, tb.open_source(path), user=user)


def test_key_projects_and_enterprises_round_trip_through_xlsx(tree, users, tmp_path):
    from bihuan.plans.tabular import ENTERPRISE_SPEC, PROJECT_SPEC

    headers = [c.header for c in PROJECT_SPEC.columns]
    row = dict.fromkeys(headers, None)
    row.update({"年度": 2025, "项目名称": "梁山专用车产业园", "项目级别": "省级", "牵头单位编码": "370811",
                "责任领导": "王某", "计划开工": "2025-03-01", **{f"{m}月计划": 500 for m in range(1, 13)},
                "1月实际": 450})
    bad = {**row, "项目名称": "坏项目", "牵头单位编码": "370812", "1月计划": -5}
    res = _run("key_project", _xlsx([headers, [row[h] for h in headers], [bad[h] for h in headers]]),
               users.rencheng_admin, tmp_path)
    assert not res.ok and KeyProject.objects.count() == 0  # all or nothing; the bad row is reported
    res = _run("key_project", _xlsx([headers, [row[h] for h in headers]]), users.rencheng_admin, tmp_path)
    assert res.ok and res.created == 1
    p = KeyProject.objects.get()
    assert p.months.count() == 12 and p.months.get(month=date(2025, 1, 1)).actual == 450
    out = tmp_path / "out.xlsx"
    with open(out, "wb") as fh:
        assert tb.export("key_project", fh, user=users.rencheng_admin) == 1
    res = tb.run_import("key_project", tb.open_source(out), user=users.rencheng_admin)
    assert res.ok and res.unchanged == 1  # the export re-imports unchanged
    with open(out, "wb") as fh:
        assert tb.export("key_project", fh, user=users.yanzhou_admin) == 0  # another county sees none
    e_headers = [c.header for c in ENTERPRISE_SPEC.columns]
    for name in ("十强产业", "四新经济", "规上服务业"):  # the city's lists (a county cannot add one)
        registers.ensure_group(users.city_admin, name)
    rows = [e_headers, ["十强产业", "梁山华宇集团", "91370832MA3C12345X", "专用车", "370811008000", "张某"],
            ["规上服务业", "某物流公司", "91370832MA3C54321X", "物流", "370811003000", ""]]
    res = _run("key_enterprise", _xlsx(rows), users.rencheng_admin, tmp_path)
    assert res.ok and res.created == 2
    res = _run("key_enterprise", _xlsx(rows), users.rencheng_admin, tmp_path)
    assert res.ok and res.unchanged == 2
    assert KeyEnterprise.objects.count() == 2
