"""Volunteer teams: members, hours (care check-ins count automatically), the lead's approval,
hours by month, the certificate PDF, the source."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.care import selectors, services
from bihuan.care.models import ServiceRecord, Visit
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from tests.care_helpers import at, make_care


@pytest.fixture
def team(tree, users):
    c = make_care(tree, users)
    c.team = services.create_team(users.lumiao_secretary, unit=tree.lumiao, name="芦庙村志愿服务队",
                                  lead=users.lumiao_secretary, now=at(2026, 3, 1))
    c.member = services.add_member(users.lumiao_secretary, c.team, c.vol_person, now=at(2026, 3, 1))
    return c


def test_check_in_counts_as_pending_service_and_the_lead_approves(tree, users, team):
    services.generate(date(2026, 3, 2), now=at(2026, 3, 2, 6))
    v = Visit.objects.get(day=date(2026, 3, 2), kind="meal")
    services.check_in(team.volunteer, v, outcome="done", now=at(2026, 3, 2, 11, 30))
    r = ServiceRecord.objects.get(visit=v)
    assert (r.member, r.hours, r.status) == (team.member, 0.5, "pending")
    assert selectors.approved_hours(team.member) == 0
    with pytest.raises(PermissionDenied):  # the county may see it but does not lead the team
        services.decide_record(users.rencheng_admin, r, approve=True)
    services.decide_record(users.lumiao_secretary, r, approve=True, now=at(2026, 3, 3))
    with pytest.raises(Conflict):
        services.decide_record(users.lumiao_secretary, r, approve=False)
    other = services.record_service(users.lumiao_secretary, team.team, member=team.member, day="2026-03-05",
                                    hours="3", description="帮老人修屋顶", now=at(2026, 3, 5, 18))
    services.decide_record(users.lumiao_secretary, other, approve=True, now=at(2026, 3, 6))
    assert selectors.approved_hours(team.member) == 3.5
    assert [(m["month"].month if hasattr(m["month"], "month") else m["month"], float(m["hours"]))
            for m in selectors.team_months(team.team)] == [(3, 3.5)]
    from bihuan.core import registry

    assert registry.compute("care.volunteer_hours", [tree.lumiao], start=at(2026, 3, 1, 0), end=at(2026, 4, 1, 0),
                            now=at(2026, 4, 1))[tree.lumiao.pk] == 3.5


def test_record_refusals(tree, users, team):
    for kw, field in ((dict(hours="0"), "hours"), (dict(hours="25"), "hours"), (dict(hours="x"), "hours"),
                      (dict(day="2099-01-01"), "day"), (dict(description=""), "description"),
                      (dict(member=999999), "member")):
        args = dict(member=team.member, day="2026-03-05", hours="2", description="打扫") | kw
        with pytest.raises(ServiceError) as e:
            services.record_service(users.lumiao_secretary, team.team, now=at(2026, 3, 6), **args)
        assert field in e.value.field_errors
    with pytest.raises(NotFound):
        services.record_service(users.yanzhou_admin, team.team, member=team.member, day="2026-03-05", hours=2,
                                description="x")
    with pytest.raises(PermissionDenied):
        services.create_team(team.volunteer, unit=tree.lumiao, name="x", lead=team.volunteer)
    assert not ServiceRecord.objects.exists()


def test_certificate_pdf_and_team_page(client, tree, users, team):
    r = services.record_service(users.lumiao_secretary, team.team, member=team.member, day="2026-03-05", hours="2",
                                description="陪老人就医", now=at(2026, 3, 6))
    client.force_login(users.lumiao_secretary)
    page = client.get(f"/care/teams/{team.team.pk}/").content.decode()
    assert "赵志愿" in page and "陪老人就医" in page
    assert client.post(f"/care/records/{r.pk}/decide/", {"approve": "1"}).status_code == 302
    assert ServiceRecord.objects.get(pk=r.pk).status == "approved"
    page = client.get(f"/care/teams/{team.team.pk}/").content.decode()  # hours by month on the team page
    assert 'data-testid="month-row">2026-03 · 2' in page
    pdf = client.get(f"/care/members/{team.member.pk}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/care/members/{team.member.pk}/certificate.pdf").status_code == 404
