"""Benchmark data: matters at county and city volume, written with COPY.

The loop's own bulk seed (``bihuan.loop.seed.seed_bulk``) builds the same kind of year but
through ``bulk_create`` with events, at about 360 matters/s on this machine (most of it the
working-day calendar, which is consulted afresh for every new (category, hour)): 2 million
matters would take over an hour and a half. This generator follows the same distribution
(``seed_bulk``'s probabilities and time steps, the same categories, titles and villages, real
working-day deadlines from ``loop.deadlines``, on a calendar with ``is_workday`` memoised) and writes with
COPY, so a city-scale dataset takes minutes. Differences, on purpose:

* no ``MatterEvent`` rows: no benchmarked read touches the timeline, and a transition appends
  its event at ``version + 1``, which stays gap-free for the benchmark's own transitions;
* overdue matters are flagged (挂牌督办) at the township, as earlier sweeps would have done,
  so the supervision board has flagged counts;
* one rating for 80 % of closed demands (as ``seed_bulk``).

Growth steps call ``generate`` again with another seed; ids continue from the table's sequence.
"""

from __future__ import annotations

import functools
import io
import random
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

MATTER_COLS = [
    "id", "kind", "title", "description", "source", "address", "state", "version", "reporter_name",
    "reporter_phone_enc", "reporter_phone_index", "reporter_phone_masked", "public_token", "created_at",
    "dispatched_at", "accept_due_at", "accepted_at", "warn_at", "due_at", "reported_at", "closed_at",
    "handling_hours", "calendar_warning", "flagged", "flagged_at", "extensions_used", "rounds", "category_id",
    "dispatch_unit_id", "flagged_unit_id", "handling_unit_id", "location_unit_id",
]
RATING_COLS = ["matter_id", "round", "satisfaction", "resolved", "comment", "by_resident", "rated_at"]


def _calendar():
    from bihuan.loop.deadlines import calendar

    cal = calendar()
    cal.is_workday = functools.lru_cache(maxsize=None)(cal.is_workday)
    return cal


def _fmt(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


def generate(n: int, seed: int, now: datetime | None = None, *, progress=None, batch: int = 50_000) -> dict:
    """Add ``n`` matters (and their ratings) over the villages of the seeded tree."""
    from bihuan.loop.deadlines import deadlines
    from bihuan.loop.models import Category, Kind, Matter, Rating, State
    from bihuan.loop.seed import TITLES, _work_time, ensure_categories
    from bihuan.orgs.models import Level, OrgUnit

    now = now or timezone.now()
    ensure_categories()
    cats = list(Category.objects.order_by("id"))
    villages = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True)
                    .values_list("id", "parent_id").order_by("id"))
    rng = random.Random(seed)
    cal = _calendar()
    dl_cache: dict = {}
    mt, rt = Matter._meta.db_table, Rating._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {mt}")
        next_id = cur.fetchone()[0] + 1
    made = ratings_n = 0
    counts: dict[str, int] = {}
    # Registered in time order, so ids grow with time and open matters sit together at the end of
    # the table, as they do in a live system (random order would scatter them over every page).
    ages = sorted((rng.random() * 365 for _ in range(n)), reverse=True)
    while made < n:
        size = min(batch, n - made)
        mbuf, rbuf = io.StringIO(), io.StringIO()
        for j in range(size):
            cat = cats[rng.randrange(len(cats))]
            vid, town_id = villages[rng.randrange(len(villages))]
            created = _work_time(rng, now - timedelta(days=ages[made + j]))
            if created >= now:
                created = now - timedelta(hours=2)
            state, version = State.NEW, 1
            dispatched = accept_due = accepted = warn = due = reported = closed = hours = None
            handling = flagged_unit = flagged_at = None
            flagged = False
            t = created + timedelta(hours=rng.uniform(0.3, 4))
            if rng.random() > 0.04 and t < now:
                key = (cat.pk, t.strftime("%Y%m%d%H"))
                if key not in dl_cache:
                    d = deadlines(cat, t, cal=cal)  # the product's formula, memoised per hour
                    dl_cache[key] = (d["accept_due_at"], d["due_at"], d["warn_at"])
                accept_due, due, warn = dl_cache[key]
                handling, dispatched, state, version = vid, t, State.DISPATCHED, 2
                t += timedelta(hours=rng.uniform(0.2, 10))
                if t < now:
                    accepted, state, version = t, State.IN_PROGRESS, 3
                    t += timedelta(days=rng.uniform(0.2, cat.handle_days * (1.0 if rng.random() < 0.85 else 2.0)))
                    if t < now:
                        reported, state, version = t, State.REPORTED, 4
                        t += timedelta(hours=rng.uniform(1, 24))
                        if t < now:
                            closed, state, version = t, State.CLOSED, 5
                            hours = round((reported - dispatched).total_seconds() / 3600 * 0.31, 2)
                overdue = due is not None and ((state in (State.DISPATCHED, State.IN_PROGRESS) and due < now)
                                               or (state == State.REPORTED and reported > due))
                if overdue:
                    flagged, flagged_unit, flagged_at = True, town_id, due + timedelta(minutes=5)
                    version += 2  # the escalation's event, and the reminder before it
            mid = next_id
            next_id += 1
            title = TITLES[cat.code][rng.randrange(len(TITLES[cat.code]))]
            row = [mid, cat.kind, title, "批量演示数据", "staff", "", state, version, "", "", "", "",
                   f"bench{mid}", created, dispatched, accept_due, accepted, warn, due, reported, closed, hours, "",
                   flagged, flagged_at, 0, 1, cat.pk, town_id, flagged_unit, handling, vid]
            mbuf.write("\t".join(_fmt(v) for v in row) + "\n")
            counts[state] = counts.get(state, 0) + 1
            if state == State.CLOSED and cat.kind == Kind.DEMAND and rng.random() < 0.8:
                sat = rng.choices(["satisfied", "basic", "dissatisfied"], weights=[70, 22, 8])[0]
                rated = closed + timedelta(days=1)
                if rated < now:
                    rbuf.write("\t".join(_fmt(v) for v in [mid, 1, sat, sat != "dissatisfied", "", False, rated])
                               + "\n")
                    ratings_n += 1
        with connection.cursor() as cur:
            pg = cur.cursor
            with pg.copy(f"COPY {mt} ({', '.join(MATTER_COLS)}) FROM STDIN") as cp:
                cp.write(mbuf.getvalue())
            with pg.copy(f"COPY {rt} ({', '.join(RATING_COLS)}) FROM STDIN") as cp:
                cp.write(rbuf.getvalue())
        made += size
        if progress:
            progress(made, n)
    with connection.cursor() as cur:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{mt}', 'id'), (SELECT MAX(id) FROM {mt}))")
        cur.execute("ANALYZE")  # as autovacuum would, before anyone reads
    return {"matters": made, "ratings": ratings_n, "by_state": counts}
