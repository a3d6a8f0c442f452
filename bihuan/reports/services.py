"""Every change to bulletins and their schedules (the only module of ``reports`` that writes).

* ``draft`` — the figures of a template's registered sections for a unit's children over a
  period, taken now and stored with the draft (``figures.snapshot``); also a correction of an
  issued bulletin (``corrects``), and what a schedule produces (``produce_due``).
* ``update_text`` — the user's paragraphs (要求, next steps); drafts only (versioned).
* ``issue`` — numbers (第N期, per template, unit and year, under a row lock), freezes, audits and
  tells the units named as behind (黑榜). Issuing twice is refused; the number does not skip.
* ``mark_read`` — the read receipt of the reader's receiving unit.
* ``set_schedule`` / ``produce_due(now)`` — a template drafted on a weekday and time; one draft
  per schedule and slot (a unique key), so a retried or overlapping run makes no second.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bihuan.core import audit
from bihuan.core.errors import Conflict, NotFound, ServiceError
from bihuan.core.scope import require
from bihuan.core.text import clean
from bihuan.orgs.models import OrgUnit

from . import figures, kinds
from .models import Bulletin, BulletinCounter, BulletinRead, BulletinSchedule, BulletinState

VIEW = "reports.bulletin.view"
DRAFT = "reports.bulletin.draft"
ISSUE = "reports.bulletin.issue"
MAX_PARAGRAPHS = 20
MAX_PARAGRAPH = 2000


def _template(code: str) -> kinds.Template:
    t = kinds.TEMPLATES.get(code or "")
    if t is None:
        raise ServiceError(_("Unknown bulletin template."), {"template": _("Choose a template from the list.")})
    if not figures.registered(t.sections):
        raise ServiceError(_("None of this template's sections is available."),
                           {"template": _("None of this template's sections is available.")})
    return t


def _paragraphs(paragraphs) -> list[str]:
    if isinstance(paragraphs, str):
        paragraphs = paragraphs.split("\n\n")
    out = [clean(p).strip() for p in (paragraphs or [])]
    out = [p for p in out if p]
    if len(out) > MAX_PARAGRAPHS:
        raise ServiceError(_("At most %(n)d paragraphs.") % {"n": MAX_PARAGRAPHS},
                           {"paragraphs": _("At most %(n)d paragraphs.") % {"n": MAX_PARAGRAPHS}})
    if any(len(p) > MAX_PARAGRAPH for p in out):
        raise ServiceError(_("A paragraph is longer than %(n)d characters.") % {"n": MAX_PARAGRAPH},
                           {"paragraphs": _("A paragraph is longer than %(n)d characters.") % {"n": MAX_PARAGRAPH}})
    return out


def _previous_snapshot(template: str, unit, start: datetime) -> dict | None:
    prev = (Bulletin.objects.filter(template=template, unit=unit, state=BulletinState.ISSUED, period_start__lt=start)
            .order_by("-period_start", "-number").values_list("snapshot", flat=True).first())
    return prev or None


def _compute(template, unit, key: str, *, now: datetime):
    try:
        start, end, label = kinds.period_bounds(template.period, key)
    except kinds.BadPeriod:
        raise ServiceError(_("The period is not valid for this template."),
                           {"period": _("Write the period as %(example)s.") % {"example": EXAMPLES[template.period]}})
    if start > now:
        raise ServiceError(_("The period is in the future."), {"period": _("The period is in the future.")})
    with translation.override("zh-hans"):
        snap = figures.snapshot(template, unit, key=key, start=start, end=end, label=label, now=now,
                                previous=_previous_snapshot(template.code, unit, start))
    return start, end, label, snap


EXAMPLES = {"week": "2026-W48", "month": "2026-11", "quarter": "2026-Q4", "day": "2026-11-30"}


def _title(template, unit, label: str) -> str:
    with translation.override("zh-hans"):
        return f"{unit.name}{label}{template.label}"[:120]


def draft(user, *, template: str, unit, period: str, now: datetime | None = None, paragraphs=None,
          corrects: Bulletin | None = None, schedule: BulletinSchedule | None = None,
          slot: datetime | None = None) -> Bulletin:
    """A new draft: figures of ``template``'s sections for ``unit``'s children over ``period``."""
    now = now or timezone.now()
    if not isinstance(unit, OrgUnit):
        raise NotFound()
    require(user, DRAFT, unit)
    t = _template(template)
    texts = _paragraphs(paragraphs)
    if corrects is not None and (corrects.unit_id != unit.pk or corrects.template != t.code
                                 or not corrects.issued):
        raise ServiceError(_("Only an issued bulletin of the same template and unit can be corrected."))
    start, end, label, snap = _compute(t, unit, period, now=now)
    title = _title(t, unit, label)
    if corrects is not None:
        title = (_("Correction to No. %(n)d: ") % {"n": corrects.number} + title)[:120]
    with transaction.atomic():
        b = Bulletin.objects.create(
            template=t.code, unit=unit, period_key=period, period_start=start, period_end=end, title=title,
            year=start.astimezone(kinds.TZ).year, snapshot=snap, paragraphs=texts, corrects=corrects,
            schedule=schedule, slot=slot, created_at=now, created_by=user if user else None)
        audit.record("reports.bulletin.draft", b, after={"template": t.code, "period": period, "title": title},
                     now=now)
    return b


def update_text(user, bulletin: Bulletin, *, paragraphs, version: int | None = None,
                now: datetime | None = None) -> Bulletin:
    """The user's paragraphs of a draft. An issued bulletin is frozen (correct it instead)."""
    now = now or timezone.now()
    require(user, DRAFT, bulletin)
    texts = _paragraphs(paragraphs)
    with transaction.atomic():
        b = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
        if b.issued:
            raise Conflict(_("An issued bulletin cannot be changed; issue a correction instead."))
        if version is not None and int(version) != b.version:
            raise Conflict(_("Someone else changed this draft; reload it."))
        before = b.paragraphs
        b.paragraphs, b.version = texts, b.version + 1
        b.save(update_fields=["paragraphs", "version"])
        audit.record("reports.bulletin.edit", b, before={"paragraphs": before}, after={"paragraphs": texts}, now=now)
    return b


