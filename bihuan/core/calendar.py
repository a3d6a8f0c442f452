"""Working time on the Chinese statutory calendar (法定节假日 and 调休), with local overrides.

Whether a date is a working day is decided, in order, by:

1. an admin's ``CalendarOverride`` for that date (a local holiday, a late-announced 调休 …);
2. the ``chinesecalendar`` package, for the years it has data for;
3. otherwise the year is **unknown**: ``CalendarUnknownYear`` is raised. A year becomes
   known when an admin enters at least one override in it (they are expected to enter that
   year's whole arrangement from the State Council notice).

Nothing here guesses silently. Callers that must still produce a deadline (the loop does, so
a resident's demand is never refused because of a calendar gap) call with ``strict=False``:
the unknown year is then treated as Monday–Friday and the returned ``WorkingTime`` carries
the unknown years in ``warnings`` so the UI and API can show them.

Office hours are 08:30–12:00 and 13:30–17:30 Asia/Shanghai (7.5 working hours a day).
All functions take and return aware datetimes; naive ones are read as Asia/Shanghai.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from .scope import require_city_wide

TZ = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
HOURS_PER_DAY = sum((datetime.combine(date.min, b) - datetime.combine(date.min, a)).seconds
                    for a, b in OFFICE_HOURS) / 3600
DAY_END = OFFICE_HOURS[-1][1]


class CalendarUnknownYear(Exception):
    """A date falls in a year with neither statutory data nor any admin override."""

    def __init__(self, years):
        self.years = sorted(set(years))
        super().__init__(self.message)

    @property
    def message(self) -> str:
        ys = ", ".join(str(y) for y in self.years)
        return str(_("The working-day calendar has no data for %(years)s; add the year's holidays and "
                     "adjusted workdays as calendar overrides.") % {"years": ys})


@cache
def package_years() -> range:
    """Years the installed ``chinesecalendar`` covers (fixed for the process; asked once per day
    checked, so computed once)."""
    from chinese_calendar.constants import holidays

    return range(min(holidays).year, max(holidays).year + 1)


def _package_is_workday(d: date) -> bool:
    from chinese_calendar import is_workday

    return is_workday(d)


# --- the overrides, shared by the process for a bounded time ---------------------------------------
#
# Every dispatch, response and evaluation asks the calendar; reading the year's overrides each time
# was one query per request (issue 18). A process keeps a year's overrides for at most
# ``settings.BIHUAN_CALENDAR_CACHE_SECONDS`` (default 2 s): an override saved in this process takes
# effect on its next calendar read (the save clears the cache, and again at commit); one saved in
# another worker process within that bound. Overrides are entered ahead of the dates they change,
# so the bound costs nothing in practice; 0 turns the sharing off.

_SHARED: dict[int, tuple[float, dict[date, bool]]] = {}


def _cache_seconds() -> float:
    from django.conf import settings

    return float(getattr(settings, "BIHUAN_CALENDAR_CACHE_SECONDS", 2.0))


def forget_overrides(**_kwargs) -> None:
    """Drop the process's shared overrides (on every save or delete of one, and at its commit)."""
    _SHARED.clear()


def overrides_changed(**_kwargs) -> None:
    """``post_save``/``post_delete`` of ``CalendarOverride``: forget now, and again once the
    transaction commits (a read in between would have kept what was not yet committed)."""
    from django.db import transaction

    forget_overrides()
    transaction.on_commit(forget_overrides)


def _shared_year(year: int) -> dict[date, bool]:
    from time import monotonic

    from .models import CalendarOverride

    ttl = _cache_seconds()
    hit = _SHARED.get(year)
    if hit is not None and monotonic() - hit[0] < ttl:
        return hit[1]
    read_at = monotonic()
    rows = dict(CalendarOverride.objects.filter(date__year=year).values_list("date", "is_workday"))
    if ttl > 0:
        _SHARED[year] = (read_at, rows)
    return rows


