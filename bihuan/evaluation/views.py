"""Pages of evaluation: indicator sets, runs (progress, what is missing, publish, correct),
results with their breakdown and rankings, a unit's stars history, manual scores; household
credit points and the points store. Reads through ``selectors``; writes through ``services``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import allows, units_q
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.orgs.models import Level, OrgUnit

from . import selectors, services
from .exports import nominations_workbook, results_pdf, results_workbook
from .forms import (
    AwardForm,
    CorrectForm,
    IncidentForm,
    NominationFilterForm,
    NominationForm,
    ObjectionForm,
    RedeemForm,
    ResultFilterForm,
    ReverseForm,
    ReviewForm,
    RunForm,
    ScoreForm,
    SelectionRoundForm,
    SetForm,
)
from .models import (
    PENALTY_KINDS,
    Indicator,
    IndicatorKind,
    Nomination,
    PointRule,
    RunState,
    SelectionKind,
    SelectionState,
)
from .selectors import mask_name

RESULT_VIEW = "evaluation.result.view"
POINTS_VIEW = "evaluation.points.view"


@requires(RESULT_VIEW, "evaluation.set.view", "evaluation.run.view")
def index(request):
    user = request.user
    page = paginate(request, selectors.runs(user))
    own = user.scope_units(RESULT_VIEW).order_by("depth").first() if hasattr(user, "scope_units") else None
    return render(request, "evaluation/index.html", {
        "page": page, "qs": querystring_without(request, "page"),
        "sets": selectors.sets(user)[:20], "can_manage": allows(user, "evaluation.set.manage"),
        "own_unit": own})


@requires("evaluation.set.manage")
def set_create(request):
    form = SetForm(request.POST or None)
    form.status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        unit = OrgUnit.objects.filter(units_q(request.user, "evaluation.set.manage")).order_by("depth").first()
        s = submit(request, form, lambda _d: services.create_set(
            request.user, unit=unit, name=d["name"], period_kind=d["period_kind"], target_kind=d["target_kind"],
            star_mode=d["star_mode"], star_thresholds=d["star_thresholds"], five_star_quota=d["five_star_quota"],
            notice_days=d["notice_days"], indicators=form.indicators()))
        if s is not None:
            messages.success(request, _("Indicator set saved."))
            return redirect("evaluation:set_detail", set_id=s.pk)
    elif request.method == "POST":
        form.status = 400
    return render(request, "evaluation/set_form.html", {"form": form}, status=form.status)


@requires("evaluation.set.view")
def set_detail(request, set_id: int):
    s = selectors.get_set(request.user, set_id)
    form = RunForm(request.POST or None)
    run = submit(request, form, lambda d: services.compute_run(request.user, s, d["period"]))
    if run is not None:
        messages.success(request, _("Computed: %(n)d targets, %(m)d still missing a score.")
                         % {"n": run.targets, "m": run.missing})
        return redirect("evaluation:run_detail", run_id=run.pk)
    return render(request, "evaluation/set_detail.html", {
        "s": s, "indicators": s.indicators.select_related("assessor_unit"), "form": form,
        "runs": selectors.runs(request.user).filter(set=s)[:20],
        "can_run": allows(request.user, "evaluation.run.manage", s.unit),
        # h-eval2: the set as XLSX (download / import a new set)
        "can_export": allows(request.user, "evaluation.set.export", s.unit),
        "can_import": allows(request.user, "evaluation.set.import")}, status=form.status)


@requires(RESULT_VIEW, "evaluation.run.view")
def run_detail(request, run_id: int):
    user = request.user
    run = selectors.get_run(user, run_id)
    filt = ResultFilterForm(request.GET or None)
    group = filt.cleaned_data.get("peer_group", "") if filt.is_valid() else ""
    can_manage = allows(user, "evaluation.run.manage", run)
    page = paginate(request, selectors.results(user, run, peer_group=group))
    missing = services.missing_list(run, limit=50) if can_manage and run.missing else []
    return render(request, "evaluation/run_detail.html", {
        "run": run, "page": page, "qs": querystring_without(request, "page"), "filter": filt,
        "progress": selectors.run_progress(run), "missing": missing, "can_manage": can_manage,
        "correct_form": CorrectForm(), "indicators": run.inputs.get("indicators", []),
        "can_export": allows(user, "evaluation.result.export"),
        **_ranking_chart(request, run)})  # h-eval2: charts


def _ranking_chart(request, run) -> dict:
    """h-eval2: the charts' data (json_script) and the township picked for the stars grid."""
    raw = request.GET.get("township", "")
    chart = selectors.ranking_chart(request.user, run, int(raw) if raw.isdigit() and len(raw) < 12 else None)
    labels = {"avg": _("average"), "min": _("lowest"), "max": _("highest"), "score": _("Score"),
              "rank": _("Rank"), "unscored": _("not scored")}
    return {"chart": {**chart, "labels": labels}, "chart_townships": chart["townships"],
            "chart_township": chart["township_id"]}


