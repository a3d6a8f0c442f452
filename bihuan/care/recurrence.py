"""RFC 5545 recurrence rules for care services, through ``dateutil.rrule`` (one rule, strictly read).

A service's rule says on which *days* it happens; its time window says when on that day. So a
rule may not go below a day (no ``HOURLY``/``MINUTELY``/``SECONDLY``, no ``BYHOUR``/``BYMINUTE``/
``BYSECOND``): one service makes at most one visit a day, and three meals a day are three services
(breakfast, lunch, supper), each with its own window and helper. The start comes from the service
(``DTSTART`` in the text is refused), ``COUNT`` and ``INTERVAL`` are bounded, and a rule that
yields no day at all is refused.

Occurrences are computed for one day at a time (``occurs_on``): nothing is pre-generated.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from dateutil import rrule as du
from django.utils.translation import gettext as _

from bihuan.core.errors import ServiceError

MAX_LENGTH = 300
MAX_COUNT = 3660
MAX_INTERVAL = 366
ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
ALLOWED_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST",
                 "BYYEARDAY", "BYWEEKNO"}
_PART = re.compile(r"^[A-Z]+=[A-Za-z0-9,+\-]+$")

# Common rules, offered on the form (label, rule).
PRESETS = (
    (_("every day"), "FREQ=DAILY"),
    (_("every week on Monday"), "FREQ=WEEKLY;BYDAY=MO"),
    (_("every month on the 1st"), "FREQ=MONTHLY;BYMONTHDAY=1"),
    (_("Monday to Friday"), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
)


def _refuse(message, field: str = "rrule"):
    return ServiceError(message, {field: message}, code="bad_rrule")


def normalise(text) -> str:
    """The rule as stored: upper case, no ``RRULE:`` prefix, parts checked one by one."""
    if not isinstance(text, str):
        raise _refuse(_("The recurrence must be text such as FREQ=DAILY."))
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise _refuse(_("The recurrence is required (for example FREQ=DAILY)."))
    if len(text) > MAX_LENGTH or "\n" in text or "\r" in text:
        raise _refuse(_("The recurrence is too long or has more than one line."))
    parts = [p for p in text.upper().split(";") if p]
    names = []
    for p in parts:
        if not _PART.match(p):
            raise _refuse(_("The recurrence part %(p)s is not NAME=VALUE.") % {"p": p[:40]})
        name, _eq, value = p.partition("=")
        if name not in ALLOWED_PARTS:
            raise _refuse(_("%(p)s is not allowed in a care recurrence (one visit a day at most; the time "
                            "comes from the window).") % {"p": name})
        if name in names:
            raise _refuse(_("%(p)s appears twice.") % {"p": name})
        names.append(name)
        if name == "FREQ" and value not in ALLOWED_FREQ:
            raise _refuse(_("The frequency must be DAILY, WEEKLY, MONTHLY or YEARLY; a service happens at most "
                            "once a day (add one service per meal)."))
        if name == "COUNT" and (not value.isdigit() or not 1 <= int(value) <= MAX_COUNT):
            raise _refuse(_("COUNT must be between 1 and %(n)d.") % {"n": MAX_COUNT})
        if name == "INTERVAL" and (not value.isdigit() or not 1 <= int(value) <= MAX_INTERVAL):
            raise _refuse(_("INTERVAL must be between 1 and %(n)d.") % {"n": MAX_INTERVAL})
    if not names or names[0] != "FREQ" and "FREQ" not in names:
        raise _refuse(_("The recurrence needs a FREQ (for example FREQ=DAILY)."))
    return ";".join(parts)


def parse(text: str, starts_on: date) -> du.rrule:
    """The dateutil rule from ``starts_on`` (midnight, naive: days only). Refuses a rule dateutil
    cannot read or one that yields no day."""
    rule_text = normalise(text)
    try:
        rule = du.rrulestr(rule_text, dtstart=datetime.combine(starts_on, time(0)), forceset=False,
                           ignoretz=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _refuse(_("The recurrence cannot be read: %(e)s") % {"e": str(exc)[:100]})
    try:
        first = rule.after(datetime.combine(starts_on, time(0)) - timedelta(seconds=1), inc=True)
    except (ValueError, OverflowError):
        first = None
    if first is None:
        raise _refuse(_("The recurrence never happens after the start date."))
    return rule


def occurs_on(rule: du.rrule, day: date) -> bool:
    """Whether the rule has an occurrence on ``day`` (one day, computed; nothing stored)."""
    start = datetime.combine(day, time(0))
    nxt = rule.after(start - timedelta(seconds=1), inc=True)
    return nxt is not None and nxt.date() == day


def days_between(rule: du.rrule, first: date, last: date) -> list[date]:
    """The days in [first, last] the rule falls on (for a plan's preview)."""
    return [d.date() for d in rule.between(datetime.combine(first, time(0)), datetime.combine(last, time(23, 59)),
                                           inc=True)]
