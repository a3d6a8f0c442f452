"""Every change to registers, entries and collection rounds (the only module here that writes).

Each function checks permission and scope through the gate (``core.scope``), validates (one
``ServiceError`` naming the fields, nothing written), writes in one transaction and records one
audit entry. Anything that depends on now takes ``now``.

* Definitions belong to the unit that defines them (``ledgers.register.manage`` there; the
  city for the built-in ones): ``create_register``,
  ``change_register`` (versioned; a change that would make existing entries invalid is refused,
  checked in SQL), ``load_definitions`` (a file between deployments).
* Entries: ``create_entry``, ``update_entry`` (compare-and-set on ``version``: 409),
  ``delete_entry``; each writes one ``EntryChange`` (history) and one audit entry.
* Rounds (填报): ``open_round``, ``submit``, ``return_submission``, ``open_late_matters`` (the
  ``ledgers.sweep`` job; one loop matter per late unit and round, via ``loop.services``).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DecimalField, F, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Length
from django.utils import timezone
from django.utils.translation import gettext as _

from bihuan.core import audit, protect
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import require
from bihuan.core.text import has_control
from bihuan.orgs.models import Level, OrgUnit

from . import fields as fl
from .models import (
    Entry,
    EntryChange,
    EntryFile,
    OfficeProposal,
    Register,
    RegisterVersion,
    Round,
    RoundEscalation,
    Submission,
    SubmissionState,
)

MANAGE = "ledgers.register.manage"
CHANGE = "ledgers.entry.change"
REVEAL = "ledgers.entry.reveal"
ROUND_MANAGE = "ledgers.round.manage"
ROUND_SUBMIT = "ledgers.round.submit"
CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _text(value, field: str, *, limit: int, required: bool = False) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise ServiceError(_("%(field)s is required.") % {"field": field}, {field: _("This field is required.")})
    if len(value) > limit:
        raise ServiceError(_("%(field)s is too long (at most %(max)d characters).") % {"field": field, "max": limit},
                           {field: _("At most %(max)d characters.") % {"max": limit}})
    if has_control(value.replace("\n", "")):
        raise ServiceError(_("%(field)s contains control characters.") % {"field": field},
                           {field: _("Control characters are not allowed.")})
    return value


def _version(version) -> int:
    if version is None or isinstance(version, bool):
        raise ServiceError(_("The version is required."), {"version": _("This field is required.")})
    try:
        return int(version)
    except (TypeError, ValueError):
        raise ServiceError(_("The version must be a whole number."), {"version": _("Enter a whole number.")})


def _bump(model, obj, version) -> None:
    """Compare-and-set on ``version``: exactly one writer of version n wins (else 409)."""
    version = _version(version)
    if not model.objects.filter(pk=obj.pk, version=version).update(version=F("version") + 1):
        current = model.objects.filter(pk=obj.pk).values_list("version", flat=True).first()
        raise Conflict(_("It was changed by someone else (version %(cur)s, you sent %(sent)d). "
                         "Reload it and try again.") % {"cur": current, "sent": version})
    obj.version = version + 1


# --- definitions -------------------------------------------------------------------------------

def _level(level) -> int:
    try:
        level = int(level)
    except (TypeError, ValueError):
        level = 0
    if level not in Level.values:
        raise ServiceError(_("Choose the level of unit that fills the register."),
                           {"level": _("Unknown level.")})
    return level


def _snapshot(r: Register) -> dict:
    return {"code": r.code, "name": r.name, "level": r.level, "version": r.version,
            "fields": [f["key"] + (" (removed)" if f.get("removed") else "") for f in r.fields]}


def root_unit() -> OrgUnit:
    unit = OrgUnit.objects.filter(parent__isnull=True, valid_to__isnull=True).order_by("id").first()
    if unit is None:
        raise ServiceError(_("There is no organisation tree yet."), {"unit": _("No root unit.")})
    return unit


@transaction.atomic
def create_register(user, *, code: str, name: str, level, fields, description: str = "",
                    unit: OrgUnit | None = None, now: datetime | None = None) -> Register:
    """A new register definition, owned by ``unit`` (default: the root, the city), filled by the
    units of ``level`` below it."""
    now = _now(now)
    unit = unit or root_unit()
    require(user, MANAGE, unit)
    code = _text(code, "code", limit=40, required=True)
    if not CODE.match(code):
        raise ServiceError(_("A code is a lower-case letter, then letters, digits or _."),
                           {"code": _("Letters, digits and _ only.")})
    if Register.objects.filter(code=code).exists():
        raise Conflict(_("A register with the code %(c)s exists.") % {"c": code}, field_errors={"code": _("Taken.")})
    level = _level(level)
    if level <= unit.level:
        raise ServiceError(_("A register is filled by units below the unit that defines it."),
                           {"level": _("Too high.")})
    r = Register(unit=unit, code=code, name=_text(name, "name", limit=80, required=True), level=level,
                 description=_text(description, "description", limit=2000), fields=fl.clean_fields(fields),
                 created_at=now, updated_at=now)
    r.save()
    RegisterVersion.objects.create(register=r, version=1, fields=r.fields, at=now, by=_user(user))
    audit.record("ledgers.register.create", r, after=_snapshot(r), now=now)
    return r


def _user(user):
    return user if getattr(user, "pk", None) else None


def _breaks(r: Register, old: dict, new: dict) -> int:
    """How many existing entries ``new`` (a changed field) would make invalid, counted in SQL."""
    key = new["key"]
    qs = Entry.objects.filter(register=r)
    has = Q(**{"data__has_key": key})
    bad = Q(pk__in=[])
    if new["required"] and not old.get("required") and "default" not in new:
        bad |= ~has
    if new["type"] in fl.NUMERIC:
        num = Cast(KT(f"data__{key}"), DecimalField(max_digits=20, decimal_places=4))
        qs = qs.annotate(_v=num)
        if new.get("min") is not None and (old.get("min") is None or new["min"] > old["min"]):
            bad |= has & Q(_v__lt=new["min"])
        if new.get("max") is not None and (old.get("max") is None or new["max"] < old["max"]):
            bad |= has & Q(_v__gt=new["max"])
    if new["type"] == "choice":
        gone = set(old.get("choices") or []) - set(new["choices"])
        if gone:
            bad |= Q(**{f"data__{key}__in": sorted(gone)})
    if new["type"] == "multi":
        if set(old.get("choices") or []) - set(new["choices"]):
            bad |= has
    if new["type"] == "text":
        if new.get("max_length", fl.DEFAULT_TEXT) < old.get("max_length", fl.DEFAULT_TEXT):
            qs = qs.annotate(_len=Length(KT(f"data__{key}")))
            bad |= has & Q(_len__gt=new["max_length"])
        if new.get("pattern") and new.get("pattern") != old.get("pattern"):
            if new["personal"]:
                bad |= has
            else:
                qs = qs.annotate(_t=KT(f"data__{key}"))
                bad |= has & ~Q(_t__regex=f"^(?:{new['pattern']})$")
    n = qs.filter(bad).count()
    if new.get("unique") and new["unique"] != old.get("unique"):
        col = f"blind__{key}" if new["personal"] else f"data__{key}"
        group = [col] if new["unique"] == "city" else [col, "unit_id"]
        n += (Entry.objects.filter(register=r, **{f"{col}__isnull": False}).values(*group)
              .annotate(n=Count("id")).filter(n__gt=1).count())
    return n


@transaction.atomic
def change_register(user, register: Register, *, version, name=None, description=None, fields=None,
                    level=None, active=None, now: datetime | None = None) -> Register:
    """A new version of a definition. A field left out is kept as removed (its history stays);
    a field may not change type; a stricter rule is refused while existing entries break it
    (required without a default, a narrower range, a choice taken away, a pattern, uniqueness)."""
    now = _now(now)
    r = Register.objects.select_for_update().select_related("unit").get(pk=register.pk)
    _require_manage(user, r)
    sent = _version(version)
    if r.version != sent:
        raise Conflict(_("It was changed by someone else (version %(cur)s, you sent %(sent)d). "
                         "Reload it and try again.") % {"cur": r.version, "sent": sent})
    before = _snapshot(r)
    if name is not None:
        r.name = _text(name, "name", limit=80, required=True)
    if description is not None:
        r.description = _text(description, "description", limit=2000)
    if level is not None and _level(level) != r.level:
        if _level(level) <= r.unit.level:
            raise ServiceError(_("A register is filled by units below the unit that defines it."),
                               {"level": _("Too high.")})
        if Entry.objects.filter(register=r).exists():
            raise ServiceError(_("The filling level cannot change once entries exist."),
                               {"level": _("Entries exist.")})
        r.level = _level(level)
    if active is not None:
        r.active = bool(active)
    if fields is not None:
        new_fields = fl.clean_fields(fields, r.fields)
        old = {f["key"]: f for f in r.fields}
        errors = {}
        for f in new_fields:
            if f["removed"]:
                continue
            o = old.get(f["key"])
            if o is None or o.get("removed"):
                o = {"key": f["key"], "type": f["type"], "required": False, "choices": f.get("choices")}
                if f["required"] and "default" not in f and Entry.objects.filter(register=r).exists():
                    errors[f["key"]] = _("Existing entries have no value: add it as optional, or give a default.")
                    continue
            n = _breaks(r, o, f)
            if n:
                errors[f["key"]] = _("%(n)d existing entries would not be valid under this rule.") % {"n": n}
        if errors:
            first = next(iter(errors))
            raise ServiceError(_("The change would make existing entries invalid (%(f)s: %(m)s).")
                               % {"f": first, "m": errors[first]}, {f"fields.{k}": v for k, v in errors.items()})
        if new_fields != r.fields:
            r.fields = new_fields
    r.version += 1
    r.updated_at = now
    r.save()
    RegisterVersion.objects.create(register=r, version=r.version, fields=r.fields, at=now, by=_user(user))
    audit.record("ledgers.register.change", r, before=before, after=_snapshot(r), now=now)
    return r


# --- the field-by-field builder (each step a new version through change_register) ----------------

EDITABLE = ("label", "required", "listed", "unique", "min", "max", "places", "unit", "max_length", "pattern",
            "choices", "default", "dictionary")


def add_field(user, register: Register, *, version, field: dict, now: datetime | None = None) -> Register:
    """A new field at the end of the definition (a new version; the same checks as any change:
    a required field on a register with entries needs a default)."""
    if not isinstance(field, dict):
        raise ServiceError(_("A field is an object with key, label and type."), {"key": _("Not a field.")})
    key = str(field.get("key") or "")
    if register.field(key) is not None:
        raise ServiceError(_("The key %(k)s is taken (also by a removed field, whose history is kept).")
                           % {"k": key[:30]}, {"key": _("Taken.")})
    return change_register(user, register, version=version, fields=[*register.live_fields(), field], now=now)


def change_field(user, register: Register, *, version, key: str, changes: dict,
                 now: datetime | None = None) -> Register:
    """A field's label and validation changed (its key, type and personal flag stay); refused if
    existing entries would not be valid under it."""
    f = register.field(str(key)[:30])
    if f is None or f.get("removed"):
        raise NotFound()
    new = {**f, **{k: v for k, v in changes.items() if k in EDITABLE}}
    for k in EDITABLE:  # an emptied optional rule is dropped
        if k in changes and changes[k] in (None, "") and k not in ("label",):
            new.pop(k, None)
    fields = [new if g["key"] == f["key"] else g for g in register.live_fields()]
    return change_register(user, register, version=version, fields=fields, now=now)


def remove_field(user, register: Register, *, version, key: str, now: datetime | None = None) -> Register:
    """A field left out of the definition: no longer filled, its values kept in old entries and
    in the history (``removed: true``)."""
    f = register.field(str(key)[:30])
    if f is None or f.get("removed"):
        raise NotFound()
    return change_register(user, register, version=version,
                           fields=[g for g in register.live_fields() if g["key"] != f["key"]], now=now)


def _require_manage(user, r: Register) -> None:
    """``ledgers.register.manage`` at the owner; 403 (not 404) to one who can see the register."""
    from . import selectors

    try:
        require(user, MANAGE, r.unit)
    except NotFound:
        if selectors.registers(user).filter(pk=r.pk).exists():
            raise PermissionDenied(_("Only the unit that defined the register may change it.")) from None
        raise


def load_definitions(user, items, *, unit: OrgUnit | None = None, now: datetime | None = None) -> dict:
    """Definitions from a file (``bihuan registers load``, the API): new codes are created,
    known ones changed to the file's fields (the same rules as a change); all or nothing."""
    if isinstance(items, dict):
        items = items.get("registers", [items])
    if not isinstance(items, list) or not items:
        raise ServiceError(_("The file holds no register definitions."), {"file": _("Empty.")})
    out = {"created": 0, "changed": 0, "unchanged": 0}
    with transaction.atomic():
        for i, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise ServiceError(_("Definition %(i)d is not an object.") % {"i": i}, {"file": _("Not an object.")})
            try:
                existing = Register.objects.filter(code=str(item.get("code") or "")).first()
                if existing is None:
                    create_register(user, code=item.get("code"), name=item.get("name"), level=item.get("level"),
                                    fields=item.get("fields"), description=item.get("description") or "",
                                    unit=unit, now=now)
                    out["created"] += 1
                    continue
                cleaned = fl.clean_fields(item.get("fields"), existing.fields)
                if (cleaned == existing.fields and existing.name == item.get("name")
                        and existing.level == _level(item.get("level"))):
                    out["unchanged"] += 1
                    continue
                change_register(user, existing, version=existing.version, name=item.get("name"),
                                fields=item.get("fields"), level=item.get("level"),
                                description=item.get("description"), now=now)
                out["changed"] += 1
            except ServiceError as exc:
                if type(exc) not in (ServiceError, Conflict):
                    raise
                raise ServiceError(f"{item.get('code')}: {exc.message}", exc.field_errors, code=exc.code) from exc
    return out