@requires("evaluation.run.manage")
@require_POST
def run_publish(request, run_id: int):
    run = services.publish(request.user, run_id)
    messages.success(request, _("Published; public notice until %(d)s.") % {"d": run.notice_until})
    return redirect("evaluation:run_detail", run_id=run.pk)


@requires("evaluation.run.manage")
@require_POST
def run_recompute(request, run_id: int):
    run = services.get_run(request.user, run_id, "manage")
    run = services.compute_run(request.user, run.set, run.period)
    messages.success(request, _("Computed: %(n)d targets, %(m)d still missing a score.")
                     % {"n": run.targets, "m": run.missing})
    return redirect("evaluation:run_detail", run_id=run.pk)


@requires("evaluation.run.manage")
def run_correct(request, run_id: int):
    run = services.get_run(request.user, run_id, "manage")
    form = CorrectForm(request.POST or None)
    new = submit(request, form, lambda d: services.correct(request.user, run, reason=d["reason"]))
    if new is not None:
        messages.success(request, _("Correction computed as version %(v)d; publish it to replace the old one.")
                         % {"v": new.version})
        return redirect("evaluation:run_detail", run_id=new.pk)
    return render(request, "evaluation/correct.html", {"run": run, "form": form}, status=form.status)


@requires("evaluation.result.export")
def run_xlsx(request, run_id: int):
    run = selectors.get_run(request.user, run_id)
    data = results_workbook(run, selectors.results(request.user, run))
    resp = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="evaluation-{run.period}-v{run.version}.xlsx"'
    return resp


@requires("evaluation.result.export")
def run_pdf(request, run_id: int):
    run = selectors.get_run(request.user, run_id)
    data = results_pdf(run, selectors.results(request.user, run))
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="evaluation-{run.period}-v{run.version}.pdf"'
    return resp


@requires(RESULT_VIEW)
def result_detail(request, result_id: int):
    user = request.user
    r = selectors.get_result(user, result_id)
    form = ObjectionForm(request.POST or None)
    obj = submit(request, form, lambda d: services.lodge_objection(user, r, reason=d["reason"]))
    if obj is not None:
        messages.success(request, _("Objection lodged: matter #%(m)s for %(u)s.")
                         % {"m": obj.matter_id, "u": r.run.set.unit.name})
        return redirect("evaluation:result_detail", result_id=r.pk)
    lines = r.lines.select_related("indicator").order_by("indicator__seq")
    lost = [ln for ln in lines if (ln.points is not None and ln.points < ln.indicator.weight) or ln.note == "veto"]
    return render(request, "evaluation/result_detail.html", {
        "r": r, "lines": lines, "lost": lost, "form": form,
        "objection": getattr(r, "objection", None) if hasattr(r, "objection") else None,
        "can_object": r.run.state == RunState.PUBLISHED and allows(user, "evaluation.result.object", r.unit)},
        status=form.status)


@requires(RESULT_VIEW)
def unit_history(request, unit_id: int):
    unit = selectors.visible_unit(request.user, unit_id)
    page = paginate(request, selectors.unit_history(request.user, unit.pk))
    return render(request, "evaluation/unit_history.html", {"unit": unit, "page": page,
                                                             "qs": querystring_without(request, "page")})


