"""The notification centre and the city's configuration pages (categories, routing rules,
working-day calendar overrides).

Reads are plain queries (categories are city-wide; routing rules through
``RoutingRule.objects.restrict``; notifications through ``notify.for_user``); every change goes
through ``loop.notify``, ``loop.config`` or ``core.calendar``. A page about one object answers 404
to a user without the permission, like an object outside their scope; list pages answer 403
(``core.views.requires``). Forms go through ``core.views.submit``; any other refusal of a service
is turned into a page by ``core.views.ServiceErrorMiddleware``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from bihuan.core import calendar
from bihuan.core.models import CalendarOverride
from bihuan.core.scope import allows, require_city_wide, scope_for, units_q
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.orgs.models import OrgUnit

from .. import config, notify, services
from ..forms import CategoryFilterForm, CategoryForm, OverrideForm, RoutingRuleForm
from ..models import Category, Kind, Matter, RoutingRule

NOTIFICATION_KINDS = {
    "new": gettext_lazy("To dispatch"),
    "dispatched": gettext_lazy("Dispatched to you"),
    "assist": gettext_lazy("Assist"),
    "sent_back": gettext_lazy("Sent back"),
    "reported": gettext_lazy("Reported done"),
    "return_visit": gettext_lazy("Return visit"),
    "returned": gettext_lazy("Returned"),
    "dissatisfied": gettext_lazy("Dissatisfied"),
    "remind": gettext_lazy("Reminder (催办)"),
    "flag": gettext_lazy("Flagged (挂牌督办)"),
    "extension": gettext_lazy("Extension requested"),
    "extension_decided": gettext_lazy("Extension decided"),
    "reopened": gettext_lazy("Reopened"),
}
YEAR_SOURCES = {
    "package": gettext_lazy("statutory calendar (chinesecalendar package)"),
    "overrides": gettext_lazy("entered by administrators"),
    "unknown": gettext_lazy("no data: deadlines use Monday–Friday and carry a warning"),
}


# --- notification centre ------------------------------------------------------------------------

@login_required
def notifications(request):
    """The signed-in user's notifications (to them and to their units), newest first."""
    user = request.user
    show = request.GET.get("show") or "all"
    if show not in ("all", "unread"):
        show = "all"
    qs = notify.unread_for(user) if show == "unread" else notify.for_user(user)
    qs = (notify.with_read_state(user, qs).select_related("unit", "matter")
          .only("id", "kind", "title", "body", "created_at", "unit__name", "matter_id", "matter__title",
                "user_id"))
    return render(request, "loop/notifications.html", {
        "page": paginate(request, qs.order_by("-created_at", "-id")), "qs": querystring_without(request, "page"),
        "show": show, "unread": notify.unread_count(user), "kinds": NOTIFICATION_KINDS,
    })


def _back_to_centre(request):
    nxt = request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}) and nxt.startswith("/"):
        return redirect(nxt)
    return redirect("loop:notifications")


@login_required
@require_POST
def notification_read(request, notification_id: int):
    """Mark one read; with ``open`` go on to its matter."""
    n = notify.get_for_user(request.user, notification_id)  # NotFound → 404 (ServiceErrorMiddleware)
    notify.mark_read(request.user, n.pk, now=timezone.now())
    if request.POST.get("open") and n.matter_id:
        return redirect("loop:detail", pk=n.matter_id)
    return _back_to_centre(request)


@login_required
@require_POST
def notifications_read_all(request):
    n = notify.mark_all_read(request.user, now=timezone.now())
    messages.success(request, _("%(n)d notifications marked read.") % {"n": n} if n
                     else _("There was nothing unread."))
    return _back_to_centre(request)


# --- configuration: shared ------------------------------------------------------------------------

def _require_or_404(request, perm: str) -> None:
    """Pages about one object: without the permission the object is out of reach, i.e. 404."""
    if not allows(request.user, perm):
        raise Http404


def _config_ctx(request, section: str, **kw) -> dict:
    user = request.user
    return {"section": section, "can_categories": allows(user, config.MANAGE),
            "can_calendar": allows(user, calendar.MANAGE),
            "city_wide": scope_for(user, config.MANAGE).all, **kw}


def _category_or_404(category_id) -> Category:
    try:
        return Category.objects.get(pk=category_id)
    except Category.DoesNotExist:
        raise Http404


# --- categories -----------------------------------------------------------------------------------