def get_register(user, code) -> Register:
    """The register ``code`` if ``user`` may see it (``selectors.registers``), else 404."""
    from . import selectors

    r = selectors.registers(user).filter(code=str(code)[:40]).select_related("unit").first()
    if r is None:
        raise NotFound()
    return r


# --- entries -----------------------------------------------------------------------------------

def _check_unit(r: Register, unit) -> OrgUnit:
    if unit is None:
        raise ServiceError(_("Choose the unit the entry belongs to."), {"unit": _("This field is required.")})
    if unit.level != r.level or unit.valid_to is not None or not r.unit.is_ancestor_of(unit):
        raise ServiceError(_("%(reg)s is filled by units of level %(lv)s; %(unit)s is not one.")
                           % {"reg": r.name, "lv": Level(r.level).label, "unit": unit.name},
                           {"unit": _("Wrong level.")})
    return unit


def _check_unique(r: Register, unit: OrgUnit, clean: dict, exclude: int | None = None) -> None:
    errors = {}
    for f in r.live_fields():
        key = f["key"]
        if not f.get("unique"):
            continue
        if f["personal"]:
            if key not in clean["blind"]:
                continue
            q = Q(**{f"blind__{key}": clean["blind"][key]})
        else:
            if key not in clean["data"]:
                continue
            q = Q(**{f"data__{key}": clean["data"][key]})
        qs = Entry.objects.filter(register=r).filter(q)
        if f["unique"] == "unit":
            qs = qs.filter(unit=unit)
        if exclude:
            qs = qs.exclude(pk=exclude)
        if qs.exists():
            errors[key] = (_("Another entry of this unit has this value.") if f["unique"] == "unit"
                           else _("Another entry has this value."))
    if errors:
        key = next(iter(errors))
        raise Conflict(_("%(f)s: %(m)s") % {"f": r.field(key)["label"], "m": errors[key]}, field_errors=errors)


def _change(entry: Entry, verb: str, changes: dict, user, now) -> None:
    EntryChange.objects.create(entry_id_ref=entry.pk, register_id=entry.register_id, unit_id=entry.unit_id,
                               verb=verb, changes=changes, at=now, by=_user(user),
                               by_name=getattr(user, "username", "") or "system")


def _store_files(e: Entry, uploads: dict, user, now) -> None:
    """The files of ``uploads`` (key → (upload, content type)), checked by the validator, kept
    through Django's storage; the entry's ``data`` already holds their names."""
    import hashlib

    from django.core.files.base import ContentFile

    from . import files

    for key, (up, content_type) in uploads.items():
        name = files.clean_name(up.name)
        ef = EntryFile(entry_ref=e.pk, key=key, register_id=e.register_id, unit_id=e.unit_id, name=name,
                       content_type=content_type, size=len(up.content),
                       sha256=hashlib.sha256(up.content).hexdigest(), uploaded_at=now, by=_user(user))
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        ef.file.save(f"{e.pk}-{key}.{ext}", ContentFile(up.content), save=False)
        ef.save()


def open_file(user, entry, key: str, *, now: datetime | None = None) -> EntryFile:
    """The current file of field ``key`` of an entry in ``user``'s view scope (else 404); the
    download is audited (``ledgers.entry.file``)."""
    now = _now(now)
    e = get_entry(user, entry)
    f = e.register.field(str(key)[:30])
    if f is None or f["type"] != "file" or not e.data.get(f["key"]):
        raise NotFound()
    ef = (EntryFile.objects.filter(entry_ref=e.pk, key=f["key"], name=e.data[f["key"]], unit_id=e.unit_id)
          .order_by("-id").first())
    if ef is None:
        raise NotFound()
    audit.record("ledgers.entry.file", e, extra={"field": f["key"], "file": ef.name, "sha256": ef.sha256}, now=now)
    return ef


