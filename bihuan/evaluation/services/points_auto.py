"""points2 (issue 13 item 6): automatic awards through rules, once per source record, and the
household's shareable balance link. Writes go through the ledger helpers of ``points`` (the
balance moves only with an entry, in one transaction, audited)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from bihuan.core import audit
from bihuan.core.scope import require

from ..models import EntryKind, EntryState, PointAccount, PointEntry, PointRule
from .common import now_or
from .points import AUTO_HOURS, AWARD, _household, _move, balance_of

# --- points2: automatic awards (issue 13 item 6) -----------------------------------------------------

def _cap_left(household_id, rule, now) -> int | None:
    if rule.cap_per_year is None:
        return None
    used = (PointEntry.objects.filter(household_id=household_id, rule=rule, at__year=timezone.localtime(now).year,
                                      kind__in=[EntryKind.AWARD, EntryKind.DEDUCT])
            .exclude(reversed_by__isnull=False).aggregate(s=Sum("points"))["s"] or 0)
    return max(0, rule.cap_per_year - abs(used))


def _auto_one(rule, *, source: str, source_id: int, household_id: int, unit_id: int, points: int, note: str,
              now: datetime) -> str:
    """Award one source record once: the ``PointAutoAward`` key is written first in the same
    transaction, so a second (or concurrent) run hits the unique constraint and writes nothing.
    The rule's cap clips the award (nothing left: outcome ``capped``); above its approval threshold
    the entry waits for approval like a manual one."""
    from ..models import PointAutoAward

    try:
        with transaction.atomic():
            key = PointAutoAward.objects.create(source=source, source_id=source_id, household_id=household_id,
                                                rule=rule, outcome="awarded", at=now)
            # The household's account is locked first, so concurrent runs read the cap's use in turn.
            PointAccount.objects.get_or_create(household_id=household_id, defaults={"unit_id": unit_id})
            PointAccount.objects.select_for_update().filter(household_id=household_id).first()
            left = _cap_left(household_id, rule, now)
            if left is not None:
                points = min(points, left)
            if points <= 0:
                key.outcome = "capped" if left is not None else "zero"
                key.save(update_fields=["outcome"])
                return key.outcome
            pending = rule.approval_above is not None and points > rule.approval_above
            entry = PointEntry.objects.create(
                household_id=household_id, unit_id=unit_id, kind=EntryKind.AWARD,
                state=EntryState.PENDING if pending else EntryState.POSTED, points=points, rule=rule,
                note=note[:200], evidence=f"{source}:{source_id}", at=now, by=None)
            key.entry = entry
            key.save(update_fields=["entry"])
            from types import SimpleNamespace

            h = SimpleNamespace(pk=household_id, unit_id=unit_id)  # _move needs these two only
            balance = balance_of(household_id) if pending else _move(h, points)
            audit.record("evaluation.points.auto", entry, after={
                "household_id": household_id, "rule": rule.code, "source": source, "source_id": source_id,
                "points": points, "state": entry.state, "balance": balance}, now=now)
            return "awarded"
    except IntegrityError:
        return "done"  # another run awarded this record first


def auto_award(now: datetime | None = None, *, batch: int = 500) -> dict:
    """The ``evaluation.points_auto`` job: every active automatic rule awards its source records
    not yet handled — for ``care.hours``, approved volunteer service records of members whose
    person belongs to a household in the rule's unit: ``points × hours`` (rounded) to that
    household. Rules of deeper units go first, so a township's rule wins over the city's; each
    record is awarded once whatever the rules (the key is per source record)."""
    from decimal import ROUND_HALF_UP, Decimal

    from django.apps import apps
    from django.db.models import Exists, OuterRef

    from ..models import PointAutoAward

    now = now_or(now)
    counts = {"awarded": 0, "capped": 0, "zero": 0, "done": 0}
    if not apps.is_installed("bihuan.care"):
        return counts
    record_model = apps.get_model("care", "ServiceRecord")
    handled = PointAutoAward.objects.filter(source=AUTO_HOURS, source_id=OuterRef("pk"))
    rules = PointRule.objects.filter(active=True, auto=AUTO_HOURS).select_related("unit").order_by("-unit__depth", "pk")
    for rule in rules:
        due = (record_model.objects.filter(status="approved", decided_at__lte=now,
                                           member__person__household__unit__in=rule.unit.descendants(
                                               include_self=True))
               .exclude(Exists(handled)).order_by("pk")
               .values_list("pk", "hours", "day", "member__person__household_id",
                            "member__person__household__unit_id"))
        last = 0
        while True:
            rows = list(due.filter(pk__gt=last)[:batch])
            if not rows:
                break
            for pk, hours, day, hid, unit_id in rows:
                points = int((Decimal(rule.points) * Decimal(hours)).to_integral_value(ROUND_HALF_UP))
                outcome = _auto_one(rule, source=AUTO_HOURS, source_id=pk, household_id=hid, unit_id=unit_id,
                                    points=points, note=f"{rule.name} {day:%Y-%m-%d} {hours}h", now=now)
                counts[outcome] += 1
            last = rows[-1][0]
    return counts


# --- points2: the resident's balance link (no account) ---------------------------------------------

def rotate_link(user, household, *, now: datetime | None = None):
    """Create (or replace) the household's shareable balance link; the old link stops working."""
    from ..models import PointLink, new_points_token

    now = now_or(now)
    h = _household(household)
    require(user, AWARD, h.unit)
    with transaction.atomic():
        old = PointLink.objects.select_for_update().filter(household_id=h.pk).first()
        if old is None:
            link = PointLink.objects.create(household_id=h.pk, unit_id=h.unit_id, token=new_points_token(),
                                            created_at=now, by=user)
        else:
            PointLink.objects.filter(pk=old.pk).update(token=new_points_token(), unit_id=h.unit_id,
                                                       created_at=now, by=user)
            link = PointLink.objects.get(pk=old.pk)
        # The token itself is a key: the audit keeps only that a link was made or replaced.
        audit.record("evaluation.points.link", link, after={"household_id": h.pk, "rotated": old is not None},
                     now=now)
    return link
