"""Shared validation for the evaluation services (edge checks; refusals name the field)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core.errors import ServiceError
from bihuan.core.text import has_control

TZ = ZoneInfo("Asia/Shanghai")
PERIOD_RE = re.compile(r"^(20\d\d)(?:(H[12])|(Q[1-4]))?$")


def now_or(now: datetime | None) -> datetime:
    return now or timezone.now()


def text(value, field: str, *, limit: int, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(field)s is too long (at most %(max)d characters).") % {"field": field, "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    if has_control(value):
        raise ServiceError(_("%(field)s contains control characters.") % {"field": field},
                           {field: _("Control characters are not allowed.")})
    return value


def decimal(value, field: str, *, low=None, high=None, required: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
        return None
    if isinstance(value, bool):
        raise ServiceError(_("%(field)s must be a number.") % {"field": field}, {field: _("Enter a number.")})
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ServiceError(_("%(field)s must be a number.") % {"field": field}, {field: _("Enter a number.")})
    if not d.is_finite() or abs(d) > Decimal("999999999"):
        raise ServiceError(_("%(field)s is out of range.") % {"field": field}, {field: _("Enter a smaller number.")})
    if (low is not None and d < Decimal(low)) or (high is not None and d > Decimal(high)):
        raise ServiceError(_("%(field)s must be between %(low)s and %(high)s.") % {"field": field, "low": low,
                                                                                  "high": high},
                           {field: _("Between %(low)s and %(high)s.") % {"low": low, "high": high}})
    return d.quantize(Decimal("0.01"))


def integer(value, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ServiceError(_("%(field)s must be a whole number.") % {"field": field}, {field: _("Enter a whole number.")})
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise ServiceError(_("%(field)s must be a whole number.") % {"field": field}, {field: _("Enter a whole number.")})
    if not low <= n <= high:
        raise ServiceError(_("%(field)s must be between %(low)s and %(high)s.") % {"field": field, "low": low,
                                                                                  "high": high},
                           {field: _("Between %(low)s and %(high)s.") % {"low": low, "high": high}})
    return n


def period_range(period, kind: str) -> tuple[str, date, date]:
    """``2026H1`` (half-year), ``2026Q3`` (quarter) or ``2026`` (year) → (label, first day, day after)."""
    label = str(period or "").strip().upper()
    m = PERIOD_RE.match(label)
    wanted = {"half": "2026H1", "quarter": "2026Q1", "year": "2026"}[kind]
    ok = m and ((kind == "half" and m.group(2)) or (kind == "quarter" and m.group(3))
                or (kind == "year" and not m.group(2) and not m.group(3)))
    if not ok:
        raise ServiceError(_("The period must look like %(example)s for this indicator set.") % {"example": wanted},
                           {"period": _("Like %(example)s.") % {"example": wanted}})
    year = int(m.group(1))
    if kind == "half":
        first = 1 if m.group(2) == "H1" else 7
        months = 6
    elif kind == "quarter":
        first = 3 * (int(m.group(3)[1]) - 1) + 1
        months = 3
    else:
        first, months = 1, 12
    start = date(year, first, 1)
    end_month = first + months
    end = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return label, start, end


def local_midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def day_of(value, field: str) -> date:
    """A calendar day from a ``date`` or ``YYYY-MM-DD``; refused otherwise (and before 2000)."""
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value or "").strip()[:10])
        except ValueError:
            raise ServiceError(_("%(field)s must be a date like 2026-03-01.") % {"field": field},
                               {field: _("A date like 2026-03-01.")})
    if value.year < 2000:
        raise ServiceError(_("%(field)s is out of range.") % {"field": field}, {field: _("From 2000 on.")})
    return value


def period_of(day: date, kind: str) -> str:
    """The period label (``2026H1``, ``2026Q3``, ``2026``) a day falls in."""
    if kind == "half":
        return f"{day.year}H{1 if day.month <= 6 else 2}"
    if kind == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    return str(day.year)
