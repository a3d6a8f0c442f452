"""The one rule for check-in periods and an assignment's status (derived, never stored).

**Periods.** A task's cadence cuts time into periods: weekly and fortnightly periods run from
the task's start; monthly and quarterly ones are calendar months and quarters. The check-in for
a period is due ``grace_days`` working days (the calendar the loop uses, ``core.calendar``)
after the period's last day, at the end of office hours.

**Status** of an assignment at ``now`` (first match wins):

1. *done* — the unit reported the task completed, or its last value reaches the target;
2. *late* — the task's due date has passed, or the check-in of the last period whose due
   point has passed is missing, or the last milestone past its date is not reached (neither
   reported reached nor met by the last value);
3. *not started* — no check-in yet (or the task has not started);
4. *at risk* — the last value is behind the linear path from the baseline at the task's start
   to the target at its due date;
5. *on track* — otherwise.

Per task the thresholds at ``now`` are computed once (``Clock``); per assignment the rule is one
SQL ``CASE`` (``status_expr``), so the map, the lists and the API count in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import BooleanField, CharField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from bihuan.core.calendar import WorkCalendar

from .models import Cadence, Direction, Status

STEP_DAYS = {"daily": 1, Cadence.WEEKLY: 7, Cadence.FORTNIGHTLY: 14}  # daily: campaigns only


def _local_date(now: datetime) -> date:
    return timezone.localtime(now).date() if timezone.is_aware(now) else now.date()


def covered_period(task, first_period_start: date, last_period_start: date | None, now: datetime) -> date:
    """The period a check-in made now counts for: the earliest one not yet reported (catching up),
    or the current one when the unit is up to date (a second report updates it). ``task`` is the
    schedule (a task or a campaign: ``cadence``, ``starts_on``, ``due_on``, ``grace_days``)."""
    today = _local_date(now)
    current = period_of(task, min(max(today, task.starts_on), task.due_on))
    nxt = first_period_start if last_period_start is None else next_period(task, last_period_start)
    if nxt <= current:
        return nxt
    return last_period_start or first_period_start


def period_of(task, d: date) -> date:
    """The start of the period of ``task`` that contains day ``d``."""
    if task.cadence in STEP_DAYS:
        step = STEP_DAYS[task.cadence]
        k = (d - task.starts_on).days // step
        return task.starts_on + timedelta(days=k * step)
    if task.cadence == Cadence.QUARTERLY:
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return date(d.year, d.month, 1)


def next_period(task, start: date) -> date:
    if task.cadence in STEP_DAYS:
        return start + timedelta(days=STEP_DAYS[task.cadence])
    months = 3 if task.cadence == Cadence.QUARTERLY else 1
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


def previous_period(task, start: date) -> date:
    return period_of(task, start - timedelta(days=1))


def period_due(task, start: date, cal: WorkCalendar | None = None) -> datetime:
    """When the check-in for the period starting ``start`` is due."""
    cal = cal or WorkCalendar(strict=False)
    last_day = min(next_period(task, start) - timedelta(days=1), task.due_on)
    return cal.add_working_days(last_day, task.grace_days)


def day_deadline(d: date, cal: WorkCalendar | None = None) -> datetime:
    """End of office hours of day ``d`` (or of the next working day): a milestone's deadline."""
    return (cal or WorkCalendar(strict=False)).add_working_days(d, 0)


def last_due_period(task, now: datetime, cal: WorkCalendar) -> date | None:
    """The start of the latest period whose check-in is already due at ``now`` (None: none yet)."""
    today = _local_date(now)
    p = period_of(task, min(today, task.due_on))
    first = period_of(task, task.starts_on)
    for _i in range(4):  # a grace period is shorter than a few periods
        if p < first:
            return None
        if period_due(task, p, cal) <= now:
            return p
        p = previous_period(task, p)
    return None


def reaches(value, threshold, direction: str) -> bool:
    if value is None or threshold is None:
        return False
    return value >= threshold if direction == Direction.HIGHER else value <= threshold


