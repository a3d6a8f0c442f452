"""Staff pages of the loop: inbox, report, matter detail with its actions, attachments.

Reads go through ``Matter.objects.restrict`` / ``loop.selectors``; every change goes through
``loop.services`` (``services.perform`` for the actions). Out of scope is a 404, like absent.
Supervision pages (board, backlog, hotspots) are in ``views_supervision``; the public demand
form and status page in ``views_public``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from bihuan.core.errors import Conflict, NotFound, ServiceError
from bihuan.core.errors import PermissionDenied as ServicePermissionDenied
from bihuan.core.forms import apply_service_error
from bihuan.orgs.models import Level, OrgUnit

from . import selectors, services, transitions
from .forms import ACTION_FORMS, ReportForm
from .models import (
    Category,
    ExtensionRequest,
    ExtensionStatus,
    Kind,
    Matter,
    Rating,
    Source,
    State,
)

PAGE_SIZE = 25

TAB_LABELS = {
    "to_dispatch": gettext_lazy("To dispatch"),
    "to_accept": gettext_lazy("To accept"),
    "in_progress": gettext_lazy("In progress"),
    "due_soon": gettext_lazy("Due soon"),
    "overdue": gettext_lazy("Overdue"),
    "to_evaluate": gettext_lazy("To evaluate"),
    "closed": gettext_lazy("Closed"),
}
LIGHT_LABELS = {
    "green": gettext_lazy("On time"),
    "yellow": gettext_lazy("Due soon"),
    "red": gettext_lazy("Overdue"),
    "none": gettext_lazy("Finished"),
}
ACTION_DONE = {
    "dispatch": gettext_lazy("Dispatched."),
    "accept": gettext_lazy("Accepted."),
    "send_back": gettext_lazy("Sent back to the dispatcher."),
    "report_done": gettext_lazy("Reported done; waiting for evaluation."),
    "evaluate": gettext_lazy("Evaluation recorded."),
    "rate": gettext_lazy("Rating recorded."),
    "remind": gettext_lazy("Reminder sent."),
    "flag": gettext_lazy("Flagged for supervision."),
    "request_extension": gettext_lazy("Extension requested."),
    "decide_extension": gettext_lazy("Extension decided."),
    "reopen": gettext_lazy("Reopened."),
    "merge": gettext_lazy("Merged."),
    "similar_sweep": gettext_lazy("Check tasks created."),
}
EVENT_LABELS = {
    "create": gettext_lazy("Registered"),
    "close_with": gettext_lazy("Closed with the matter it was merged into"),
    "similar_sweep": gettext_lazy("Similar-case sweep (举一反三)"),
    "recalculate": gettext_lazy("Deadlines recalculated (calendar entered)"),
    **{a: t.label for a, t in transitions.TRANSITIONS.items()},
}


# --- helpers ------------------------------------------------------------------------------------

def require_perm(request, perm: str) -> None:
    if not request.user.has_perm_anywhere(perm):
        raise PermissionDenied


def paginate(request, qs, per_page: int = PAGE_SIZE, *, count: int | None = None):
    """A page of ``qs``; ``count``, when the caller already knows it (a tab's count), saves the COUNT query."""
    paginator = Paginator(qs, per_page)
    if count is not None:
        paginator.count = count  # overrides the cached property
    return paginator.get_page(request.GET.get("page"))


def qs_without(request, *names: str) -> str:
    q = request.GET.copy()
    for n in names:
        q.pop(n, None)
    return q.urlencode()


def scope_units_q(user, perm: str, field: str = "") -> Q:
    """Units (``field`` prefix for a relation) inside the user's scope for ``perm``."""
    scope = user.get_scope(perm)
    if scope.all:
        return Q()
    q = Q(pk__in=[])
    for p in scope.subtree_paths:
        q |= Q(**{f"{field}path__startswith": p})
    if scope.unit_ids:
        q |= Q(**{f"{field}id__in": sorted(scope.unit_ids)})
    return q


def home_unit(user, perm: str) -> OrgUnit | None:
    """The deepest unit the user is bound to with ``perm`` (their own unit, for defaults)."""
    best = None
    for b in user._active_bindings():
        if perm in b.role.permissions and (best is None or b.unit.depth > best.depth):
            best = b.unit
    return best


def get_matter_or_404(request, pk) -> Matter:
    try:
        return services.get_matter(request.user, pk)
    except NotFound:
        raise Http404


def uploads_from(request, field: str = "photos") -> list[services.Upload]:
    out = []
    for f in request.FILES.getlist(field)[: services.MAX_ATTACHMENTS + 1]:
        if f.size > services.MAX_ATTACHMENT_BYTES:
            raise ServiceError(
                _("Attachment %(name)s is %(size)d bytes; it must be between 1 byte and %(max)d MB.")
                % {"name": f.name, "size": f.size, "max": services.MAX_ATTACHMENT_BYTES // (1024 * 1024)},
                {"attachments": _("Wrong file size.")}, code="attachment_size")
        out.append(services.Upload(f.name, f.content_type or "", f.read()))
    return out


def light_of(m: Matter, now) -> str:
    return getattr(m, "light", None) or selectors.matter_status(m, now).light


# --- inbox --------------------------------------------------------------------------------------

def visible_tabs(user) -> list[str]:
    tabs = list(selectors.INBOX_TABS)
    if not user.has_perm_anywhere("loop.matter.dispatch"):
        tabs.remove("to_dispatch")
    if not user.has_perm_anywhere("loop.matter.evaluate"):
        tabs.remove("to_evaluate")
    return tabs


@login_required
def inbox(request):
    require_perm(request, "loop.matter.view")
    user, now = request.user, timezone.now()
    tabs = visible_tabs(user)
    default = "to_dispatch" if "to_dispatch" in tabs else "to_accept"
    tab = request.GET.get("tab") or default
    if tab not in selectors.INBOX_TABS:
        raise Http404
    # The open matters of a small scope are found once, through the unit indexes, and shared by the
    # counts and the list; 已办结 is counted up to CLOSED_COUNT_CAP ("999+"). See docs/performance.md.
    cap = selectors.CLOSED_COUNT_CAP
    open_base = selectors.open_matters(user)
    counts = selectors.inbox_counts(user, now=now, closed_cap=cap, open_base=open_base)
    qs = selectors.inbox(user, tab, now=now, open_base=open_base)
    count = counts[tab]
    q = (request.GET.get("q") or "").strip()[:60]
    if q:
        qs, count = qs.filter(title__contains=q), None
    category = request.GET.get("category") or ""
    if category.isdigit():
        qs, count = qs.filter(category_id=int(category)), None
    if count is None and tab == "closed":
        count = qs[:cap + 1].count()
    # By deadline through an expression, not the due_at index: walking that index from the oldest
    # deadline passes every closed matter before the first overdue one (the same order).
    order = {"due_soon": ["due_order", "id"], "overdue": ["due_order", "id"], "closed": ["-closed_at", "-id"],
             "to_dispatch": ["created_at", "id"], "to_accept": ["accept_due_at", "id"]}.get(tab, ["-created_at", "-id"])
    qs = (selectors.with_light(qs, now).select_related("category", "location_unit", "handling_unit")
          .annotate(due_order=Coalesce("due_at", "due_at")).order_by(*order))
    capped = tab == "closed" and count is not None and count > cap
    return render(request, "loop/inbox.html", {
        "tabs": [(t, TAB_LABELS[t], f"{cap}+" if t == "closed" and counts[t] > cap else counts[t]) for t in tabs],
        "tab": tab, "q": q, "category": category, "closed_cap": cap, "capped": capped,
        "categories": Category.objects.filter(active=True),
        "page": paginate(request, qs, count=None if count is None else min(count, cap) if tab == "closed" else count),
        "qs": qs_without(request, "page"), "now": now, "light_labels": LIGHT_LABELS,
        "can_create": user.has_perm_anywhere("loop.matter.create"),
    })


# --- report -------------------------------------------------------------------------------------

def _report_locations(user):
    return (OrgUnit.objects.filter(valid_to__isnull=True, level__gte=Level.TOWNSHIP)
            .filter(scope_units_q(user, "loop.matter.create")).order_by("path"))


@login_required
def report(request):
    """Register a problem: category, where (the user's unit by default), what, photos."""
    require_perm(request, "loop.matter.create")
    user = request.user
    locations = _report_locations(user)
    if locations.count() > 500:  # a city-wide account: their own unit and the two levels below it
        home = home_unit(user, "loop.matter.create")
        locations = locations.filter(path__startswith=home.path, depth__lte=home.depth + 2) if home else locations
    categories = Category.objects.filter(active=True, kind__in=[Kind.PROBLEM, Kind.DEMAND])
    home = home_unit(user, "loop.matter.create")
    initial = {"location": home.pk if home else None, "category": categories.first()}
    form = ReportForm(request.POST or None, initial=initial, categories=categories, locations=locations)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            title = d["title"] or f"{d['category'].name}：{d['description'][:30]}"
            try:
                m = services.create_matter(
                    user, category=d["category"], location_unit=d["location"], title=title[:services.MAX_TITLE],
                    description=d["description"], address=d["address"], reporter_name=d["reporter_name"],
                    reporter_phone=d["reporter_phone"], uploads=uploads_from(request), source=Source.STAFF,
                    now=timezone.now())
            except ServicePermissionDenied:
                raise PermissionDenied
            except NotFound:
                form.add_error("location", _("This place is not in your area."))
            except ServiceError as exc:
                apply_service_error(form, exc, {"location_unit": "location"})
            else:
                messages.success(request, _("Matter #%(id)d registered; the dispatcher has been notified.")
                                 % {"id": m.pk})
                return redirect("loop:detail", pk=m.pk)
    return render(request, "loop/report.html", {"form": form}, status=status)


# --- detail and actions ---------------------------------------------------------------------------

def _dispatch_units(user, m: Matter, suggestion: OrgUnit | None):
    base = m.dispatch_unit
    qs = (OrgUnit.objects.filter(path__startswith=base.path, valid_to__isnull=True)
          .filter(Q(level__lte=Level.VILLAGE, depth__lte=base.depth + 2) | Q(pk=getattr(suggestion, "pk", None)))
          .filter(scope_units_q(user, "loop.matter.dispatch")).order_by("path"))
    return qs


def _action_list(user, m: Matter) -> list[str]:
    actions = services.available_actions(user, m)
    actions = [a for a in actions if user.has_perm_anywhere(transitions.get(a).permission)]
    if "decide_extension" in actions and not ExtensionRequest.objects.filter(
            matter=m, status=ExtensionStatus.PENDING).exists():
        actions.remove("decide_extension")
    if "request_extension" in actions and (
            m.extensions_used >= m.category.max_extensions
            or ExtensionRequest.objects.filter(matter=m, status=ExtensionStatus.PENDING).exists()):
        actions.remove("request_extension")
    if "rate" in actions and Rating.objects.filter(matter=m, round=m.rounds).exists():
        actions.remove("rate")
    if "flag" in actions and m.flagged:
        actions.remove("flag")
    if (m.state == State.CLOSED and user.has_perm_anywhere("loop.matter.supervise")
            and services._unit_covered(user, "loop.matter.supervise", m.dispatch_unit)):
        actions.append("similar_sweep")
    return actions


def _build_form(user, m: Matter, action: str, data=None, suggestion=None):
    cls = ACTION_FORMS[action]
    initial = {"version": m.version}
    kw = {}
    if action == "dispatch":
        kw["units"] = _dispatch_units(user, m, suggestion)
        initial["handling_unit"] = getattr(suggestion, "pk", None)
    if action == "request_extension":
        initial["days"] = 1
    return cls(data, initial=initial, action=action, **kw)


def detail_context(request, m: Matter, *, bound: dict | None = None, **extra) -> dict:
    user, now = request.user, timezone.now()
    status = selectors.matter_status(m, now)
    suggestion = services.suggest_handling_unit(m.category, m.location_unit) if m.state == State.NEW else None
    actions = _action_list(user, m)
    bound = bound or {}
    forms = [(a, transitions.get(a).label if transitions.get(a) else _("Similar-case sweep (举一反三)"),
              bound.get(a) or _build_form(user, m, a, suggestion=suggestion)) for a in actions]
    visible = Matter.objects.restrict(user, "view")
    similar_ids = [x.pk for x in selectors.similar_matters(m, now=now)]
    similar = list(selectors.with_light(visible.filter(pk__in=similar_ids), now)
                   .select_related("location_unit", "category").order_by("-created_at")[:5])
    events = list(selectors.timeline(m))
    ctx = {
        "m": m, "status": status, "light_label": LIGHT_LABELS[status.light], "light_labels": LIGHT_LABELS,
        "events": events, "event_labels": EVENT_LABELS, "attachments": list(m.attachments.all()),
        "assists": [a.unit for a in m.assists.select_related("unit")], "suggestion": suggestion,
        "similar": similar, "forms": forms, "open_action": extra.pop("open_action", ""),
        "extensions": list(m.extensions.all()), "ratings": list(m.ratings.all()),
        "duplicates": list(visible.filter(merged_into=m).only("id", "title", "state")),
        "derived": list(visible.filter(origin=m).select_related("location_unit").only(
            "id", "title", "state", "location_unit__name")[:50]),
        "state_label": State(m.state).label,
    }
    ctx.update(extra)
    return ctx


@login_required
def detail(request, pk: int):
    require_perm(request, "loop.matter.view")
    m = get_matter_or_404(request, pk)
    return render(request, "loop/detail.html", detail_context(request, m))


@login_required
@require_POST
def act(request, pk: int, action: str):
    """One action on a matter, posted with the version the user saw."""
    user = request.user
    m = get_matter_or_404(request, pk)
    if action not in ACTION_FORMS:
        raise Http404
    form = _build_form(user, m, action, data=request.POST)
    if form.is_valid():
        params, version = form.params(), form.cleaned_data["version"]
    elif action not in _action_list(user, m):
        # Not this user's action (wrong unit, wrong state, no permission): the service says why.
        params, version = {}, request.POST.get("version")
        version = int(version) if str(version).isdigit() else m.version
    else:
        return render(request, "loop/detail.html",
                      detail_context(request, m, bound={action: form}, open_action=action), status=400)
    try:
        if action == "report_done":
            params["uploads"] = uploads_from(request)
        result = services.perform(user, m.pk, action, version=version, params=params, now=timezone.now())
    except NotFound:
        raise Http404
    except Conflict:
        fresh = get_matter_or_404(request, pk)
        return render(request, "loop/detail.html", detail_context(request, fresh, stale=True), status=409)
    except ServicePermissionDenied as exc:
        return render(request, "loop/detail.html", detail_context(request, m, refused=str(exc.message)),
                      status=403)
    except ServiceError as exc:
        if action not in _action_list(user, m):  # no form of it on the page: say it at the top
            return render(request, "loop/detail.html", detail_context(request, m, refused=str(exc.message)),
                          status=400)
        apply_service_error(form, exc)
        return render(request, "loop/detail.html",
                      detail_context(request, m, bound={action: form}, open_action=action), status=400)
    if action == "similar_sweep":
        messages.success(request, _("%(n)d check tasks created, one for each peer unit.") % {"n": len(result)})
    else:
        messages.success(request, str(ACTION_DONE[action]))
    return redirect("loop:detail", pk=m.pk)


@login_required
def attachment(request, pk: int, attachment_id: int):
    require_perm(request, "loop.matter.view")
    m = get_matter_or_404(request, pk)
    att = m.attachments.filter(pk=attachment_id).first()
    if att is None:
        raise Http404
    resp = FileResponse(att.file.open("rb"), content_type=att.content_type,
                        as_attachment=not att.content_type.startswith("image/"), filename=att.name)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp
