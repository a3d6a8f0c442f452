"""Pages of the care app: the helper's round (phone first), the village's care board, surveys,
plans and helpers.

Reads go through ``care.selectors`` (restrict / require); every change through ``care.services``,
with the plumbing of ``core.views``. Out of scope is a 404, like absent.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bihuan.core.errors import NotFound, PermissionDenied, ServiceError
from bihuan.core.scope import allows, units_q
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.loop.services import MAX_ATTACHMENT_BYTES, Upload
from bihuan.orgs.models import OrgUnit
from bihuan.people.models import Person

from . import selectors, services
from . import status as st
from .forms import (
    CanteenForm,
    CheckInForm,
    DinersForm,
    HelperForm,
    PlanForm,
    ReasonForm,
    RecordForm,
    ServeForm,
    ServiceForm,
    SurveyForm,
)
from .models import MealMode, Outcome

VISIT_VIEW = "care.visit.view"
CHECKIN = "care.visit.checkin"
SURVEY_VIEW = "care.survey.view"
SURVEY_CHANGE = "care.survey.change"
PLAN_VIEW = "care.plan.view"
PLAN_MANAGE = "care.plan.manage"


def _unit(request, perm: str):
    """The ``unit`` query parameter as a unit in ``perm``'s scope (404 otherwise), or the user's
    first unit in scope."""
    raw = request.GET.get("unit", "")
    qs = OrgUnit.objects.filter(units_q(request.user, perm), valid_to__isnull=True)
    if raw:
        unit = qs.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 10 else None
        if unit is None:
            raise NotFound()
        return unit
    return qs.order_by("path").first()


def _day(request, now) -> date:
    raw = request.GET.get("date", "")
    if not raw:
        return selectors.today(now)
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ServiceError(_("The date must be YYYY-MM-DD."))


def _photo(request):
    f = request.FILES.get("photo")
    if f is None:
        return None
    if f.size > MAX_ATTACHMENT_BYTES:
        raise ServiceError(_("The photo is too large."), {"photo": _("Wrong file size.")}, code="attachment_size")
    return Upload(f.name, f.content_type or "", f.read())


def _person(request, person_id: int, perm: str) -> Person:
    p = Person.objects.filter(units_q(request.user, perm, prefix="unit__"), pk=person_id).select_related("unit").first()
    if p is None:
        raise NotFound()
    return p


# --- the round and the board --------------------------------------------------------------------

@requires(CHECKIN)
def my_round(request):
    now = timezone.now()
    day = selectors.today(now)
    rows = [{"v": v, "status": st.status_of(v, now), "form": CheckInForm(prefix=f"v{v.pk}")}
            for v in selectors.my_round(request.user, day)[:200]]
    return render(request, "care/round.html", {"rows": rows, "day": day, "now": now, "outcomes": Outcome.choices,
                                               "reason_form": ReasonForm()})


@requires(CHECKIN)
@require_POST
def visit_checkin(request, visit_id: int):
    v = services.get_visit(request.user, visit_id, "checkin")
    form = CheckInForm(request.POST, prefix=f"v{v.pk}")

    def call(d):
        return services.check_in(request.user, v, outcome=d["outcome"], note=d.get("note", ""),
                                 photo=_photo(request))

    if submit(request, form, call):
        messages.success(request, _("Checked in: %(name)s, %(o)s.") % {"name": v.person.name,
                                                                      "o": Outcome(form.cleaned_data["outcome"]).label})
    else:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, _("Not checked in: %(e)s") % {"e": errors})
    return redirect("care:round")


@requires(CHECKIN)
@require_POST
def visit_call(request, visit_id: int):
    v = services.get_visit(request.user, visit_id, "checkin")
    form = ReasonForm(request.POST)
    phone = submit(request, form, lambda d: services.reveal_phone(request.user, v, d["reason"]))
    resp = render(request, "care/call.html", {"v": v, "phone": phone, "form": form},
                  status=200 if phone is not None else form.status)
    resp["Cache-Control"] = "no-store"
    return resp


@requires(VISIT_VIEW)
def visit_photo(request, visit_id: int):
    v = services.get_visit(request.user, visit_id)
    if not v.photo:
        raise NotFound()
    return FileResponse(v.photo.open("rb"), content_type=v.photo_type or "application/octet-stream")


@requires(VISIT_VIEW)
def board(request):
    now = timezone.now()
    unit = _unit(request, VISIT_VIEW)
    day = _day(request, now)
    counts = selectors.board(request.user, unit, day, now) if unit else None
    page = paginate(request, selectors.board_attention(request.user, unit, day, now)) if unit else None
    return render(request, "care/board.html", {
        "unit": unit, "day": day, "counts": counts, "page": page, "now": now,
        "units": selectors.board_units(request.user).filter(level__lte=4)[:300],
        "qs": querystring_without(request, "page")})


# --- surveys ------------------------------------------------------------------------------------

@requires(SURVEY_VIEW)
def survey_list(request):
    unit = _unit(request, SURVEY_VIEW)
    q = (request.GET.get("q") or "").strip()[:50]
    page = paginate(request, selectors.surveys(request.user, unit=unit, q=q))
    return render(request, "care/survey_list.html", {"page": page, "unit": unit, "q": q,
                                                     "qs": querystring_without(request, "page")})


@requires(SURVEY_VIEW)
def survey_todo(request):
    now = timezone.now()
    unit = _unit(request, SURVEY_VIEW)
    year = selectors.today(now).year
    page = paginate(request, selectors.unsurveyed(request.user, unit, year)) if unit else None
    return render(request, "care/survey_todo.html", {"page": page, "unit": unit, "year": year,
                                                     "qs": querystring_without(request, "page")})


@requires(SURVEY_CHANGE)
def survey_new(request, person_id: int):
    person = _person(request, person_id, SURVEY_CHANGE)
    can_health = allows(request.user, services.HEALTH, person.unit)
    form = SurveyForm(request.POST or None, can_health=can_health,
                      initial={"surveyed_on": timezone.localdate(), "income_support": "none", "risk": "low"})
    s = submit(request, form, lambda d: services.record_survey(request.user, person, **d))
    if s:
        messages.success(request, _("Survey recorded: %(name)s.") % {"name": person.name})
        return redirect("care:survey_detail", survey_id=s.pk)
    return render(request, "care/survey_form.html", {"form": form, "person": person}, status=form.status)


@requires(SURVEY_VIEW)
def survey_detail(request, survey_id: int):
    s = services.get_survey(request.user, survey_id)
    health = None
    if request.method == "POST":
        health = services.read_health(request.user, s)
    resp = render(request, "care/survey_detail.html", {
        "s": s, "health": health, "can_health": allows(request.user, services.HEALTH, s.unit) and s.health_enc})
    resp["Cache-Control"] = "no-store"
    return resp


# --- plans and helpers --------------------------------------------------------------------------

@requires(PLAN_VIEW)
def plan_list(request):
    unit = _unit(request, PLAN_VIEW)
    page = paginate(request, selectors.plans(request.user, unit=unit))
    return render(request, "care/plan_list.html", {"page": page, "unit": unit,
                                                   "qs": querystring_without(request, "page")})


@requires(PLAN_MANAGE)
def plan_new(request, person_id: int):
    person = _person(request, person_id, PLAN_MANAGE)
    form = PlanForm(request.POST or None, initial={"starts_on": timezone.localdate()})
    plan = submit(request, form, lambda d: services.create_plan(request.user, person, **d))
    if plan:
        messages.success(request, _("Care plan made for %(name)s; add its services.") % {"name": person.name})
        return redirect("care:plan_detail", plan_id=plan.pk)
    return render(request, "care/plan_form.html", {"form": form, "person": person}, status=form.status)


@requires(PLAN_VIEW)
def plan_detail(request, plan_id: int):
    plan = services.get_plan(request.user, plan_id)
    can_manage = allows(request.user, PLAN_MANAGE, plan)
    helpers = list(selectors.helpers_for(request.user, plan.unit)) if can_manage else []
    form = ServiceForm(request.POST or None, helpers=helpers, initial={"rrule": "FREQ=DAILY"})
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied()
        if submit(request, form, lambda d: services.add_service(request.user, plan, **d)):
            messages.success(request, _("Service added."))
            return redirect("care:plan_detail", plan_id=plan.pk)
    return render(request, "care/plan_detail.html", {
        "plan": plan, "services": selectors.plan_services(plan), "form": form, "can_manage": can_manage},
        status=getattr(form, "status", 200))


@requires(PLAN_MANAGE)
def helper_list(request):
    unit = _unit(request, PLAN_MANAGE)
    page = paginate(request, selectors.helpers_for(request.user, unit) if unit else [])
    q = (request.GET.get("q") or "").strip()[:50]
    candidates = selectors.helper_candidates(request.user, unit, q)[:20] if unit and q else []
    return render(request, "care/helper_list.html", {"page": page, "unit": unit, "q": q, "candidates": candidates,
                                                     "qs": querystring_without(request, "page")})


@requires(PLAN_MANAGE)
def helper_new(request, person_id: int):
    person = _person(request, person_id, PLAN_MANAGE)
    form = HelperForm(request.POST or None)
    r = submit(request, form, lambda d: services.register_helper(request.user, person, kind=d["kind"],
                                                                 password=d.get("password", "")))
    if r:
        helper, username = r
        if username:
            messages.success(request, _("%(name)s is a helper; their login is %(u)s (they change the password at "
                                        "first login).") % {"name": person.name, "u": username})
        else:
            messages.success(request, _("%(name)s is a helper.") % {"name": person.name})
        return redirect(f"{redirect('care:helper_list').url}?unit={helper.unit_id}")
    return render(request, "care/helper_form.html", {"form": form, "person": person}, status=form.status)


# --- volunteer teams ----------------------------------------------------------------------------

@requires("care.team.view")
def team_list(request):
    unit = _unit(request, "care.team.view")
    page = paginate(request, selectors.teams(request.user, unit=unit))
    return render(request, "care/team_list.html", {"page": page, "unit": unit,
                                                   "qs": querystring_without(request, "page")})


@requires("care.team.view")
def team_detail(request, team_id: int):
    team = services.get_team(request.user, team_id)
    can_manage = allows(request.user, services.TEAM_MANAGE, team)
    members = list(selectors.team_members(team)[:500])
    form = RecordForm(request.POST or None, members=members, initial={"day": timezone.localdate()})
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied()
        if submit(request, form, lambda d: services.record_service(request.user, team, **d)):
            messages.success(request, _("Service recorded; it waits for the team lead's approval."))
            return redirect("care:team_detail", team_id=team.pk)
    return render(request, "care/team_detail.html", {
        "team": team, "members": members, "months": selectors.team_months(team)[:24],
        "pending": selectors.pending_records(team)[:200], "is_lead": request.user.pk == team.lead_id,
        "can_manage": can_manage, "form": form}, status=getattr(form, "status", 200))


@requires("care.team.view")
@require_POST
def record_decide(request, record_id: int):
    r = services.decide_record(request.user, record_id, approve=request.POST.get("approve") == "1")
    messages.success(request, _("Approved.") if r.status == "approved" else _("Rejected."))
    return redirect("care:team_detail", team_id=r.team_id)


@requires("care.team.view")
def certificate(request, member_id: int):
    pdf = services.certificate_pdf(request.user, member_id)
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="certificate-{int(member_id)}.pdf"'
    return resp


# --- canteens (幸福食堂) ---------------------------------------------------------------------------

CANTEEN_VIEW = "care.canteen.view"
CANTEEN_RECORD = "care.canteen.record"
CANTEEN_MANAGE = "care.canteen.manage"


@requires(CANTEEN_VIEW)
def canteen_list(request):
    from bihuan.orgs.models import Level

    unit = _unit(request, CANTEEN_VIEW)
    page = paginate(request, selectors.canteens(request.user, unit=unit))
    form = None
    if unit is not None and allows(request.user, CANTEEN_MANAGE, unit):
        villages = (OrgUnit.objects.filter(units_q(request.user, CANTEEN_MANAGE), valid_to__isnull=True,
                                           level=Level.VILLAGE, path__startswith=unit.path).order_by("path")[:300])
        form = CanteenForm(request.POST or None, units=villages)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied()

        def call(d):
            village = OrgUnit.objects.filter(units_q(request.user, CANTEEN_MANAGE), pk=d["unit"]).first()
            if village is None:
                raise NotFound()
            return services.create_canteen(request.user, unit=village, name=d["name"], address=d["address"],
                                           seats=d["seats"], eat_in=d["eat_in"], delivery=d["delivery"])

        c = submit(request, form, call)
        if c:
            messages.success(request, _("Canteen opened: %(n)s.") % {"n": c.name})
            return redirect("care:canteen_day", canteen_id=c.pk)
    return render(request, "care/canteen_list.html", {"page": page, "unit": unit, "form": form,
                                                      "qs": querystring_without(request, "page")},
                  status=getattr(form, "status", 200) if form is not None else 200)


@requires(CANTEEN_VIEW)
def canteen_day(request, canteen_id: int):
    now = timezone.now()
    c = services.get_canteen(request.user, canteen_id)
    day = _day(request, now)
    today = selectors.today(now)
    can_record = allows(request.user, CANTEEN_RECORD, c) and day <= today
    page = paginate(request, selectors.canteen_day(c, day))
    return render(request, "care/canteen_day.html", {
        "canteen": c, "unit": c.unit, "day": day, "page": page, "counts": selectors.canteen_day_counts(c, day),
        "can_record": can_record, "modes": [(m, str(MealMode(m).label)) for m in c.modes],
        "diners_form": DinersForm(initial={"other_diners": selectors.canteen_day_counts(c, day)["others"]}),
        "prev": day - timedelta(days=1), "next": day + timedelta(days=1) if day < today else None,
        "qs": querystring_without(request, "page")})


def _back_to_day(c, day, page: str = ""):
    url = f"{redirect('care:canteen_day', canteen_id=c.pk).url}?date={day:%Y-%m-%d}"
    return redirect(url + (f"&page={page}" if page.isdigit() and len(page) < 6 else ""))


@requires(CANTEEN_RECORD)
@require_POST
def canteen_serve(request, canteen_id: int, visit_id: int):
    c = services.get_canteen(request.user, canteen_id, "record")
    form = ServeForm(request.POST)
    r = submit(request, form, lambda d: services.serve_meal(request.user, c, visit_id, mode=d.get("mode") or ""))
    if r:
        m, created = r
        messages.success(request, _("Served: %(name)s, %(meal)s.") % {"name": m.person.name,
                                                                      "meal": m.get_meal_display()}
                         if created else _("Already recorded: %(name)s, %(meal)s.") % {
                             "name": m.person.name, "meal": m.get_meal_display()})
        return _back_to_day(c, m.day, request.POST.get("page", ""))
    errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    messages.error(request, _("Not recorded: %(e)s") % {"e": errors})
    return redirect("care:canteen_day", canteen_id=c.pk)


@requires(CANTEEN_RECORD)
@require_POST
def canteen_unserve(request, canteen_id: int, meal_id: int):
    from .models import MealServed

    c = services.get_canteen(request.user, canteen_id, "record")
    m = MealServed.objects.filter(pk=meal_id, canteen=c).first()
    if m is None:
        raise NotFound()
    services.unserve_meal(request.user, c, m.pk)
    messages.success(request, _("Tick taken back."))
    return _back_to_day(c, m.day, request.POST.get("page", ""))


@requires(CANTEEN_RECORD)
@require_POST
def canteen_diners(request, canteen_id: int):
    c = services.get_canteen(request.user, canteen_id, "record")
    day = _day(request, timezone.now())
    form = DinersForm(request.POST)
    if submit(request, form, lambda d: services.set_other_diners(request.user, c, day, d["other_diners"])):
        messages.success(request, _("Other diners recorded."))
    else:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, _("Not recorded: %(e)s") % {"e": errors})
    return _back_to_day(c, day)


def _month(request, now) -> tuple[int, int]:
    raw = (request.GET.get("month") or "")[:7]
    if not raw:
        t = selectors.today(now)
        return t.year, t.month
    try:
        d = date.fromisoformat(raw + "-01")
    except ValueError:
        raise ServiceError(_("The month must be YYYY-MM."))
    return d.year, d.month


@requires(CANTEEN_VIEW)
def canteen_month(request, canteen_id: int):
    c = services.get_canteen(request.user, canteen_id)
    year, month = _month(request, timezone.now())
    data = selectors.canteen_month(c, year, month)
    prev = (data["first"] - timedelta(days=1)).strftime("%Y-%m")
    nxt = (data["last"] + timedelta(days=1)).strftime("%Y-%m")
    return render(request, "care/canteen_month.html", {"canteen": c, "unit": c.unit, "data": data,
                                                       "month": f"{year:04d}-{month:02d}", "prev": prev, "next": nxt})


MONTH_HEADERS = ("日期", "计划需用餐（份）", "已供餐（份）", "早餐", "午餐", "晚餐", "堂食", "送餐", "供餐率（%）", "其他就餐人次")


def _month_cells(r) -> list:
    return [r["needed"], r["served"], r["breakfast"], r["lunch"], r["dinner"], r["eat_in"], r["delivered"],
            r["rate"] if r["rate"] is not None else "", r["others"]]


@requires(CANTEEN_VIEW)
def canteen_month_xlsx(request, canteen_id: int):
    import io

    from bihuan.core import tabular as tb

    c = services.get_canteen(request.user, canteen_id)
    year, month = _month(request, timezone.now())
    data = selectors.canteen_month(c, year, month)
    rows = [[r["day"], *_month_cells(r)] for r in data["days"]]
    rows.append(["合计", *_month_cells(data["totals"])])
    out = io.BytesIO()
    tb.write_xlsx(out, list(MONTH_HEADERS), rows, sheet_title=f"{year:04d}-{month:02d}",
                  widths=[12] + [12] * (len(MONTH_HEADERS) - 1))
    resp = HttpResponse(out.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="canteen-{c.pk}-{year:04d}{month:02d}.xlsx"'
    return resp