def attach_file(user, entry, key: str, upload, *, version, now: datetime | None = None) -> Entry:
    """Set (or replace) the file of field ``key`` (the API's upload): a new version of the entry,
    its other values kept; the same checks as the form."""
    e = get_entry(user, entry, "change")
    f = e.register.field(str(key)[:30])
    if f is None or f.get("removed") or f["type"] != "file":
        raise ServiceError(_("%(k)s is not a file field of this register.") % {"k": str(key)[:30]},
                           {"key": _("Not a file field.")})
    values = {g["key"]: e.data.get(g["key"]) for g in e.register.live_fields()}
    values[f["key"]] = upload
    return update_entry(user, e, version=version, values=values, now=now)


def _active(r: Register) -> Register:
    if not r.active:
        raise ServiceError(_("The register %(r)s is closed.") % {"r": r.name}, code="closed")
    return r


@transaction.atomic
def create_entry(user, register: Register, *, unit: OrgUnit, values: dict, now: datetime | None = None) -> Entry:
    now = _now(now)
    r = _active(register)
    _check_unit(r, unit)
    require(user, CHANGE, unit)
    clean = fl.validate(r, values, user=user)
    _check_unique(r, unit, clean)
    e = Entry.objects.create(register=r, unit=unit, data=clean["data"], protected=clean["protected"],
                             blind=clean["blind"], search=fl.search_text(r, clean["data"]),
                             register_version=r.version, created_at=now, updated_at=now, created_by=_user(user))
    _store_files(e, clean["uploads"], user, now)
    _change(e, "create", {k: [None, v] for k, v in clean["data"].items()}, user, now)
    audit.record("ledgers.entry.create", e, after={"register": r.code, **clean["data"]}, now=now)
    return e


