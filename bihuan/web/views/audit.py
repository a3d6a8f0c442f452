"""The audit log, read-only. There is deliberately no edit or delete anywhere.

Quarantined entries (rows the sealer refused to chain: forged, altered or malformed; see
core/audit.py) are listed above the log, each with why, until `bihuan audit acknowledge`."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from bihuan.core import audit
from bihuan.core.errors import ServiceError
from bihuan.core.models import AuditEntry
from bihuan.core.pagination import cursor_page
from bihuan.core.scope import require
from bihuan.core.views import querystring_without

from ..forms import AuditFilterForm

PAGE_SIZE = 50


def _pretty(value) -> str:
    return "" if value in (None, {}, []) else json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _day_start(d):
    # Dates are read in the local (Asia/Shanghai) day, stored times are UTC.
    return timezone.make_aware(datetime.combine(d, time.min))


@login_required
def audit_list(request):
    require(request.user, "core.audit.view")
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.restrict(request.user, "view")
    quarantine = audit.quarantined(entries, limit=20)  # in the reader's scope, like every entry
    if form.is_valid():
        d = form.cleaned_data
        if d["actor"]:
            entries = entries.filter(actor_name__startswith=d["actor"].strip())
        if d["action"]:
            entries = entries.filter(action__startswith=d["action"].strip())
        if d["object_type"]:
            entries = entries.filter(object_type=d["object_type"].strip())
        if d["object_id"]:
            entries = entries.filter(object_id=d["object_id"].strip())
        if d["since"]:
            entries = entries.filter(ts__gte=_day_start(d["since"]))
        if d["until"]:
            entries = entries.filter(ts__lt=_day_start(d["until"] + timedelta(days=1)))
    # Keyset pages: the log only grows, and counting it on every view would not scale.
    cursor_error = False
    try:
        page = cursor_page(entries, order=["-id"], cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except ServiceError:
        cursor_error = True
        page = cursor_page(entries, order=["-id"], cursor=None, limit=PAGE_SIZE)
    for e in page.items:
        e.before_json, e.after_json, e.extra_json = _pretty(e.before), _pretty(e.after), _pretty(e.extra)
    return render(request, "web/audit/list.html", {
        "form": form, "entries": page.items, "next_cursor": page.next_cursor,
        "qs": querystring_without(request, "cursor"), "is_first": not request.GET.get("cursor"),
        "cursor_error": cursor_error, "quarantine": quarantine,
        "quarantine_open": sum(not q["acknowledged"] for q in quarantine),
    })


@login_required
def audit_entry(request, pk: int):
    require(request.user, "core.audit.view")
    entry = AuditEntry.objects.get_scoped_or_404(request.user, "view", pk=pk)
    entry.before_json, entry.after_json, entry.extra_json = (_pretty(entry.before), _pretty(entry.after),
                                                             _pretty(entry.extra))
    return render(request, "web/audit/entry.html", {"entry": entry})