@dataclass(frozen=True)
class Clock:
    """A task's thresholds at one moment."""

    task_id: int
    started: bool
    overdue: bool
    cutoff: date | None  # period whose check-in is due and must be there
    milestone_id: int | None  # the last milestone past its date
    milestone_seq: int
    milestone_value: Decimal | None
    expected: Decimal | None  # the value on the linear path at now
    target: Decimal | None
    direction: str


def clock(task, now: datetime, cal: WorkCalendar | None = None) -> Clock:
    cal = cal or WorkCalendar(strict=False)
    today = _local_date(now)
    passed = [m for m in task.milestones.all() if day_deadline(m.due_on, cal) <= now]
    last = max(passed, key=lambda m: m.seq) if passed else None
    expected = None
    if task.target_value is not None:
        span = (task.due_on - task.starts_on).days or 1
        frac = min(max((today - task.starts_on).days / span, 0.0), 1.0)
        expected = (task.baseline_value + (task.target_value - task.baseline_value) * Decimal(str(frac))
                    ).quantize(Decimal("0.01"))
    return Clock(task_id=task.pk, started=task.starts_on <= today, overdue=day_deadline(task.due_on, cal) <= now,
                 cutoff=last_due_period(task, now, cal), milestone_id=last.pk if last else None,
                 milestone_seq=last.seq if last else 0, milestone_value=last.value if last else None,
                 expected=expected, target=task.target_value, direction=task.direction)


# --- the rule as SQL -------------------------------------------------------------------------
# Written as SQL text with parameters (not Q/When objects): a plan of 60 tasks gives a CASE of a
# few hundred terms, which Django would spend most of a request resolving; the text is built in
# microseconds and runs the same on PostgreSQL and SQLite. ``T`` is the assignment table.

T = "plans_assignment"
Cond = tuple[str, list]


def _reaches(threshold, direction: str, t: str = T) -> Cond:
    """Never NULL (so that NOT of it is safe): no value reaches nothing."""
    op = ">=" if direction == Direction.HIGHER else "<="
    return f"({t}.last_value IS NOT NULL AND {t}.last_value {op} %s)", [threshold]


def _short_of(threshold, direction: str, t: str = T) -> Cond:
    op = "<" if direction == Direction.HIGHER else ">"
    return f"({t}.last_value IS NULL OR {t}.last_value {op} %s)", [threshold]


def done_sql(c: Clock) -> Cond:
    if c.target is None:
        return f"{T}.completed_at IS NOT NULL", []
    sql, params = _reaches(c.target, c.direction)
    return f"({T}.completed_at IS NOT NULL OR {sql})", params


def missing_sql(c: Clock, t: str = T) -> Cond | None:
    """The check-in of the last due period is missing."""
    if c.cutoff is None:
        return None
    return (f"({t}.last_period_start < %s OR ({t}.last_period_start IS NULL AND {t}.first_period_start <= %s))",
            [c.cutoff, c.cutoff])


def milestone_missed_sql(c: Clock) -> Cond | None:
    if not c.milestone_seq:
        return None
    if c.milestone_value is None:
        return f"{T}.reached_seq < %s", [c.milestone_seq]
    sql, params = _short_of(c.milestone_value, c.direction)
    return f"({T}.reached_seq < %s AND {sql})", [c.milestone_seq, *params]


def _task_case(c: Clock) -> Cond:
    parts, params = [], []

    def when(cond: Cond, status: str):
        parts.append(f"WHEN {cond[0]} THEN '{status}'")
        params.extend(cond[1])

    when(done_sql(c), Status.DONE)
    if c.started:
        late = [x for x in (missing_sql(c), milestone_missed_sql(c)) if x is not None]
        if c.overdue:
            late = [("1 = 1", [])]
        if late:
            when((" OR ".join(x[0] for x in late), [p for x in late for p in x[1]]), Status.LATE)
        when((f"{T}.last_checkin_at IS NULL", []), Status.NOT_STARTED)
        if c.expected is not None:
            when(_short_of(c.expected, c.direction), Status.AT_RISK)
        default = Status.ON_TRACK
    else:
        default = Status.NOT_STARTED
    return f"CASE {' '.join(parts)} ELSE '{default}' END", params


