"""Background jobs, run by ``bihuan worker`` on django-q2 (the database is the queue).

Apps register their periodic jobs here with ``register(name, every_seconds)`` (core never
imports the apps). Each job takes ``now`` and only *emits* — derived state never depends on
a job having run. ``bihuan worker`` keeps one django-q2 ``Schedule`` row per registered job
and runs the cluster; ``enqueue()`` hands one-off work (an import, a seal) to it.

django-q2's scheduler looks at the schedules about every 30 seconds, so a periodic job runs
at most once a minute: ``every_seconds`` is rounded up to whole minutes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

log = logging.getLogger("bihuan.jobs")

# Schedules this module owns are named with this prefix; others (made by hand) are left alone.
SCHEDULE_PREFIX = "bihuan:"
RUN_JOB = "bihuan.core.jobs.run_job"


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[datetime], object]

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.every_seconds / 60))


REGISTRY: dict[str, Job] = {}


def register(name: str, every_seconds: float):
    """Decorator: run ``func(now)`` every ``every_seconds`` (at least a minute) in the worker."""

    def deco(func):
        REGISTRY[name] = Job(name, every_seconds, func)
        return func

    return deco


def run_job(name: str, now: datetime | None = None):
    """Run one registered job. The worker's scheduled tasks call this with the time of the run."""
    job = REGISTRY[name]
    result = job.func(now or timezone.now())
    if result:
        log.info("%s: %s", name, result)
    return result


def enqueue(func: str, *args, name: str | None = None):
    """Hand ``func(*args)`` (a dotted path) to the worker. Returns the task id.

    With the ORM broker the task is a row written on the caller's connection, so inside a
    transaction it is queued only if that transaction commits. With ``Q_CLUSTER["sync"]``
    (the tests) the task runs here and now.
    """
    from django.db import transaction
    from django_q.tasks import async_task

    # django-q2's ORM broker calls close_old_connections() whenever it finds the connection in
    # autocommit mode: with CONN_MAX_AGE that closes *this thread's* connection, under whatever
    # cursor the caller has open (a sweep iterating matters when an audit entry asks for a seal
    # failed with "Cannot operate on a closed database"). Inside an atomic block it does not, and
    # the queue row commits with the block.
    with transaction.atomic():
        return async_task(func, *args, task_name=name)


def ensure_schedules(now: datetime) -> list[tuple[str, str]]:
    """One django-q2 Schedule per registered job (idempotent). Returns (name, what happened).

    A new schedule first runs at ``now``; an existing one keeps its next run unless its
    interval changed. Schedules of jobs no longer registered are removed.
    """
    from django_q.models import Schedule

    done = []
    for job in sorted(REGISTRY.values(), key=lambda j: j.name):
        sched_name = SCHEDULE_PREFIX + job.name
        wanted = {"func": RUN_JOB, "args": repr((job.name,)), "kwargs": None, "schedule_type": Schedule.MINUTES,
                  "minutes": job.minutes, "repeats": -1, "cluster": None}
        s = Schedule.objects.filter(name=sched_name).first()
        if s is None:
            Schedule.objects.create(name=sched_name, next_run=now, **wanted)
            done.append((job.name, "created"))
            continue
        changed = {k: v for k, v in wanted.items() if getattr(s, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(s, k, v)
            if "minutes" in changed or s.next_run is None:
                s.next_run = now
            s.save()
            done.append((job.name, "updated"))
        else:
            done.append((job.name, "unchanged"))
    stale = Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).exclude(
        name__in=[SCHEDULE_PREFIX + n for n in REGISTRY])
    for name in stale.values_list("name", flat=True):
        done.append((name.removeprefix(SCHEDULE_PREFIX), "removed"))
    stale.delete()
    return done


@register("audit.seal", every_seconds=60)
def _seal_audit(now: datetime):
    """The fallback: entries are normally sealed right after they commit (audit.record). Also
    anchors the chain head outside the database (a signed checkpoint, when the head moved)."""
    from . import audit

    sealed = audit.seal_all()
    audit.write_checkpoint(now)
    return sealed


@register("sessions.clear", every_seconds=24 * 3600)
def _clear_expired_sessions(now: datetime):
    """Expired sessions (files on SQLite, rows on PostgreSQL) are removed once a day."""
    from importlib import import_module

    from django.conf import settings

    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return None
