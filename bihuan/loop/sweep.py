"""``bihuan sweep``: emit the reminders and escalations that are due at ``now``.

Five points per matter, each emitted at most once per deadline:

* ``dispatch_warn@<dispatch_due_at>`` — awaiting dispatch (待交办) past the dispatch warning point
  (``dispatch_warn_at``) → reminder (催办) to the dispatching unit;
* ``dispatch_overdue@<dispatch_due_at>`` — awaiting dispatch past the dispatch limit → flagged
  supervision (挂牌督办) at the parent of the dispatching unit;
* ``accept@<accept_due_at>`` — dispatched but not accepted within the acceptance limit → reminder (催办);
* ``warn@<due_at>`` — the warning point (``warn_at``) has passed, still open → reminder;
* ``overdue@<due_at>`` — overdue → flagged supervision (挂牌督办) at the parent of the lead unit.

An extension moves ``due_at``, and a send-back starts a new dispatch limit, so the new deadline
gets its own points. The unique constraint
on ``Reminder(matter, kind, point)`` makes a second run (or two concurrent workers) emit
nothing new. The sweep only *emits*: lights and overdue are derived elsewhere and do not
depend on it having run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError

from . import services
from .models import RUNNING_STATES, Matter, Reminder, ReminderKind, State
from .selectors import dispatch_overdue_q, overdue_q

log = logging.getLogger("bihuan.sweep")


@dataclass
class SweepResult:
    reminders: int = 0
    escalations: int = 0
    skipped: int = 0
    details: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.reminders or self.escalations)

    def __str__(self) -> str:
        return f"{self.reminders} reminders, {self.escalations} escalations, {self.skipped} skipped"


def _not_emitted(kind: str, label: str, deadline_field: str):
    return ~Exists(Reminder.objects.filter(matter=OuterRef("pk"), kind=kind, deadline=OuterRef(deadline_field),
                                           point__startswith=f"{label}@"))


def _iso(dt: datetime) -> str:
    from datetime import UTC

    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sweep(now: datetime | None = None, *, batch: int = 500) -> SweepResult:
    now = now or timezone.now()
    res = SweepResult()
    plans = [
        ("dispatch_warn", ReminderKind.REMIND, "dispatch_due_at",
         Q(state=State.NEW, dispatch_warn_at__lte=now, dispatch_due_at__gte=now)),
        ("dispatch_overdue", ReminderKind.ESCALATE, "dispatch_due_at", dispatch_overdue_q(now) & Q(flagged=False)),
        ("accept", ReminderKind.REMIND, "accept_due_at",
         Q(state=State.DISPATCHED, accept_due_at__lt=now)),
        ("warn", ReminderKind.REMIND, "due_at",
         Q(state__in=[State.DISPATCHED, State.IN_PROGRESS], warn_at__lte=now, due_at__gte=now)),
        ("overdue", ReminderKind.ESCALATE, "due_at", overdue_q(now) & Q(state__in=RUNNING_STATES, flagged=False)),
    ]
    with acting_as(None, username="sweep"):
        for label, kind, deadline_field, cond in plans:
            qs = (Matter.objects.filter(cond).filter(_not_emitted(kind, label, deadline_field))
                  .only("id", "version", deadline_field).order_by("id"))
            for m in qs.iterator(chunk_size=batch):
                deadline = getattr(m, deadline_field)
                point = f"{label}@{_iso(deadline)}"
                try:
                    if kind == ReminderKind.REMIND:
                        done = services.remind(None, m.pk, version=m.version, now=now, point=point, deadline=deadline)
                        res.reminders += done is not None
                    else:
                        done = services.flag(None, m.pk, version=m.version, now=now, point=point, deadline=deadline)
                        res.escalations += done is not None
                except ServiceError as exc:  # changed meanwhile (409) or no longer applicable: next run
                    res.skipped += 1
                    log.info("sweep skipped matter %s at %s: %s", m.pk, point, exc)
    return res
