"""Party organisations, terms, contact points and a review on the test tree (tests/conftest.py)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from bihuan.activities import services
from bihuan.orgs.models import PartyOrg
from tests.activities_helpers import at


def party_orgs(tree):
    x = SimpleNamespace()
    x.rencheng_committee = PartyOrg.objects.create(unit=tree.rencheng, kind="committee", name="中共任城区委员会")
    x.liying_committee = PartyOrg.objects.create(unit=tree.liying, kind="committee", name="中共李营街道工作委员会",
                                                 parent=x.rencheng_committee)
    x.lumiao_branch = PartyOrg.objects.create(unit=tree.lumiao, kind="branch", name="中共芦庙村支部委员会",
                                              parent=x.liying_committee)
    x.xianying_branch = PartyOrg.objects.create(unit=tree.xianying_v, kind="branch", name="中共仙营村支部委员会")
    x.xuemiao_branch = PartyOrg.objects.create(unit=tree.xuemiao, kind="branch", name="中共薛庙社区支部委员会")
    return x


def make_party_life(tree, users):
    """Terms: 芦庙村 elected 2021-03-01 for 5 years (due 2026-03-01), 李营街道 2021-06-10 for 5
    (due 2026-06-10), 任城区 2023-01-05 (due 2028); 芦庙村's branch is the contact point of
    ``liying_staff`` with one visit that found a problem; a Q2 2025 review of 任城区 visiting 芦庙村
    and 仙营村."""
    x = party_orgs(tree)
    x.lumiao_term = services.record_election(None, x.lumiao_branch, held_on=date(2021, 3, 1), now=at(2021, 3, 2))
    x.liying_term = services.record_election(None, x.liying_committee, held_on=date(2021, 6, 10), now=at(2021, 6, 11))
    x.rencheng_term = services.record_election(None, x.rencheng_committee, held_on=date(2023, 1, 5),
                                               now=at(2023, 1, 6))
    x.contact = services.link_contact(None, member=users.liying_staff, party_org=x.lumiao_branch,
                                      since=date(2025, 1, 1), now=at(2025, 1, 2))
    x.visit = services.record_visit(None, x.contact, visited_on=date(2025, 3, 5), topic="春季党员大会",
                                    problems="村部活动室屋顶漏雨", now=at(2025, 3, 5, 16))
    x.review = services.create_review(None, unit=tree.rencheng, year=2025, quarter=2, theme="乡村振兴观摩",
                                      held_on=date(2025, 5, 20), units=[tree.lumiao, tree.xianying_v],
                                      now=at(2025, 5, 1))
    return x
