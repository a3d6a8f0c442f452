"""Party life (issue 15 items 7–9): re-election terms and the overdue matter, contact points with
visits turned into matters, on-site reviews with trimmed means (services and selectors)."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.activities import selectors, services
from bihuan.activities.models import ContactVisit, PartyTerm, ReviewScore
from bihuan.core import registry
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop.models import Matter
from tests.activities_helpers import at
from tests.conftest import make_user
from tests.party_life_helpers import make_party_life, party_orgs

pytestmark = pytest.mark.django_db


def test_terms_due_overdue_and_the_next_term(tree, users):
    x = make_party_life(tree, users)
    assert x.lumiao_term.years == 5 and x.lumiao_term.due_on == date(2026, 3, 1)  # a village's branch: 5 years
    now = at(2026, 1, 10)
    rows = {t.party_org_id: t.status for t in selectors.elections(users.rencheng_admin, now=now)}
    assert rows == {x.lumiao_branch.pk: "due", x.liying_committee.pk: "due", x.rencheng_committee.pk: "current"}
    later = at(2026, 4, 1)
    assert [t.party_org_id for t in selectors.elections(users.rencheng_admin, now=later, state="overdue")] == \
        [x.lumiao_branch.pk]
    assert [t.party_org_id for t in selectors.elections(users.rencheng_admin, now=later, due_within=90)] == \
        [x.lumiao_branch.pk, x.liying_committee.pk]
    s = selectors.election_summary(users.rencheng_admin, now=later)
    assert (s["overdue"], s["due"], s["terms"], s["without_term"]) == (1, 1, 3, 1)  # 仙营村 has no term
    # The township sees its own subtree only.
    assert {t.party_org_id for t in selectors.elections(users.liying_staff, now=later)} == \
        {x.lumiao_branch.pk, x.liying_committee.pk}
    # Recording the re-election ends the term and starts the next.
    with pytest.raises(ServiceError) as e:
        services.record_election(users.rencheng_admin, x.lumiao_branch, held_on=date(2026, 5, 1), now=later)
    assert "held_on" in e.value.field_errors  # in the future
    with pytest.raises(ServiceError):
        services.record_election(users.rencheng_admin, x.lumiao_branch, held_on=date(2026, 3, 20), years=9,
                                 now=later)
    with pytest.raises(ServiceError):  # not after the current term began
        services.record_election(users.rencheng_admin, x.lumiao_branch, held_on=date(2020, 3, 20), now=later)
    with pytest.raises(PermissionDenied):  # a village secretary views only
        services.record_election(users.lumiao_secretary, x.lumiao_branch, held_on=date(2026, 3, 20), now=later)
    with pytest.raises(NotFound):
        services.record_election(users.rencheng_admin, x.xuemiao_branch, held_on=date(2026, 3, 20), now=later)
    t = services.record_election(users.rencheng_admin, x.lumiao_branch, held_on=date(2026, 3, 20), now=later)
    assert t.due_on == date(2031, 3, 20)
    assert PartyTerm.objects.get(pk=x.lumiao_term.pk).ended_on == date(2026, 3, 20)
    assert [p.pk for p in selectors.terms_of(users.rencheng_admin, x.lumiao_branch)] == [t.pk, x.lumiao_term.pk]
    assert AuditEntry.objects.filter(action="activities.election.record").count() == 4


def test_an_overdue_re_election_opens_one_matter(tree, users):
    x = make_party_life(tree, users)
    assert services.open_overdue_elections(at(2026, 2, 1)) == 0
    assert services.open_overdue_elections(at(2026, 3, 2)) == 1
    assert services.open_overdue_elections(at(2026, 3, 3)) == 0  # once
    term = PartyTerm.objects.get(pk=x.lumiao_term.pk)
    m = Matter.objects.get(pk=term.matter_id)
    assert "芦庙村" in m.title and m.handling_unit_id == tree.lumiao.pk and m.dispatch_unit_id == tree.liying.pk
    # The job, as registered, is the same sweep.
    from bihuan.core import jobs

    assert jobs.REGISTRY["activities.elections"].func(at(2026, 7, 1)) == 1  # 李营街道 now
    assert Matter.objects.filter(kind="task").count() == 2


def test_contact_points_visits_and_one_click_matter(tree, users):
    x = make_party_life(tree, users)
    # Only a committee member who can record visits at the branch, and only branches.
    with pytest.raises(ServiceError):
        services.link_contact(users.rencheng_admin, member=users.lumiao_grid, party_org=x.lumiao_branch,
                              since=date(2025, 1, 1), now=at(2025, 2, 1))
    with pytest.raises(ServiceError):
        services.link_contact(users.rencheng_admin, member=users.liying_staff, party_org=x.liying_committee,
                              since=date(2025, 1, 1), now=at(2025, 2, 1))
    with pytest.raises(ServiceError):  # already linked
        services.link_contact(users.rencheng_admin, member=users.liying_staff, party_org=x.lumiao_branch,
                              since=date(2025, 1, 1), now=at(2025, 2, 1))
    with pytest.raises(NotFound):
        services.link_contact(users.rencheng_admin, member=users.rencheng_admin, party_org=x.xuemiao_branch,
                              since=date(2025, 1, 1), now=at(2025, 2, 1))
    c2 = services.link_contact(users.rencheng_admin, member=users.rencheng_admin, party_org=x.xianying_branch,
                               since=date(2025, 1, 1), now=at(2025, 2, 1))
    assert [c.pk for c in selectors.contacts(users.rencheng_admin, member=users.rencheng_admin)] == [c2.pk]
    # Visits: dates and text checked; nothing half-written.
    for bad in (dict(visited_on=date(2025, 9, 1)), dict(visited_on=date(2024, 12, 1)), dict(topic=""),
                dict(topic="x" * 81), dict(problems="a\x00b")):
        kw = dict(visited_on=date(2025, 4, 1), topic="走访", problems="") | bad
        with pytest.raises(ServiceError):
            services.record_visit(users.liying_staff, x.contact, now=at(2025, 4, 2), **kw)
    assert ContactVisit.objects.count() == 1
    with pytest.raises(NotFound):  # another township's staff
        other = make_user("xianying_staff", tree.xianying, "township_staff")
        services.record_visit(other, x.contact, visited_on=date(2025, 4, 1), topic="走访", now=at(2025, 4, 2))
    quiet = services.record_visit(users.liying_staff, x.contact, visited_on=date(2025, 4, 1), topic="走访",
                                  now=at(2025, 4, 2))
    with pytest.raises(ServiceError):  # no problems, nothing to turn into a matter
        services.visit_to_matter(users.liying_staff, quiet, now=at(2025, 4, 2))
    v = services.visit_to_matter(users.liying_staff, x.visit, now=at(2025, 4, 2))
    m = Matter.objects.get(pk=v.matter_id)
    assert "屋顶漏雨" in m.description and m.location_unit_id == tree.lumiao.pk
    with pytest.raises(Conflict):
        services.visit_to_matter(users.liying_staff, x.visit, now=at(2025, 4, 2))
    assert Matter.objects.count() == 1
    # The member sees their contact point; the secretary of the village sees the branch's.
    assert [c.n_visits for c in selectors.contacts(users.liying_staff)] == [2]
    assert selectors.visits(users.lumiao_secretary, party_org=x.lumiao_branch).count() == 2
    assert selectors.visits(make_user("y2", tree.yanzhou, "county_admin")).count() == 0


def test_review_scores_trimmed_mean_ranking_and_source(tree, users):
    x = make_party_life(tree, users)
    reviewers = [make_user(f"reviewer{i}", tree.rencheng, "county_admin") for i in range(4)]
    with pytest.raises(ServiceError):  # before the meeting
        services.score_unit(reviewers[0], x.review, unit=tree.lumiao, score=90, now=at(2025, 5, 19))
    day = at(2025, 5, 20, 15)
    for r, (a, b) in zip(reviewers, [(90, 80), (70, 85), (100, 86), (80, 84)], strict=True):
        services.score_unit(r, x.review, unit=tree.lumiao, score=a, now=day)
        services.score_unit(r, x.review, unit=tree.xianying_v, score=b, now=day)
    with pytest.raises(Conflict):  # each reviewer scores each unit once
        services.score_unit(reviewers[0], x.review, unit=tree.lumiao, score=95, now=day)
    for bad in (101, -1, "abc", None):
        with pytest.raises(ServiceError):
            services.score_unit(users.rencheng_admin, x.review, unit=tree.lumiao, score=bad, now=day)
    with pytest.raises(ServiceError):  # not visited
        services.score_unit(users.rencheng_admin, x.review, unit=tree.lumiao_g1, score=80, now=day)
    with pytest.raises(NotFound):
        services.score_unit(make_user("y3", tree.yanzhou, "county_admin"), x.review, unit=tree.lumiao, score=80,
                            now=day)
    assert ReviewScore.objects.count() == 8
    rows = selectors.ranking(x.review)
    # 芦庙村: 70 80 90 100 → drop 100 and 70 → 85; 仙营村: 80 84 85 86 → 84.5
    assert [(r.unit_id, r.mean, r.rank) for r in rows] == [(tree.lumiao.pk, 85.0, 1), (tree.xianying_v.pk, 84.5, 2)]
    values = registry.compute("activities.review_score", [tree.liying, tree.xianying, tree.rencheng],
                              start=date(2025, 4, 1), end=date(2025, 7, 1), now=day)
    assert values == {tree.liying.pk: 85.0, tree.xianying.pk: 84.5, tree.rencheng.pk: 84.75}
    assert registry.compute("activities.review_score", [tree.liying], start=date(2025, 7, 1),
                            end=date(2025, 10, 1), now=day) == {tree.liying.pk: None}


def test_review_refusals(tree, users):
    party_orgs(tree)
    kw = dict(unit=tree.rencheng, year=2025, quarter=2, theme="观摩", held_on=date(2025, 5, 20),
              units=[tree.lumiao], now=at(2025, 5, 1))
    for bad in (dict(quarter=5), dict(held_on=date(2025, 8, 1)), dict(units=[]), dict(units=[tree.xuemiao]),
                dict(units=[tree.rencheng]), dict(theme="")):
        with pytest.raises(ServiceError):
            services.create_review(users.rencheng_admin, **(kw | bad))
    with pytest.raises(PermissionDenied):
        services.create_review(users.liying_staff, **(kw | dict(unit=tree.liying)))
    r = services.create_review(users.rencheng_admin, **kw)
    assert r.drop_extremes and [u.unit_id for u in selectors.ranking(r)] == [tree.lumiao.pk]


def test_party_api_elections_contacts_visits_reviews(client, tree, users):
    from django.utils import timezone

    x = make_party_life(tree, users)
    client.force_login(users.rencheng_admin)
    r = client.get("/api/v1/party/elections?due_within=9999m")
    assert r.status_code == 400
    r = client.get("/api/v1/party/elections?due_within=6m")
    assert r.status_code == 200
    body = r.json()
    today = timezone.localdate()
    assert all(date.fromisoformat(t["due_on"]) <= today.replace(year=today.year + 1) for t in body["items"])
    assert {t["party_org_id"] for t in body["items"]} >= {x.lumiao_branch.pk, x.liying_committee.pk}
    assert body["items"][0]["status"] == "overdue"
    r = client.post("/api/v1/party/elections", {"party_org_id": x.xianying_branch.pk, "held_on": "2024-11-02"},
                    content_type="application/json")
    assert r.status_code == 201 and r.json()["due_on"] == "2029-11-02"
    r = client.post("/api/v1/party/elections", {"party_org_id": x.xuemiao_branch.pk, "held_on": "2024-11-02"},
                    content_type="application/json")
    assert r.status_code == 404
    r = client.get("/api/v1/party/contact-points")
    assert [c["party_org_id"] for c in r.json()["items"]] == [x.lumiao_branch.pk]
    r = client.post(f"/api/v1/party/contact-points/{x.contact.pk}/visits",
                    {"visited_on": "2025-06-01", "topic": "入户走访", "problems": "联系人 13812345678 反映路灯坏了"},
                    content_type="application/json")
    assert r.status_code == 201
    v = r.json()
    assert "13812345678" not in v["problems"] and "路灯" in v["problems"]
    r = client.post(f"/api/v1/party/visits/{v['id']}/matter", {}, content_type="application/json")
    assert r.status_code == 201 and r.json()["matter_id"]
    r = client.post(f"/api/v1/party/visits/{v['id']}/matter", {}, content_type="application/json")
    assert r.status_code == 409
    r = client.get(f"/api/v1/party/reviews/{x.review.pk}")
    assert r.status_code == 200 and [u["unit_id"] for u in r.json()["ranking"]] == [tree.lumiao.pk,
                                                                                   tree.xianying_v.pk]
    r = client.post(f"/api/v1/party/reviews/{x.review.pk}/scores", {"unit_id": tree.lumiao.pk, "score": 91.5},
                    content_type="application/json")
    assert r.status_code == 201 and r.json()["ranking"][0]["mean"] == 91.5
    client.force_login(users.yanzhou_admin)
    assert client.get(f"/api/v1/party/reviews/{x.review.pk}").status_code == 404
    assert client.get(f"/api/v1/party/contact-points/{x.contact.pk}/visits").status_code == 404
    assert client.get("/api/v1/party/elections").json()["items"] == []


def test_pages_elections_export_contact_visit_matter_and_review(client, tree, users):
    import io

    import openpyxl

    x = make_party_life(tree, users)
    client.force_login(users.rencheng_admin)
    r = client.get("/activities/party/elections/")
    assert r.status_code == 200 and "中共芦庙村支部委员会" in r.content.decode()
    r = client.get("/activities/party/elections/export/")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("党组织", "类型", "所在单位") and len(rows) == 4
    assert AuditEntry.objects.filter(action="activities.election.export").count() == 1
    r = client.post(f"/activities/party/orgs/{x.xianying_branch.pk}/", {"held_on": "2024-10-01", "years": ""})
    assert r.status_code == 302
    assert PartyTerm.objects.get(party_org=x.xianying_branch).due_on == date(2029, 10, 1)
    r = client.post(f"/activities/party/orgs/{x.xianying_branch.pk}/", {"held_on": "2099-10-01"})
    assert r.status_code == 400
    # The member records a visit and turns its problem into a matter.
    client.force_login(users.liying_staff)
    assert "中共芦庙村支部委员会" in client.get("/activities/party/contacts/").content.decode()
    r = client.post(f"/activities/party/contacts/{x.contact.pk}/",
                    {"act": "visit", "visited_on": "2025-06-01", "topic": "入户走访", "problems": "井盖缺失"})
    assert r.status_code == 302
    v = ContactVisit.objects.get(topic="入户走访")
    r = client.post(f"/activities/party/contacts/{x.contact.pk}/", {"act": "matter", "visit": str(v.pk)})
    assert r.status_code == 302
    v.refresh_from_db()
    assert Matter.objects.get(pk=v.matter_id).location_unit_id == tree.lumiao.pk
    assert client.get(f"/activities/party/members/{users.liying_staff.pk}/").status_code == 200
    assert client.get(f"/activities/party/members/{users.rencheng_admin.pk}/").status_code == 404
    # A reviewer scores; the ranking shows it.
    client.force_login(users.rencheng_admin)
    r = client.post(f"/activities/party/reviews/{x.review.pk}/", {"unit": str(tree.lumiao.pk), "score": "88.5"})
    assert r.status_code == 302
    assert "88.5" in client.get(f"/activities/party/reviews/{x.review.pk}/").content.decode()
    r = client.post("/activities/party/reviews/", {"unit": tree.rencheng.pk, "year": 2025, "quarter": 3,
                                                   "theme": "秋季观摩", "held_on": "2025-08-01",
                                                   "units": [tree.lumiao.pk], "drop_extremes": "on"})
    assert r.status_code == 302
    # Out of scope: 404 everywhere.
    client.force_login(users.yanzhou_admin)
    for url in (f"/activities/party/orgs/{x.lumiao_branch.pk}/", f"/activities/party/contacts/{x.contact.pk}/",
                f"/activities/party/reviews/{x.review.pk}/"):
        assert client.get(url).status_code == 404


def test_demo_seed_story(tree, users):
    from bihuan.activities.seed import seed_party_life

    x = party_orgs(tree)
    now = at(2025, 6, 20)
    r = seed_party_life("demo", 2022, now=now)
    assert r["party_terms"] == 3 and r["election_matters"] == 1  # 李营街道, 芦庙村 and 薛庙社区
    statuses = sorted(t.status for t in selectors.elections(users.city_admin, now=now))
    assert statuses.count("overdue") == 1 and statuses.count("due") == 1
    assert r["contact_points"] >= 2 and ContactVisit.objects.filter(matter_id__isnull=False).count() == 1
    rows = selectors.ranking(selectors.reviews(users.city_admin).get())
    assert rows[0].rank == 1 and rows[0].n_scores == 4
    assert seed_party_life("demo", 2022, now=now)["party_skipped"]
    assert x.xianying_branch.pk not in {t.party_org_id for t in PartyTerm.objects.all()}


def test_a_viewer_cannot_record_visits_on_the_page(client, tree, users):
    x = make_party_life(tree, users)
    client.force_login(users.lumiao_secretary)  # sees the branch's contact point, records nothing
    r = client.get(f"/activities/party/contacts/{x.contact.pk}/")
    assert r.status_code == 200 and 'data-testid="visit-form"' not in r.content.decode()
    r = client.post(f"/activities/party/contacts/{x.contact.pk}/",
                    {"act": "visit", "visited_on": "2025-06-01", "topic": "走访"})
    assert ContactVisit.objects.count() == 1
    r = client.post(f"/activities/party/contacts/{x.contact.pk}/", {"act": "matter", "visit": str(x.visit.pk)})
    assert Matter.objects.count() == 0
