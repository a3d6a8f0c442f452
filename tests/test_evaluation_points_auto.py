"""points2 (issue 13 item 6): automatic awards for approved volunteer hours, once per service
record, through rules (cap, approval, audit); and the household's balance link without an account."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from bihuan.care import services as care
from bihuan.core import jobs
from bihuan.core.audit import AuditEntry
from bihuan.core.errors import NotFound, ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import PointAutoAward, PointEntry, PointLink
from bihuan.evaluation.services.points import balance_of
from bihuan.people import services as people

from .evaluation_helpers import points_setup
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def ledger(h) -> int:
    return PointEntry.objects.filter(household=h, state="posted").aggregate(s=Sum("points"))["s"] or 0


def _volunteer(tree, users, p):
    person = people.create_person(None, unit=tree.lumiao_g1, household=p.h1, name="赵志愿", phone="13805370002")
    team = care.create_team(users.lumiao_secretary, unit=tree.lumiao, name="芦庙村志愿服务队",
                            lead=users.lumiao_secretary, now=at("2026-03-01 09:00"))
    member = care.add_member(users.lumiao_secretary, team, person, now=at("2026-03-01 09:00"))
    return team, member


def _hours(users, team, member, day, hours, *, approve=True):
    r = care.record_service(users.lumiao_secretary, team, member=member, day=day, hours=hours,
                            description="帮老人修屋顶", now=at(f"{day} 18:00"))
    if approve:
        care.decide_record(users.lumiao_secretary, r, approve=True, now=at(f"{day} 19:00"))
    return r


def test_approved_hours_award_points_once_through_the_rule(tree, users):
    p = points_setup(tree, users.city_admin)
    auto = services.create_rule(users.city_admin, unit=tree.liying, code="ZYZD", name="志愿服务（自动，每小时）",
                                points=2, cap_per_year=10, auto="care.hours")
    team, member = _volunteer(tree, users, p)
    r1 = _hours(users, team, member, "2026-03-05", "3")
    _hours(users, team, member, "2026-03-06", "1.5")  # 3 points (rounded half up)
    _hours(users, team, member, "2026-03-07", "4", approve=False)  # pending: not awarded
    assert services.auto_award(at("2026-03-08 01:00")) == {"awarded": 2, "capped": 0, "zero": 0, "done": 0}
    assert balance_of(p.h1) == 9 == ledger(p.h1)
    e = PointEntry.objects.get(household=p.h1, evidence=f"care.hours:{r1.pk}")
    assert (e.points, e.rule_id, e.kind) == (6, auto.pk, "award") and "志愿服务" in e.note
    # Running again awards nothing; the job in the registry is the same function.
    assert jobs.run_job("evaluation.points_auto", at("2026-03-08 02:00")) == 0
    assert PointEntry.objects.filter(household=p.h1).count() == 2
    # The cap (10 a year) clips the next award, then nothing is left.
    _hours(users, team, member, "2026-03-09", "2")
    _hours(users, team, member, "2026-03-10", "2")
    assert services.auto_award(at("2026-03-11 01:00"))["capped"] == 1
    assert balance_of(p.h1) == 10 == ledger(p.h1)
    assert PointAutoAward.objects.count() == 4
    assert AuditEntry.objects.filter(action="evaluation.points.auto").count() == 3
    # The manual rule (not automatic) never awards by itself.
    assert not PointEntry.objects.filter(rule=p.volunteer).exists()


def test_automatic_rule_respects_approval_and_reach(tree, users):
    p = points_setup(tree, users.city_admin)
    services.create_rule(users.city_admin, unit=tree.liying, code="ZYZD", name="志愿服务（自动）", points=5,
                         approval_above=10, auto="care.hours")
    team, member = _volunteer(tree, users, p)
    _hours(users, team, member, "2026-03-05", "3")  # 15 points: waits for approval
    services.auto_award(at("2026-03-06 01:00"))
    e = PointEntry.objects.get(household=p.h1)
    assert e.state == "pending" and balance_of(p.h1) == 0
    services.approve_entry(users.lumiao_secretary, e)
    assert balance_of(p.h1) == 15
    with pytest.raises(ServiceError):
        services.create_rule(users.city_admin, unit=tree.liying, code="X1", name="x", points=-1, auto="care.hours")
    with pytest.raises(ServiceError):
        services.create_rule(users.city_admin, unit=tree.liying, code="X2", name="x", points=1, auto="loop.closed")


def test_balance_link_rotates_and_shows_only_the_masked_name(client, tree, users):
    p = points_setup(tree, users.city_admin)
    head = people.create_person(None, unit=tree.lumiao_g1, household=p.h1, name="张三丰", phone="13805370009")
    people_h = type(p.h1).objects.filter(pk=p.h1.pk)
    people_h.update(head=head)  # test setup only
    services.award(users.lumiao_grid, household=p.h1, rule=p.sort, now=at("2026-03-01 09:00"))
    with pytest.raises(NotFound):  # no scope over 薛庙社区
        services.rotate_link(users.lumiao_grid, p.far)
    link = services.rotate_link(users.lumiao_grid, p.h1, now=at("2026-03-02 09:00"))
    assert len(link.token) >= 24
    r = client.get(f"/evaluation/points/my/{link.token}/")
    body = r.content.decode()
    assert r.status_code == 200 and "张**" in body and "张三丰" not in body and "13805370009" not in body
    assert ">5<" in body.replace(" ", "") and "垃圾分类" in body
    assert r["Referrer-Policy"] == "same-origin" and "no-cache" in r.get("Cache-Control", "")
    old = link.token
    new = services.rotate_link(users.lumiao_grid, p.h1, now=at("2026-03-03 09:00"))
    assert new.token != old and PointLink.objects.count() == 1
    assert client.get(f"/evaluation/points/my/{old}/").status_code == 404
    assert client.get(f"/evaluation/points/my/{new.token}/").status_code == 200
    assert client.get("/evaluation/points/my/" + "x" * 300 + "/").status_code == 404
    assert AuditEntry.objects.filter(action="evaluation.points.link").count() == 2
    # The staff button on the household's page makes the link.
    client.force_login(users.lumiao_grid)
    resp = client.post(f"/evaluation/points/households/{p.h1.pk}/link/")
    assert resp.status_code == 302
    assert PointLink.objects.get().token not in (old, new.token)


def test_balance_link_is_rate_limited(client, tree, users, settings):
    settings.BIHUAN_PUBLIC_POINTS_VIEWS_PER_HOUR = 3
    p = points_setup(tree, users.city_admin)
    link = services.rotate_link(users.lumiao_grid, p.h1)
    codes = [client.get(f"/evaluation/points/my/{link.token}/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