@requires(config.MANAGE)
def categories(request):
    form = CategoryFilterForm(request.GET or None)
    qs = Category.objects.all()
    status = "active"
    if form.is_valid():
        d = form.cleaned_data
        if d["q"]:
            qs = qs.filter(Q(name__icontains=d["q"].strip()) | Q(code__icontains=d["q"].strip()))
        if d["kind"]:
            qs = qs.filter(kind=d["kind"])
        status = d["status"] or "active"
    if status != "all":
        qs = qs.filter(active=(status == "active"))
    qs = qs.annotate(rule_count=Count("routing_rules")).order_by("kind", "code")
    return render(request, "loop/config/categories.html", _config_ctx(
        request, "categories", form=form, page=paginate(request, qs), qs=querystring_without(request, "page"),
        kinds=dict(Kind.choices)))


@requires(config.MANAGE)
def category_create(request):
    form = CategoryForm(request.POST or None, initial={"accept_hours": 4, "handle_days": 5, "warn_percent": 80,
                                                       "max_extensions": 1, "max_extension_days": 10})
    c = submit(request, form, lambda d: config.create_category(request.user, now=timezone.now(), **d))
    if c is not None:
        messages.success(request, _("Category %(name)s created.") % {"name": c.name})
        return redirect("loop:config_category", category_id=c.pk)
    return render(request, "loop/config/category_form.html",
                  _config_ctx(request, "categories", form=form, category=None), status=form.status)


@login_required
def category_edit(request, category_id: int):
    _require_or_404(request, config.MANAGE)
    c = _category_or_404(category_id)
    initial = {f: getattr(c, f) for f in config.FIELDS}
    form = CategoryForm(request.POST or None, initial=initial, editing=True)
    saved = submit(request, form, lambda d: config.update_category(request.user, c.pk, now=timezone.now(), **d))
    if saved is not None:
        messages.success(request, _("Category %(name)s saved. New limits apply to matters dispatched "
                                    "from now on.") % {"name": saved.name})
        return redirect("loop:config_category", category_id=saved.pk)
    used = Matter.objects.filter(category=c).exists()
    return render(request, "loop/config/category_form.html", _config_ctx(
        request, "categories", form=form, category=c, used=used,
        rule_count=RoutingRule.objects.filter(category=c).count()), status=form.status)


@login_required
@require_POST
def category_active(request, category_id: int):
    _require_or_404(request, config.MANAGE)
    c = _category_or_404(category_id)
    active = request.POST.get("active") == "1"
    config.set_category_active(request.user, c.pk, active, now=timezone.now())
    messages.success(request, _("%(name)s is active again.") % {"name": c.name} if active else
                     _("%(name)s is deactivated: no new matters can use it; existing ones keep it.")
                     % {"name": c.name})
    return redirect("loop:config_category", category_id=c.pk)


@login_required
@require_POST
def category_delete(request, category_id: int):
    _require_or_404(request, config.MANAGE)
    c = _category_or_404(category_id)
    config.delete_category(request.user, c.pk, now=timezone.now())  # refused: back to the category page
    messages.success(request, _("Category %(name)s deleted.") % {"name": c.name})
    return redirect("loop:config_categories")


# --- routing rules --------------------------------------------------------------------------------

def _routing_units(user):
    """Current units inside the actor's scope for loop.category.manage."""
    return OrgUnit.objects.filter(valid_to__isnull=True).filter(units_q(user, config.MANAGE))


def _routing_page(request, category: Category | None):
    user = request.user
    units = _routing_units(user)
    form = RoutingRuleForm(request.POST or None, units=units)
    rule = submit(request, form, lambda d: config.create_rule(
        user, category=category, location=d["location"], handling_unit=d["handling_unit"], note=d["note"],
        now=timezone.now()))
    if rule is not None:
        d = form.cleaned_data
        messages.success(request, _("Rule added: %(place)s → %(unit)s.")
                         % {"place": d["location"].name, "unit": d["handling_unit"].name})
        return redirect(request.path)
    rules = (RoutingRule.objects.restrict(user, "manage").select_related("location", "handling_unit")
             .filter(Q(category=category) if category else Q(category__isnull=True))
             .order_by("location__path", "id"))
    # "Where would a matter at … go?" — the same function dispatch uses.
    probe_code = (request.GET.get("probe") or "").strip()[:40]
    probe = probe_unit = None
    if probe_code:
        probe_unit = units.filter(code=probe_code).first()
        if probe_unit is not None:
            probe = (services.suggest_handling_unit(category, probe_unit) if category
                     else _catch_all_suggestion(probe_unit))
    return render(request, "loop/config/routing.html", _config_ctx(
        request, "routing" if category is None else "categories", category=category, form=form,
        page=paginate(request, rules), qs=querystring_without(request, "page"), probe_code=probe_code,
        probe_unit=probe_unit, probe=probe), status=form.status)