@dataclass
class WorkCalendar:
    """One consistent view of the calendar: overrides are read once per year touched (from the
    process's shared copy, at most ``BIHUAN_CALENDAR_CACHE_SECONDS`` old), and each date's answer
    is kept.

    Build one per operation (or per seed run); it does not see overrides saved after it read them.
    """

    strict: bool = True
    warnings: set[int] = field(default_factory=set)
    _overrides: dict[int, dict[date, bool]] = field(default_factory=dict)
    _days: dict[date, bool] = field(default_factory=dict, repr=False)

    def _year_overrides(self, year: int) -> dict[date, bool]:
        if year not in self._overrides:
            self._overrides[year] = _shared_year(year)
        return self._overrides[year]

    def year_known(self, year: int) -> bool:
        return year in package_years() or bool(self._year_overrides(year))

    def is_workday(self, d: date) -> bool:
        known = self._days.get(d)
        if known is None:
            known = self._days[d] = self._is_workday(d)
        return known

    def _is_workday(self, d: date) -> bool:
        ov = self._year_overrides(d.year)
        if d in ov:
            return ov[d]
        if d.year in package_years():
            return _package_is_workday(d)
        if ov:  # the admins have entered this year: weekends otherwise
            return d.weekday() < 5
        if self.strict:
            raise CalendarUnknownYear([d.year])
        self.warnings.add(d.year)
        return d.weekday() < 5

    def next_workday(self, d: date, *, include: bool = True) -> date:
        if not include:
            d += timedelta(days=1)
        for _i in range(400):
            if self.is_workday(d):
                return d
            d += timedelta(days=1)
        raise ValueError("no working day within 400 days")  # pragma: no cover - a broken override table

    # --- working days --------------------------------------------------------------------
    def add_working_days(self, start: datetime | date, n: int) -> datetime:
        """End of office hours (17:30) on the ``n``-th working day after ``start``'s day.

        The start day itself is not counted ("N个工作日内" starts the next working day).
        ``n = 0`` means the end of the start day if it is a working day, else of the next one.
        """
        d = _local(start).date() if isinstance(start, datetime) else start
        if n <= 0:
            d = self.next_workday(d)
        else:
            for _i in range(n):
                d = self.next_workday(d, include=False)
        return datetime.combine(d, DAY_END, tzinfo=TZ)

    # --- working hours -------------------------------------------------------------------
    def _intervals(self, d: date):
        if not self.is_workday(d):
            return []
        return [(datetime.combine(d, a, tzinfo=TZ), datetime.combine(d, b, tzinfo=TZ)) for a, b in OFFICE_HOURS]

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (office hours on working days only)."""
        t = _local(start)
        remaining = timedelta(hours=hours)
        d = t.date()
        if remaining <= timedelta(0):
            return t
        for _i in range(4000):
            for a, b in self._intervals(d):
                if t >= b:
                    continue
                begin = max(a, t)
                span = b - begin
                if remaining <= span:
                    return begin + remaining
                remaining -= span
                t = b
            d += timedelta(days=1)
            t = datetime.combine(d, time(0), tzinfo=TZ)
        raise ValueError("working-hour span too large")  # pragma: no cover

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        a, b = _local(a), _local(b)
        if b < a:
            return -self.working_hours_between(b, a)
        total = timedelta(0)
        d = a.date()
        while d <= b.date():
            for s, e in self._intervals(d):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += hi - lo
            d += timedelta(days=1)
        return total.total_seconds() / 3600


def _local(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


# --- module-level shortcuts (strict: an unknown year raises) -------------------------------

def is_workday(d: date) -> bool:
    return WorkCalendar().is_workday(d)


def add_working_days(start: datetime | date, n: int) -> datetime:
    return WorkCalendar().add_working_days(start, n)


def add_working_hours(start: datetime, hours: float) -> datetime:
    return WorkCalendar().add_working_hours(start, hours)


def working_hours_between(a: datetime, b: datetime) -> float:
    return WorkCalendar().working_hours_between(a, b)


def unknown_years(years) -> list[int]:
    """Of ``years``, those the calendar has no data for (for a warning banner)."""
    cal = WorkCalendar()
    return [y for y in sorted(set(years)) if not cal.year_known(y)]


# --- admin overrides (services: permission, validation, audit, one transaction) ------------------

MANAGE = "core.calendar.manage"
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_NOTE = 100


# Overrides change deadlines city-wide: the permission with a city-wide scope (core.scope.require_city_wide).
CITY_WIDE = _("The working-day calendar applies to the whole city; only a city-wide "
               "administrator can change it.")


def _check_date(d) -> date:
    from .errors import ServiceError

    if not isinstance(d, date) or isinstance(d, datetime):
        raise ServiceError(_("Enter a valid date."), {"date": _("Enter a valid date.")})
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise ServiceError(_("The date must be between %(a)d and %(b)d.") % {"a": FIRST_YEAR, "b": LAST_YEAR},
                           {"date": _("Out of range.")})
    return d


def set_override(user, d: date, is_workday: bool, note: str = "", *, now: datetime | None = None):
    """Create or change the override for one date (permission, audit, atomic).

    ``user=None`` is the system (seeds, tests). The first override of a year the package does not
    know makes that year known (see the module docstring).
    """
    from django.db import transaction

    from . import audit
    from .errors import ServiceError
    from .models import CalendarOverride

    require_city_wide(user, MANAGE, CITY_WIDE)
    d = _check_date(d)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ServiceError(_("The note is too long: %(n)d characters, at most %(max)d.")
                           % {"n": len(note), "max": MAX_NOTE}, {"note": _("At most %(max)d characters.")
                                                                 % {"max": MAX_NOTE}})
    if is_workday not in (True, False):
        raise ServiceError(_("Say whether the date is a working day or a day off."),
                           {"is_workday": _("This field is required.")})
    with transaction.atomic():
        before = CalendarOverride.objects.select_for_update().filter(date=d).values("is_workday", "note").first()
        obj, _created = CalendarOverride.objects.update_or_create(
            date=d, defaults={"is_workday": is_workday, "note": note})
        audit.record("core.calendar.override", obj, before=before,
                     after={"date": d, "is_workday": is_workday, "note": obj.note}, now=now)
    return obj


def delete_override(user, d: date, *, now: datetime | None = None) -> bool:
    """Remove the override for one date (permission, audit, atomic). False when there was none."""
    from django.db import transaction

    from . import audit
    from .models import CalendarOverride

    require_city_wide(user, MANAGE, CITY_WIDE)
    with transaction.atomic():
        obj = CalendarOverride.objects.select_for_update().filter(date=d).first()
        if obj is None:
            return False
        audit.record("core.calendar.override.delete", obj,
                     before={"date": d, "is_workday": obj.is_workday, "note": obj.note}, now=now)
        obj.delete()
    return True


@dataclass
class YearStatus:
    year: int
    source: str  # "package", "overrides" (admins entered it), "unknown"
    overrides: int  # override rows in that year

    @property
    def known(self) -> bool:
        return self.source != "unknown"


def year_statuses(years) -> list[YearStatus]:
    """For each of ``years``: where its working days come from, and how many overrides it has
    (one grouped query)."""
    from django.db.models import Count
    from django.db.models.functions import ExtractYear

    from .models import CalendarOverride

    years = sorted(set(years))
    if not years:
        return []
    counts = dict(CalendarOverride.objects.filter(date__year__gte=years[0], date__year__lte=years[-1])
                  .annotate(y=ExtractYear("date")).values("y").annotate(n=Count("id")).values_list("y", "n"))
    pkg = package_years()
    out = []
    for y in years:
        n = counts.get(y, 0)
        source = "package" if y in pkg else ("overrides" if n else "unknown")
        out.append(YearStatus(y, source, n))
    return out


def years_of_interest(today: date) -> list[int]:
    """The years an admin should check: those the package knows, any with overrides, and this
    year and the next two (deadlines run into the next year from the autumn on)."""
    from django.db.models.functions import ExtractYear

    from .models import CalendarOverride

    pkg = package_years()
    with_rows = set(CalendarOverride.objects.annotate(y=ExtractYear("date")).values_list("y", flat=True).distinct())
    start = min(today.year - 1, pkg.stop - 1)
    return sorted({*range(start, today.year + 3), *with_rows})
