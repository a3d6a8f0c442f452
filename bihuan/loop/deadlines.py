"""A matter's time limits, computed in one place: services, seeds and benchmarks all call these.

From the moment a matter is dispatched (``start``), on the working-day calendar:

* ``accept_due_at`` — ``start`` + the category's acceptance limit in working hours;
* ``due_at`` — ``start`` + the category's handling limit in working days;
* ``warn_at`` — the warning point: ``warn_percent`` % of the working hours from ``start`` to
  ``due_at`` (a yellow light and a reminder from there on).

An extension moves ``due_at``; the warning point is then recomputed over the longer span, still
from the original dispatch. A year without calendar data is counted Monday–Friday and the matter
carries a visible ``calendar_warning`` (recalculated later, see ``services.recalc``).
"""

from __future__ import annotations

from datetime import datetime

from bihuan.core.calendar import CalendarUnknownYear, WorkCalendar


def calendar() -> WorkCalendar:
    """The calendar deadlines are counted on: unknown years do not fail, they warn."""
    return WorkCalendar(strict=False)


def warning_point(cal: WorkCalendar, start: datetime, due: datetime, warn_percent: float) -> datetime:
    """``warn_percent`` % of the working hours from ``start`` to ``due``, counted from ``start``."""
    return cal.add_working_hours(start, cal.working_hours_between(start, due) * warn_percent / 100)


def calendar_warning(cal: WorkCalendar) -> str:
    """The warning a matter shows when ``cal`` had to guess a year (empty when it did not)."""
    return CalendarUnknownYear(cal.warnings).message[:200] if cal.warnings else ""


def deadlines(category, start: datetime, *, days: int | None = None, cal: WorkCalendar | None = None) -> dict:
    """``accept_due_at``, ``warn_at``, ``due_at`` and ``calendar_warning`` for a matter of
    ``category`` dispatched (or reopened) at ``start``; ``days`` overrides the handling limit.

    ``cal`` lets a bulk generator pass one memoised calendar; its warnings then accumulate."""
    cal = cal or calendar()
    due = cal.add_working_days(start, category.handle_days if days is None else days)
    return {"accept_due_at": cal.add_working_hours(start, float(category.accept_hours)),
            "warn_at": warning_point(cal, start, due, category.warn_percent),
            "due_at": due, "calendar_warning": calendar_warning(cal)}


def extended(matter, days: int, *, now: datetime, cal: WorkCalendar | None = None) -> dict:
    """The fields an approved extension of ``days`` working days sets on ``matter``."""
    cal = cal or calendar()
    new_due = cal.add_working_days(matter.due_at, days)
    start = matter.dispatched_at or now
    fields = {"due_at": new_due, "warn_at": warning_point(cal, start, new_due, matter.category.warn_percent),
              "extensions_used": matter.extensions_used + 1}
    if cal.warnings:
        fields["calendar_warning"] = calendar_warning(cal)
    return fields


def handling_hours(dispatched_at: datetime, reported_at: datetime) -> float:
    """Working hours from the dispatch to the accepted report (the unit's handling time)."""
    return round(calendar().working_hours_between(dispatched_at, reported_at), 2)
