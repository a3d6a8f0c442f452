"""``/api/v1/registers``: definitions, entries, summaries — the same scope and rules as the pages.

An entry's ``data`` is validated by the one validator built from the definition
(``ledgers.fields.validate``, in the services); its JSON Schema is at
``/api/v1/registers/{code}/schema``. Filters on fields are query parameters named by the field
key (``?kind=种植``, ``?members__min=10``). Refusals are problem+json through ``api/urls.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import FileResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import CleanIn, Id, Version, query_word
from bihuan.core.scope import units_q
from bihuan.orgs.models import OrgUnit

from . import fields as fl
from . import files as lf
from . import selectors, services
from .models import Entry

router = Router(tags=["registers"])
MAX_JSON_CHARS = 200_000


class RegisterIn(CleanIn):
    code: str = Field(..., min_length=2, max_length=40)
    name: str = Field(..., min_length=1, max_length=80)
    level: int = Field(..., ge=2, le=5)
    unit: str = Field("", max_length=20)  # defining unit: division code (default: the city)
    description: str = Field("", max_length=2000)
    fields: list[dict[str, Any]] = Field(..., min_length=1, max_length=fl.MAX_FIELDS)


class RegisterOut(Schema):
    code: str
    name: str
    description: str
    level: int
    unit_code: str
    version: int
    active: bool
    fields: list[dict[str, Any]]
    schema_url: str

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_schema_url(obj):
        return f"/api/v1/registers/{obj.code}/schema"


class EntryIn(Schema):
    unit: str = Field(..., min_length=1, max_length=20)  # division code
    data: dict[str, Any] = Field(..., max_length=fl.MAX_FIELDS)


class EntryPatch(Schema):
    version: Version
    data: dict[str, Any] = Field(..., max_length=fl.MAX_FIELDS)


class LedgerEntryOut(Schema):
    id: int
    unit_code: str
    unit_name: str
    data: dict[str, Any]
    version: int
    register_version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_unit_code(obj):
        return obj.unit.code

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class EntryPage(Schema):
    items: list[LedgerEntryOut]
    next_cursor: str | None


class SummaryRow(Schema):
    unit_id: int
    unit_code: str
    unit_name: str
    count: int
    total: float | int | None


def _unit(user, ref: str, perm: str, field: str = "unit") -> OrgUnit | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    unit = OrgUnit.objects.filter(valid_to__isnull=True, code=ref).filter(units_q(user, perm)).first()
    if unit is None:
        raise ServiceError(f"Unknown unit {ref}.", {field: "No current unit with this code in your scope."},
                           code="unknown_unit")
    return unit


def _bounded(data: dict) -> dict:
    if len(str(data)) > MAX_JSON_CHARS:
        raise ServiceError("The values are too large.", {"data": "Too large."})
    return data


@router.get("", response=list[RegisterOut], summary="Register definitions the user may see")
def list_registers(request):
    return list(selectors.registers(request.user)[:500])


@router.post("", response={201: RegisterOut}, summary="Define a register (ledgers.register.manage at its unit)")
def create_register(request, payload: RegisterIn):
    unit = _unit(request.user, payload.unit, "ledgers.register.manage") if payload.unit else None
    r = services.create_register(request.user, code=payload.code, name=payload.name, level=payload.level,
                                 fields=payload.fields, description=payload.description, unit=unit)
    return Status(201, r)


@router.get("/{code}", response=RegisterOut, summary="One register definition")
def get_register(request, code: str):
    return services.get_register(request.user, code)


@router.get("/{code}/schema", summary="The JSON Schema of an entry's data in this register")
def entry_schema(request, code: str):
    return fl.json_schema(services.get_register(request.user, code))


def _field_filters(request, register) -> dict:
    out = {}
    for k, v in request.GET.items():
        key = k.split("__")[0]
        if k in ("unit", "q", "cursor", "limit") or register.field(key) is None:
            continue
        if len(out) >= 12:
            break
        out[k[:60]] = v[:100]
    return out


@router.get("/{code}/entries", response=EntryPage,
            summary="Entries in scope; ?unit=CODE (subtree), ?q= (search), ?<field>= / ?<field>__min= / __max=")
def list_entries(request, code: str, unit: str = Query("", max_length=20), q: str = Query("", max_length=100),
                 cursor: str | None = Query(None, max_length=400), limit: int = Query(50, ge=1, le=200)):
    r = services.get_register(request.user, code)
    u = _unit(request.user, unit, "ledgers.entry.view") if unit else None
    qs = selectors.entries(request.user, r, unit=u, q=query_word(q), filters=_field_filters(request, r))
    page = cursor_page(qs, order=["-id"], cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/{code}/entries", response={201: LedgerEntryOut}, summary="Add an entry (validated by the definition)")
def create_entry(request, code: str, payload: EntryIn):
    r = services.get_register(request.user, code)
    unit = _unit(request.user, payload.unit, "ledgers.entry.change")
    return Status(201, services.create_entry(request.user, r, unit=unit, values=_bounded(payload.data)))


def _entry(user, code: str, entry_id: int) -> Entry:
    r = services.get_register(user, code)
    e = selectors.entries(user, r).filter(pk=entry_id).first()
    if e is None:
        raise NotFound()
    return e


@router.get("/{code}/entries/{ledger_entry_id}", response=LedgerEntryOut, summary="One entry (personal fields masked)")
def get_entry(request, code: str, ledger_entry_id: Id):
    return _entry(request.user, code, ledger_entry_id)


@router.patch("/{code}/entries/{ledger_entry_id}", response=LedgerEntryOut,
              summary="Change an entry: all its values and the version read (stale → 409)")
def update_entry(request, code: str, ledger_entry_id: Id, payload: EntryPatch):
    e = _entry(request.user, code, ledger_entry_id)
    e = services.update_entry(request.user, e, version=payload.version, values=_bounded(payload.data))
    return _entry(request.user, code, e.pk)


@router.post("/{code}/entries/{ledger_entry_id}/files/{key}", response=LedgerEntryOut,
             summary="Upload the file of a file field (multipart: file, version); PDF, JPEG, PNG, XLSX or DOCX")
def upload_file(request, code: str, ledger_entry_id: Id, key: str, version: Form[Version], file: File[UploadedFile]):
    e = _entry(request.user, code, ledger_entry_id)
    if file.size > lf.MAX_FILE_BYTES:  # refused before it is read into memory
        raise lf.too_large(key[:30], file.size)
    up = lf.Upload(str(file.name or "")[:500], file.read())
    e = services.attach_file(request.user, e, key[:30], up, version=version)
    return _entry(request.user, code, e.pk)


@router.get("/{code}/entries/{ledger_entry_id}/files/{key}", summary="Download the file of a file field (audited)")
def download_file(request, code: str, ledger_entry_id: Id, key: str):
    e = _entry(request.user, code, ledger_entry_id)
    ef = services.open_file(request.user, e, key[:30])
    resp = FileResponse(ef.file.open("rb"), content_type=ef.content_type, as_attachment=True, filename=ef.name)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp


@router.get("/{code}/summary", response=list[SummaryRow],
            summary="Counts (and the sum of a numeric field) grouped by the units of a level")
def summary(request, code: str, group_by: str = Query("level", max_length=10), level: int = Query(2, ge=1, le=5),
            field: str = Query("", max_length=40), unit: str = Query("", max_length=20),
            q: str = Query("", max_length=100)):
    r = services.get_register(request.user, code)
    if group_by != "level":
        raise ServiceError("Only group_by=level is supported.", {"group_by": "Use level."})
    if field and (r.field(field) is None or r.field(field)["type"] not in fl.NUMERIC):
        raise ServiceError("Not a numeric field.", {"field": "Name a number or money field."})
    u = _unit(request.user, unit, "ledgers.entry.view") if unit else None
    return selectors.summary(request.user, r, level=level, field=field or None, unit=u, q=query_word(q),
                             filters=_field_filters(request, r))


# --- capacity matching: a resident's demand → a free place (block of h-ledgers2) -----------------

class FreePlaceOut(Schema):
    id: int
    provider: str
    kind: str
    unit_code: str
    unit_name: str
    capacity: int
    occupied: int
    free: int
    same_township: bool


@router.get("/{code}/free-places", response=list[FreePlaceOut],
            summary="Providers with free places (capacity − occupied) of a kind: the township's first, then the "
                    "county's other townships, nearest first (岗位学位床位托位)")
def free_places(request, code: str, kind: str = Query("", max_length=40), unit: str = Query("", max_length=20),
                lat: float | None = Query(None, ge=-90, le=90), lon: float | None = Query(None, ge=-180, le=180),
                limit: int = Query(50, ge=1, le=200)):
    r = services.get_register(request.user, code)
    kf, cf, of = r.field("kind"), r.field("capacity"), r.field("occupied")
    if not (kf and cf and of and kf["type"] == "choice" and cf["type"] in fl.NUMERIC and of["type"] in fl.NUMERIC):
        raise ServiceError("This register has no capacity.", {"code": "Use a register with kind, capacity and occupied."})
    if kind not in (kf.get("choices") or []):
        raise ServiceError("Unknown kind.", {"kind": "One of: " + "、".join(kf.get("choices") or [])})
    u = _unit(request.user, unit, "ledgers.entry.view") if unit else None
    if u is None or u.level != 3:
        raise ServiceError("Not a township.", {"unit": "Name a township (乡镇街道) by its division code."})
    if (lat is None) != (lon is None):
        raise ServiceError("Send both lat and lon.", {"lat": "Send both lat and lon, or neither."})
    rows = selectors.free_places(request.user, r, kind=kind, township=u, lat=lat, lon=lon)[:limit]
    return [{"id": e.pk, "provider": str(e.data.get("provider", "")), "kind": kind, "unit_code": e.unit.code,
             "unit_name": e.unit.name, "capacity": int(e._cap), "occupied": int(e._occ), "free": int(e.free_places),
             "same_township": bool(e.home)} for e in rows]
