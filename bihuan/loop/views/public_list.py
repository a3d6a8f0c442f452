"""Public accountability pages, without an account: the townships, and each township's residents'
demands with their state, dates, the handling unit's reply and closing photos.

What may be shown is decided in ``loop.accountability`` (no personal data, no description, no
token); these views only parse, paginate and render. Pages are cacheable for a short while by
anyone (``public, max-age=60``): they hold nothing that depends on who asks.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from bihuan.core.views import paginate, querystring_without

from .. import accountability


@cache_control(public=True, max_age=60)
def townships(request):
    q = (request.GET.get("q") or "").strip()[:40]
    page = paginate(request, accountability.townships(q), per_page=accountability.PAGE_SIZE)
    return render(request, "loop/public/townships.html", {
        "page": page, "q": q, "qs": querystring_without(request, "page")})


@cache_control(public=True, max_age=60)
def township(request, unit_id: int):
    unit = accountability.township(unit_id)
    if unit is None:
        raise Http404
    state = request.GET.get("state") or ""
    if state not in ("", "open", "closed"):
        state = ""
    qs = accountability.demands_of(unit, state)
    page = paginate(request, qs, per_page=accountability.PAGE_SIZE)
    return render(request, "loop/public/township.html", {
        "unit": unit, "state": state, "page": page, "rows": accountability.rows(page.object_list),
        "qs": querystring_without(request, "page")})
