"""Campaigns (大干五十天、冲刺四季度): create, set targets, check in, and the loop for missing check-ins.

A campaign's schedule is a task's (``plans.status``): daily or weekly periods from its start,
each check-in due ``grace_days`` working days after the period's last day; a check-in counts for
the earliest period not yet reported (catching up) and is late after that period's due point.
A unit's value is what it has reached so far toward its target (cumulative).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import ServiceError
from bihuan.core.scope import get_required, require

from .. import status as st
from ..models import Campaign, CampaignCadence, CampaignCheckIn, CampaignEscalation, CampaignTarget
from . import MANAGE, MAX_NOTE, MAX_TITLE, _bump, _date, _decimal, _now, _task_category, _text, _within

MAX_DAYS = 366
MAX_TARGETS = 10000


def get_campaign(user, campaign, *, action: str = "view") -> Campaign:
    return get_required(user, f"plans.plan.{action}", Campaign.objects.select_related("unit"), campaign)


def get_target(user, target, action: str = "view") -> CampaignTarget:
    return get_required(user, f"plans.assignment.{action}",
                        CampaignTarget.objects.select_related("campaign__unit", "unit"), target)


def _clean_targets(campaign: Campaign, targets) -> list[tuple]:
    out, seen = [], set()
    targets = list(targets or [])
    if len(targets) > MAX_TARGETS:
        raise ServiceError(_("At most %(n)d targets.") % {"n": MAX_TARGETS}, {"targets": _("Too many.")})
    for i, (unit, value) in enumerate(targets, start=1):
        if unit is None or unit.valid_to is not None or not _within(unit, campaign.unit) or unit.pk == campaign.unit.pk:
            raise ServiceError(_("%(u)s is not a current unit under %(p)s.")
                               % {"u": getattr(unit, "name", "?"), "p": campaign.unit.name},
                               {f"targets.{i}.unit": _("Choose units under the issuing unit.")},
                               code="unit_outside_campaign")
        if unit.pk in seen:
            raise ServiceError(_("%(u)s is named twice.") % {"u": unit.name}, {f"targets.{i}.unit": _("Twice.")})
        seen.add(unit.pk)
        v = _decimal(value, f"targets.{i}.target", required=True)
        if v <= 0:
            raise ServiceError(_("A target must be greater than 0."), {f"targets.{i}.target": _("Greater than 0.")})
        out.append((unit, v))
    return out


def _snapshot(c: Campaign) -> dict:
    return {"title": c.title, "unit_id": c.unit_id, "starts_on": c.starts_on, "ends_on": c.ends_on,
            "cadence": c.cadence, "grace_days": c.grace_days, "target_unit": c.target_unit, "version": c.version}


@transaction.atomic
def create_campaign(user, *, unit, title: str, starts_on, ends_on, target_unit: str,
                    cadence: str = CampaignCadence.DAILY, grace_days=1, description: str = "", targets=(),
                    now: datetime | None = None) -> Campaign:
    """A campaign issued by ``unit`` with a target per unit (``targets = [(unit, value), …]``)."""
    now = _now(now)
    if unit is None:
        raise ServiceError(_("Choose the issuing unit."), {"unit": _("This field is required.")})
    require(user, MANAGE, unit)
    title = _text(title, "title", limit=MAX_TITLE, required=True)
    description = _text(description, "description", limit=5000)
    target_unit = _text(target_unit, "target_unit", limit=20, required=True)
    starts_on, ends_on = _date(starts_on, "starts_on"), _date(ends_on, "ends_on")
    if ends_on < starts_on:
        raise ServiceError(_("The campaign ends before it starts."), {"ends_on": _("Must not be before the start.")})
    if (ends_on - starts_on).days + 1 > MAX_DAYS:
        raise ServiceError(_("A campaign lasts at most %(n)d days.") % {"n": MAX_DAYS}, {"ends_on": _("Too long.")})
    if cadence not in CampaignCadence.values:
        raise ServiceError(_("Unknown check-in cadence."), {"cadence": _("daily or weekly.")})
    try:
        grace_days = int(grace_days)
    except (TypeError, ValueError):
        raise ServiceError(_("The grace period must be a whole number."), {"grace_days": _("0 to 10.")})
    if not 0 <= grace_days <= 10:
        raise ServiceError(_("The grace period must be 0 to 10 working days."), {"grace_days": _("0 to 10.")})
    c = Campaign(unit=unit, title=title, description=description, starts_on=starts_on, ends_on=ends_on,
                 cadence=cadence, grace_days=grace_days, target_unit=target_unit, created_at=now, created_by=user)
    clean = _clean_targets(c, targets)
    c.save()
    CampaignTarget.objects.bulk_create([CampaignTarget(campaign=c, unit=u, target=v, first_period_start=starts_on)
                                        for u, v in clean])
    audit.record("plans.campaign.create", c, after={**_snapshot(c), "targets": len(clean)}, now=now)
    return c


@transaction.atomic
def set_targets(user, campaign, *, version, targets, now: datetime | None = None) -> dict:
    """Change units' targets or add units (versioned: a stale version is a 409). Check-ins are kept;
    a unit added after the start owes check-ins from the period it was added in."""
    now = _now(now)
    c = get_campaign(user, campaign, action="manage")
    clean = _clean_targets(c, targets)
    _bump(Campaign, c, version)
    have = {t.unit_id: t for t in c.targets.all()}
    today = timezone.localtime(now).date()
    first = st.period_of(c, min(max(today, c.starts_on), c.ends_on))
    changed = added = 0
    for u, v in clean:
        t = have.get(u.pk)
        if t is None:
            CampaignTarget.objects.create(campaign=c, unit=u, target=v, first_period_start=first)
            added += 1
        elif t.target != v:
            CampaignTarget.objects.filter(pk=t.pk).update(target=v)
            changed += 1
    audit.record("plans.campaign.targets", c, after={"added": added, "changed": changed, "version": c.version},
                 now=now)
    return {"campaign": c, "added": added, "changed": changed}


@transaction.atomic
def check_in(user, target, *, value, note: str = "", now: datetime | None = None) -> CampaignCheckIn:
    """A unit's report: the value it has reached so far, and a note."""
    now = _now(now)
    t = get_target(user, target, "checkin")
    t = CampaignTarget.objects.select_for_update().select_related("campaign__unit", "unit").get(pk=t.pk)
    c = t.campaign
    today = timezone.localtime(now).date()
    if today < c.starts_on:
        raise ServiceError(_("The campaign starts on %(d)s.") % {"d": c.starts_on}, code="not_started")
    value = _decimal(value, "value", required=True)
    if value < 0:
        raise ServiceError(_("The value must not be negative."), {"value": _("Enter a value of at least 0.")})
    note = _text(note, "note", limit=MAX_NOTE)
    period = st.covered_period(c, t.first_period_start, t.last_period_start, now)
    due = st.period_due(c, period)
    late = now > due
    ci = CampaignCheckIn.objects.create(target=t, at=now, period_start=period, due_at=due, late=late, value=value,
                                        note=note, by=user, by_name=(user.username if user else "system"))
    fields = {"last_checkin_at": now, "checkins": F("checkins") + 1, "last_value": value,
              "last_period_start": max(period, t.last_period_start or period)}
    if late:
        fields["late_checkins"] = F("late_checkins") + 1
    CampaignTarget.objects.filter(pk=t.pk).update(**fields)
    audit.record("plans.campaign.checkin", ci, unit=t.unit, after={
        "target_id": t.pk, "period": period, "late": late, "value": value, "note": note[:200]}, now=now)
    return ci