@requires("evaluation.score.enter", "evaluation.score.approve")
def scores(request):
    user = request.user
    indicators = (Indicator.objects.filter(kind=IndicatorKind.MANUAL, set__in=selectors.sets(user).values("pk"))
                  .select_related("set") if allows(user, "evaluation.score.enter") else Indicator.objects.none())
    units = (OrgUnit.objects.filter(units_q(user, "evaluation.score.enter"), valid_to__isnull=True,
                                    level__in=[Level.TOWNSHIP, Level.VILLAGE]).order_by("path")[:500])
    penalties = (Indicator.objects.filter(kind__in=PENALTY_KINDS, set__in=selectors.sets(user).values("pk"))
                 .select_related("set") if allows(user, "evaluation.score.enter") else Indicator.objects.none())
    incident_post = request.method == "POST" and "inc-indicator" in request.POST
    form = ScoreForm(request.POST if request.method == "POST" and not incident_post else None,
                     indicators=indicators, units=units)
    incident_form = IncidentForm(request.POST if incident_post else None, indicators=penalties, units=units,
                                 prefix="inc")
    if incident_post:
        form.status = 200
        done = submit(request, incident_form, lambda d: services.record_incident(
            user, indicator=d["indicator"], unit=OrgUnit.objects.filter(pk=d["unit"]).first(),
            occurred_on=d["occurred_on"], description=d["description"], evidence=d["evidence"]))
        if done is not None:
            messages.success(request, _("Incident recorded; it counts once another assessor approves it."))
            return redirect("evaluation:scores")
    else:
        incident_form.status = 200
        done = submit(request, form, lambda d: services.enter_score(
            user, indicator=d["indicator"], unit=OrgUnit.objects.filter(pk=d["unit"]).first(), period=d["period"],
            value=d["value"], comment=d["comment"], evidence=d["evidence"]))
        if done is not None:
            messages.success(request, _("Score entered; it counts once another assessor approves it."))
            return redirect("evaluation:scores")
    page = paginate(request, selectors.scores_to_approve(user))
    incidents = selectors.incidents_to_approve(user)[:50]
    return render(request, "evaluation/scores.html", {"form": form, "incident_form": incident_form,
                                                       "has_penalties": penalties.exists(), "page": page,
                                                       "incidents": incidents,
                                                       "qs": querystring_without(request, "page")},
                  status=max(form.status, incident_form.status))


@requires("evaluation.score.approve")
@require_POST
def incident_approve(request, incident_id: int):
    services.approve_incident(request.user, incident_id)
    messages.success(request, _("Incident approved."))
    return redirect("evaluation:scores")


@requires("evaluation.score.approve")
@require_POST
def score_approve(request, score_id: int):
    services.approve_score(request.user, score_id)
    messages.success(request, _("Score approved."))
    return redirect("evaluation:scores")


# --- points ----------------------------------------------------------------------------------------

@requires(POINTS_VIEW)
def points_ranking(request):
    user = request.user
    villages = OrgUnit.objects.filter(units_q(user, POINTS_VIEW), level=Level.VILLAGE, valid_to__isnull=True)
    unit_id = request.GET.get("unit", "")
    unit = (villages.filter(pk=int(unit_id)).first() if unit_id.isdigit() and len(unit_id) < 12 else None) \
        or villages.order_by("path").first()
    page = paginate(request, selectors.ranking(user, unit) if unit else [])
    for a in page:
        a.masked = mask_name(a.household.head.name if a.household.head else "")
    return render(request, "evaluation/points_ranking.html", {
        "unit": unit, "villages": villages.order_by("path")[:200], "page": page,
        "qs": querystring_without(request, "page"), "summary": selectors.points_summary(user, unit) if unit else {},
        "items": selectors.store_items(user, unit) if unit else []})


def _rules_for(h):
    return PointRule.objects.filter(unit_id__in=h.unit.ancestor_ids(), active=True).order_by("code")


def _items_for(user, h):
    return selectors.store_items(user).filter(unit_id__in=h.unit.ancestor_ids())


@requires(POINTS_VIEW)
def household_points(request, household_id: int):
    user = request.user
    h = selectors.household(user, household_id)
    award_form = AwardForm(request.POST if request.POST.get("do") == "award" else None, rules=_rules_for(h),
                           prefix="a")
    redeem_form = RedeemForm(request.POST if request.POST.get("do") == "redeem" else None,
                             items=_items_for(user, h), prefix="r")
    status = 200
    if request.POST.get("do") == "award":
        e = submit(request, award_form, lambda d: services.award(user, household=h, rule=d["rule"],
                                                                  quantity=d["quantity"], note=d["note"],
                                                                  evidence=d["evidence"]))
        if e is not None:
            messages.success(request, _("%(p)+d points recorded.") % {"p": e.points} if e.state == "posted"
                             else _("Recorded; it counts once approved."))
            return redirect("evaluation:household_points", household_id=h.pk)
        status = award_form.status
    elif request.POST.get("do") == "redeem":
        r = submit(request, redeem_form, lambda d: services.redeem(user, household=h, item=d["item"],
                                                                    quantity=d["quantity"]))
        if r is not None:
            messages.success(request, _("Redeemed; receipt %(r)s.") % {"r": r.receipt})
            return redirect("evaluation:household_points", household_id=h.pk)
        status = redeem_form.status
    page = paginate(request, selectors.entries(user, h.pk))
    return render(request, "evaluation/household_points.html", {
        "h": h, "head": mask_name(h.head.name if h.head else ""), "balance": selectors.balance(h.pk),
        "page": page, "qs": querystring_without(request, "page"), "award_form": award_form,
        "redeem_form": redeem_form, "can_award": allows(user, "evaluation.points.award", h.unit),
        "can_redeem": allows(user, "evaluation.points.redeem", h.unit),
        "can_approve": allows(user, "evaluation.points.approve", h.unit), "reverse_form": ReverseForm(),
        "link": selectors.point_link(h.pk)},  # points2
        status=status)


@requires("evaluation.points.approve")
@require_POST
def entry_approve(request, entry_id: int):
    e = services.approve_entry(request.user, entry_id)
    messages.success(request, _("Approved."))
    return redirect("evaluation:household_points", household_id=e.household_id)


@requires("evaluation.points.award")
@require_POST
def entry_reverse(request, entry_id: int):
    # The service finds the entry in scope (404) before it checks the reason (a message back on the page).
    e = services.reverse(request.user, entry_id, reason=request.POST.get("reason", "")[:1000])
    messages.success(request, _("Reversed."))
    return redirect("evaluation:household_points", household_id=e.household_id)


# --- selections (评选) ------------------------------------------------------------------------------

SELECTION_VIEW = "evaluation.selection.view"


@requires(SELECTION_VIEW)
def selections(request):
    user = request.user
    top = OrgUnit.objects.filter(units_q(user, "evaluation.selection.manage")).order_by("depth").first()
    form = SelectionRoundForm(request.POST or None) if top else None
    if form is not None:
        r = submit(request, form, lambda d: services.create_round(
            user, unit=top, kind=d["kind"], name=d["name"], quota=d["quota"], nominate_until=d["nominate_until"],
            notice_days=d["notice_days"]))
        if r is not None:
            messages.success(request, _("Selection round opened."))
            return redirect("evaluation:selection_detail", round_id=r.pk)
    page = paginate(request, selectors.selection_rounds(user))
    return render(request, "evaluation/selections.html", {"page": page, "form": form, "top": top,
                                                           "qs": querystring_without(request, "page")},
                  status=form.status if form is not None else 200)


@requires(SELECTION_VIEW)
def selection_detail(request, round_id: int):
    from bihuan.orgs.models import PartyOrg

    user = request.user
    r = selectors.get_selection_round(user, round_id)
    units = (OrgUnit.objects.filter(units_q(user, "evaluation.selection.nominate"), valid_to__isnull=True,
                                    path__startswith=r.unit.path).order_by("path")[:500])
    orgs = None
    if r.kind == SelectionKind.ORGANISATION:
        orgs = (PartyOrg.objects.filter(unit__in=OrgUnit.objects.filter(
            units_q(user, "evaluation.selection.nominate"), path__startswith=r.unit.path)).order_by("unit__path", "id")
            [:500])
    can_nominate = r.state == SelectionState.NOMINATING and allows(user, "evaluation.selection.nominate")
    form = NominationForm(request.POST or None, units=units, orgs=orgs) if can_nominate else None
    if form is not None:
        n = submit(request, form, lambda d: services.nominate(
            user, r, unit=OrgUnit.objects.filter(pk=d["unit"]).first(), nominee=d.get("nominee", ""),
            party_org=d.get("party_org"), deeds=d["deeds"]))
        if n is not None:
            messages.success(request, _("Nominated: %(n)s.") % {"n": n.nominee})
            return redirect("evaluation:selection_detail", round_id=r.pk)
    filt = NominationFilterForm(request.GET or None)
    state = filt.cleaned_data.get("state", "") if filt.is_valid() else ""
    page = paginate(request, selectors.nominations(user, r, state=state))
    can_manage = allows(user, "evaluation.selection.manage", r.unit)
    return render(request, "evaluation/selection_detail.html", {
        "r": r, "page": page, "form": form, "filter": filt, "can_manage": can_manage,
        "review_form": ReviewForm(), "qs": querystring_without(request, "page")},
        status=form.status if form is not None else 200)


@requires("evaluation.selection.manage")
@require_POST
def nomination_review(request, nomination_id: int):
    form = ReviewForm(request.POST)
    d = form.cleaned_data if form.is_valid() else {"accept": False, "citation": "", "note": ""}
    try:  # out of scope stays a 404 (NotFound); a refusal goes back to the round as a message
        n = services.review(request.user, nomination_id, accept=d["accept"], citation=d["citation"],
                            note=d["note"])
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, exc.message)
        rid = Nomination.objects.filter(pk=nomination_id).values_list("round_id", flat=True).first()
        return redirect("evaluation:selection_detail", round_id=rid) if rid else redirect("evaluation:selections")
    messages.success(request, _("Reviewed: %(n)s.") % {"n": n.nominee})
    return redirect("evaluation:selection_detail", round_id=n.round_id)


@requires("evaluation.selection.manage")
@require_POST
def selection_step(request, round_id: int, step: str):
    if step == "publicise":
        r = services.publicise(request.user, round_id)
        messages.success(request, _("Publicised until %(d)s.") % {"d": r.notice_until.isoformat()})
    else:
        services.name_selection(request.user, round_id)
        messages.success(request, _("The selection is named."))
    return redirect("evaluation:selection_detail", round_id=round_id)


@requires(SELECTION_VIEW)
def selection_xlsx(request, round_id: int):
    r = selectors.get_selection_round(request.user, round_id)
    data = nominations_workbook(r, selectors.nominations(request.user, r))
    resp = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="selection-{r.pk}.xlsx"'
    return resp


# --- points2: the resident's balance link (no account) ---------------------------------------------

@requires("evaluation.points.award")
@require_POST
def household_link(request, household_id: int):
    """Staff button: make (or replace) the household's shareable balance link; audited."""
    h = selectors.household(request.user, household_id)
    services.rotate_link(request.user, h)
    messages.success(request, _("A new balance link was made; the old one no longer works."))
    return redirect("evaluation:household_points", household_id=h.pk)


def _public_points_limit() -> int:
    from django.conf import settings

    return int(getattr(settings, "BIHUAN_PUBLIC_POINTS_VIEWS_PER_HOUR", 60))


@never_cache
def points_status(request, points_token: str):
    """The household's balance and recent entries by its link: a masked name, no other personal data.
    Rate-limited per client like loop's public pages (loop.public.throttle_hit); the token is kept out of Referer headers."""
    from bihuan.loop import public

    ip = getattr(request, "client_ip", "") or request.META.get("REMOTE_ADDR", "") or "unknown"
    if not public.throttle_hit(f"points-link:{ip}", limit=_public_points_limit()):
        resp = render(request, "evaluation/points_status.html", {"throttled": True}, status=429)
    else:
        link, bal, recent = selectors.by_points_token(points_token)  # NotFound → 404
        h = link.household
        resp = render(request, "evaluation/points_status.html", {
            "head": mask_name(h.head.name if h.head else ""), "unit": link.unit, "balance": bal,
            "recent": recent})
    resp["Referrer-Policy"] = "same-origin"
    return resp


# --- h-eval2: one indicator set as XLSX (bihuan.evaluation.tabular_sets) ---

@requires("evaluation.set.export")
def set_xlsx(request, set_id: int):
    import io

    from .tabular_sets import export_set

    s = selectors.get_set(request.user, set_id)
    if not allows(request.user, "evaluation.set.export", s.unit):
        raise NotFound()
    buf = io.BytesIO()
    export_set(buf, request.user, s)
    resp = HttpResponse(buf.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f'attachment; filename="indicator-set-{s.pk}.xlsx"'
    return resp
# --- end h-eval2 ---
