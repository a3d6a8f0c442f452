"""Household credit points (信用积分) and the points store (积分超市): a ledger, money-like.

Every change of a balance is one ``PointEntry`` and one conditional ``UPDATE`` of the
household's ``PointAccount`` in the same transaction, with audit. A debit is
``UPDATE … SET balance = balance - n WHERE balance >= n``: when it matches no row the request is
refused and nothing is written, so concurrent redemptions can never take a balance (or an item's
stock) below zero — the database decides, not a read-then-write in Python. The ledger is
append-only: a correction is a reversing entry.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import require
from bihuan.orgs.models import Level

from ..models import EntryKind, EntryState, PointAccount, PointEntry, PointRule, Redemption, StoreItem
from .common import integer, now_or, text

AWARD = "evaluation.points.award"
APPROVE = "evaluation.points.approve"
REDEEM = "evaluation.points.redeem"
MANAGE = "evaluation.points.manage"
MAX_POINTS = 10000
AUTO_HOURS = "care.hours"  # points2: approved volunteer service records, points per hour
AUTO_SOURCES = ("", AUTO_HOURS)


def _within(unit, top) -> bool:
    return unit.pk == top.pk or top.is_ancestor_of(unit)


def _household(household):
    from bihuan.people.models import Household

    pk = getattr(household, "pk", household)
    h = Household.objects.filter(pk=pk).select_related("unit").first() if pk is not None else None
    if h is None:
        raise NotFound()
    return h


def _move(household, delta: int) -> int:
    """Change the balance by ``delta`` (in the caller's transaction); refuse a debit it does not cover."""
    PointAccount.objects.get_or_create(household_id=household.pk, defaults={"unit_id": household.unit_id})
    qs = PointAccount.objects.filter(household_id=household.pk)
    if delta < 0:
        qs = qs.filter(balance__gte=-delta)
    if not qs.update(balance=F("balance") + delta):
        balance = PointAccount.objects.filter(household_id=household.pk).values_list("balance", flat=True).first()
        raise ServiceError(_("The balance (%(b)d points) does not cover %(n)d points.") % {"b": balance or 0,
                                                                                           "n": -delta},
                           {"points": _("Not enough points.")}, code="balance")
    return PointAccount.objects.filter(household_id=household.pk).values_list("balance", flat=True).get()


def balance_of(household) -> int:
    return PointAccount.objects.filter(household_id=getattr(household, "pk", household)).values_list(
        "balance", flat=True).first() or 0


# --- rules -----------------------------------------------------------------------------------------

@transaction.atomic
def create_rule(user, *, unit, code, name, points, cap_per_year=None, approval_above=None, auto: str = "",
                now: datetime | None = None) -> PointRule:
    """A behaviour with its points (negative: a deduction), defined by the city, a county or a township."""
    now = now_or(now)
    if unit is None:
        raise ServiceError(_("Choose the unit that defines the rule."), {"unit": _("This field is required.")})
    require(user, MANAGE, unit)
    if unit.level > Level.TOWNSHIP:
        raise ServiceError(_("Point rules are defined by the city, a county or a township."),
                           {"unit": _("A township or above.")})
    code = text(code, "code", limit=20, required=True)
    name = text(name, "name", limit=80, required=True)
    points = integer(points, "points", low=-MAX_POINTS, high=MAX_POINTS)
    if points == 0:
        raise ServiceError(_("A rule awards or deducts at least one point."), {"points": _("Not 0.")})
    cap = None if cap_per_year in (None, "") else integer(cap_per_year, "cap_per_year", low=1, high=10 * MAX_POINTS)
    above = None if approval_above in (None, "") else integer(approval_above, "approval_above", low=0,
                                                              high=10 * MAX_POINTS)
    if cap is not None and abs(points) > cap:
        raise ServiceError(_("The rule awards more (%(p)d) than its cap (%(c)d).") % {"p": abs(points), "c": cap},
                           {"cap_per_year": _("At least the points of one award.")})
    auto = auto or ""
    if auto not in AUTO_SOURCES:  # points2
        raise ServiceError(_("Unknown automatic source."), {"auto": _("Choose a listed source.")})
    if auto and points < 0:
        raise ServiceError(_("An automatic rule awards points."), {"points": _("More than 0.")})
    if PointRule.objects.filter(unit=unit, code=code).exists():
        raise Conflict(_("%(unit)s already has a rule %(code)s.") % {"unit": unit.name, "code": code})
    rule = PointRule.objects.create(unit=unit, code=code, name=name, points=points, cap_per_year=cap,
                                    approval_above=above, auto=auto)
    audit.record("evaluation.rule.create", rule, after={"code": code, "name": name, "points": points,
                                                         "cap_per_year": cap, "approval_above": above,
                                                         "auto": auto}, now=now)
    return rule


# --- awards, approvals, reversals ------------------------------------------------------------------

def award(user, *, household, rule, quantity=1, note: str = "", evidence: str = "",
          now: datetime | None = None) -> PointEntry:
    """Points for a household by a rule (×quantity, e.g. volunteer hours). Above the rule's approval
    threshold the entry waits for approval and the balance does not move yet."""
    now = now_or(now)
    h = _household(household)
    require(user, AWARD, h.unit)
    rule = rule if isinstance(rule, PointRule) else PointRule.objects.filter(pk=rule).select_related("unit").first()
    if rule is None or not rule.active or not _within(h.unit, rule.unit):
        raise ServiceError(_("Choose a rule that applies to this household."), {"rule": _("Not applicable here.")})
    quantity = integer(quantity, "quantity", low=1, high=100)
    note = text(note, "note", limit=200)
    evidence = text(evidence, "evidence", limit=200)
    points = rule.points * quantity
    year = timezone.localtime(now).year
    with transaction.atomic():
        if rule.cap_per_year is not None:
            used = (PointEntry.objects.filter(household=h, rule=rule, at__year=year,
                                              kind__in=[EntryKind.AWARD, EntryKind.DEDUCT])
                    .exclude(reversed_by__isnull=False).aggregate(s=Sum("points"))["s"] or 0)
            if abs(used) + abs(points) > rule.cap_per_year:
                raise ServiceError(_("%(rule)s is capped at %(cap)d points a year; this household has %(used)d, "
                                     "so %(p)d more would exceed it.") % {"rule": rule.name, "cap": rule.cap_per_year,
                                                                          "used": abs(used), "p": abs(points)},
                                   {"quantity": _("Above the rule's cap.")}, code="cap")
        pending = rule.approval_above is not None and abs(points) > rule.approval_above
        entry = PointEntry.objects.create(
            household=h, unit=h.unit, kind=EntryKind.AWARD if points > 0 else EntryKind.DEDUCT,
            state=EntryState.PENDING if pending else EntryState.POSTED, points=points, rule=rule,
            note=note or rule.name, evidence=evidence, at=now, by=user)
        balance = balance_of(h) if pending else _move(h, points)
        audit.record("evaluation.points.award", entry, after={
            "household_id": h.pk, "rule": rule.code, "points": points, "state": entry.state, "balance": balance,
            "note": note, "evidence": evidence}, now=now)
    return entry


def approve_entry(user, entry, *, now: datetime | None = None) -> PointEntry:
    """Another person approves a pending award: then it is posted to the balance."""
    now = now_or(now)
    entry = PointEntry.objects.filter(pk=getattr(entry, "pk", entry)).select_related("household", "unit").first()
    if entry is None:
        raise NotFound()
    require(user, APPROVE, entry)
    if user is not None and entry.by_id == user.pk:
        raise PermissionDenied(_("An award is approved by another person than the one who made it."))
    with transaction.atomic():
        if not PointEntry.objects.filter(pk=entry.pk, state=EntryState.PENDING).update(
                state=EntryState.POSTED, approved_by=user):
            raise Conflict(_("This entry is not awaiting approval."))
        balance = _move(entry.household, entry.points)
        audit.record("evaluation.points.approve", entry, after={"points": entry.points, "balance": balance}, now=now)
    entry.state = EntryState.POSTED
    return entry


def reverse(user, entry, *, reason: str, now: datetime | None = None) -> PointEntry:
    """A correction: a reversing entry (the original stays). Refused when the balance would go negative."""
    now = now_or(now)
    entry = PointEntry.objects.filter(pk=getattr(entry, "pk", entry)).select_related("household", "unit").first()
    if entry is None:
        raise NotFound()
    require(user, AWARD, entry)
    reason = text(reason, "reason", limit=200, required=True)
    if entry.kind not in (EntryKind.AWARD, EntryKind.DEDUCT) or entry.state != EntryState.POSTED:
        raise ServiceError(_("Only a posted award or deduction is reversed."), code="not_reversible")
    try:
        with transaction.atomic():
            rev = PointEntry.objects.create(household=entry.household, unit=entry.unit, kind=EntryKind.REVERSAL,
                                            points=-entry.points, rule=entry.rule, reverses=entry,
                                            note=reason, at=now, by=user)
            balance = _move(entry.household, -entry.points)
            audit.record("evaluation.points.reverse", rev, after={"reverses": entry.pk, "points": -entry.points,
                                                                  "reason": reason, "balance": balance}, now=now)
            return rev
    except IntegrityError:
        raise Conflict(_("This entry is reversed already."))


# --- the points store ------------------------------------------------------------------------------

@transaction.atomic
def create_item(user, *, unit, name, price, stock=0, now: datetime | None = None) -> StoreItem:
    now = now_or(now)
    if unit is None or unit.level != Level.VILLAGE:
        raise ServiceError(_("A points store belongs to a village or community."), {"unit": _("Choose a village.")})
    require(user, MANAGE, unit)
    name = text(name, "name", limit=80, required=True)
    price = integer(price, "price", low=1, high=MAX_POINTS * 10)
    stock = integer(stock, "stock", low=0, high=100000)
    if StoreItem.objects.filter(unit=unit, name=name).exists():
        raise Conflict(_("The store of %(unit)s already has %(name)s.") % {"unit": unit.name, "name": name})
    item = StoreItem.objects.create(unit=unit, name=name, price=price, stock=stock)
    audit.record("evaluation.item.create", item, after={"name": name, "price": price, "stock": stock}, now=now)
    return item


def restock(user, item, *, quantity, now: datetime | None = None) -> StoreItem:
    now = now_or(now)
    item = StoreItem.objects.filter(pk=getattr(item, "pk", item)).select_related("unit").first()
    if item is None:
        raise NotFound()
    require(user, MANAGE, item)
    quantity = integer(quantity, "quantity", low=1, high=100000)
    with transaction.atomic():
        StoreItem.objects.filter(pk=item.pk).update(stock=F("stock") + quantity)
        item.refresh_from_db()
        audit.record("evaluation.item.restock", item, after={"added": quantity, "stock": item.stock}, now=now)
    return item


def redeem(user, *, household, item, quantity=1, now: datetime | None = None) -> Redemption:
    """积分超市: points and stock are taken in one transaction, each by a conditional UPDATE, with a receipt."""
    now = now_or(now)
    h = _household(household)
    require(user, REDEEM, h.unit)
    it = StoreItem.objects.filter(pk=getattr(item, "pk", item)).select_related("unit").first()
    if it is None or not it.active or not _within(h.unit, it.unit):
        raise ServiceError(_("Choose an item of this household's village store."), {"item": _("Not in this store.")})
    quantity = integer(quantity, "quantity", low=1, high=100)
    points = it.price * quantity
    with transaction.atomic():
        if not StoreItem.objects.filter(pk=it.pk, stock__gte=quantity).update(stock=F("stock") - quantity):
            raise ServiceError(_("Only %(n)d of %(item)s left in stock.") % {
                "n": StoreItem.objects.filter(pk=it.pk).values_list("stock", flat=True).get(), "item": it.name},
                {"quantity": _("Not enough in stock.")}, code="stock")
        balance = _move(h, -points)
        entry = PointEntry.objects.create(household=h, unit=h.unit, kind=EntryKind.REDEEM, points=-points,
                                          note=f"{it.name} ×{quantity}", at=now, by=user)
        receipt = f"R{timezone.localtime(now):%y%m%d}{secrets.token_hex(4).upper()}"
        r = Redemption.objects.create(receipt=receipt, item=it, household=h, unit=h.unit, quantity=quantity,
                                      points=points, entry=entry, at=now, by=user)
        audit.record("evaluation.points.redeem", r, after={"household_id": h.pk, "item": it.name,
                                                           "quantity": quantity, "points": points,
                                                           "balance": balance, "receipt": receipt}, now=now)
    return r


# --- expiry ----------------------------------------------------------------------------------------

def expiry_year(now: datetime, years: int | None = None) -> int | None:
    """The last award year whose points have lapsed at ``now`` under the policy (None: never)."""
    from django.conf import settings

    years = settings.BIHUAN_POINTS_EXPIRY_YEARS if years is None else years
    if not years or years < 0:
        return None
    return timezone.localtime(now).year - years - 1


def expire_points(now: datetime | None = None, *, years: int | None = None, batch: int = 2000) -> dict:
    """The ``evaluation.points_expiry`` job: points awarded up to the lapsed year (``expiry_year``)
    and still unspent are taken by one reversing ``expire`` entry per household — spending uses
    the oldest points first, so what lapses is ``credits up to that year + every debit`` (debits are
    negative), at most the balance. Once per household and year (a unique constraint): running it
    again writes nothing. The amounts come from one grouped query; each batch of households is
    written in one transaction with their accounts locked, one audit entry per batch."""
    from django.db.models import Exists, OuterRef, Q, Value
    from django.db.models.functions import Coalesce

    now = now_or(now)
    year = expiry_year(now, years)
    if year is None:
        return {"year": None, "households": 0, "points": 0}
    from .common import local_midnight

    cutoff = local_midnight(datetime(year + 1, 1, 1).date())
    done = PointEntry.objects.filter(household_id=OuterRef("household_id"), expiry_of=year)
    due = (PointEntry.objects.filter(state=EntryState.POSTED, at__lt=now).values("household_id")
           .annotate(lapse=Coalesce(Sum("points", filter=Q(points__gt=0, at__lt=cutoff)), Value(0))
                     + Coalesce(Sum("points", filter=Q(points__lt=0)), Value(0)))
           .filter(lapse__gt=0).exclude(Exists(done)).order_by("household_id")
           .values_list("household_id", "lapse"))
    households = points = 0
    rows = list(due[:batch])
    while rows:
        with transaction.atomic():
            accounts = {a.household_id: a for a in PointAccount.objects.select_for_update()
                        .filter(household_id__in=[h for h, _n in rows]).order_by("household_id")}
            entries, by_unit = [], {}
            for hid, lapse in rows:
                acc = accounts.get(hid)
                n = min(lapse, acc.balance) if acc is not None else 0
                if n <= 0:
                    continue
                entries.append(PointEntry(household_id=hid, unit_id=acc.unit_id, kind=EntryKind.EXPIRE, points=-n,
                                          note=_("Points of %(y)d and before expired") % {"y": year}, at=now,
                                          expiry_of=year))
                acc.balance -= n
                by_unit[acc.unit_id] = by_unit.get(acc.unit_id, 0) + n
            PointEntry.objects.bulk_create(entries, batch_size=batch)
            PointAccount.objects.bulk_update([accounts[e.household_id] for e in entries], ["balance"],
                                             batch_size=batch)
            from bihuan.orgs.models import OrgUnit

            units = OrgUnit.objects.in_bulk(list(by_unit))
            for unit_id, n in by_unit.items():
                audit.record("evaluation.points.expire", object_type="evaluation.pointaccount", object_id=unit_id,
                             unit=units.get(unit_id), after={"year": year, "households": sum(
                                 1 for e in entries if e.unit_id == unit_id), "points": n}, now=now)
            households += len(entries)
            points += sum(-e.points for e in entries)
        last = rows[-1][0]
        rows = list(due.filter(household_id__gt=last)[:batch])
    return {"year": year, "households": households, "points": points}

