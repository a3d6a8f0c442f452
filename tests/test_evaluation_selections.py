"""Selections (评选): a round with a quota, nominations by units in scope, review, public notice
(公示), then named with a citation; audited; list, export, API."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from bihuan.core.audit import AuditEntry
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.evaluation import selectors, services
from bihuan.evaluation.models import Nomination, SelectionRound
from bihuan.orgs import services as org_services

from .loop_helpers import at

pytestmark = pytest.mark.django_db
NOW = at("2026-03-02 09:00")


def vanguard_round(tree, users, quota=2):
    return services.create_round(users.city_admin, unit=tree.city, kind="vanguard", name="2026年度先锋",
                                 quota=quota, nominate_until="2026-03-31", now=NOW)


def three_nominations(tree, users, r):
    a = services.nominate(users.lumiao_secretary, r, unit=tree.lumiao, nominee="张三", deeds="带头垃圾分类",
                          now=NOW)
    b = services.nominate(users.liying_staff, r, unit=tree.liying, nominee="李四", deeds="抗洪抢险", now=NOW)
    c = services.nominate(users.yanzhou_admin, r, unit=tree.xuemiao, nominee="王五", deeds="调解纠纷", now=NOW)
    return a, b, c


def test_default_quotas_and_bad_input(tree, users):
    r = services.create_round(users.city_admin, unit=tree.city, kind="secretary", name="优秀书记",
                              nominate_until="2026-03-31", now=NOW)
    assert r.quota == 100
    assert services.create_round(users.city_admin, unit=tree.city, kind="vanguard", name="先锋",
                                 nominate_until="2026-03-31", now=NOW).quota == 150
    for bad in ({"kind": "hero"}, {"nominate_until": "2026-02-30"}, {"nominate_until": "2026-03-01"},
                {"quota": 0}, {"name": "x\x00"}):
        with pytest.raises(ServiceError):
            services.create_round(users.city_admin, **{"unit": tree.city, "kind": "vanguard", "name": "坏",
                                                       "nominate_until": "2026-03-31", "now": NOW, **bad})
    with pytest.raises((PermissionDenied, NotFound)):
        services.create_round(users.liying_staff, unit=tree.city, kind="vanguard", name="越权",
                              nominate_until="2026-03-31", now=NOW)
    assert SelectionRound.objects.count() == 2


def test_round_from_nomination_to_named_with_quota_and_audit(tree, users):
    r = vanguard_round(tree, users)
    a, b, c = three_nominations(tree, users, r)
    with pytest.raises(Conflict):
        services.nominate(users.lumiao_secretary, r, unit=tree.lumiao, nominee="张三", deeds="再报", now=NOW)
    with pytest.raises((PermissionDenied, NotFound)):  # 芦庙村 cannot nominate for 薛庙社区
        services.nominate(users.lumiao_secretary, r, unit=tree.xuemiao, nominee="赵六", deeds="x", now=NOW)
    with pytest.raises(ServiceError) as exc:
        services.nominate(users.lumiao_secretary, r, unit=tree.lumiao, nominee="迟到", deeds="x",
                          now=at("2026-04-01 09:00"))
    assert exc.value.code == "closed"
    with pytest.raises(ServiceError):  # accepting needs a citation
        services.review(users.city_admin, a, accept=True, now=NOW)
    with pytest.raises((PermissionDenied, NotFound)):  # only the selecting unit reviews
        services.review(users.liying_staff, a, accept=True, citation="x", now=NOW)
    services.review(users.city_admin, a, accept=True, citation="垃圾分类的带头人", now=NOW)
    services.review(users.city_admin, b, accept=True, citation="抗洪一线的党员", now=NOW)
    with pytest.raises(ServiceError) as exc:
        services.review(users.city_admin, c, accept=True, citation="x", now=NOW)
    assert exc.value.code == "quota"
    with pytest.raises(ServiceError) as exc:
        services.publicise(users.city_admin, r, now=NOW)
    assert exc.value.code == "incomplete"  # 王五 awaits review
    services.review(users.city_admin, c, accept=False, note="名额已满", now=NOW)
    r = services.publicise(users.city_admin, r, now=at("2026-04-01 09:00"))
    assert r.state == "publicised" and r.notice_until > at("2026-04-01 09:00").date()
    with pytest.raises(ServiceError):
        services.name_selection(users.city_admin, r, now=at("2026-04-02 09:00"))
    with pytest.raises(Conflict):  # during the notice only a withdrawal
        services.review(users.city_admin, c, accept=True, citation="x", now=at("2026-04-02 09:00"))
    r = services.name_selection(users.city_admin, r, now=at("2026-04-20 09:00"))
    assert r.state == "named"
    assert dict(Nomination.objects.values_list("nominee", "state")) == {"张三": "named", "李四": "named",
                                                                        "王五": "rejected"}
    assert set(AuditEntry.objects.filter(action__startswith="evaluation.selection").values_list(
        "action", flat=True)) == {"evaluation.selection.create", "evaluation.selection.nominate",
                                  "evaluation.selection.review", "evaluation.selection.publicise",
                                  "evaluation.selection.name"}


def test_a_village_sees_its_own_nominations_then_the_publicised_list(tree, users):
    r = vanguard_round(tree, users)
    a, b, c = three_nominations(tree, users, r)
    sec = users.lumiao_secretary
    assert [n.nominee for n in selectors.nominations(sec, r)] == ["张三"]
    assert {n.nominee for n in selectors.nominations(users.city_admin, r)} == {"张三", "李四", "王五"}
    services.review(users.city_admin, a, accept=True, citation="带头人", now=NOW)
    services.review(users.city_admin, b, accept=False, note="材料不足", now=NOW)
    services.review(users.city_admin, c, accept=True, citation="调解能手", now=NOW)
    r = services.publicise(users.city_admin, r, now=at("2026-04-01 09:00"))
    assert {n.nominee for n in selectors.nominations(sec, r)} == {"张三", "王五"}  # not the rejected 李四
    with pytest.raises((PermissionDenied, NotFound)):
        services.publicise(sec, r)


def test_organisations_are_nominated_by_their_party_org(tree, users):
    po = org_services.create_party_org(None, unit=tree.lumiao, kind="branch", name="芦庙村党支部")
    other = org_services.create_party_org(None, unit=tree.xuemiao, kind="branch", name="薛庙社区党支部")
    r = services.create_round(users.city_admin, unit=tree.city, kind="org", name="先进党组织",
                              nominate_until="2026-03-31", now=NOW)
    with pytest.raises(ServiceError) as exc:
        services.nominate(users.lumiao_secretary, r, unit=tree.lumiao, party_org=other.pk, deeds="x", now=NOW)
    assert "party_org" in exc.value.field_errors
    n = services.nominate(users.lumiao_secretary, r, unit=tree.lumiao, party_org=po.pk, deeds="堡垒", now=NOW)
    assert n.nominee == "芦庙村党支部" and n.party_org == po


def test_api_page_and_export(tree, users, client):
    client.force_login(users.city_admin)
    resp = client.post("/api/v1/evaluation/selections", {"unit": tree.city.code, "kind": "vanguard",
                                                         "name": "先锋（接口）", "quota": 150,
                                                         "nominate_until": "2099-12-31"},
                       content_type="application/json")
    assert resp.status_code == 201, resp.content
    rid = resp.json()["id"]
    bad = client.post("/api/v1/evaluation/selections", {"unit": tree.city.code, "kind": "vanguard", "name": "x",
                                                        "quota": -1, "nominate_until": "2099-12-31"},
                      content_type="application/json")
    assert bad.status_code in (400, 422)
    client.force_login(users.lumiao_secretary)
    resp = client.post(f"/api/v1/evaluation/selections/{rid}/nominations",
                       {"unit": tree.lumiao.code, "nominee": "张三", "deeds": "带头垃圾分类"},
                       content_type="application/json")
    assert resp.status_code == 201, resp.content
    nid = resp.json()["id"]
    resp = client.post(f"/evaluation/selections/{rid}/", {"unit": tree.lumiao.pk, "nominee": "李四",
                                                          "deeds": "志愿服务"})
    assert resp.status_code == 302
    assert [i["nominee"] for i in client.get(f"/api/v1/evaluation/selections/{rid}/nominations").json()["items"]] \
        == ["张三", "李四"]
    assert client.post(f"/api/v1/evaluation/selections/nominations/{nid}/review", {"accept": True, "citation": "x"},
                       content_type="application/json").status_code in (403, 404)
    client.force_login(users.city_admin)
    resp = client.post(f"/api/v1/evaluation/selections/nominations/{nid}/review",
                       {"accept": True, "citation": "垃圾分类的带头人"}, content_type="application/json")
    assert resp.status_code == 200 and resp.json()["state"] == "accepted"
    page = client.get(f"/evaluation/selections/{rid}/").content.decode()
    assert "垃圾分类的带头人" in page and "1/150" in page
    assert "先锋（接口）" in client.get("/evaluation/selections/").content.decode()
    ws = load_workbook(io.BytesIO(client.get(f"/evaluation/selections/{rid}/nominations.xlsx").content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("推荐单位", "区划代码", "推荐对象")
    assert ("张三", "拟表彰（公示）", "垃圾分类的带头人") in [(x[2], x[4], x[5]) for x in rows[1:]]


def test_demo_seed_has_the_three_selections():
    import random

    from bihuan.core.context import acting_as
    from bihuan.evaluation.seed import seed_selections
    from bihuan.orgs import seed as org_seed
    from bihuan.orgs.models import Level, OrgUnit

    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", progress=False)
        city = OrgUnit.objects.get(level=Level.CITY)
        assert seed_selections(city, random.Random(1), at("2026-06-15 10:00")) == {"selection_rounds": 3}
    rounds = dict(SelectionRound.objects.values_list("kind", "state"))
    assert rounds == {"org": "named", "secretary": "publicised", "vanguard": "nominating"}
    assert dict(SelectionRound.objects.values_list("kind", "quota")) == {"org": 100, "secretary": 100,
                                                                          "vanguard": 150}
    assert Nomination.objects.filter(round__kind="org", state="named").exclude(citation="").exists()
