"""Pages of the plans app: plans, the progress map (挂图作战), assignments, "my tasks" (调度).

Reads go through ``plans.selectors`` (restrict / require); every change through
``plans.services``, with the plumbing of ``core.views``. Out of scope is a 404, like absent.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core.calendar import WorkCalendar
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import allows, units_q
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.loop.services import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, Upload
from bihuan.orgs.models import Level, OrgUnit

from . import selectors, services
from .exports import COLOURS, map_workbook
from .forms import (
    MILESTONE_CHOICES,
    AssignmentFilterForm,
    CampaignCheckInForm,
    CampaignFilterForm,
    CampaignForm,
    CheckInForm,
    DemandForm,
    EnterpriseFilterForm,
    MapFilterForm,
    ProjectFilterForm,
    ProjectReportForm,
    SuperviseForm,
)
from .models import EnterpriseGroup, KeyAction, PlanState, ProjectLevel, Status, Task

VIEW = "plans.plan.view"
ASSIGNMENT_VIEW = "plans.assignment.view"
CHECKIN = "plans.assignment.checkin"


def _uploads(request, field: str = "evidence") -> list[Upload]:
    out = []
    for f in request.FILES.getlist(field)[: MAX_ATTACHMENTS + 1]:
        if f.size > MAX_ATTACHMENT_BYTES:
            raise ServiceError(_("Attachment %(name)s is too large.") % {"name": f.name},
                               {"attachments": _("Wrong file size.")}, code="attachment_size")
        out.append(Upload(f.name, f.content_type or "", f.read()))
    return out


def _unit_or_404(user, unit_id):
    if unit_id is None:
        return None
    unit = OrgUnit.objects.filter(units_q(user, ASSIGNMENT_VIEW), pk=unit_id).first()
    if unit is None:
        raise NotFound()
    return unit


@requires(VIEW)
def plan_list(request):
    page = paginate(request, selectors.plans(request.user))
    return render(request, "plans/plan_list.html", {"page": page, "qs": querystring_without(request, "page")})


@requires(VIEW)
def plan_detail(request, plan_id: int):
    plan = selectors.get_plan(request.user, plan_id)
    tasks = selectors.tasks_of(plan).prefetch_related("named_units__unit")
    systems = {}
    for t in tasks:
        systems.setdefault(t.action.system, {}).setdefault(t.action, []).append(t)
    return render(request, "plans/plan_detail.html", {
        "plan": plan, "systems": systems, "can_manage": allows(request.user, "plans.plan.manage", plan),
        "published": plan.state == PlanState.PUBLISHED})


@requires("plans.plan.manage")
@require_POST
def plan_publish(request, plan_id: int):
    plan = selectors.get_plan(request.user, plan_id)
    r = services.publish(request.user, plan, version=request.POST.get("version"))
    messages.success(request, _("Published: %(n)d assignments made.") % {"n": r["assigned"]})
    return redirect("plans:plan_detail", plan_id=plan.pk)


def _map(request, plan_id: int):
    plan = selectors.get_plan(request.user, plan_id)
    f = MapFilterForm(request.GET)
    d = f.cleaned_data if f.is_valid() else {}
    unit = _unit_or_404(request.user, d.get("unit"))
    action = KeyAction.objects.filter(plan=plan, pk=d["action"]).first() if d.get("action") else None
    level = d.get("level")
    if unit is not None and level is not None and level <= unit.level:
        level = None
    m = selectors.progress_map(request.user, plan, now=timezone.now(), unit=unit, action=action, level=level,
                               sort=d.get("sort") or "")
    return plan, m


@requires(VIEW)
def plan_map(request, plan_id: int):
    plan, m = _map(request, plan_id)
    crumbs = list(m["unit"].ancestors().filter(units_q(request.user, ASSIGNMENT_VIEW))) + [m["unit"]]
    return render(request, "plans/map.html", {
        "plan": plan, "m": m, "crumbs": crumbs, "actions": plan.actions.select_related("system"),
        "statuses": [(s, s.label, COLOURS[s]) for s in Status], "qs": querystring_without(request, "sort"),
        "drill_qs": querystring_without(request, "unit", "level"),
        "can_supervise": request.user.has_perm_anywhere("plans.assignment.supervise")})


@requires(VIEW)
def plan_map_xlsx(request, plan_id: int):
    plan, m = _map(request, plan_id)
    resp = HttpResponse(map_workbook(m),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="plan-{plan.pk}-map.xlsx"'
    return resp


@requires(ASSIGNMENT_VIEW)
def assignment_list(request):
    f = AssignmentFilterForm(request.GET)
    d = f.cleaned_data if f.is_valid() else {}
    plan = selectors.get_plan(request.user, d["plan"]) if d.get("plan") else None
    task = Task.objects.filter(pk=d["task"], plan=plan).first() if d.get("task") and plan else None
    unit = _unit_or_404(request.user, d.get("unit"))
    qs = selectors.assignments(request.user, now=timezone.now(), plan=plan, task=task, unit=unit,
                               status=d.get("status") or "").order_by("task_id", "unit__path")
    return render(request, "plans/assignment_list.html", {
        "page": paginate(request, qs), "qs": querystring_without(request, "page"), "plan": plan, "task": task,
        "unit": unit, "status": d.get("status") or "", "statuses": Status.choices, "colours": COLOURS})


@requires(ASSIGNMENT_VIEW)
def assignment_detail(request, assignment_id: int):
    a = selectors.get_assignment(request.user, assignment_id)
    now = timezone.now()
    status = selectors.assignments(request.user, now=now, task=a.task).get(pk=a.pk).status
    form = SuperviseForm(request.POST or None)
    if request.method == "POST":
        matter_id = submit(request, form, lambda d: services.supervise(request.user, a, comment=d["comment"]))
        if matter_id:
            messages.success(request, _("Supervision matter opened."))
            return redirect("plans:assignment_detail", assignment_id=a.pk)
    return render(request, "plans/assignment_detail.html", {
        "a": a, "status": status, "status_label": Status(status).label, "checkins": selectors.checkins(request.user, a),
        "escalations": selectors.escalations(request.user, a), "form": form,
        "can_supervise": allows(request.user, "plans.assignment.supervise", a),
        "can_checkin": allows(request.user, CHECKIN, a)}, status=getattr(form, "status", 200))


@requires(CHECKIN)
def my_tasks(request):
    now = timezone.now()
    cal = WorkCalendar(strict=False)  # one calendar read for the whole page
    rows = []
    for a in selectors.my_assignments(request.user, now=now, cal=cal)[:100]:
        period = services.covered_period(a, now)
        rows.append({"a": a, "form": CheckInForm(assignment=a, prefix=f"a{a.pk}"), "period": period,
                     "due": services.st.period_due(a.task, period, cal), "label": Status(a.status).label})
    return render(request, "plans/my_tasks.html", {"rows": rows, "now": now})


@requires(CHECKIN)
@require_POST
def check_in(request, assignment_id: int):
    a = selectors.get_assignment(request.user, assignment_id)
    form = CheckInForm(request.POST, assignment=a, prefix=f"a{a.pk}")

    def call(d):
        return services.check_in(request.user, a, value=d.get("value"), note=d.get("note", ""),
                                 milestone=d.get("milestone"), completed=d.get("completed", False),
                                 uploads=_uploads(request, f"a{a.pk}-evidence"))

    if submit(request, form, call):
        messages.success(request, _("Check-in recorded: %(t)s") % {"t": a.task.title})
    else:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, _("Check-in not recorded: %(e)s") % {"e": errors})
    return redirect("plans:my_tasks")


@requires(ASSIGNMENT_VIEW)
def evidence_download(request, evidence_id: int):
    ev = selectors.evidence_file(request.user, evidence_id)
    return FileResponse(ev.file.open("rb"), as_attachment=False, filename=ev.name, content_type=ev.content_type)



# --- campaigns (大干五十天) --------------------------------------------------------------------------

def _unit_choices(user, perm: str, *, max_level: int | None = None):
    qs = OrgUnit.objects.filter(units_q(user, perm), valid_to__isnull=True).order_by("level", "sort", "code")
    return qs.filter(level__lte=max_level) if max_level is not None else qs


@requires(VIEW)
def campaign_list(request):
    page = paginate(request, selectors.campaigns(request.user))
    return render(request, "plans/campaign_list.html", {
        "page": page, "qs": querystring_without(request, "page"), "now": timezone.localdate(),
        "can_create": request.user.has_perm_anywhere("plans.plan.manage")})


@requires("plans.plan.manage")
def campaign_new(request):
    form = CampaignForm(request.POST or None, units=_unit_choices(request.user, "plans.plan.manage",
                                                                  max_level=Level.TOWNSHIP),
                        target_units=_unit_choices(request.user, "plans.plan.manage"))
    c = submit(request, form, lambda d: services.campaigns.create_campaign(
        request.user, unit=d["unit"], title=d["title"], starts_on=d["starts_on"], ends_on=d["ends_on"],
        cadence=d["cadence"], grace_days=d["grace_days"], target_unit=d["target_unit"],
        description=d["description"], targets=d["targets"]))
    if c is not None:
        messages.success(request, _("Campaign created."))
        return redirect("plans:campaign_detail", campaign_id=c.pk)
    return render(request, "plans/campaign_form.html", {"form": form}, status=getattr(form, "status", 200))


@requires(VIEW)
def campaign_detail(request, campaign_id: int):
    c = services.campaigns.get_campaign(request.user, campaign_id)
    now = timezone.now()
    f = CampaignFilterForm(request.GET)
    status = f.cleaned_data.get("status") if f.is_valid() else ""
    clock = services.st.campaign_clock(c, now)  # one calendar read for the page
    board = selectors.campaign_targets(request.user, c, now=now, status=status or "", clock=clock)
    page = paginate(request, board)
    page.object_list = list(page.object_list)  # read once: the table and (first page) the chart
    top = page.object_list[:20] if not status and page.number == 1 else list(
        selectors.campaign_targets(request.user, c, now=now, clock=clock)[:20])
    chart = {"units": [t.unit.name for t in top], "pct": [float(t.pct) for t in top],
             "status": [t.status for t in top], "colours": {s.value: COLOURS[s] for s in Status}}
    own = [{"t": t, "form": CampaignCheckInForm(prefix=f"t{t.pk}"),
            "period": services.st.covered_period(c, t.first_period_start, t.last_period_start, now)}
           for t in selectors.own_targets(request.user, c)]
    return render(request, "plans/campaign_detail.html", {
        "c": c, "s": selectors.campaign_summary(request.user, c, now=now, clock=clock), "page": page,
        "chart": chart,
        "own": own, "status": status or "", "statuses": Status.choices, "qs": querystring_without(request, "page"),
        "ends_at": timezone.localtime(services.st.day_deadline(c.ends_on)).isoformat()})


@requires(CHECKIN)
@require_POST
def campaign_check_in(request, target_id: int):
    t = services.campaigns.get_target(request.user, target_id)
    form = CampaignCheckInForm(request.POST, prefix=f"t{t.pk}")

    def call(d):
        return services.campaigns.check_in(request.user, t, value=d["value"], note=d.get("note", ""))

    if submit(request, form, call):
        messages.success(request, _("Check-in recorded: %(t)s") % {"t": t.campaign.title})
    else:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, _("Check-in not recorded: %(e)s") % {"e": errors})
    return redirect("plans:campaign_detail", campaign_id=t.campaign_id)


# --- key projects and key enterprises ---------------------------------------------------------------

PROJECT_VIEW = "plans.project.view"
ENTERPRISE_VIEW = "plans.enterprise.view"


def _scoped_unit(user, perm: str, unit_id):
    if unit_id is None:
        return None
    unit = OrgUnit.objects.filter(units_q(user, perm), pk=unit_id).first()
    if unit is None:
        raise NotFound()
    return unit


@requires(PROJECT_VIEW)
def project_list(request):
    f = ProjectFilterForm(request.GET)
    d = f.cleaned_data if f.is_valid() else {}
    now = timezone.now()
    year = d.get("year") or timezone.localdate().year
    unit = _scoped_unit(request.user, PROJECT_VIEW, d.get("unit"))
    qs = selectors.projects(request.user, now=now, year=year, unit=unit, level=d.get("level") or "",
                            behind=bool(d.get("behind")))
    return render(request, "plans/project_list.html", {
        "page": paginate(request, qs), "qs": querystring_without(request, "page"), "year": year, "unit": unit,
        "d": d, "levels": ProjectLevel.choices,
        "counties": selectors.projects_by_county(request.user, now=now, year=year)})


@requires(PROJECT_VIEW)
def project_detail(request, project_id: int):
    p = services.registers.get_project(request.user, project_id)
    form = ProjectReportForm(request.POST or None)
    if request.method == "POST":
        done = submit(request, form, lambda d: services.registers.report_progress(
            request.user, p, month=d.get("month"), actual=d.get("actual"), milestone=d.get("milestone") or "",
            on=d.get("on")))
        if done:
            messages.success(request, _("Progress reported."))
            return redirect("plans:project_detail", project_id=p.pk)
    row = selectors.projects(request.user, now=timezone.now()).get(pk=p.pk)
    months = list(p.months.all())
    cum_plan = cum_actual = 0
    table = []
    for m in months:
        cum_plan += m.planned
        cum_actual += m.actual or 0
        table.append({"m": m, "cum_plan": cum_plan, "cum_actual": cum_actual})
    return render(request, "plans/project_detail.html", {
        "p": p, "row": row, "months": table, "form": form,
        "milestones": [(label, getattr(p, f"{k}_planned"), getattr(p, f"{k}_actual"))
                       for k, label in MILESTONE_CHOICES[1:]],
        "can_report": allows(request.user, "plans.project.report", p)}, status=getattr(form, "status", 200))


@requires(ENTERPRISE_VIEW)
def enterprise_list(request):
    f = EnterpriseFilterForm(request.GET)
    d = f.cleaned_data if f.is_valid() else {}
    group = EnterpriseGroup.objects.filter(pk=d["group"]).first() if d.get("group") else None
    unit = _scoped_unit(request.user, ENTERPRISE_VIEW, d.get("unit"))
    qs = selectors.enterprises(request.user, group=group, unit=unit, q=d.get("q") or "")
    return render(request, "plans/enterprise_list.html", {
        "page": paginate(request, qs), "qs": querystring_without(request, "page"), "group": group,
        "groups": selectors.enterprise_groups(request.user), "q": d.get("q") or ""})


@requires(ENTERPRISE_VIEW)
def enterprise_detail(request, enterprise_id: int):
    e = services.registers.get_enterprise(request.user, enterprise_id)
    form = DemandForm(request.POST or None)
    if request.method == "POST":
        matter_id = submit(request, form, lambda d: services.registers.raise_demand(
            request.user, e, title=d["title"], description=d["description"]))
        if matter_id:
            messages.success(request, _("The demand was sent to %(u)s as matter %(m)s.") % {"u": e.unit.name,
                                                                                           "m": matter_id})
            return redirect("plans:enterprise_detail", enterprise_id=e.pk)
    return render(request, "plans/enterprise_detail.html", {
        "e": e, "form": form, "demands": e.demands.all()[:50],
        "can_demand": allows(request.user, "plans.enterprise.demand", e)}, status=getattr(form, "status", 200))