def create_entries(user, register: Register, rows: list[tuple[object, OrgUnit, dict]], *,
                   now: datetime | None = None) -> dict[object, dict]:
    """Many new entries at once (the import): each row ``(ref, unit, values)`` is checked like
    ``create_entry`` (the unit, scope, the one validator, uniqueness — against the register and
    within the batch); the good ones are written together (``COPY`` on PostgreSQL, ``bulk_create``
    elsewhere; entries and their history rows), and ``{ref: field errors}`` is returned for the rest. The caller (``core.tabular``'s
    import, one transaction, one audit entry for the file) decides whether anything is kept."""
    now = _now(now)
    r = _active(register)
    errors: dict[object, dict] = {}
    good: list[tuple[object, OrgUnit, dict]] = []
    unit_ok: dict[int, ServiceError | None] = {}  # the unit checks, once per unit (rows repeat units)
    for ref, unit, values in rows:
        try:
            if unit.pk not in unit_ok:
                try:
                    _check_unit(r, unit)
                    require(user, CHANGE, unit)
                    unit_ok[unit.pk] = None
                except ServiceError as exc:
                    unit_ok[unit.pk] = exc
            if unit_ok[unit.pk] is not None:
                raise unit_ok[unit.pk]
            good.append((ref, unit, fl.validate(r, values, user=user)))
        except ServiceError as exc:
            errors[ref] = exc.field_errors or {"": str(exc.message)}
    for f in r.live_fields():  # uniqueness: one query per unique field, plus the batch itself
        if not f.get("unique"):
            continue
        key, col = f["key"], ("blind" if f["personal"] else "data")
        vals = [c[col][key] for _ref, _u, c in good if key in c[col]]
        if not vals:
            continue
        taken = set()
        for i in range(0, len(vals), 500):
            qs = Entry.objects.filter(register=r, **{f"{col}__{key}__in": vals[i:i + 500]})
            taken |= {(e[col].get(key), e["unit_id"] if f["unique"] == "unit" else None)
                      for e in qs.values(col, "unit_id")}
        seen = set()
        kept = []
        for ref, unit, c in good:
            v = c[col].get(key)
            mark = (v, unit.pk if f["unique"] == "unit" else None)
            if v is not None and (mark in taken or mark in seen):
                errors[ref] = {key: _("Another entry of this unit has this value.") if f["unique"] == "unit"
                               else _("Another entry has this value.")}
                continue
            seen.add(mark)
            kept.append((ref, unit, c))
        good = kept
    by = _user(user)
    who = getattr(user, "username", "") or "system"
    rows_out = [(unit.pk, c["data"], c["protected"], c["blind"], fl.search_text(r, c["data"]))
                for _ref, unit, c in good]
    if connection.vendor == "postgresql" and rows_out:
        _copy_entries(r, rows_out, by, who, now)
        return errors
    made = Entry.objects.bulk_create([
        Entry(register=r, unit_id=unit_id, data=data, protected=prot, blind=blind, search=search,
              register_version=r.version, created_at=now, updated_at=now, created_by=by)
        for unit_id, data, prot, blind, search in rows_out], batch_size=1000)
    EntryChange.objects.bulk_create([
        EntryChange(entry_id_ref=e.pk, register_id=r.pk, unit_id=e.unit_id, verb="create",
                    changes={k: [None, v] for k, v in e.data.items()}, at=now, by=by, by_name=who)
        for e in made], batch_size=1000)
    return errors


def _copy_entries(r: Register, rows: list[tuple], by, who: str, now) -> None:
    """PostgreSQL: the checked rows of an import written with ``COPY`` (entries and their history
    rows), in the caller's transaction. The ids are taken from the table's sequence first, so the
    history rows can name their entries. (``bulk_create``'s UNNEST spends most of its time quoting
    JSON into arrays.)"""
    import json

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    by_id = getattr(by, "pk", None)
    with connection.cursor() as c:
        c.execute("SELECT nextval(pg_get_serial_sequence('ledgers_entry', 'id')) FROM generate_series(1, %s)",
                  [len(rows)])
        ids = [x[0] for x in c.fetchall()]
        cur = c.cursor
        with cur.copy("COPY ledgers_entry (id, register_id, unit_id, data, protected, blind, search, "
                      "register_version, version, created_at, updated_at, created_by_id) FROM STDIN") as cp:
            for pk, (unit_id, data, prot, blind, search) in zip(ids, rows, strict=True):
                cp.write_row((pk, r.pk, unit_id, dumps(data), dumps(prot), dumps(blind), search, r.version, 1,
                              now, now, by_id))
        with cur.copy("COPY ledgers_entrychange (entry_id_ref, register_id, unit_id, verb, changes, at, by_id, "
                      "by_name) FROM STDIN") as cp:
            for pk, (unit_id, data, _p, _b, _s) in zip(ids, rows, strict=True):
                cp.write_row((pk, r.pk, unit_id, "create", dumps({k: [None, v] for k, v in data.items()}), now,
                              by_id, who))


def get_entry(user, entry, action: str = "view") -> Entry:
    pk = getattr(entry, "pk", entry)
    e = Entry.objects.select_related("register", "unit").filter(pk=pk).first()
    if e is None:
        raise NotFound()
    require(user, f"ledgers.entry.{action}", e)
    return e


@transaction.atomic
def update_entry(user, entry, *, version, values: dict, now: datetime | None = None) -> Entry:
    """A new version of the entry's values (all live fields; personal ones left empty are kept)."""
    now = _now(now)
    e = get_entry(user, entry, "change")
    r = _active(e.register)
    clean = fl.validate(r, values, user=user, current=e)
    _check_unique(r, e.unit, clean, exclude=e.pk)
    _bump(Entry, e, version)
    before = dict(e.data)
    # Values of removed fields stay in the row: their history is kept.
    removed = {f["key"] for f in r.fields if f.get("removed")}
    data = {**{k: v for k, v in e.data.items() if k in removed}, **clean["data"]}
    changes = {k: [before.get(k), data.get(k)] for k in set(before) | set(data) if before.get(k) != data.get(k)}
    Entry.objects.filter(pk=e.pk).update(data=data, protected=clean["protected"], blind=clean["blind"],
                                         search=fl.search_text(r, data), register_version=r.version,
                                         updated_at=now)
    e.data, e.protected, e.blind, e.updated_at = data, clean["protected"], clean["blind"], now
    _store_files(e, clean["uploads"], user, now)
    for key in clean["uploads"]:  # a new file under the same name is a change too
        changes.setdefault(key, [before.get(key), data.get(key)])
    if changes:
        _change(e, "update", changes, user, now)
    audit.record("ledgers.entry.update", e, before={k: v[0] for k, v in changes.items()},
                 after={k: v[1] for k, v in changes.items()}, now=now)
    return e


@transaction.atomic
def delete_entry(user, entry, *, version, now: datetime | None = None) -> None:
    now = _now(now)
    e = get_entry(user, entry, "change")
    _bump(Entry, e, version)
    _change(e, "delete", {k: [v, None] for k, v in e.data.items()}, user, now)
    audit.record("ledgers.entry.delete", e, before={"register": e.register.code, **e.data}, now=now)
    e.delete()


def reveal(user, entry, key: str, reason: str, *, now: datetime | None = None) -> str:
    """A personal value in full: needs ``ledgers.entry.reveal`` on the entry and a reason; audited."""
    now = _now(now)
    e = get_entry(user, entry)
    require(user, REVEAL, e)
    reason = _text(reason, "reason", limit=500, required=True)
    if key not in e.protected:
        raise ServiceError(_("That field holds no personal data."), {"field": _("Unknown field.")})
    value = protect.decrypt(e.protected[key])
    audit.record("ledgers.entry.reveal", e, extra={"field": key, "reason": reason}, now=now)
    return value


# --- collection rounds (填报) --------------------------------------------------------------------

@transaction.atomic
def open_round(user, register: Register, *, within: OrgUnit, title: str, due_on,
               now: datetime | None = None) -> Round:
    """"Every village under ``within`` reports its cooperatives by ``due_on``"."""
    now = _now(now)
    if within is None:
        raise ServiceError(_("Choose the unit whose subtree reports."), {"within": _("This field is required.")})
    require(user, ROUND_MANAGE, within)
    r = _active(register)
    if within.level >= r.level or not (within.pk == r.unit_id or r.unit.is_ancestor_of(within)):
        raise ServiceError(_("The round must be opened above the filling level."), {"within": _("Too low.")})
    if isinstance(due_on, str):
        try:
            due_on = date.fromisoformat(due_on)
        except ValueError:
            raise ServiceError(_("Enter a date (YYYY-MM-DD)."), {"due_on": _("Enter a date.")})
    if not isinstance(due_on, date):
        raise ServiceError(_("Enter a date (YYYY-MM-DD)."), {"due_on": _("Enter a date.")})
    if due_on < timezone.localtime(now).date():
        raise ServiceError(_("The deadline is in the past."), {"due_on": _("In the past.")})
    rd = Round.objects.create(register=r, within=within, title=_text(title, "title", limit=120, required=True),
                              due_on=due_on, created_at=now, created_by=_user(user))
    audit.record("ledgers.round.open", rd, after={"register": r.code, "title": rd.title,
                                                  "due_on": due_on.isoformat()}, now=now)
    return rd


def deadline(rd: Round) -> datetime:
    """The end of the due day, Asia/Shanghai."""
    from datetime import time

    return timezone.make_aware(datetime.combine(rd.due_on, time(23, 59, 59)))


def _round_unit(rd: Round, unit: OrgUnit) -> None:
    if unit is None or unit.level != rd.register.level or not (
            rd.within.pk == unit.pk or rd.within.is_ancestor_of(unit)) or unit.valid_to is not None:
        raise ServiceError(_("%(u)s does not report in this round.") % {"u": getattr(unit, "name", "")},
                           {"unit": _("Not in this round.")})


@transaction.atomic
def submit(user, rd: Round, *, unit: OrgUnit, note: str = "", now: datetime | None = None) -> Submission:
    """A unit reports its entries for the round (again, after a return)."""
    now = _now(now)
    require(user, ROUND_SUBMIT, unit)
    rd = Round.objects.select_related("register", "within").get(pk=rd.pk)
    _round_unit(rd, unit)
    note = _text(note, "note", limit=500)
    n = Entry.objects.filter(register=rd.register, unit=unit).count()
    on_time = now <= deadline(rd)
    s = Submission.objects.select_for_update().filter(round=rd, unit=unit).first()
    if s is not None and s.state == SubmissionState.SUBMITTED:
        raise Conflict(_("%(u)s has submitted already.") % {"u": unit.name})
    if s is None:
        s = Submission.objects.create(round=rd, unit=unit, submitted_at=now, on_time=on_time, entries=n, note=note)
    else:
        Submission.objects.filter(pk=s.pk).update(state=SubmissionState.SUBMITTED, submitted_at=now,
                                                  on_time=on_time, entries=n, note=note, version=F("version") + 1)
        s.refresh_from_db()
    audit.record("ledgers.round.submit", s, after={"round": rd.pk, "entries": n, "on_time": on_time}, now=now)
    return s


@transaction.atomic
def return_submission(user, submission: Submission, *, reason: str, now: datetime | None = None) -> Submission:
    """Send a submission back with a reason (退回); the unit fixes its entries and submits again."""
    now = _now(now)
    s = Submission.objects.select_related("round__within", "unit").filter(pk=submission.pk).first()
    if s is None:
        raise NotFound()
    require(user, ROUND_MANAGE, s.round)
    reason = _text(reason, "reason", limit=500, required=True)
    if s.state != SubmissionState.SUBMITTED:
        raise Conflict(_("The submission was returned already."))
    Submission.objects.filter(pk=s.pk).update(state=SubmissionState.RETURNED, return_reason=reason, returned_at=now,
                                              version=F("version") + 1)
    s.refresh_from_db()
    audit.record("ledgers.round.return", s, after={"round": s.round_id, "reason": reason}, now=now)
    return s


def _category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.TASK, active=True, code="ledger_round").first()
           or Category.objects.filter(kind=Kind.TASK, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="ledger_round", name="台账填报", kind=Kind.TASK, handle_days=5)
    return cat


def late_units(rd: Round, now: datetime):
    """Units of the round that have not submitted (a returned submission counts as not)."""
    done = Submission.objects.filter(round=rd, state=SubmissionState.SUBMITTED).values("unit_id")
    return (OrgUnit.objects.filter(level=rd.register.level, valid_to__isnull=True,
                                   path__startswith=rd.within.path)
            .exclude(pk__in=done).order_by("path"))