def _catch_all_suggestion(location: OrgUnit) -> OrgUnit:
    rule = (RoutingRule.objects.filter(category__isnull=True, location_id__in=location.ancestor_ids())
            .select_related("handling_unit").order_by("-location__depth").first())
    return rule.handling_unit if rule else services.township_of(location)


@login_required
def routing(request, category_id: int):
    _require_or_404(request, config.MANAGE)
    return _routing_page(request, _category_or_404(category_id))


@requires(config.MANAGE)
def routing_any(request):
    return _routing_page(request, None)


@login_required
@require_POST
def routing_delete(request, rule_id: int):
    _require_or_404(request, config.MANAGE)
    rule = RoutingRule.objects.restrict(request.user, "manage").filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    back = (reverse("loop:config_routing", args=[rule.category_id]) if rule.category_id
            else reverse("loop:config_routing_any"))
    config.delete_rule(request.user, rule.pk, now=timezone.now())
    messages.success(request, _("Rule deleted."))
    return redirect(back)


# --- calendar overrides ---------------------------------------------------------------------------

@requires(calendar.MANAGE)
def calendar_overrides(request):
    today = timezone.localdate()
    years = calendar.year_statuses(calendar.years_of_interest(today))
    default_year = next((y.year for y in years if y.year >= today.year and not y.known), today.year)
    year = request.GET.get("year") or ""
    year = int(year) if year.isdigit() and calendar.FIRST_YEAR <= int(year) <= calendar.LAST_YEAR else default_year
    form = OverrideForm(request.POST or None, initial={"is_workday": "0"})
    existed = {}

    def save(d):
        existed["yes"] = CalendarOverride.objects.filter(date=d["date"]).exists()
        return calendar.set_override(request.user, d["date"], d["is_workday"], d["note"], now=timezone.now())

    saved = submit(request, form, save)
    if saved is not None:
        d = form.cleaned_data
        kind = _("working day") if d["is_workday"] else _("day off")
        msg = _("%(date)s changed to a %(kind)s.") if existed["yes"] else _("%(date)s saved as a %(kind)s.")
        messages.success(request, msg % {"date": d["date"].isoformat(), "kind": kind})
        return redirect(f"{reverse('loop:config_calendar')}?year={d['date'].year}")
    rows = CalendarOverride.objects.filter(date__year=year).order_by("date")
    pkg = calendar.package_years()
    return render(request, "loop/config/calendar.html", _config_ctx(
        request, "calendar", form=form, years=years, year=year, page=paginate(request, rows, per_page=50),
        qs=querystring_without(request, "page"), package_first=pkg.start, package_last=pkg.stop - 1,
        year_status=calendar.year_statuses([year])[0], sources=YEAR_SOURCES, today=today), status=form.status)


@login_required
@require_POST
def calendar_recalculate(request):
    """"The arrangement is complete": the worker recalculates the running deadlines that were
    guessed Monday–Friday for years that are now entered."""
    _require_or_404(request, calendar.MANAGE)
    require_city_wide(request.user, calendar.MANAGE, calendar.CITY_WIDE)
    from bihuan.core import jobs

    jobs.enqueue("bihuan.loop.services.recalculate_deadlines_task", request.user.pk,
                 name="loop.recalculate_deadlines")
    messages.success(request, _("Recalculation queued: the worker counts the warned deadlines again on the entered "
                                "years; each changed matter shows it in its timeline."))
    return redirect(reverse("loop:config_calendar"))


@login_required
@require_POST
def calendar_delete(request, override_id: int):
    _require_or_404(request, calendar.MANAGE)
    row = CalendarOverride.objects.filter(pk=override_id).first()
    if row is None:
        raise Http404
    calendar.delete_override(request.user, row.date, now=timezone.now())
    messages.success(request, _("Override for %(date)s removed.") % {"date": row.date.isoformat()})
    return redirect(f"{reverse('loop:config_calendar')}?year={row.date.year}")

