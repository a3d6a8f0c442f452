"""Household credit points (信用积分) and the points store (积分超市): a ledger that never goes negative."""

from __future__ import annotations

import pytest
from django.db.models import Sum
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


OPS = st.lists(st.tuples(st.sampled_from(["award", "reverse", "redeem", "deduct"]), st.integers(1, 5)),
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
    for op, n in ops:
        try:
            if op == "award":
                services.award(None, household=h, rule=p.volunteer, quantity=n)
            elif op == "deduct":
                services.award(None, household=h, rule=p.build)
            elif op == "redeem":
                services.redeem(None, household=h, item=p.soap, quantity=n)
            else:
                last = PointEntry.objects.filter(household=h, kind__in=["award", "deduct"], state="posted",
                                                 reversed_by__isnull=True).first()
                if last is not None:
                    services.reverse(None, last, reason="更正")
        except ServiceError as exc:
            assert exc.code in {"balance", "cap", "stock"}
        b = balance_of(h)
        assert b >= 0 and b == ledger(h)
