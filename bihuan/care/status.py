"""Whether a visit is due, late or missed: derived from its window, its check-in and ``now``.

One rule, used by the board (as SQL), the round page, the API and the sweep:

* checked in → its outcome (done, not home, unwell, refused);
* not checked in, ``now`` ≤ end of window + ``GRACE`` → due;
* not checked in, past that → missed (the sweep opens one loop matter for it).

A check-in is accepted from ``EARLY`` before the window opens until ``LATE_LIMIT`` after it
closes; after the grace period it is flagged late.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, CharField, Q, Value, When

GRACE = timedelta(minutes=60)
EARLY = timedelta(hours=2)
LATE_LIMIT = timedelta(hours=48)

DUE, MISSED = "due", "missed"


def missed_q(now: datetime) -> Q:
    return Q(outcome="", ends_at__lt=now - GRACE)


def due_q(now: datetime) -> Q:
    return Q(outcome="", ends_at__gte=now - GRACE)


def status_of(visit, now: datetime) -> str:
    if visit.outcome:
        return visit.outcome
    return MISSED if visit.ends_at < now - GRACE else DUE


def status_expr(now: datetime):
    """The same as ``status_of`` in SQL (for filters and counts)."""
    return Case(When(~Q(outcome=""), then="outcome"), When(missed_q(now), then=Value(MISSED)),
                default=Value(DUE), output_field=CharField())
