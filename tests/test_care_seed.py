"""The demo seed tells 芦庙村's story: 10 elderly households, one-to-one, a month of check-ins."""

from __future__ import annotations

import pytest

from bihuan.accounts import seed as accounts_seed
from bihuan.care import seed
from bihuan.care.models import CarePlan, CareService, Helper, Survey, Visit
from bihuan.core.context import acting_as
from bihuan.loop.models import Matter
from bihuan.orgs import seed as org_seed
from tests.care_helpers import at

pytestmark = pytest.mark.django_db


def test_demo_care_month():
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", progress=False)
        accounts_seed.ensure_demo_users()
        counts = seed.seed_care("demo", 2022, now=at(2026, 3, 31, 20))
    assert CarePlan.objects.count() == 10 and CareService.objects.count() == 40
    assert Survey.objects.count() == 10 and Helper.objects.filter(kind="volunteer").count() == 10
    old = CarePlan.objects.select_related("person").get(person__name="芦长顺")
    assert old.person.birth_date.year == 1948
    assert CareService.objects.filter(plan=old).values_list("backup__username", flat=True).distinct().get() == \
        "lumiao_grid"
    assert Helper.objects.filter(user__username="lumiao_volunteer").exists()
    assert counts["care_checked_in"] == Visit.objects.exclude(outcome="").count() > 1000
    assert Visit.objects.filter(late=True).exists() and Visit.objects.filter(outcome="not_home").exists()
    missed = Visit.objects.filter(outcome="", matter_id__isnull=False)
    assert missed.count() == Matter.objects.filter(kind="care_miss").count() >= 2
    open_ = Matter.objects.filter(kind="care_miss").exclude(state="closed")
    assert open_.count() == 1 and "午餐" in Visit.objects.get(matter_id=open_.get().pk).service.label
    from bihuan.care.models import ServiceRecord, VolunteerTeam

    assert VolunteerTeam.objects.count() == 2
    assert ServiceRecord.objects.filter(status="approved").exists() and ServiceRecord.objects.filter(
        status="pending").exists()
    assert ServiceRecord.objects.filter(visit__isnull=False).count() > 1000
    from bihuan.care.models import Canteen, CanteenDay, MealServed

    canteen = Canteen.objects.select_related("unit").get()
    assert canteen.name == "芦庙村幸福食堂" and canteen.unit.name == "芦庙村"
    served = MealServed.objects.filter(canteen=canteen)
    assert counts["care_meals_served"] == served.count() > 800
    assert served.filter(mode="eat_in").exists() and served.filter(mode="delivered").exists()
    assert served.count() < Visit.objects.filter(kind="meal").count()  # a few not served
    assert CanteenDay.objects.filter(canteen=canteen).count() == 31
    assert seed.seed_care("demo", 2022, now=at(2026, 3, 31, 20))["skipped"]