def open_late_matters(now: datetime | None = None) -> int:
    """The ``ledgers.sweep`` job: after a round's deadline, one loop matter (kind task) per unit
    that has not submitted — once per round and unit, also when two runs overlap."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    now = _now(now)
    opened = 0
    today = timezone.localtime(now).date()
    for rd in Round.objects.filter(due_on__lt=today).select_related("register", "within"):
        pending = late_units(rd, now).exclude(pk__in=RoundEscalation.objects.filter(round=rd).values("unit_id"))
        for unit in pending.iterator(chunk_size=500):
            try:
                with transaction.atomic():
                    esc = RoundEscalation.objects.create(round=rd, unit=unit, opened_at=now)
                    title = (_("台账未按时填报: %(r)s (%(u)s)") % {"r": rd.title, "u": unit.name})[:120]
                    detail = _("%(u)s has not submitted %(reg)s, due %(d)s.") % {
                        "u": unit.name, "reg": rd.register.name, "d": rd.due_on.isoformat()}
                    matter = loop_services.create_matter(None, category=_category(), location_unit=unit,
                                                         title=title, description=detail, kind=Kind.TASK, now=now)
                    matter = loop_services.dispatch(None, matter, version=matter.version, handling_unit=unit,
                                                    now=now)
                    RoundEscalation.objects.filter(pk=esc.pk).update(matter_id=matter.pk)
                    audit.record("ledgers.round.escalate", rd, unit=unit,
                                 after={"unit": unit.code, "matter_id": matter.pk}, now=now)
                    opened += 1
            except IntegrityError:
                continue
    return opened


# --- party-representative offices ----------------------------------------------------------------

OFFICES = "rep_offices"


def _proposal_category():
    from bihuan.loop import config as loop_config
    from bihuan.loop.models import Category, Kind

    cat = (Category.objects.filter(kind=Kind.PROPOSAL, active=True, code="rep_proposal").first()
           or Category.objects.filter(kind=Kind.PROPOSAL, active=True).order_by("code").first())
    if cat is None:
        cat = loop_config.create_category(None, code="rep_proposal", name="代表建议", kind=Kind.PROPOSAL,
                                          handle_days=20)
    return cat


@transaction.atomic
def receive_proposal(user, office, *, representative: str, title: str, description: str,
                     now: datetime | None = None) -> OfficeProposal:
    """A proposal received at an office becomes a loop matter of kind proposal (through
    ``loop.services``), with the office and the representative recorded."""
    from bihuan.loop import services as loop_services
    from bihuan.loop.models import Kind

    now = _now(now)
    e = get_entry(user, office, "change")
    if e.register.code != OFFICES:
        raise ServiceError(_("Proposals are received at party-representative offices."),
                           {"office": _("Not an office.")})
    representative = _text(representative, "representative", limit=40, required=True)
    title = _text(title, "title", limit=120, required=True)
    description = _text(description, "description", limit=5000, required=True)
    office_name = e.data.get("name") or ""
    matter = loop_services.create_matter(
        None, category=_proposal_category(), location_unit=e.unit, title=title, kind=Kind.PROPOSAL, now=now,
        description=f"{description}\n\n—— {office_name}，{representative}"[:5000])
    p = OfficeProposal.objects.create(office_ref=e.pk, unit=e.unit, representative=representative,
                                      matter_id=matter.pk, received_at=now, by=_user(user))
    audit.record("ledgers.office.proposal", e, after={"office": office_name, "representative": representative,
                                                       "matter_id": matter.pk}, now=now)
    return p


# --- shared dictionaries (字典): defined once by the city, referenced by fields (block of h-ledgers2) ---

def _dictionary_choices(choices) -> list[str]:
    if isinstance(choices, str):
        choices = [c.strip() for c in choices.splitlines() if c.strip()]
    if not isinstance(choices, list) or not choices or len(choices) > fl.MAX_CHOICES:
        raise ServiceError(_("Give 1 to %(n)d choices.") % {"n": fl.MAX_CHOICES},
                           {"choices": _("Give 1 to %(n)d choices.") % {"n": fl.MAX_CHOICES}})
    out = []
    for c in choices:
        c = _text(c, "choices", limit=40, required=True)
        if c in out:
            raise ServiceError(_("A choice appears twice."), {"choices": _("A choice appears twice.")})
        out.append(c)
    return out


def _dictionary_snapshot(d) -> dict:
    return {"code": d.code, "name": d.name, "version": d.version, "choices": list(d.choices)}


def registers_using(dictionary_code: str) -> list[Register]:
    """Registers with a live field naming the dictionary (definitions are few: read them all)."""
    return [r for r in Register.objects.select_related("unit").order_by("code")
            if any(f.get("dictionary") == dictionary_code for f in r.live_fields())]


@transaction.atomic
def create_dictionary(user, *, code: str, name: str, choices, now: datetime | None = None):
    """A new shared dictionary, owned by the city (``ledgers.register.manage`` at the root)."""
    from .models import Dictionary, DictionaryVersion

    now = _now(now)
    unit = root_unit()
    require(user, MANAGE, unit)
    code = _text(code, "code", limit=40, required=True)
    if not CODE.match(code):
        raise ServiceError(_("A code is a lower-case letter, then letters, digits or _."),
                           {"code": _("Letters, digits and _ only.")})
    if Dictionary.objects.filter(code=code).exists():
        raise Conflict(_("A dictionary with the code %(c)s exists.") % {"c": code}, field_errors={"code": _("Taken.")})
    d = Dictionary.objects.create(unit=unit, code=code, name=_text(name, "name", limit=80, required=True),
                                  choices=_dictionary_choices(choices), created_at=now, updated_at=now)
    DictionaryVersion.objects.create(dictionary=d, version=1, choices=d.choices, at=now, by=_user(user))
    audit.record("ledgers.dictionary.create", d, after=_dictionary_snapshot(d), now=now)
    return d


@transaction.atomic
def change_dictionary(user, dictionary, *, version, name=None, choices=None, now: datetime | None = None):
    """A new version of a dictionary; every register using it gets a new version with the new
    choices (``change_register``: refused, nothing saved, while an entry holds a choice taken away)."""
    from .models import Dictionary, DictionaryVersion

    now = _now(now)
    d = Dictionary.objects.select_for_update().select_related("unit").get(pk=dictionary.pk)
    require(user, MANAGE, d.unit)
    sent = _version(version)
    if d.version != sent:
        raise Conflict(_("It was changed by someone else (version %(cur)s, you sent %(sent)d). "
                         "Reload it and try again.") % {"cur": d.version, "sent": sent})
    before = _dictionary_snapshot(d)
    if name is not None:
        d.name = _text(name, "name", limit=80, required=True)
    changed = False
    if choices is not None:
        new = _dictionary_choices(choices)
        changed = new != d.choices
        d.choices = new
    d.version += 1
    d.updated_at = now
    d.save()
    DictionaryVersion.objects.create(dictionary=d, version=d.version, choices=d.choices, at=now, by=_user(user))
    if changed:
        for r in registers_using(d.code):
            try:
                change_register(user, r, version=r.version, fields=r.live_fields(), now=now)
            except ServiceError as exc:
                raise ServiceError(_("The register %(r)s refuses the change: %(m)s") % {"r": r.name, "m": exc.message},
                                   {"choices": exc.message}) from None
    audit.record("ledgers.dictionary.change", d, before=before, after=_dictionary_snapshot(d), now=now)
    return d
