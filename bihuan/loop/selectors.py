"""Reads of the loop. Every derived value is computed here from deadlines, events and ``now``.

* **light** — ``red`` when overdue; ``yellow`` when the warning point has passed, or when a
  dispatched matter has not been accepted within its acceptance limit; ``green`` otherwise
  for open matters; ``none`` for closed and merged ones.
* **overdue** — dispatched or in progress with ``due_at < now``, or reported after ``due_at``;
  or awaiting dispatch (待交办) past its dispatch limit (``dispatch_due_at < now``). Awaiting
  dispatch past ``dispatch_warn_at`` is yellow, like a running matter past its warning point.
* **在办 (open, in work)** — every matter not closed or merged (``OPEN_STATES``: 待交办 included),
  placed at its lead unit, or at its location until it has one (``in_work_q``). The board and the
  backlog both count this.

All of them are SQL expressions (``Q``/``Case``) so lists, tabs, counts and boards filter and
aggregate in the database; ``matter_status()`` gives the same values for one matter in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BooleanField, Case, CharField, Count, F, Lookup, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, StrIndex, Substr

from bihuan.core.calendar import WorkCalendar
from bihuan.core.errors import NotFound
from bihuan.core.scope import covers, units_q
from bihuan.orgs.models import OrgUnit

from .models import FINAL_STATES, OPEN_STATES, RUNNING_STATES, Matter, MatterAssist, State

S = State
LIGHTS = ("green", "yellow", "red", "none")


# --- derived values as SQL ----------------------------------------------------------------------

def dispatch_overdue_q(now: datetime) -> Q:
    """Awaiting dispatch past its dispatch limit."""
    return Q(state=S.NEW, dispatch_due_at__lt=now)


def overdue_q(now: datetime) -> Q:
    return (Q(state__in=[S.DISPATCHED, S.IN_PROGRESS], due_at__lt=now)
            | Q(state=S.REPORTED, reported_at__gt=F("due_at")) | dispatch_overdue_q(now))


def due_soon_q(now: datetime) -> Q:
    """Yellow: still within the deadline, but past the warning point or not accepted in time;
    or awaiting dispatch past the dispatch warning point but within the limit."""
    running = Q(state__in=[S.DISPATCHED, S.IN_PROGRESS], due_at__gte=now)
    return (running & (Q(warn_at__lte=now) | Q(state=S.DISPATCHED, accept_due_at__lt=now))
            | Q(state=S.NEW, dispatch_warn_at__lte=now, dispatch_due_at__gte=now))


def light_q(light: str, now: datetime) -> Q:
    if light == "red":
        return overdue_q(now)
    if light == "yellow":
        return due_soon_q(now) & ~overdue_q(now)
    if light == "green":
        return Q(state__in=OPEN_STATES) & ~overdue_q(now) & ~due_soon_q(now)
    if light == "none":
        return Q(state__in=FINAL_STATES)
    return Q(pk__in=[])


def light_expr(now: datetime) -> Case:
    return Case(
        When(state__in=FINAL_STATES, then=Value("none")),
        When(overdue_q(now), then=Value("red")),
        When(due_soon_q(now), then=Value("yellow")),
        default=Value("green"), output_field=CharField())


def with_light(qs: QuerySet, now: datetime) -> QuerySet:
    return qs.annotate(light=light_expr(now))


@dataclass
class MatterStatus:
    light: str
    overdue: bool
    remaining_hours: float | None  # working hours to due_at; negative when overdue
    calendar_warning: str


def matter_status(m: Matter, now: datetime) -> MatterStatus:
    """The derived values of one matter (same rules as the SQL expressions above)."""
    if m.state in FINAL_STATES:
        return MatterStatus("none", False, None, m.calendar_warning)
    overdue = bool(m.due_at and ((m.state in (S.DISPATCHED, S.IN_PROGRESS) and m.due_at < now)
                                 or (m.state == S.REPORTED and m.reported_at and m.reported_at > m.due_at)))
    soon = bool(m.due_at and m.state in (S.DISPATCHED, S.IN_PROGRESS) and m.due_at >= now and (
        (m.warn_at and m.warn_at <= now) or (m.state == S.DISPATCHED and m.accept_due_at and m.accept_due_at < now)))
    if m.state == S.NEW and m.dispatch_due_at:
        overdue = m.dispatch_due_at < now
        soon = not overdue and bool(m.dispatch_warn_at and m.dispatch_warn_at <= now)
    light = "red" if overdue else "yellow" if soon else "green"
    remaining = None
    if m.due_at and m.state in (S.DISPATCHED, S.IN_PROGRESS):
        remaining = round(WorkCalendar(strict=False).working_hours_between(now, m.due_at), 2)
    return MatterStatus(light, overdue, remaining, m.calendar_warning)


# --- lists --------------------------------------------------------------------------------------

def unit_q(unit: OrgUnit, *, field: str = "handling_unit") -> Q:
    """Matters whose ``field`` unit is ``unit`` or below it."""
    return Q(**{f"{field}__path__startswith": unit.path})


def subtree_q(unit: OrgUnit) -> Q:
    """Matters that belong to a unit's subtree: handled there, or (not yet dispatched) located there."""
    return unit_q(unit) | (Q(handling_unit__isnull=True) & unit_q(unit, field="location_unit"))


def in_work_q(unit: OrgUnit) -> Q:
    """在办: the open matters (待交办, 待签收, 办理中, 待评估) of a unit's subtree — at their lead unit, or
    at their location until they have one. The one definition the board and the backlog count."""
    return Q(state__in=OPEN_STATES) & subtree_q(unit)


def matters_for(user, *, now: datetime, state=None, kind=None, category=None, unit: OrgUnit | None = None,
                light: str | None = None, overdue: bool | None = None, flagged: bool | None = None,
                created_from=None, created_to=None, q: str | None = None, base: QuerySet | None = None) -> QuerySet:
    """Matters in the user's scope with the given filters. ``base`` is an already-scoped queryset
    to start from (an inbox tab), so the scope filter is not applied twice."""
    qs = Matter.objects.restrict(user, "view") if base is None else base
    if state:
        qs = qs.filter(state__in=state if isinstance(state, list | tuple) else [state])
    if kind:
        qs = qs.filter(kind=kind)
    if category:
        qs = qs.filter(category_id=category) if str(category).isdigit() else qs.filter(category__code=category)
    if unit is not None:
        qs = qs.filter(subtree_q(unit))
    if light:
        qs = qs.filter(light_q(light, now))
    if overdue is not None:
        qs = qs.filter(overdue_q(now)) if overdue else qs.exclude(overdue_q(now))
    if flagged is not None:
        qs = qs.filter(flagged=flagged)
    if created_from:
        qs = qs.filter(created_at__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__lt=created_to)
    if q:
        qs = qs.filter(title__contains=q)
    return qs


INBOX_TABS = ("to_dispatch", "to_accept", "in_progress", "due_soon", "overdue", "to_evaluate", "closed")
INBOX_LABELS = {"to_dispatch": "待交办", "to_accept": "待签收", "in_progress": "办理中", "due_soon": "即将超期",
                "overdue": "已超期", "to_evaluate": "待评估", "closed": "已办结"}


# --- a small scope's matters, found through the unit indexes ------------------------------------
#
# ``restrict`` filters on the paths of the matter's place, lead and dispatching unit and its
# assisting units: an OR over three joins that no index can answer, so a count or a sorted page
# visits every matter of the state in the whole city (a township's 已办结 count: 4.8 s at 2 million
# matters). For a scope of up to SCOPE_UNITS_MAX units the same matters are found from the unit
# ids through ``(unit, state, id)`` indexes, index only; the queries stay ``restrict(user)`` and
# are narrowed to those ids (``restrict`` still decides).

class AnyOf(Lookup):
    """``field__any_of=[ids]``: ``field = ANY(%s)`` with the list as one array parameter on
    PostgreSQL (a list of a thousand ids as a thousand placeholders costs ≈10 ms of Python per
    query to build and bind), ``IN (…)`` elsewhere.

    Registered in ``LoopConfig.ready()`` on the matter's id and unit relations and the assisting
    unit, the only fields it is used on (an instance lookup: no other model gains it)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [list(value)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [int(v) for v in self.rhs]
        if not values:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # One text parameter ('{1,2,3}'): psycopg adapts a list of a few hundred ints element by
        # element (≈1 ms a query for 600 ids), the joined string at once (≈0.2 ms).
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, "{" + ",".join(str(int(v)) for v in self.rhs) + "}"]


SCOPE_UNITS_MAX = 2_000  # a township has a few hundred units; larger scopes use the scope filter alone
SCOPE_IDS_MAX = 5_000  # open matters to narrow to; beyond that, the scope filter alone
CLOSED_COUNT_CAP = 999  # the 已办结 tab counts up to this and then shows "999+"


def scope_unit_ids(user, action: str = "view") -> list[int] | None:
    """Ids of the units in the user's scope for ``loop.matter.<action>``, or None when the scope
    is everything, empty or larger than SCOPE_UNITS_MAX units."""
    units = units_q(user, f"loop.matter.{action}")
    if not units:  # an empty Q: the whole city
        return None
    ids = list(OrgUnit.objects.filter(units).order_by().values_list("id", flat=True)[:SCOPE_UNITS_MAX + 1])
    return None if not ids or len(ids) > SCOPE_UNITS_MAX else ids


def scope_matter_ids(unit_ids: list[int], states, limit: int) -> list[int]:
    """Ids of matters in ``states`` whose place, lead unit, dispatching unit or an assisting unit
    is one of ``unit_ids`` (the scope rule of ``MatterQuerySet.restrict``), at most ``limit + 1``
    of them (in no particular order): one UNION of index-only lookups."""
    return list(_scope_matter_union(unit_ids, states, limit))


def _scope_matter_union(unit_ids: list[int], states, limit: int) -> QuerySet:
    states = list(states)
    parts = [Matter.objects.filter(**{f"{f}__any_of": unit_ids}, state__in=states).order_by()
             .values_list("id", flat=True) for f in ("location_unit", "handling_unit", "dispatch_unit")]
    parts.append(MatterAssist.objects.filter(unit__any_of=unit_ids, matter__state__in=states).order_by()
                 .values_list("matter_id", flat=True))
    if connection.features.supports_slicing_ordering_in_compound:
        # Each lookup stops after limit + 1 rows: if one of them has that many, so has the union.
        parts = [p[:limit + 1] for p in parts]
    return parts[0].union(*parts[1:])[:limit + 1]


def open_matters(user, action: str = "view") -> QuerySet:
    """The user's open matters: ``restrict(user, action)``; for a small scope, the ids
    ``scope_matter_ids`` finds (a literal list the planner sees as what it is: a few hundred rows).

    Those ids *are* the scope: found through the gate's units (``units_q``) by restrict's own rule,
    so the four-join scope filter is not applied on top of them (it doubled the cost of every
    inbox query: issue 18, docs/performance.md)."""
    units = scope_unit_ids(user, action)
    if units is not None:
        ids = scope_matter_ids(units, OPEN_STATES, SCOPE_IDS_MAX)
        if len(ids) <= SCOPE_IDS_MAX:
            qs = Matter.objects.filter(pk__any_of=ids, state__in=OPEN_STATES)
            qs.narrowed = (units, ids)  # on this object only (not its clones): see inbox_counts
            return qs
    return Matter.objects.restrict(user, action).filter(state__in=OPEN_STATES)


def closed_count(user, *, cap: int | None = CLOSED_COUNT_CAP) -> int:
    """The user's closed matters, counted up to ``cap + 1`` (more than ``cap`` shows as "cap+").
    ``cap=None`` counts them all (a scan of every closed matter in scope)."""
    qs = Matter.objects.restrict(user, "view").filter(state=S.CLOSED)
    if cap is None:
        return qs.count()
    units = scope_unit_ids(user)
    if units is not None:
        # The ids found are the scope (see open_matters): their number is the count, up to cap + 1,
        # counted where they are (not a thousand ids brought over to be counted).
        return _scope_matter_union(units, [S.CLOSED], cap).count()
    return qs[:cap + 1].count()


def inbox(user, tab: str, *, now: datetime, open_base: QuerySet | None = None) -> QuerySet:
    """One tab of the inbox: SQL filters on state and deadlines vs ``now``, within the user's scope.

    to_dispatch 待交办 — new, at a dispatching unit the user dispatches for;
    to_accept 待签收 — dispatched to a unit the user handles for;
    in_progress 办理中 — in progress, neither due soon nor overdue;
    due_soon 即将超期 — yellow; overdue 已超期 — red; to_evaluate 待评估 — reported, the user evaluates;
    closed 已办结 — closed.

    The open tabs start from ``open_base`` (``open_matters(user)``, computed here when not given).
    """
    if tab == MINE_TAB:
        return reported_by(user)
    if tab not in INBOX_TABS:
        raise NotFound()
    if tab == "closed":
        # A closed matter always has closed_at; saying so lets a newest-closed-first page skip the
        # open matters (NULL closed_at), which a backward walk of the closed_at index meets first.
        return Matter.objects.restrict(user, "view").filter(state=S.CLOSED, closed_at__isnull=False)
    qs = open_base if open_base is not None else open_matters(user)
    if tab == "to_dispatch":
        return qs.filter(state=S.NEW).filter(units_q(user, "loop.matter.dispatch", "dispatch_unit__"))
    if tab == "to_accept":
        return qs.filter(state=S.DISPATCHED).filter(units_q(user, "loop.matter.handle", "handling_unit__"))
    if tab == "in_progress":
        return qs.filter(state=S.IN_PROGRESS).exclude(overdue_q(now)).exclude(due_soon_q(now))
    if tab == "due_soon":
        return qs.filter(due_soon_q(now)).exclude(overdue_q(now))
    if tab == "overdue":
        return qs.filter(overdue_q(now))
    return qs.filter(state=S.REPORTED).filter(units_q(user, "loop.matter.evaluate", "dispatch_unit__"))


MINE_TAB = "mine"  # 我上报的: not a to-do tab, so not in INBOX_TABS (nor in their counts)


def reported_by(user) -> QuerySet:
    """我上报的: the matters ``user`` registered (``Matter.created_by``), within their view scope,
    whatever their state — so a reporter can follow where each one is."""
    return Matter.objects.restrict(user, "view").filter(created_by=user)


def newest_first(qs: QuerySet, tab: str | None) -> tuple[QuerySet, list[str]]:
    """``qs`` and the keyset order for a list newest first (cursor pagination).

    The tabs of open matters hold a small slice of the table, and a quiet unit's 已超期 tab may
    hold none of it: walking the ``created_at`` index backwards until 51 rows pass the scope and
    deadline filters then reads the whole table (PostgreSQL cannot see that overdue matters are
    rare: ``state`` and ``due_at`` are correlated). Ordering those tabs by an expression the
    index cannot serve makes the database filter first (deadline index) and sort the few rows
    that match. Same order, same cursors. The closed tab and plain lists keep the index walk."""
    if tab and tab != "closed":
        return qs.annotate(listed_at=Coalesce("created_at", "created_at")), ["-listed_at", "-id"]
    return qs, ["-created_at", "-id"]


def inbox_counts(user, *, now: datetime, closed_cap: int | None = None,
                 open_base: QuerySet | None = None) -> dict[str, int]:
    """The count of every tab, 已办结 up to ``closed_cap + 1`` (None: all of them, ``closed_count``).

    One grouped query: the matters by state, light (``light_expr``) and whether the user
    dispatches, handles and evaluates for their units; the tabs are sums of those groups (each
    tab's condition is a state and a light, or a state and one of the three), over the open
    matters (for a narrowed ``open_matters``, its ids); 已办结 is counted by ``closed_count``.
    Seven conditional counts, each repeating the deadline conditions, cost ≈14 ms of ORM work
    per page (issue 18, docs/performance.md)."""
    base = open_base if open_base is not None else open_matters(user)
    counts = _tab_tally(base, user, now)
    narrowed = getattr(base, "narrowed", None)
    if narrowed and closed_cap is not None:  # the scope's units are known: count the closed ones there
        counts["closed"] = _scope_matter_union(narrowed[0], [S.CLOSED], closed_cap).count()
    else:
        counts["closed"] = closed_count(user, cap=closed_cap)
    return counts


# Which unit a tab asks the user to act for: 待交办 and 待评估 the dispatching unit, 待签收 the lead unit.
_TAB_ROLES = (("dispatches", "loop.matter.dispatch", "dispatch_unit__"),
              ("handles", "loop.matter.handle", "handling_unit__"),
              ("evaluates", "loop.matter.evaluate", "dispatch_unit__"))


def _tab_tally(qs: QuerySet, user, now: datetime) -> dict[str, int]:
    """The tab counts of ``qs`` (already in the user's scope), from one GROUP BY (see inbox_counts)."""
    marks = {"light": light_expr(now)}
    for name, perm, prefix in _TAB_ROLES:
        q = units_q(user, perm, prefix)
        if q:  # Q(): everywhere, so every row qualifies
            marks[name] = Case(When(q, then=Value(True)), default=Value(False), output_field=BooleanField())
    counts = dict.fromkeys(INBOX_TABS, 0)
    for r in qs.annotate(**marks).values("state", *marks).annotate(n=Count("id")).order_by():
        state, light, n = r["state"], r["light"], r["n"]
        if state == S.NEW and r.get("dispatches", True):
            counts["to_dispatch"] += n
        elif state == S.DISPATCHED and r.get("handles", True):
            counts["to_accept"] += n
        elif state == S.REPORTED and r.get("evaluates", True):
            counts["to_evaluate"] += n
        elif state == S.CLOSED:
            counts["closed"] += n
        if state == S.IN_PROGRESS and light == "green":
            counts["in_progress"] += n
        if light == "yellow":
            counts["due_soon"] += n
        elif light == "red":
            counts["overdue"] += n
    return counts


# --- supervision board, backlog, hotspots, similar ----------------------------------------------

def _child_key(unit: OrgUnit, field: str = "handling_unit"):
    """SQL: the id (as text) of the child of ``unit`` whose subtree holds the matter's ``field`` unit."""
    rest = Substr(f"{field}__path", len(unit.path) + 1)
    return Substr(rest, 1, StrIndex(rest, Value("/")) - 1)


def _require_view_unit(user, unit: OrgUnit) -> None:
    """A unit outside the user's scope for ``loop.matter.view`` is not found (404), never counted."""
    if not covers(user, "loop.matter.view", unit):
        raise NotFound()


BOARD_COUNTS = ("open", "to_dispatch", "red", "yellow", "flagged", "to_accept", "to_evaluate")


def supervision_board(user, unit: OrgUnit, *, now: datetime) -> list[dict]:
    """Per child unit (plus the unit itself as "本级"): 在办 (``in_work_q``: awaiting dispatch
    included), awaiting dispatch, red, yellow, flagged, awaiting acceptance and awaiting evaluation.
    Drill down by calling it again with a child.

    Two grouped queries, each on its own index: the running matters by the child segment of the
    lead unit's path, the matters awaiting dispatch (no lead unit yet) by their location's."""
    _require_view_unit(user, unit)
    return board_counts(unit, now=now)


def board_counts(unit: OrgUnit, *, now: datetime) -> list[dict]:
    """``supervision_board`` without the scope check: for a caller that checked it (the report
    section ``loop.board``, reached through reports' own scope)."""
    running = Matter.objects.filter(handling_unit__path__startswith=unit.path, state__in=RUNNING_STATES)
    waiting = Matter.objects.filter(handling_unit__isnull=True, location_unit__path__startswith=unit.path,
                                    state=S.NEW)
    # Grouped by child, state, light and flag, and summed here: one CASE for the light instead of
    # seven conditional counts each repeating the deadline conditions (issue 18).
    rows: dict[str, dict] = {}
    own = dict.fromkeys(BOARD_COUNTS, 0)
    for qs, field in ((running, "handling_unit"), (waiting, "location_unit")):
        child = Case(When(**{field: unit}, then=Value("")), default=_child_key(unit, field), output_field=CharField())
        for r in (qs.annotate(child=child, light=light_expr(now)).values("child", "state", "light", "flagged")
                  .annotate(n=Count("id")).order_by()):
            row = own if r["child"] == "" else rows.setdefault(r["child"], dict.fromkeys(BOARD_COUNTS, 0))
            n, state, light = r["n"], r["state"], r["light"]
            row["open"] += n
            row["to_dispatch"] += n if state == S.NEW else 0
            row["to_accept"] += n if state == S.DISPATCHED else 0
            row["to_evaluate"] += n if state == S.REPORTED else 0
            row["red"] += n if light == "red" else 0
            row["yellow"] += n if light == "yellow" else 0
            row["flagged"] += n if r["flagged"] else 0
    out = []
    for child in OrgUnit.objects.filter(parent=unit).order_by("sort", "code"):
        r = rows.get(str(child.pk), {})
        out.append({"unit_id": child.pk, "unit_name": child.name, "level": child.level,
                    **{k: r.get(k, 0) for k in BOARD_COUNTS}})
    out.append({"unit_id": unit.pk, "unit_name": unit.name, "level": unit.level, "own": True, **own})
    return out


AGE_BUCKETS = (("0-7", 0, 7), ("8-30", 8, 30), ("31-90", 31, 90), (">90", 91, None))


def backlog(user, unit: OrgUnit, *, now: datetime) -> dict:
    """清仓见底: 在办 matters of the unit's subtree (``in_work_q``, as the board counts them) by age
    (days since registration) × light. ``total`` reaches zero when everything is done."""
    _require_view_unit(user, unit)
    whens = []
    for label, lo, _hi in reversed(AGE_BUCKETS):
        whens.append(When(created_at__lte=now - timedelta(days=lo), then=Value(label)))
    qs = (Matter.objects.filter(in_work_q(unit))
          .annotate(age=Case(*whens, default=Value("0-7"), output_field=CharField()), light=light_expr(now))
          .values("age", "light").annotate(n=Count("id")).order_by())
    grid = {label: dict.fromkeys(("green", "yellow", "red"), 0) for label, *_ in AGE_BUCKETS}
    total = 0
    for r in qs:
        grid[r["age"]][r["light"]] = r["n"]
        total += r["n"]
    return {"unit_id": unit.pk, "total": total, "by_age": grid}


def hotspots(user, unit: OrgUnit, *, now: datetime, window_days: int = 30, threshold: int = 3) -> list[dict]:
    """未诉先办: (category × location unit) with at least ``threshold`` matters registered in the
    last ``window_days`` days, in the unit's subtree. Largest first."""
    _require_view_unit(user, unit)
    rows = (Matter.objects.filter(location_unit__path__startswith=unit.path,
                                  created_at__gte=now - timedelta(days=window_days), created_at__lt=now)
            .exclude(source="proactive")
            .values("category_id", "category__name", "location_unit_id", "location_unit__name")
            .annotate(n=Count("id")).filter(n__gte=threshold).order_by("-n", "category_id", "location_unit_id"))
    return [{"category_id": r["category_id"], "category": r["category__name"], "unit_id": r["location_unit_id"],
             "unit_name": r["location_unit__name"], "count": r["n"], "window_days": window_days} for r in rows[:200]]


def similar_matters(matter: Matter, *, now: datetime, days: int = 90, limit: int = 5) -> QuerySet:
    """Matters of the same category in the same township in the last ``days`` days."""
    from .services import township_of

    town = township_of(matter.location_unit)
    return (Matter.objects.filter(category_id=matter.category_id, location_unit__path__startswith=town.path,
                                  created_at__gte=now - timedelta(days=days))
            .exclude(pk=matter.pk).select_related("location_unit").order_by("-created_at", "-id")[:limit])


def timeline(matter: Matter) -> QuerySet:
    return matter.events.select_related("actor_unit", "actor").prefetch_related("attachments").order_by("seq")

