"""``/api/v1/bulletins`` and ``/api/v1/dashboard``: the same scope, rules and numbers as the pages.

Input is bounded here (``core.schema``: ids, text lengths, control characters) and validated again
by the services; refusals are problem+json through the one handler in ``api/urls.py``.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.pagination import cursor_page
from bihuan.core.schema import CleanIn, Cursor, Id, Limit, Text, Version

from . import render as rendering
from . import selectors, services

bulletins_router = Router(tags=["reports"])
dashboard_router = Router(tags=["reports"])


class BulletinIn(CleanIn):
    template: Text(40, min_length=1)
    unit: Text(20, min_length=1) = Field(..., description="issuing unit: division code or id")
    period: Text(12, min_length=1)
    paragraphs: list[Text(2000)] = Field(default_factory=list, max_length=20)


class IssueIn(Schema):
    version: Version | None = None


class BulletinOut(Schema):
    id: int
    template: str
    unit_id: int
    unit_name: str
    period: str
    title: str
    state: str
    year: int
    number: int | None
    version: int
    paragraphs: list[str]
    created_at: datetime
    issued_at: datetime | None
    corrects_id: int | None
    snapshot: dict | None = None


class BulletinPage(Schema):
    items: list[BulletinOut]
    next_cursor: str | None


def _out(b, *, full: bool = True) -> dict:
    return {"id": b.pk, "template": b.template, "unit_id": b.unit_id, "unit_name": b.unit.name,
            "period": b.period_key, "title": b.title, "state": b.state, "year": b.year, "number": b.number,
            "version": b.version, "paragraphs": b.paragraphs, "created_at": b.created_at, "issued_at": b.issued_at,
            "corrects_id": b.corrects_id, "snapshot": b.snapshot if full else None}


@bulletins_router.get("", response=BulletinPage, summary="Bulletins the user may read (drafts of their units, "
                                                          "issued ones of their units and above)")
def list_bulletins(request, cursor: Cursor | None = None, limit: Limit = 50,
                   state: Text(10) = ""):
    page = cursor_page(selectors.bulletins(request.user, state=state if state in ("draft", "issued") else ""),
                       order=["-id"], cursor=cursor, limit=limit)
    return {"items": [_out(b, full=False) for b in page.items], "next_cursor": page.next_cursor}


@bulletins_router.post("", response={201: BulletinOut}, summary="Draft a bulletin: template, unit, period")
def draft_bulletin(request, payload: BulletinIn):
    units = selectors.draft_units(request.user)
    ref = payload.unit.strip()
    unit = units.filter(code=ref).first() or (
        units.filter(pk=int(ref)).first() if ref.isdigit() and len(ref) < 12 else None)
    if unit is None:
        raise NotFound(field_errors={"unit": "not found"})
    b = services.draft(request.user, template=payload.template, unit=unit, period=payload.period,
                       paragraphs=payload.paragraphs, now=timezone.now())
    return Status(201, _out(b))


def _file_doc(content_type: str) -> dict:
    return {"responses": {200: {"description": "the document", "content": {
        content_type: {"schema": {"type": "string", "format": "binary"}}}}}}


def _file(request, bulletin_id: int, fmt: str):
    b = selectors.get_bulletin(request.user, bulletin_id)
    try:
        data = rendering.render(b, fmt)
    except rendering.RenderError as exc:
        raise ServiceError(str(exc), code="render") from exc
    resp = HttpResponse(data, content_type=rendering.FORMATS[fmt])
    resp["Content-Disposition"] = f'attachment; filename="{rendering.filename(b, fmt)}"'
    return resp


@bulletins_router.get("/{bulletin_id}.pdf", openapi_extra=_file_doc("application/pdf"), summary="The bulletin as PDF (A4, red header, CJK font)")
def bulletin_pdf(request, bulletin_id: Id):
    return _file(request, bulletin_id, "pdf")


@bulletins_router.get("/{bulletin_id}.docx", openapi_extra=_file_doc("application/vnd.openxmlformats-officedocument.wordprocessingml.document"), summary="The bulletin as DOCX")
def bulletin_docx(request, bulletin_id: Id):
    return _file(request, bulletin_id, "docx")


@bulletins_router.get("/{bulletin_id}.xlsx", openapi_extra=_file_doc("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), summary="The bulletin's tables as XLSX")
def bulletin_xlsx(request, bulletin_id: Id):
    return _file(request, bulletin_id, "xlsx")


@bulletins_router.get("/{bulletin_id}", response=BulletinOut, summary="One bulletin with its figures (snapshot)")
def get_bulletin(request, bulletin_id: Id):
    b = selectors.get_bulletin(request.user, bulletin_id)
    services.mark_read(request.user, b, now=timezone.now())
    return _out(b)


@bulletins_router.post("/{bulletin_id}/issue", response=BulletinOut,
                       summary="Issue: number (第N期), freeze and audit; a second issue is refused (409)")
def issue_bulletin(request, bulletin_id: Id, payload: IssueIn | None = None):
    b = selectors.get_bulletin(request.user, bulletin_id)
    b = services.issue(request.user, b, version=payload.version if payload else None, now=timezone.now())
    return _out(b)


@dashboard_router.get("", summary="The command dashboard's figures of a unit (default: the user's top unit)")
def dashboard(request, unit: Id | None = None):
    from bihuan.core.scope import require

    require(request.user, selectors.DASHBOARD)
    u = selectors.unit_for(request.user, unit)
    return selectors.dashboard(u, timezone.now())
