"""Open311 GeoReport v2 at ``/open311/v2/``: every endpoint in ``.json`` and ``.xml``.

* ``GET services`` — the categories the city published (those with an Open311 code);
* ``GET services/{service_code}`` — a service definition (Bihuan's services have no extra
  attributes, so ``metadata`` is false and ``attributes`` is empty);
* ``GET requests`` — public requests, filtered by ``service_request_id`` (comma list; other
  filters are then ignored), ``service_code``, ``start_date``, ``end_date`` and ``status``
  (``open``/``closed``); without dates, the last 90 days; at most 1000, newest first;
* ``POST requests`` — a resident's demand, with ``api_key``; the location is ``address_id`` (a
  township or village code) or an ``address_string`` naming one; ``lat``/``long`` are kept;
* ``GET requests/{service_request_id}``, ``GET tokens/{token}``.

Status is ``open`` or ``closed``; Bihuan's own state is in ``status_notes``, the handling unit in
``agency_responsible`` and the deadline in ``expected_datetime``. Only requests that came from
the public (this API or the web form) are readable, and without personal data: no name, no
phone, no free-text address, phone and ID numbers inside the description masked.

Errors use the spec's format — ``[{"code": 400, "description": "…"}]`` or
``<errors><error><code>400</code><description>…</description></error></errors>`` — with the same
HTTP status: 400 for a missing ``api_key`` or a missing/invalid parameter, 403 for an invalid or
revoked ``api_key``, 404 for an unknown ``service_code``, request, token or ``jurisdiction_id``,
429 when a client submits too much.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from xml.etree import ElementTree as ET

from django.conf import settings
from django.db.models import Max
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError
from bihuan.core.protect import mask_text
from bihuan.core.text import clean, xml_safe

from . import public, services
from .models import Kind, Matter, Source, State

FORMATS = ("json", "xml")
MAX_RESULTS = 1000
DEFAULT_DAYS = 90


def jurisdiction_id() -> str:
    return str(getattr(settings, "BIHUAN_OPEN311_JURISDICTION", "370800"))


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = str(description)


# --- rendering -----------------------------------------------------------------------------------

def _iso(dt: datetime | None) -> str | None:
    return timezone.localtime(dt).isoformat(timespec="seconds") if dt else None


def _xml_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    # Whatever is stored, the document must parse: characters XML 1.0 cannot carry are dropped.
    return xml_safe(str(v))


def _xml(root: str, item: str | None, data) -> bytes:
    el = ET.Element(root)

    def fill(parent, obj):
        for k, v in obj.items():
            child = ET.SubElement(parent, k)
            if isinstance(v, list):
                for x in v:
                    fill(ET.SubElement(child, k[:-1] if k.endswith("s") else "item"), x)
            elif isinstance(v, dict):
                fill(child, v)
            else:
                child.text = _xml_value(v)

    if item is None:
        fill(el, data)
    else:
        for obj in data:
            fill(ET.SubElement(el, item), obj)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el, encoding="utf-8", xml_declaration=False)


def render(fmt: str, data, *, root: str, item: str | None, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        return HttpResponse(_xml(root, item, data), status=status, content_type="text/xml; charset=utf-8")
    body = json.dumps(data, ensure_ascii=False)
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return render(fmt, [{"code": status, "description": str(description)}], root="errors", item="error",
                  status=status)


def endpoint(methods: tuple[str, ...]):
    """Wraps a view: method check, jurisdiction check, spec-format errors, no caching."""

    def deco(fn):
        @csrf_exempt
        def view(request, fmt: str, **kw):
            if request.method not in methods:
                resp = error(fmt, 405, _("Method not allowed; use %(m)s.") % {"m": ", ".join(methods)})
                resp["Allow"] = ", ".join(methods)
                return resp
            try:
                params = request.POST if request.method == "POST" else request.GET
                jid = (params.get("jurisdiction_id") or request.GET.get("jurisdiction_id") or "").strip()
                if jid and jid != jurisdiction_id():
                    raise Open311Error(404, _("jurisdiction_id provided was not found: %(j)s") % {"j": jid[:60]})
                resp = fn(request, fmt, params, **kw)
            except Open311Error as exc:
                resp = error(fmt, exc.status, exc.description)
            resp["Cache-Control"] = "no-store"
            resp["Access-Control-Allow-Origin"] = "*"
            return resp

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        return view

    return deco


# --- services -------------------------------------------------------------------------------------

def _service_code(cat) -> str:
    return cat.open311_code or cat.code


def _service(cat) -> dict:
    return {"service_code": _service_code(cat), "service_name": cat.name, "description": cat.description,
            "metadata": False, "type": "realtime", "keywords": "", "group": str(Kind(cat.kind).label)}


def _category(code: str):
    code = (code or "").strip()
    if not code:
        raise Open311Error(400, _("service_code was not provided"))
    cat = public.public_categories().filter(open311_code=code[:40]).first()
    if cat is None:
        raise Open311Error(404, _("service_code provided was not found: %(c)s") % {"c": code[:40]})
    return cat


@endpoint(("GET",))
def services_list(request, fmt, params):
    """GET Service List."""
    return render(fmt, [_service(c) for c in public.public_categories()], root="services", item="service")


@endpoint(("GET",))
def service_definition(request, fmt, params, service_code: str):
    """GET Service Definition."""
    cat = _category(service_code)
    return render(fmt, {"service_code": _service_code(cat), "attributes": []}, root="service_definition",
                  item=None)


# --- requests -------------------------------------------------------------------------------------

def _status_notes(m: Matter) -> str:
    note = str(State(m.state).label)
    if m.state == State.MERGED and m.merged_into_id:
        note += " " + _("(merged into request %(id)d)") % {"id": m.merged_into_id}
    return note


def request_row(m: Matter) -> dict:
    updated = getattr(m, "updated_at", None) or m.created_at
    return {
        "service_request_id": m.pk,
        "status": public.public_state(m),
        "status_notes": _status_notes(m),
        "service_name": m.category.name,
        "service_code": _service_code(m.category),
        "description": mask_text(m.description),
        "agency_responsible": public.agency(m).name,
        "service_notice": m.calendar_warning,
        "requested_datetime": _iso(m.created_at),
        "updated_datetime": _iso(updated),
        "expected_datetime": _iso(m.due_at),
        "address": m.location_unit.name,
        "address_id": m.location_unit.code,
        "zipcode": None,
        # About 100 m: enough to find a pothole, not a front door.
        "lat": round(m.lat, 3) if m.lat is not None else None,
        "long": round(m.lon, 3) if m.lon is not None else None,
        "media_url": None,
    }


def _readable():
    return (public.public_matters()
            .select_related("category", "location_unit", "handling_unit", "dispatch_unit")
            .annotate(updated_at=Max("events__at")))


def _parse_when(value: str, name: str, *, end: bool = False) -> datetime:
    value = value.strip()[:64]
    refused = Open311Error(400, _("%(name)s is not an ISO 8601 date or date-time: %(v)s")
                           % {"name": name, "v": value[:40]})
    try:
        # Well-formed but impossible (2026-02-30, an offset of +25:00) raises ValueError.
        dt = parse_datetime(value.replace(" ", "+")) if "T" in value else None
        if dt is None:
            d = parse_date(value)
            if d is None:
                raise refused
            dt = datetime.combine(d + timedelta(days=1) if end else d, time.min)
        if timezone.is_naive(dt):
            dt = timezone.make_aware(dt)
        dt.astimezone(UTC)  # what the database will be given; years near 1 or 9999 overflow here
    except (ValueError, OverflowError):
        raise refused from None
    if not 1900 <= dt.year <= 2999:
        raise refused
    return dt


def _an_id(text: str) -> bool:
    """Whether ``text`` can be a request id: digits that fit a 64-bit column (core.converters)."""
    text = str(text).strip()
    return text.isascii() and text.isdigit() and len(text) <= 18


@endpoint(("GET", "POST"))
def requests_view(request, fmt, params):
    """GET Service Requests (public) / POST Service Request (api_key)."""
    if request.method == "POST":
        return _create(request, fmt, params)
    qs = _readable()
    ids = (params.get("service_request_id") or "").strip()
    if ids:
        wanted = [int(x) for x in ids.split(",")[:MAX_RESULTS] if _an_id(x)]
        qs = qs.filter(pk__in=wanted)
    else:
        codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
        if codes:
            qs = qs.filter(category__open311_code__in=codes)
        start = _parse_when(params["start_date"], "start_date") if params.get("start_date") else None
        end = _parse_when(params["end_date"], "end_date", end=True) if params.get("end_date") else None
        if start is None and end is None:
            start = timezone.now() - timedelta(days=DEFAULT_DAYS)
        if start is not None and end is not None and start >= end:
            raise Open311Error(400, _("start_date must be before end_date"))
        if start is not None:
            qs = qs.filter(created_at__gte=start)
        if end is not None:
            qs = qs.filter(created_at__lt=end)
        statuses = {s.strip() for s in (params.get("status") or "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise Open311Error(400, _("status must be open or closed"))
        if statuses == {"open"}:
            qs = qs.exclude(state__in=[State.CLOSED, State.MERGED])
        elif statuses == {"closed"}:
            qs = qs.filter(state__in=[State.CLOSED, State.MERGED])
    rows = [request_row(m) for m in qs.order_by("-created_at", "-id")[:MAX_RESULTS]]
    return render(fmt, rows, root="service_requests", item="request")


@endpoint(("GET",))
def request_detail(request, fmt, params, request_id: str):
    """GET Service Request."""
    m = _readable().filter(pk=int(request_id)).first() if _an_id(request_id) else None
    if m is None:
        raise Open311Error(404, _("service_request_id was not found: %(id)s") % {"id": str(request_id)[:40]})
    return render(fmt, [request_row(m)], root="service_requests", item="request")


@endpoint(("GET",))
def token_view(request, fmt, params, token: str):
    """GET request_id from a token."""
    m = public.public_matters().filter(public_token=token[:32]).only("pk", "public_token").first()
    if m is None:
        raise Open311Error(404, _("token was not found"))
    return render(fmt, [{"service_request_id": m.pk, "token": m.public_token}], root="service_requests",
                  item="request")


def _float(params, name: str) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        raise Open311Error(400, _("%(name)s is not a number") % {"name": name})
    limit = 90 if name == "lat" else 180
    if not -limit <= v <= limit:
        raise Open311Error(400, _("%(name)s is out of range") % {"name": name})
    return v


def _location(params):
    code = (params.get("address_id") or "").strip()
    if code:
        unit = public.place_by_code(code)
        if unit is None:
            raise Open311Error(400, _("address_id is not the code of a township, village or community: %(c)s")
                               % {"c": code[:40]})
        return unit
    text = (params.get("address_string") or "").strip()
    if text:
        places = public.find_places(text)
        if len(places) == 1:
            return places[0]
        if places:
            raise Open311Error(400, _("address_string names several places (%(names)s); send address_id instead")
                               % {"names": ", ".join(f"{u.name} {u.code}" for u in places[:5])})
        raise Open311Error(400, _("address_string names no township, village or community we know"))
    raise Open311Error(400, _("address_id or address_string (a township, village or community) is required; "
                              "lat and long alone cannot be placed"))


def _create(request, fmt, params):
    api_key = (params.get("api_key") or "").strip()
    if not api_key:
        raise Open311Error(400, _("api_key was not provided"))
    now = timezone.now()
    key = public.key_for(api_key, now=now)
    if key is None:
        raise Open311Error(403, _("api_key is invalid or revoked"))
    limit = int(getattr(settings, "BIHUAN_OPEN311_POSTS_PER_HOUR", 600))
    if not public.throttle_hit(f"open311:{key.pk}", limit=limit, now=now):
        raise Open311Error(429, _("Too many requests from this api_key; try again in an hour"))
    cat = _category(params.get("service_code"))
    unit = _location(params)
    lat, lon = _float(params, "lat"), _float(params, "long")
    description = clean(params.get("description")).strip()  # no control characters get stored
    if not description:
        raise Open311Error(400, _("description was not provided"))
    name = " ".join(x for x in (clean(params.get("last_name")).strip(), clean(params.get("first_name")).strip())
                    if x)
    title = f"{cat.name}：{description[:40]}"
    try:
        with acting_as(None, username=f"open311:{key.name}"[:150], ip=getattr(request, "client_ip", "")):
            m = services.create_matter(
                None, category=cat, location_unit=unit, title=title[:services.MAX_TITLE], description=description,
                kind=Kind.DEMAND, source=Source.OPEN311, reporter_name=name[:60],
                reporter_phone=(params.get("phone") or "").strip(), address=clean(params.get("address_string"))[:200],
                lat=lat, lon=lon, now=now)
    except ServiceError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.field_errors.items())
        raise Open311Error(400, f"{exc.message}" + (f" ({detail})" if detail else ""))
    notice = _("Received. Expected to be sent to a handling unit within %(h)s working hours.") % {
        "h": f"{float(cat.dispatch_hours):g}"}
    return render(fmt, [{"service_request_id": m.pk, "token": m.public_token, "service_notice": notice,
                         "account_id": None}], root="service_requests", item="request", status=201)


# --- URL patterns ---------------------------------------------------------------------------------

def urlpatterns():
    from django.urls import path

    out = []
    for fmt in FORMATS:
        kw = {"fmt": fmt}
        out += [
            path(f"open311/v2/services.{fmt}", services_list, kw, name=f"open311_services_{fmt}"),
            path(f"open311/v2/services/<str:service_code>.{fmt}", service_definition, kw,
                 name=f"open311_service_{fmt}"),
            path(f"open311/v2/requests.{fmt}", requests_view, kw, name=f"open311_requests_{fmt}"),
            path(f"open311/v2/requests/<str:request_id>.{fmt}", request_detail, kw, name=f"open311_request_{fmt}"),
            path(f"open311/v2/tokens/<str:token>.{fmt}", token_view, kw, name=f"open311_token_{fmt}"),
        ]
    return out
