"""Household credit points (信用积分) and the points store (积分超市): a ledger that never goes negative."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bihuan.core.audit import AuditEntry
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import PointAccount, PointEntry, Redemption, StoreItem
from bihuan.evaluation.services.points import balance_of

from .evaluation_helpers import points_setup
from .loop_helpers import at

pytestmark = pytest.mark.django_db


def ledger(h) -> int:
    return PointEntry.objects.filter(household=h, state="posted").aggregate(s=Sum("points"))["s"] or 0


def test_award_redeem_reverse_keep_balance_equal_to_ledger(tree, users):
    p = points_setup(tree, users.city_admin)
    services.award(users.lumiao_grid, household=p.h1, rule=p.sort, evidence="photo-1", now=at("2026-03-01 09:00"))
    services.award(users.lumiao_grid, household=p.h1, rule=p.volunteer, quantity=10, now=at("2026-03-02 09:00"))
    assert balance_of(p.h1) == 25 == ledger(p.h1)
    r = services.redeem(users.lumiao_secretary, household=p.h1, item=p.soap, quantity=2, now=at("2026-03-03 09:00"))
    assert r.receipt.startswith("R260303") and r.points == 20
    assert balance_of(p.h1) == 5 == ledger(p.h1)
    assert StoreItem.objects.get(pk=p.soap.pk).stock == 1
    with pytest.raises(ServiceError) as exc:  # beyond the balance: nothing written, stock untouched
        services.redeem(users.lumiao_secretary, household=p.h1, item=p.rice)
    assert exc.value.code == "balance" and "5" in str(exc.value.message)
    assert StoreItem.objects.get(pk=p.rice.pk).stock == 100 and Redemption.objects.count() == 1
    with pytest.raises(ServiceError) as exc:  # beyond the stock
        services.award(None, household=p.h1, rule=p.volunteer, quantity=50)
        services.redeem(users.lumiao_secretary, household=p.h1, item=p.soap, quantity=2)
    assert exc.value.code == "stock"
    first = PointEntry.objects.filter(household=p.h1, rule=p.sort).get()
    services.reverse(users.lumiao_grid, first, reason="重复登记")
    with pytest.raises(Conflict):
        services.reverse(users.lumiao_grid, first, reason="again")
    assert balance_of(p.h1) == ledger(p.h1) == 100
    assert AuditEntry.objects.filter(action="evaluation.points.redeem").count() == 1


def test_refusals_cap_scope_deduction_and_approval(tree, users):
    p = points_setup(tree, users.city_admin)
    with pytest.raises(NotFound):  # a grid worker of 芦庙村 has no scope over 薛庙社区
        services.award(users.lumiao_grid, household=p.far, rule=p.sort)
    with pytest.raises(ServiceError):  # 李营街道's rule does not apply in 薛庙社区
        services.award(users.yanzhou_admin, household=p.far, rule=p.sort)
    for _ in range(12):
        services.award(users.lumiao_grid, household=p.h1, rule=p.sort, now=at("2026-04-01 09:00"))
    with pytest.raises(ServiceError) as exc:  # 13 × 5 > the cap of 60 a year
        services.award(users.lumiao_grid, household=p.h1, rule=p.sort, now=at("2026-04-02 09:00"))
    assert exc.value.code == "cap"
    services.award(users.lumiao_grid, household=p.h1, rule=p.sort, now=at("2027-01-02 09:00"))  # a new year
    with pytest.raises(ServiceError) as exc:
        services.create_rule(users.city_admin, unit=tree.city, code="X", name="x", points=50, cap_per_year=10)
    assert "cap_per_year" in exc.value.field_errors
    with pytest.raises(NotFound):  # the grid worker of grid 1 has no scope over grid 2's household
        services.award(users.lumiao_grid, household=p.h2, rule=p.sort)
    with pytest.raises(ServiceError):  # a deduction the balance does not cover
        services.award(users.lumiao_secretary, household=p.h2, rule=p.build)
    assert balance_of(p.h2) == 0 and not PointEntry.objects.filter(household=p.h2).exists()
    hero = services.award(users.lumiao_secretary, household=p.h2, rule=p.hero)
    assert hero.state == "pending" and balance_of(p.h2) == 0
    with pytest.raises(PermissionDenied):  # grid workers award, they do not approve
        services.approve_entry(users.lumiao_grid, hero)
    with pytest.raises(PermissionDenied):  # not the person who awarded it
        services.approve_entry(users.lumiao_secretary, hero)
    services.approve_entry(users.liying_staff, hero)
    assert balance_of(p.h2) == 10 == ledger(p.h2)
    with pytest.raises(Conflict):
        services.approve_entry(users.liying_staff, hero)


def test_the_database_refuses_a_negative_balance_even_without_the_service(tree, users):
    from django.db import IntegrityError, transaction

    p = points_setup(tree, users.city_admin)
    services.award(None, household=p.h1, rule=p.sort)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointAccount.objects.filter(household_id=p.h1.pk).update(balance=-1)


def test_points_expire_at_the_end_of_the_next_year_oldest_first_once(tree, users):
    p = points_setup(tree, users.city_admin)
    services.award(None, household=p.h1, rule=p.volunteer, quantity=20, now=at("2025-03-01 09:00"))  # +40 in 2025
    services.award(None, household=p.h1, rule=p.volunteer, quantity=5, now=at("2026-02-01 09:00"))  # +10 in 2026
    services.redeem(None, household=p.h1, item=p.rice, now=at("2026-05-01 09:00"))  # −30: the oldest points first
    services.award(None, household=p.h2, rule=p.volunteer, quantity=3, now=at("2026-06-01 09:00"))  # 2026 only
    assert services.expire_points(at("2026-12-31 23:00")) == {"year": 2024, "households": 0, "points": 0}
    out = services.expire_points(at("2027-01-01 00:30"))  # 2025 ended a year ago: its unspent 10 lapse
    assert out == {"year": 2025, "households": 1, "points": 10}
    assert balance_of(p.h1) == 10 == ledger(p.h1) and balance_of(p.h2) == 6
    e = PointEntry.objects.get(kind="expire")
    assert (e.points, e.expiry_of, e.household_id) == (-10, 2025, p.h1.pk)
    assert services.expire_points(at("2027-01-02 00:30"))["households"] == 0  # once per year: idempotent
    assert balance_of(p.h1) == 10
    assert services.expire_points(at("2028-01-01 00:30")) == {"year": 2026, "households": 2, "points": 16}
    assert balance_of(p.h1) == 0 == ledger(p.h1) and balance_of(p.h2) == 0 == ledger(p.h2)
    assert AuditEntry.objects.filter(action="evaluation.points.expire").count() == 3  # per unit and batch
    assert services.expire_points(at("2030-01-01 00:30"), years=0)["year"] is None  # policy off: nothing lapses


def test_expiry_job_is_registered():
    from bihuan.core import jobs

    assert "evaluation.points_expiry" in jobs.REGISTRY


OPS = st.lists(st.tuples(st.sampled_from(["award", "reverse", "redeem", "deduct", "expire"]), st.integers(1, 5)),
               min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_property_balance_equals_ledger_and_never_negative(tree, users, ops):
    from bihuan.people import services as people_services
    from bihuan.people.models import Household

    p = getattr(test_property_balance_equals_ledger_and_never_negative, "_p", None)
    if p is None or not Household.objects.filter(pk=p.h1.pk).exists():
        p = points_setup(tree, None)
        test_property_balance_equals_ledger_and_never_negative._p = p
    h = people_services.create_household(None, unit=tree.lumiao_g1, address="x",
                                         code=f"H-P-{Household.objects.count() + 1}")
    StoreItem.objects.filter(pk=p.soap.pk).update(stock=1000)
    now = timezone.now()
    for op, n in ops:
        try:
            if op == "award":
                services.award(None, household=h, rule=p.volunteer, quantity=n)
            elif op == "deduct":
                services.award(None, household=h, rule=p.build)
            elif op == "redeem":
                services.redeem(None, household=h, item=p.soap, quantity=n)
            elif op == "expire":  # the lapsed year moves on with n: this year's points, then none left
                services.expire_points(now + timedelta(days=365 * (n + 1)), years=1)
            else:
                last = PointEntry.objects.filter(household=h, kind__in=["award", "deduct"], state="posted",
                                                 reversed_by__isnull=True).first()
                if last is not None:
                    services.reverse(None, last, reason="更正")
        except ServiceError as exc:
            assert exc.code in {"balance", "cap", "stock"}
        b = balance_of(h)
        assert b >= 0 and b == ledger(h)