def next_number(template: str, unit, year: int) -> int:
    """The number the next issued bulletin would get (shown on drafts)."""
    last = BulletinCounter.objects.filter(template=template, unit=unit, year=year).values_list("last", flat=True)
    return (last.first() or 0) + 1


def issue(user, bulletin: Bulletin, *, version: int | None = None, now: datetime | None = None) -> Bulletin:
    """Number, freeze and audit ``bulletin``; tell the units named as behind."""
    now = now or timezone.now()
    require(user, ISSUE, bulletin)
    with transaction.atomic():
        b = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
        if b.issued:
            raise Conflict(_("This bulletin has already been issued (No. %(n)d).") % {"n": b.number})
        if version is not None and int(version) != b.version:
            raise Conflict(_("Someone else changed this draft; reload it."))
        try:
            with transaction.atomic():
                BulletinCounter.objects.get_or_create(template=b.template, unit=b.unit, year=b.year)
        except IntegrityError:
            pass  # made by a concurrent issue; locked below
        counter = BulletinCounter.objects.select_for_update().get(template=b.template, unit=b.unit, year=b.year)
        counter.last += 1
        counter.save(update_fields=["last"])
        b.number, b.state, b.issued_at, b.issued_by = counter.last, BulletinState.ISSUED, now, user
        b.version += 1
        b.save(update_fields=["number", "state", "issued_at", "issued_by", "version"])
        audit.record("reports.bulletin.issue", b, after={"number": b.number, "title": b.title}, now=now)
        _tell_behind(b, now)
    return b


def _tell_behind(b: Bulletin, now: datetime) -> None:
    from bihuan.loop import notify

    named: dict[int, list[str]] = {}
    for sec in b.snapshot.get("sections", []):
        for u in sec.get("behind", []):
            named.setdefault(u["id"], []).append(sec["label"])
    units = OrgUnit.objects.filter(pk__in=sorted(named), parent=b.unit)
    with translation.override("zh-hans"):
        for u in units:
            notify.notify(unit=u, kind="bulletin_behind", now=now,
                          title=_("Named as behind in %(title)s (No. %(n)d)") % {"title": b.title, "n": b.number},
                          body="；".join(named[u.pk]))


