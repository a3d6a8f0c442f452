"""Pages of reports: bulletins (list, draft, review and edit, issue, downloads, charts), their
schedules, the command dashboard (驾驶舱) and "any figures to a chart or XLSX".

Reads through ``reports.selectors`` (restrict / units_q), changes through ``reports.services``,
with the plumbing of ``core.views``. Out of scope is a 404, like absent.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core import registry
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import allows
from bihuan.core.views import paginate, querystring_without, requires, submit

from . import charts, figures, kinds, selectors, services
from . import render as rendering
from .forms import DraftForm, FiguresForm, ScheduleForm, TextForm
from .models import BulletinState

VIEW = "reports.bulletin.view"
DRAFT = "reports.bulletin.draft"
ISSUE = "reports.bulletin.issue"
DASHBOARD = "reports.dashboard.view"


@requires(VIEW)
def bulletin_list(request):
    state = request.GET.get("state", "")
    state = state if state in BulletinState.values else ""
    page = paginate(request, selectors.bulletins(request.user, state=state))
    can_draft = allows(request.user, DRAFT)
    form = DraftForm(units=selectors.draft_units(request.user),
                     initial={"period": kinds.last_complete("week", timezone.now())}) if can_draft else None
    return render(request, "reports/bulletin_list.html", {
        "page": page, "qs": querystring_without(request, "page"), "form": form, "state": state,
        "templates": kinds.TEMPLATES.values()})


@requires(DRAFT)
@require_POST
def bulletin_draft(request):
    form = DraftForm(request.POST, units=selectors.draft_units(request.user))
    b = submit(request, form, lambda d: services.draft(
        request.user, template=d["template"], unit=selectors.draft_units(request.user).filter(pk=d["unit"]).first(), period=d["period"],
        now=timezone.now()))
    if b is not None:
        messages.success(request, _("Draft ready: review the figures, write the requirements, then issue it."))
        return redirect("reports:bulletin_detail", bulletin_id=b.pk)
    page = paginate(request, selectors.bulletins(request.user))
    return render(request, "reports/bulletin_list.html", {"page": page, "form": form, "qs": "", "state": "",
                                                         "templates": kinds.TEMPLATES.values()},
                  status=form.status)


def _detail_ctx(request, b, text_form=None):
    secs = b.snapshot.get("sections", [])
    return {
        "b": b, "h": rendering.header(b),
        "sections": [{"sec": s, "table": rendering.table(s), "n": i} for i, s in enumerate(secs)],
        "text_form": text_form or TextForm(initial={"text": "\n\n".join(b.paragraphs), "version": b.version}),
        "can_edit": not b.issued and allows(request.user, DRAFT, b),
        "can_issue": not b.issued and allows(request.user, ISSUE, b),
        "can_correct": b.issued and allows(request.user, DRAFT, b),
        "next_number": None if b.issued else services.next_number(b.template, b.unit, b.year),
        "reads": selectors.reads(b) if b.issued and allows(request.user, DRAFT, b) else None,
    }


@requires(VIEW)
def bulletin_detail(request, bulletin_id: int):
    b = selectors.get_bulletin(request.user, bulletin_id)
    services.mark_read(request.user, b, now=timezone.now())
    return render(request, "reports/bulletin_detail.html", _detail_ctx(request, b))


@requires(DRAFT)
@require_POST
def bulletin_text(request, bulletin_id: int):
    b = selectors.get_bulletin(request.user, bulletin_id)
    form = TextForm(request.POST)
    done = submit(request, form, lambda d: services.update_text(
        request.user, b, paragraphs=d["text"], version=d["version"], now=timezone.now()))
    if done is not None:
        messages.success(request, _("Saved."))
        return redirect("reports:bulletin_detail", bulletin_id=b.pk)
    return render(request, "reports/bulletin_detail.html", _detail_ctx(request, b, form), status=form.status)


@requires(ISSUE)
@require_POST
def bulletin_issue(request, bulletin_id: int):
    b = selectors.get_bulletin(request.user, bulletin_id)
    b = services.issue(request.user, b, version=_int(request.POST.get("version")), now=timezone.now())
    messages.success(request, _("Issued as No. %(n)d.") % {"n": b.number})
    return redirect("reports:bulletin_detail", bulletin_id=b.pk)


@requires(DRAFT)
@require_POST
def bulletin_correct(request, bulletin_id: int):
    old = selectors.get_bulletin(request.user, bulletin_id)
    b = services.draft(request.user, template=old.template, unit=old.unit, period=old.period_key,
                       paragraphs=old.paragraphs, corrects=old, now=timezone.now())
    messages.success(request, _("A correction was drafted; it will be issued under a new number."))
    return redirect("reports:bulletin_detail", bulletin_id=b.pk)


def _int(v):
    try:
        return int(v) if v not in (None, "") and len(str(v)) < 12 else None
    except ValueError:
        return None


def _download(b, fmt: str) -> HttpResponse:
    try:
        data = rendering.render(b, fmt)
    except (rendering.RenderError, charts.ChartError) as exc:
        raise ServiceError(_("The document could not be made: %(cause)s") % {"cause": exc}, code="render") from exc
    resp = HttpResponse(data, content_type=rendering.FORMATS[fmt])
    resp["Content-Disposition"] = f'attachment; filename="{rendering.filename(b, fmt)}"'
    return resp


@requires(VIEW)
def bulletin_download(request, bulletin_id: int, fmt: str):
    return _download(selectors.get_bulletin(request.user, bulletin_id), fmt)


@requires(VIEW)
def bulletin_chart(request, bulletin_id: int):
    b = selectors.get_bulletin(request.user, bulletin_id)
    secs = b.snapshot.get("sections", [])
    n = _int(request.GET.get("s")) or 0
    if not 0 <= n < len(secs):
        raise NotFound()
    try:
        png = charts.section_chart(secs[n])
    except charts.ChartError as exc:
        raise ServiceError(_("The chart could not be drawn: %(cause)s") % {"cause": exc}, code="render") from exc
    resp = HttpResponse(png, content_type="image/png")
    resp["Cache-Control"] = "private, max-age=3600" if b.issued else "private, no-cache"
    return resp


@requires(DRAFT)
def schedule_list(request):
    units = selectors.draft_units(request.user)
    form = ScheduleForm(request.POST or None, units=units)
    done = submit(request, form, lambda d: services.set_schedule(
        request.user, template=d["template"], unit=units.filter(pk=d["unit"]).first(),
        weekday=int(d["weekday"]) if d["weekday"] not in (None, "") else None, hour=d["hour"], minute=d["minute"],
        active=d["active"], now=timezone.now()))
    if done is not None:
        messages.success(request, _("Schedule saved."))
        return redirect("reports:schedule_list")
    page = paginate(request, selectors.schedules(request.user))
    return render(request, "reports/schedule_list.html", {"page": page, "form": form, "qs": "",
                                                         "templates": kinds.TEMPLATES},
                  status=getattr(form, "status", 200))


@requires(DASHBOARD)
def dashboard(request):
    unit = selectors.unit_for(request.user, request.GET.get("unit"))
    data = selectors.dashboard(unit, timezone.now())
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    if request.headers.get("HX-Request") and request.GET.get("part"):
        return render(request, "reports/_dashboard_body.html", {"unit": unit, "d": data,
                                                                "panels": selectors.panel_templates(data)})
    return render(request, "reports/dashboard.html", {"unit": unit, "d": data,
                                                      "panels": selectors.panel_templates(data)})


@requires(DASHBOARD)
def dashboard_data(request):
    unit = selectors.unit_for(request.user, request.GET.get("unit"))
    return JsonResponse(selectors.dashboard(unit, timezone.now()))


@requires(DASHBOARD)
def figures_view(request):
    """Any registered section for a unit and a period: a bar chart page, or XLSX (``?format=xlsx``)."""
    form = FiguresForm(request.GET or None)
    if not form.is_valid():
        return render(request, "reports/figures.html", {"form": form, "sections": registry.SECTIONS.values()},
                      status=400 if request.GET else 200)
    d = form.cleaned_data
    unit = selectors.unit_for(request.user, d.get("unit"))
    rule = d.get("rule") or "month"
    now = timezone.now()
    key = d.get("period") or kinds.current(rule, now)
    try:
        start, end, label = kinds.period_bounds(rule, key)
    except kinds.BadPeriod:
        form.add_error("period", _("The period is not valid."))
        return render(request, "reports/figures.html", {"form": form}, status=400)
    if start > now:
        form.add_error("period", _("The period is in the future."))
        return render(request, "reports/figures.html", {"form": form}, status=400)
    sec = selectors.sections_for(unit, start=start, end=min(end, now), now=now, names=[d["section"]])[0]
    if request.GET.get("format") == "xlsx":
        data = rendering.section_xlsx(sec, title=f"{unit.name} {label}")
        resp = HttpResponse(data, content_type=rendering.FORMATS["xlsx"])
        resp["Content-Disposition"] = f'attachment; filename="figures-{unit.pk}-{key}.xlsx"'
        return resp
    if request.GET.get("format") == "png":
        return HttpResponse(charts.section_chart(sec), content_type="image/png")
    return render(request, "reports/figures.html", {
        "form": form, "unit": unit, "sec": sec, "table": rendering.table(sec), "label": label,
        "qs": request.GET.urlencode(), "headline": figures.headline([sec])})