def status_sql(clocks) -> Cond:
    parts, params = [], []
    for c in clocks:
        sql, p = _task_case(c)
        parts.append(f"WHEN {T}.task_id = %s THEN {sql}")
        params += [c.task_id, *p]
    if not parts:
        return f"'{Status.NOT_STARTED}'", []
    return f"CASE {' '.join(parts)} ELSE '{Status.NOT_STARTED}' END", params


def status_expr(clocks) -> RawSQL:
    """The status of an assignment row as SQL, given the clocks of the tasks it may belong to."""
    sql, params = status_sql(clocks)
    return RawSQL(sql, params, output_field=CharField())


def where(qs, cond: Cond | None):
    """``qs`` filtered by one of the conditions above (None: no row matches)."""
    if cond is None:
        return qs.none()
    name = f"_cond{len(qs.query.annotations)}"
    return qs.alias(**{name: RawSQL(cond[0], cond[1], output_field=BooleanField())}).filter(**{name: True})


def clocks_for(tasks, now: datetime, cal: WorkCalendar | None = None) -> list[Clock]:
    cal = cal or WorkCalendar(strict=False)
    return [clock(t, now, cal) for t in tasks]


def with_status(qs, now: datetime, tasks=None, cal: WorkCalendar | None = None):
    """``qs`` of assignments annotated with ``status`` (tasks: those the rows may belong to)."""
    from .models import Task

    if tasks is None:
        tasks = Task.objects.filter(pk__in=qs.order_by().values("task_id").distinct())
    tasks = list(tasks.prefetch_related("milestones") if hasattr(tasks, "prefetch_related") else tasks)
    return qs.annotate(status=status_expr(clocks_for(tasks, now, cal)))


# --- campaigns: the same rule on a campaign's targets ---------------------------------------------

CT = "plans_campaigntarget"


def campaign_clock(campaign, now: datetime, cal: WorkCalendar | None = None) -> Clock:
    """A campaign's thresholds at ``now``: its schedule is a task's (daily or weekly periods)."""
    cal = cal or WorkCalendar(strict=False)
    today = _local_date(now)
    span = (campaign.ends_on - campaign.starts_on).days or 1
    frac = min(max(((today - campaign.starts_on).days + 1) / span, 0.0), 1.0)
    return Clock(task_id=campaign.pk, started=campaign.starts_on <= today,
                 overdue=day_deadline(campaign.ends_on, cal) <= now, cutoff=last_due_period(campaign, now, cal),
                 milestone_id=None, milestone_seq=0, milestone_value=None, expected=Decimal(str(round(frac, 4))),
                 target=None, direction=Direction.HIGHER)


def campaign_status_expr(c: Clock) -> RawSQL:
    """A target's status: done (value reaches its target), late (a due check-in is missing, or the
    campaign is over), not started, at risk (behind the straight line to the target), on track."""
    t = CT
    parts = [f"WHEN ({t}.last_value IS NOT NULL AND {t}.last_value >= {t}.target) THEN '{Status.DONE}'"]
    params: list = []
    if c.started:
        if c.overdue:
            parts.append(f"WHEN 1 = 1 THEN '{Status.LATE}'")
        else:
            missing = missing_sql(c, t)
            if missing is not None:
                parts.append(f"WHEN {missing[0]} THEN '{Status.LATE}'")
                params += missing[1]
        parts.append(f"WHEN {t}.last_checkin_at IS NULL THEN '{Status.NOT_STARTED}'")
        parts.append(f"WHEN {t}.last_value < {t}.target * %s THEN '{Status.AT_RISK}'")
        params.append(c.expected)
        default = Status.ON_TRACK
    else:
        default = Status.NOT_STARTED
    return RawSQL(f"CASE {' '.join(parts)} ELSE '{default}' END", params, output_field=CharField())
