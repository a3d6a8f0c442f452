"""Deadlines computed while a year had no calendar data, counted again once admins entered it
(the calendar page queues ``recalculate_deadlines_task``). Each matter changes through ``_commit``."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import scope
from bihuan.core.calendar import WorkCalendar
from bihuan.core.errors import Conflict

from .. import notify as notify_mod
from ..models import OPEN_STATES, Matter
from .base import _commit, _now


def _recalculated(matter: Matter, new: WorkCalendar) -> dict | None:
    """New deadline fields for a matter whose deadlines were computed while years of their span
    had no calendar data (treated as Monday–Friday, ``calendar_warning`` set), now that those years
    are known. None while one of them is still unknown.

    Deadlines are counted from a start (working days for ``due_at``, working hours for the
    others). Both calendars agree up to the first formerly unknown year, so the count is redone
    from there: what the old view counted after that point is counted again on the real days.
    """
    from datetime import date as date_cls
    from datetime import timedelta

    from bihuan.core.calendar import TZ, package_years

    start = (matter.dispatched_at or matter.created_at).astimezone(TZ)
    end = max(v for v in (matter.due_at, matter.warn_at, matter.accept_due_at, start) if v is not None)
    years = [y for y in range(start.year, end.astimezone(TZ).year + 1) if y not in package_years()]
    if not years or not all(new.year_known(y) for y in years):
        return None
    old = WorkCalendar(strict=False, _overrides={y: {} for y in years})  # those years as they were: Mon–Fri
    first = datetime(min(years), 1, 1, tzinfo=TZ)
    ref = max(start, first)
    fields: dict = {"calendar_warning": ""}
    if matter.due_at is not None:
        ref_day = max(start.date(), first.date() - timedelta(days=1))
        due_day = matter.due_at.astimezone(TZ).date()
        k, d = 0, ref_day
        while d < due_day:
            d += timedelta(days=1)
            k += old.is_workday(d)
        if k:
            fields["due_at"] = new.add_working_days(date_cls(ref_day.year, ref_day.month, ref_day.day), k)
    for name in ("warn_at", "accept_due_at"):
        value = getattr(matter, name)
        if value is not None and value > ref:
            fields[name] = new.add_working_hours(ref, old.working_hours_between(ref, value))
    return fields


def recalculate_deadlines(user, *, now: datetime | None = None, batch: int = 500) -> dict:
    """Recalculate the deadlines of open matters computed while a year had no calendar data, for
    the years admins have since entered. The calendar page queues this once an admin says the
    year's arrangement is complete (a year counts as known from its first override, so doing it
    on every saved date would fix deadlines on a half-entered year). Each matter changes in its own transaction, with an event, an audit entry and a
    notice to its lead unit when the deadline moved; a matter changed meanwhile is left for the next
    run. ``user=None`` is the system."""
    now = _now(now)
    scope.require_city_wide(user, "core.calendar.manage",
                            _("Only the city's calendar administrators can recalculate deadlines."))
    new = WorkCalendar(strict=False)
    counts = {"checked": 0, "recalculated": 0, "moved": 0, "still_unknown": 0, "conflicts": 0}
    last = 0
    while True:
        rows = list(Matter.objects.filter(state__in=OPEN_STATES, pk__gt=last).exclude(calendar_warning="")
                    .select_related("handling_unit").order_by("pk")[:batch])
        if not rows:
            return counts
        last = rows[-1].pk
        for m in rows:
            counts["checked"] += 1
            fields = _recalculated(m, new)
            if fields is None:
                counts["still_unknown"] += 1
                continue
            moved = "due_at" in fields and fields["due_at"] != m.due_at
            before_due = m.due_at
            try:
                with transaction.atomic():
                    _commit(None, m, "recalculate", to_state=None, now=now, fields=fields,
                            comment=_("The working-day calendar for these years has been entered; the "
                                      "deadlines were counted again on the real working days."),
                            data={"due_at_before": before_due.isoformat() if before_due else None,
                                  "due_at": m.due_at.isoformat() if m.due_at else None})
            except Conflict:
                counts["conflicts"] += 1
                continue
            counts["recalculated"] += 1
            if moved and m.handling_unit:
                counts["moved"] += 1
                notify_mod.notify(unit=m.handling_unit, matter=m, kind="deadline_recalculated",
                                  title=_("New deadline %(due)s: %(t)s")
                                  % {"due": timezone.localtime(m.due_at).strftime("%Y-%m-%d %H:%M"), "t": m.title},
                                  now=now)


def recalculate_deadlines_task(user_id: int) -> dict:
    """The worker's task, queued from the calendar page by ``user_id``."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return {"refused": "user gone"}
    from bihuan.core.context import acting_as

    with acting_as(user):
        return recalculate_deadlines(user, now=timezone.now())
