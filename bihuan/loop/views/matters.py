"""Staff pages of the loop: inbox, report, matter detail with its actions, attachments, the
reporter phone's reveal.

Reads go through ``Matter.objects.restrict`` / ``loop.selectors``; every change goes through
``loop.services`` (``services.perform`` for the actions). The buttons of the matter page are
``transitions.available_actions`` — the same check the service refuses with and the API lists.
Out of scope is a 404, like absent: ``services.get_matter`` raises ``NotFound`` and
``core.views.ServiceErrorMiddleware`` answers 404. Supervision pages (board, backlog, hotspots) are
in ``views.supervision``; the public demand form and status page in ``views.public``.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from bihuan.core import scope
from bihuan.core.errors import Conflict, NotFound, ServiceError
from bihuan.core.errors import PermissionDenied as ServicePermissionDenied
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.orgs.models import Level, OrgUnit

from .. import selectors, services, transitions
from ..forms import ACTION_FORMS, ReportForm, RevealForm
from ..models import Category, Kind, Matter, Source, State
from ..services.attachments import too_large

TAB_LABELS = {
    "to_dispatch": gettext_lazy("To dispatch"),
    "to_accept": gettext_lazy("To accept"),
    "in_progress": gettext_lazy("In progress"),
    "due_soon": gettext_lazy("Due soon"),
    "overdue": gettext_lazy("Overdue"),
    "to_evaluate": gettext_lazy("To evaluate"),
    "closed": gettext_lazy("Closed"),
    selectors.MINE_TAB: gettext_lazy("Reported by me"),
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
    "progress": gettext_lazy("Progress added; the dispatching unit has been notified."),
}
EVENT_LABELS = {
    "create": gettext_lazy("Registered"),
    "close_with": gettext_lazy("Closed with the matter it was merged into"),
    "similar_sweep": gettext_lazy("Similar-case sweep (举一反三)"),
    "recalculate": gettext_lazy("Deadlines recalculated (calendar entered)"),
    **{a: t.label for a, t in transitions.TRANSITIONS.items()},
}


# --- helpers ------------------------------------------------------------------------------------

def home_unit(user, perm: str) -> OrgUnit | None:
    """The deepest unit the user is bound to with ``perm`` (their own unit, for defaults)."""
    best = None
    for b in user._active_bindings():
        if perm in b.role.permissions and (best is None or b.unit.depth > best.depth):
            best = b.unit
    return best


def uploads_from(request, field: str = "photos") -> list[services.Upload]:
    out = []
    for f in request.FILES.getlist(field)[: services.MAX_ATTACHMENTS + 1]:
        if f.size > services.MAX_ATTACHMENT_BYTES:  # refused before the file is read into memory
            raise too_large(f.name, f.size)
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
    if user.has_perm_anywhere("loop.matter.create"):
        tabs.append(selectors.MINE_TAB)  # a reporter follows what they reported
    return tabs


@requires("loop.matter.view")
def inbox(request):
    user, now = request.user, timezone.now()
    tabs = visible_tabs(user)
    default = "to_dispatch" if "to_dispatch" in tabs else "to_accept"
    tab = request.GET.get("tab") or default
    if tab not in tabs and tab not in selectors.INBOX_TABS:
        raise Http404
    # The open matters of a small scope are found once, through the unit indexes, and shared by the
    # counts and the list; 已办结 is counted up to CLOSED_COUNT_CAP ("999+"). See docs/performance.md.
    cap = selectors.CLOSED_COUNT_CAP
    open_base = selectors.open_matters(user)
    counts = selectors.inbox_counts(user, now=now, closed_cap=cap, open_base=open_base)
    if selectors.MINE_TAB in tabs:  # the reporter's matters still open
        counts[selectors.MINE_TAB] = open_base.filter(created_by=user).count()  # reported_by ∩ open
    qs = selectors.inbox(user, tab, now=now, open_base=open_base)
    count = counts[tab] if tab != selectors.MINE_TAB else None  # its badge counts the open ones only
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
          .annotate(due_order=Coalesce("due_at", "dispatch_due_at")).order_by(*order))
    capped = tab == "closed" and count is not None and count > cap
    return render(request, "loop/inbox.html", {
        "tabs": [(t, TAB_LABELS[t], f"{cap}+" if t == "closed" and counts[t] > cap else counts[t]) for t in tabs],
        "tab": tab, "q": q, "category": category, "closed_cap": cap, "capped": capped,
        "categories": Category.objects.filter(active=True),
        "page": paginate(request, qs, count=None if count is None else min(count, cap) if tab == "closed" else count),
        "qs": querystring_without(request, "page"), "now": now, "light_labels": LIGHT_LABELS,
        "can_create": user.has_perm_anywhere("loop.matter.create"),
    })


# --- report -------------------------------------------------------------------------------------

def _report_locations(user):
    return (OrgUnit.objects.filter(valid_to__isnull=True, level__gte=Level.TOWNSHIP)
            .filter(scope.units_q(user, "loop.matter.create")).order_by("path"))


@requires("loop.matter.create")
def report(request):
    """Register a problem: category, where (the user's unit by default), what, photos."""
    user = request.user
    locations = _report_locations(user)
    home = home_unit(user, "loop.matter.create")
    if home and locations.count() > 500:  # a city-wide account: their own unit and the two levels below it
        locations = locations.filter(depth__lte=home.depth + 2) & home.descendants(include_self=True)
    categories = Category.objects.filter(active=True, kind__in=[Kind.PROBLEM, Kind.DEMAND])
    initial = {"location": home.pk if home else None}
    form = ReportForm(request.POST or None, initial=initial, categories=categories, locations=locations)

    def register(d):
        title = d["title"] or f"{d['category'].name}：{d['description'][:30]}"
        try:
            return services.create_matter(
                user, category=d["category"], location_unit=d["location"], title=title[:services.MAX_TITLE],
                description=d["description"], address=d["address"], reporter_name=d["reporter_name"],
                reporter_phone=d["reporter_phone"], uploads=uploads_from(request), source=Source.STAFF,
                lat=d.get("lat"), lon=d.get("lon"), now=timezone.now())
        except (NotFound, ServicePermissionDenied):  # the place is outside the user's area
            raise ServiceError(_("This place is not in your area."), {"location": _("This place is not in your area.")})

    m = submit(request, form, register, rename={"location_unit": "location"})
    if m is not None:
        messages.success(request, _("Matter #%(id)d registered; the dispatcher has been notified.") % {"id": m.pk})
        return redirect("loop:detail", pk=m.pk)
    return render(request, "loop/report.html", {"form": form}, status=form.status)


# --- detail and actions ---------------------------------------------------------------------------

def _dispatch_units(user, m: Matter, suggestion: OrgUnit | None):
    return (m.dispatch_unit.descendants(include_self=True).filter(valid_to__isnull=True)
            .filter(Q(level__lte=Level.VILLAGE, depth__lte=m.dispatch_unit.depth + 2)
                    | Q(pk=getattr(suggestion, "pk", None)))
            .filter(scope.units_q(user, "loop.matter.dispatch")).order_by("path"))


def _build_form(user, m: Matter, action: str, data=None, suggestion=None):
    cls = ACTION_FORMS[action]
    initial = {"version": m.version}
    kw = {}
    if action == "dispatch":
        kw["units"] = _dispatch_units(user, m, suggestion)
        initial["handling_unit"] = getattr(suggestion, "pk", None)
    if action == "request_extension":
        initial["days"] = 1
    if action in transitions.OWN_UNIT_ACTIONS:
        kw["on_behalf_of"] = m.handling_unit if transitions.acts_on_behalf(user, m, action) else None
    return cls(data, initial=initial, action=action, **kw)


def detail_context(request, m: Matter, *, bound: dict | None = None, **extra) -> dict:
    user, now = request.user, timezone.now()
    status = selectors.matter_status(m, now)
    suggestion = services.suggest_handling_unit(m.category, m.location_unit) if m.state == State.NEW else None
    actions = transitions.available_actions(user, m)
    bound = bound or {}
    forms = [(a, transitions.get(a).label, bound.get(a) or _build_form(user, m, a, suggestion=suggestion))
             for a in actions]
    # What a unit above the lead unit may do only in its name: the same form, with the checkbox and reason.
    behalf = [(a, _("%(action)s on behalf of %(unit)s") % {"action": transitions.get(a).label,
                                                            "unit": m.handling_unit.name},
               bound.get(a) or _build_form(user, m, a)) for a in transitions.on_behalf_actions(user, m)]
    visible = Matter.objects.restrict(user, "view")
    similar_ids = [x.pk for x in selectors.similar_matters(m, now=now)]
    similar = list(selectors.with_light(visible.filter(pk__in=similar_ids), now)
                   .select_related("location_unit", "category").order_by("-created_at")[:5])
    events = list(selectors.timeline(m))
    ctx = {
        "m": m, "status": status, "light_label": LIGHT_LABELS[status.light], "light_labels": LIGHT_LABELS,
        "events": events, "event_labels": EVENT_LABELS, "attachments": list(m.attachments.all()),
        "assists": [a.unit for a in m.assists.select_related("unit")], "suggestion": suggestion,
        "similar": similar, "forms": forms, "behalf_forms": behalf, "open_action": extra.pop("open_action", ""),
        "extensions": list(m.extensions.all()), "ratings": list(m.ratings.all()),
        "duplicates": list(visible.filter(merged_into=m).only("id", "title", "state")),
        "derived": list(visible.filter(origin=m).select_related("location_unit").only(
            "id", "title", "state", "location_unit__name")[:50]),
        "state_label": State(m.state).label,
        "can_reveal": services.can_reveal(user, m), "reveal_form": extra.pop("reveal_form", None) or RevealForm(),
    }
    ctx.update(extra)
    return ctx


@requires("loop.matter.view")
def detail(request, pk: int):
    m = services.get_matter(request.user, pk)
    return render(request, "loop/detail.html", detail_context(request, m, **_refusal_context(request, m)))


# A refused action is not answered at its POST URL (a refresh would post it again): what the page
# needs to say it is kept in the session for the matter and the browser is sent to the matter page
# (post/redirect/get), which shows it once.
_REFUSAL_KEY = "loop.refused.%d"


def _keep_refusal(request, m: Matter, **what) -> None:
    request.session[_REFUSAL_KEY % m.pk] = what


def _take_refusal(request, m: Matter) -> dict:
    return request.session.pop(_REFUSAL_KEY % m.pk, None) or {}


def _refusal_context(request, m: Matter) -> dict:
    """The kept refusal as the detail page's context: the stale notice, the message at the top, or
    the action's form bound again to what was typed, with its errors (files must be chosen again)."""
    r = _take_refusal(request, m)
    if not r:
        return {}
    if r.get("stale"):
        return {"stale": True}
    action = r.get("action")
    if action not in ACTION_FORMS or not r.get("data"):
        return {"refused": r.get("message", "")}
    data = QueryDict(mutable=True)
    for k, values in r["data"].items():
        data.setlist(k, values)
    data["version"] = str(m.version)
    form = _build_form(request.user, m, action, data=data)
    form.is_valid()
    for field, msg in (r.get("errors") or {}).items():
        form.add_error(field if field in form.fields else None, msg)
    if r.get("message"):
        form.add_error(None, r["message"])
    return {"bound": {action: form}, "open_action": action}


@requires("loop.matter.view")
@require_POST
def act(request, pk: int, action: str):
    """One action on a matter, posted with the version the user saw. Success and refusal alike
    redirect to the matter page (post/redirect/get)."""
    user = request.user
    m = services.get_matter(user, pk)
    if action not in ACTION_FORMS:
        raise Http404
    back = redirect("loop:detail", pk=m.pk)
    typed = {k: request.POST.getlist(k) for k in request.POST if k not in ("csrfmiddlewaretoken", "version")}
    form = _build_form(user, m, action, data=request.POST)
    offered = transitions.can(user, m, action) or transitions.can_on_behalf(user, m, action)
    if form.is_valid():
        params, version = form.params(), form.cleaned_data["version"]
    elif not offered:
        # Not this user's action now (wrong unit, state or permission, or a stale page): the service says why.
        params, version = {}, request.POST.get("version")
        version = int(version) if str(version).isdigit() else m.version
    else:
        _keep_refusal(request, m, action=action, data=typed)
        return back
    try:
        if action in ("report_done", "progress"):  # the actions that carry photos
            params["uploads"] = uploads_from(request)
        result = services.perform(user, m.pk, action, version=version, params=params, now=timezone.now())
    except Conflict:
        _keep_refusal(request, m, stale=True)
        return back
    except NotFound:
        raise
    except ServiceError as exc:
        if isinstance(exc, ServicePermissionDenied) or not offered:  # no form of it on the page: say it at the top
            _keep_refusal(request, m, message=str(exc.message))
        else:
            _keep_refusal(request, m, action=action, data=typed, message=str(exc.message),
                          errors={k: str(v) for k, v in exc.field_errors.items()})
        return back
    if action == "similar_sweep":
        messages.success(request, _("%(n)d check tasks created, one for each peer unit.") % {"n": len(result)})
    else:
        messages.success(request, str(ACTION_DONE[action]))
    return back


@requires("loop.matter.view")
@require_POST
def reveal(request, pk: int):
    """The reporter's full phone, shown once on the page it was asked from (never cached)."""
    m = services.get_matter(request.user, pk)
    form = RevealForm(request.POST)
    value = submit(request, form, lambda d: services.reveal_phone(request.user, m.pk, d["reason"], now=timezone.now()))
    resp = render(request, "loop/detail.html", detail_context(request, m, reveal_form=form, revealed=value),
                  status=200 if value is not None else form.status)
    resp["Cache-Control"] = "no-store"  # a revealed number must not sit in a cache
    return resp


@requires("loop.matter.view")
def attachment(request, pk: int, attachment_id: int):
    m = services.get_matter(request.user, pk)
    att = m.attachments.filter(pk=attachment_id).first()
    if att is None:
        raise Http404
    resp = FileResponse(att.file.open("rb"), content_type=att.content_type,
                        as_attachment=not att.content_type.startswith("image/"), filename=att.name)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp
