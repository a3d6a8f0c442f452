"""Reads for the pages and the API, always from ``restrict(user, action)`` or ``units_q``.

Filtering, search, counts and sums run in the database on the JSON values (``KT()`` key
transforms: ``->>`` on PostgreSQL, ``JSON_EXTRACT`` on SQLite); nothing loads entries to add
them up. Grouping "by unit level" joins the filling unit's ``parent`` chain: entries are filled
by units of the register's level, so the county of a village's entry is ``unit__parent__parent``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, OuterRef, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from bihuan.core.scope import units_q
from bihuan.orgs.models import Level, OrgUnit

from . import fields as fl
from .models import Entry, EntryChange, Register, Round, RoundEscalation, Submission, SubmissionState

MAX_FILTER = 100


def registers(user, perm: str = "ledgers.entry.view"):
    """Registers the user may see: defined by a unit in their scope for ``perm``, or by an
    ancestor of one (a village sees the city's registers; Rencheng does not see Yanzhou's)."""
    if user is None:
        return Register.objects.all().order_by("code")
    mine = OrgUnit.objects.filter(units_q(user, perm))
    below = mine.filter(path__startswith=OuterRef("unit__path"))
    return (Register.objects.filter(Q(unit__in=mine.values("pk")) | Exists(below))
            .select_related("unit").order_by("code"))


def entries(user, register: Register, *, action: str = "view", unit: OrgUnit | None = None, q: str = "",
            filters: dict | None = None):
    """Entries of ``register`` the user may ``action``; ``unit`` narrows to a subtree; ``filters``:
    field key → value (text: contains; choice, bool, unit, person: equals; numbers and dates:
    ``<key>__min`` / ``<key>__max``)."""
    base = Entry.objects.all() if user is None else Entry.objects.restrict(user, action)  # None: the system
    qs = base.filter(register=register).select_related("unit")
    if unit is not None:
        qs = qs.filter(Q(unit=unit) | Q(unit__path__startswith=unit.path))
    q = (q or "").strip().lower()[:MAX_FILTER]
    if q:
        qs = qs.filter(search__contains=q)
    for raw_key, value in (filters or {}).items():
        key, _, bound = raw_key.partition("__")
        f = register.field(key)
        if f is None or f.get("removed") or value in (None, ""):
            continue
        value = str(value)[:MAX_FILTER]
        t = f["type"]
        if f["personal"]:
            continue  # personal values are not filtered on (only masked values are stored in data)
        if t in fl.NUMERIC or t == "date":
            try:
                v = fl.validate_value({**f, "min": None, "max": None, "required": False}, value, key, user=None)
            except fl.ServiceError:
                qs = qs.none()
                continue
            if t == "date":
                col = KT(f"data__{key}")
            else:
                col = Cast(KT(f"data__{key}"), DecimalField(max_digits=20, decimal_places=4))
                v = Decimal(str(v))
            qs = qs.annotate(**{f"_f_{key}": col})
            if bound == "max":
                qs = qs.filter(**{f"_f_{key}__lte": v})
            elif bound == "min":
                qs = qs.filter(**{f"_f_{key}__gte": v})
            else:
                qs = qs.filter(**{f"_f_{key}": v})
        elif t == "text":
            qs = qs.annotate(**{f"_f_{key}": KT(f"data__{key}")}).filter(**{f"_f_{key}__icontains": value})
        elif t == "multi":
            qs = qs.annotate(**{f"_f_{key}": KT(f"data__{key}")}).filter(**{f"_f_{key}__contains": f'"{value}"'})
        else:
            try:
                v = fl.validate_value(f, value, key, user=None) if t != "person" else int(value)
            except (fl.ServiceError, ValueError):
                qs = qs.none()
                continue
            qs = qs.filter(**{f"data__{key}": v})
    return qs.order_by("-id")


def group_prefix(register: Register, level: int) -> str | None:
    """The relation from an entry to its filling unit's ancestor at ``level`` (None: below it)."""
    up = register.level - int(level)
    if up < 0:
        return None
    return "unit" + "__parent" * up


def summary(user, register: Register, *, level: int, field: str | None = None, unit: OrgUnit | None = None,
            q: str = "", filters: dict | None = None) -> list[dict]:
    """Counts (and the sum of a numeric ``field``) of the entries in scope, grouped by their
    unit's ancestor at ``level`` — one GROUP BY in SQL."""
    prefix = group_prefix(register, level)
    if prefix is None:
        return []
    qs = entries(user, register, unit=unit, q=q, filters=filters)
    aggs = {"count": Count("id")}
    f = register.field(field) if field else None
    if f is not None and f["type"] in fl.NUMERIC:
        qs = qs.annotate(_sum_v=Cast(KT(f"data__{f['key']}"), DecimalField(max_digits=20, decimal_places=4)))
        aggs["total"] = Sum("_sum_v")
    rows = (qs.order_by().values(f"{prefix}_id", f"{prefix}__name", f"{prefix}__code")
            .annotate(**aggs).order_by(f"{prefix}__code"))
    out = []
    for r in rows[:500]:
        total = r.get("total")
        out.append({"unit_id": r[f"{prefix}_id"], "unit_name": r[f"{prefix}__name"], "unit_code": r[f"{prefix}__code"],
                    "count": r["count"],
                    "total": None if total is None else fl._json_number(Decimal(total).quantize(Decimal("0.01")))})
    return out


def numeric_fields(register: Register) -> list[dict]:
    return [f for f in register.live_fields() if f["type"] in fl.NUMERIC]


def level_choices(register: Register) -> list[tuple[int, str]]:
    return [(lv.value, lv.label) for lv in Level if lv.value <= register.level]


def history(user, entry: Entry):
    return EntryChange.objects.restrict(user, "view").filter(entry_id_ref=entry.pk).order_by("-at", "-id")


def display(register: Register, data: dict, *, listed_only: bool = False) -> list[tuple[dict, str]]:
    """(field, value as shown) for an entry: units and persons by name, lists joined, 是/否."""
    fields = register.listed_fields() if listed_only else register.live_fields()
    unit_ids = {data.get(f["key"]) for f in fields if f["type"] == "unit" and data.get(f["key"])}
    person_ids = {data.get(f["key"]) for f in fields if f["type"] == "person" and data.get(f["key"])}
    units = dict(OrgUnit.objects.filter(pk__in=unit_ids).values_list("pk", "name")) if unit_ids else {}
    persons = {}
    if person_ids:
        from bihuan.people.models import Person

        persons = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "name"))
    return [(f, show(f, data.get(f["key"]), units, persons)) for f in fields]


def show(f: dict, v, units=None, persons=None) -> str:
    if v is None or v == "":
        return ""
    t = f["type"]
    if t == "bool":
        return "是" if v else "否"
    if t == "multi":
        return "、".join(v)
    if t == "unit":
        return (units or {}).get(v, str(v))
    if t == "person":
        return (persons or {}).get(v, str(v))
    if t in fl.NUMERIC:
        return f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
    return str(v)


def rounds(user):
    return Round.objects.restrict(user, "view").select_related("register", "within")


def round_status(user, rd: Round, now) -> list[dict]:
    """Each unit of the round the user may see: submitted (on time or late), returned, missing,
    and the matter opened for it — one query."""
    from . import services

    subs = Submission.objects.filter(round=rd, unit=OuterRef("pk"))
    units = (OrgUnit.objects.filter(units_q(user, "ledgers.round.view"))
             .filter(level=rd.register.level, valid_to__isnull=True, path__startswith=rd.within.path)
             .annotate(done=Exists(subs.filter(state=SubmissionState.SUBMITTED)))
             .order_by("path"))
    subs_by_unit = {s.unit_id: s for s in Submission.objects.filter(round=rd, unit__in=units)}
    matters = dict(RoundEscalation.objects.filter(round=rd, unit__in=units).values_list("unit_id", "matter_id"))
    late = now > services.deadline(rd)
    out = []
    for u in units[:1000]:
        s = subs_by_unit.get(u.pk)
        out.append({"unit": u, "submission": s, "matter_id": matters.get(u.pk),
                    "late": (s is None or s.state != SubmissionState.SUBMITTED) and late})
    return out


def on_time_figures(units_q_filter: Q, *, start, end) -> dict:
    """Submissions due in [start, end): per filling unit, due and on time (for the sources)."""
    rows = (Submission.objects.filter(units_q_filter, round__due_on__gte=start, round__due_on__lt=end)
            .values("unit_id").annotate(n=Count("id"), on_time=Count("id", filter=Q(on_time=True))))
    return {r["unit_id"]: r for r in rows}


def office_proposals(user, entry: Entry) -> list[dict]:
    """Proposals received at an office, with how their loop matters stand (closed or not)."""
    from bihuan.loop.models import Matter

    from .models import OfficeProposal

    props = list(OfficeProposal.objects.restrict(user, "view").filter(office_ref=entry.pk)[:200])
    matters = {m["pk"]: m for m in Matter.objects.filter(pk__in=[p.matter_id for p in props])
               .values("pk", "title", "state", "closed_at")}
    return [{"p": p, "matter": matters.get(p.matter_id)} for p in props]


# --- reserve talents (后备人才): the pool's age structure ---------------------------------------

TALENTS = "reserve_talents"
AGE_BANDS = (("le30", "≤30", None, 30), ("b31_35", "31–35", 31, 35), ("b36_40", "36–40", 36, 40),
             ("b41_45", "41–45", 41, 45), ("gt45", ">45", 46, None))


def age_structure(user, register: Register, *, level: int, unit: OrgUnit | None = None) -> list[dict]:
    """The pool's size and its age bands per unit of ``level`` (county or township), for the
    entries in ``user``'s scope — one GROUP BY with conditional counts, in SQL."""
    prefix = group_prefix(register, level)
    f = register.field("age")
    if prefix is None or f is None or f["type"] not in fl.NUMERIC:
        return []
    qs = entries(user, register, unit=unit).annotate(
        _age=Cast(KT("data__age"), DecimalField(max_digits=20, decimal_places=4)))
    aggs = {"total": Count("id")}
    for key, _label, lo, hi in AGE_BANDS:
        cond = Q(_age__isnull=False)
        if lo is not None:
            cond &= Q(_age__gte=lo)
        if hi is not None:
            cond &= Q(_age__lt=hi + 1)
        aggs[key] = Count("id", filter=cond)
    rows = (qs.order_by().values(f"{prefix}_id", f"{prefix}__name", f"{prefix}__code").annotate(**aggs)
            .order_by(f"{prefix}__code"))
    return [{"unit_id": r[f"{prefix}_id"], "unit_name": r[f"{prefix}__name"], "unit_code": r[f"{prefix}__code"],
             "total": r["total"], "bands": [r[k] for k, *_rest in AGE_BANDS]} for r in rows[:1000]]


# --- capacity matching (岗位学位床位托位): a resident's demand → a free place ---------------------
# (issue 16 item 5; block of h-ledgers2)

CAPACITY = "service_capacity"
CAPACITY_KINDS = ("岗位", "学位", "床位", "托位")


def township_of(unit: OrgUnit | None) -> OrgUnit | None:
    """The township (乡镇街道) a unit lies in: itself at that level, else its ancestor."""
    if unit is None or unit.level < Level.TOWNSHIP:
        return None
    if unit.level == Level.TOWNSHIP:
        return unit
    return OrgUnit.objects.filter(pk__in=unit.ancestor_ids(), level=Level.TOWNSHIP).first()


def free_places(user, register: Register, *, kind: str, township: OrgUnit, lat: float | None = None,
                lon: float | None = None):
    """Providers of ``kind`` with free places (capacity − occupied, computed in SQL from the
    entries' JSON, not the typed 空余) in ``township``'s county, in ``user``'s scope: the
    township's own first (most free places first), then the other townships of the county,
    nearest first by their centre point (from ``lat``/``lon`` — the demand's point — or the
    township's centre), those without a centre last. One query; the caller paginates."""
    import math

    from django.db.models import Case, F, FloatField, IntegerField, Value, When
    from django.db.models.functions import Coalesce

    dec = DecimalField(max_digits=20, decimal_places=4)
    county = township.parent if township.parent_id else township
    qs = (entries(user, register, filters={"kind": kind}, unit=county)
          .annotate(_cap=Coalesce(Cast(KT("data__capacity"), dec), Value(Decimal(0)), output_field=dec),
                    _occ=Coalesce(Cast(KT("data__occupied"), dec), Value(Decimal(0)), output_field=dec))
          .annotate(free_places=F("_cap") - F("_occ"))
          .filter(free_places__gt=0)
          .annotate(home=Case(When(unit_id=township.pk, then=Value(1)), default=Value(0),
                              output_field=IntegerField())))
    plat = lat if lat is not None else township.centre_lat
    plon = lon if lon is not None else township.centre_lon
    order = ["-home"]
    if plat is not None and plon is not None:
        k = math.cos(math.radians(plat))  # equirectangular: enough to rank townships of one county
        dlat = F("unit__centre_lat") - Value(float(plat))
        dlon = (F("unit__centre_lon") - Value(float(plon))) * Value(k)
        qs = qs.annotate(distance2=ExpressionWrapper(dlat * dlat + dlon * dlon, output_field=FloatField()))
        order.append(F("distance2").asc(nulls_last=True))
    return qs.order_by(*order, "-free_places", "id")


def free_places_by_township(user, register: Register, *, kind: str, county: OrgUnit) -> list[dict]:
    """The free places of ``kind`` summed per township of ``county`` (in scope, one GROUP BY)."""
    dec = DecimalField(max_digits=20, decimal_places=4)
    from django.db.models import F

    rows = (entries(user, register, filters={"kind": kind}, unit=county)
            .annotate(_free=Cast(KT("data__capacity"), dec) - Cast(KT("data__occupied"), dec))
            .filter(_free__gt=0).order_by().values("unit_id", "unit__name", "unit__code")
            .annotate(free=Sum("_free"), providers=Count("id")).order_by(F("free").desc(), "unit__code"))
    return [{"unit_id": r["unit_id"], "unit_name": r["unit__name"], "unit_code": r["unit__code"],
             "free": int(r["free"]), "providers": r["providers"]} for r in rows[:500]]