def _due_key(c: Campaign, period: date) -> str:
    if c.cadence == CampaignCadence.DAILY:  # at most one matter a week for a unit that stops reporting
        return f"w{period - timedelta(days=period.weekday())}"
    return f"p{period}"


def _open_matter(t: CampaignTarget, *, period: date, now: datetime) -> int | None:
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    c = t.campaign
    try:
        with transaction.atomic():
            esc = CampaignEscalation.objects.create(target=t, due_key=_due_key(c, period), period_start=period,
                                                    opened_at=now)
            title = (_("督办: %(task)s (%(unit)s)") % {"task": c.title, "unit": t.unit.name})[:120]
            detail = _("%(c)s: the check-in for %(p)s (due %(d)s) is missing.") % {
                "c": c.title, "p": period, "d": timezone.localtime(st.period_due(c, period)).strftime("%Y-%m-%d")}
            matter = loop_services.create_matter(None, category=_task_category(), location_unit=t.unit,
                                                 title=title, description=detail, kind=Kind.TASK, now=now)
            matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=t.unit, now=now)
            CampaignEscalation.objects.filter(pk=esc.pk).update(matter_id=matter.pk)
            audit.record("plans.campaign.escalate", t, after={"due_key": esc.due_key, "matter_id": matter.pk},
                         now=now)
            return matter.pk
    except IntegrityError:
        return None


def open_overdue_matters(now: datetime | None = None) -> int:
    """Part of the ``plans.supervise`` job: each target of a running campaign whose last due
    check-in is missing past its grace period (and not yet reached) gets one loop matter."""
    now = _now(now)
    today = timezone.localtime(now).date()
    opened = 0
    running = Campaign.objects.filter(starts_on__lte=today, ends_on__gte=today - timedelta(days=15))
    for c in running:
        clock = st.campaign_clock(c, now)
        cond = st.missing_sql(clock, st.CT)
        if cond is None:
            continue
        key = _due_key(c, clock.cutoff)
        pending = st.where(CampaignTarget.objects.filter(campaign=c).select_related("unit", "campaign"), cond)
        pending = pending.exclude(last_value__gte=F("target")).exclude(
            Exists(CampaignEscalation.objects.filter(target=OuterRef("pk"), due_key=key)))
        for t in pending.iterator(chunk_size=500):
            if _open_matter(t, period=clock.cutoff, now=now):
                opened += 1
    return opened


def checkin_owed(matter):
    """Precondition of 报告办结 on a matter opened for a missing campaign check-in."""
    from bihuan.loop import transitions

    esc = CampaignEscalation.objects.filter(matter_id=matter.pk).only("period_start", "target_id").first()
    if esc is None:
        return transitions.ALLOWED
    if CampaignCheckIn.objects.filter(target_id=esc.target_id, period_start__gte=esc.period_start).exists():
        return transitions.ALLOWED
    return transitions.refuse(
        _("Make the overdue campaign check-in for %(p)s first; then report this matter done.")
        % {"p": esc.period_start.isoformat()}, "checkin_owed")