def reader_unit(user, bulletin: Bulletin):
    """The receiving unit (a child of the issuing unit) a reader reads for, or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    ids: set[int] = set()
    for top in user.scope_units(VIEW):
        ids.update(top.ancestor_ids())
    return OrgUnit.objects.filter(parent=bulletin.unit, pk__in=sorted(ids)).order_by("sort", "code").first()


def mark_read(user, bulletin: Bulletin, *, now: datetime | None = None) -> BulletinRead | None:
    """The read receipt of the reader's receiving unit (the first reader counts); drafts: none."""
    if not Bulletin.objects.filter(pk=bulletin.pk, state=BulletinState.ISSUED).exists():
        return None
    unit = reader_unit(user, bulletin)
    if unit is None:
        return None
    if BulletinRead.objects.filter(bulletin=bulletin, unit=unit).exists():
        return None
    now = now or timezone.now()
    try:
        with transaction.atomic():
            r = BulletinRead.objects.create(bulletin=bulletin, unit=unit, user=user, read_at=now)
            audit.record("reports.bulletin.read", bulletin, unit=unit, extra={"unit": unit.name}, now=now)
    except IntegrityError:
        return None
    return r


def set_schedule(user, *, template: str, unit, weekday: int | None, hour: int, minute: int = 0,
                 active: bool = True, now: datetime | None = None) -> BulletinSchedule:
    now = now or timezone.now()
    require(user, DRAFT, unit)
    t = _template(template)
    errors = {}
    if weekday is not None and not 0 <= int(weekday) <= 6:
        errors["weekday"] = _("Choose a weekday.")
    if not 0 <= int(hour) <= 23:
        errors["hour"] = _("Between 0 and 23.")
    if not 0 <= int(minute) <= 59:
        errors["minute"] = _("Between 0 and 59.")
    if errors:
        raise ServiceError(_("Some fields are invalid."), errors)
    with transaction.atomic():
        s, created = BulletinSchedule.objects.select_for_update().get_or_create(
            template=t.code, unit=unit, defaults={"weekday": weekday, "hour": hour, "minute": minute,
                                                   "active": active, "created_at": now, "created_by": user})
        if not created:
            s.weekday, s.hour, s.minute, s.active = weekday, hour, minute, active
            s.save(update_fields=["weekday", "hour", "minute", "active"])
        audit.record("reports.schedule.set", s, after={"template": t.code, "weekday": weekday, "hour": hour,
                                                      "minute": minute, "active": active}, now=now)
    return s


def last_slot(schedule: BulletinSchedule, now: datetime) -> datetime:
    """The latest scheduled time at or before ``now`` (Asia/Shanghai wall clock)."""
    local = now.astimezone(kinds.TZ)
    slot = local.replace(hour=schedule.hour, minute=schedule.minute, second=0, microsecond=0)
    if schedule.weekday is None:
        return slot if slot <= local else slot - timedelta(days=1)
    slot -= timedelta(days=(local.weekday() - schedule.weekday) % 7)
    return slot if slot <= local else slot - timedelta(days=7)


def produce_due(now: datetime) -> int:
    """Draft every active schedule's bulletin for its latest slot (within a day of it) that has
    none yet. Idempotent: the unique (schedule, slot) key refuses a second draft, also when two
    runs overlap or a died job is retried. Returns how many drafts were made."""
    made = 0
    for s in BulletinSchedule.objects.filter(active=True).select_related("unit"):
        slot = last_slot(s, now)
        if now - slot > timedelta(days=1) or Bulletin.objects.filter(schedule=s, slot=slot).exists():
            continue
        t = kinds.TEMPLATES.get(s.template)
        if t is None:
            continue
        try:
            with transaction.atomic():
                draft(None, template=s.template, unit=s.unit, period=kinds.last_complete(t.period, slot), now=now,
                      schedule=s, slot=slot)
            made += 1
        except IntegrityError:
            continue  # an overlapping run made it
    return made
