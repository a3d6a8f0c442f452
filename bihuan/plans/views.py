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
from bihuan.orgs.models import OrgUnit

from . import selectors, services
from .exports import COLOURS, map_workbook
from .forms import AssignmentFilterForm, CheckInForm, MapFilterForm, SuperviseForm
from .models import KeyAction, PlanState, Status, Task

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
    for a in selectors.my_assignments(request.user, now=now)[:100]:
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

