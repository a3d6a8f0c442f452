"""The demo seed tells the 3515 story: 5 systems, 15 key actions, 40 tasks, a season of check-ins."""

from __future__ import annotations

import pytest

from bihuan.core.context import acting_as
from bihuan.loop.models import Matter
from bihuan.orgs import seed as org_seed
from bihuan.plans import seed
from bihuan.plans.models import CheckIn, Escalation, KeyAction, Plan, System, Task
from tests.plans_helpers import at

pytestmark = pytest.mark.django_db


def test_demo_plan_has_a_season_of_checkins_some_late_some_missing():
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", progress=False)
        counts = seed.seed_plans("demo", 2022, now=at(2025, 5, 20))
    plan = Plan.objects.get()
    assert "3515" in plan.title and plan.state == "published"
    assert (System.objects.count(), KeyAction.objects.count(), Task.objects.count()) == (5, 15, 40)
    assert counts["assignments"] > 100 and counts["checkins"] == CheckIn.objects.count() > 300
    assert CheckIn.objects.filter(late=True).exists()
    opened = Escalation.objects.count()
    assert 0 < opened == counts["matters_opened"] < counts["assignments"] / 5  # a few, not a flood
    assert Matter.objects.filter(kind="task").count() == opened
    assert seed.seed_plans("demo", 2022, now=at(2025, 5, 20))["skipped"]


def test_liangshan_has_its_key_projects_enterprises_and_a_running_sprint():
    from bihuan.plans import selectors
    from bihuan.plans.models import Campaign, CampaignCheckIn, CampaignEscalation, EnterpriseGroup, KeyProject

    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", progress=False)
        counts = seed.seed_liangshan("demo", 2022, now=at(2025, 11, 20))
    assert KeyProject.objects.count() == 26 == counts["key_projects"]
    behind = selectors.project_progress(KeyProject.objects.all(), now=at(2025, 11, 20)).filter(behind=True).count()
    assert 3 <= behind <= 10  # a few are behind plan, visible at once
    assert [(g.name, g.enterprises.count()) for g in EnterpriseGroup.objects.all()] == [
        ("十强产业", 142), ("四新经济", 74), ("规上服务业", 51)]
    c = Campaign.objects.get()
    assert c.days_total == 50 and c.unit.name == "梁山县"
    assert (at(2025, 11, 20).date() - c.starts_on).days + 1 == 20  # day 20 of 50
    assert CampaignCheckIn.objects.count() == counts["campaign_checkins"] > 0
    assert CampaignEscalation.objects.count() == counts["campaign_matters"]
    assert seed.seed_liangshan("demo", 2022, now=at(2025, 11, 20)) == {}
