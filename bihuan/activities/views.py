"""Pages of the activities app: lecture teams and lecturers, 微课堂 sessions (with the public
feedback link and its QR code), coverage (全覆盖) and lecture orders (点单).

Reads go through ``activities.selectors`` (restrict / require); every change through
``activities.services``, with the plumbing of ``core.views``. Out of scope is a 404, like absent.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from functools import wraps

from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from bihuan.core.context import acting_as
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.scope import allows, has_anywhere, units_q
from bihuan.core.views import paginate, querystring_without, requires, submit
from bihuan.loop.services import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, Upload
from bihuan.orgs.models import Level, OrgUnit

from . import selectors, services
from .forms import CoverageForm, FeedbackForm, OrderForm, SessionFilterForm, SessionForm, TeamForm
from .models import Lecturer, OrderState, SessionPhoto

TEAM_VIEW = "activities.team.view"
SESSION_VIEW = "activities.session.view"
RECORD = "activities.session.record"
ORDER_VIEW = "activities.order.view"
DEVICE_COOKIE = "bh_fb_device"


def _uploads(request, field: str = "photos") -> list[Upload]:
    out = []
    for f in request.FILES.getlist(field)[: MAX_ATTACHMENTS + 1]:
        if f.size > MAX_ATTACHMENT_BYTES:
            raise ServiceError(_("Attachment %(name)s is too large.") % {"name": f.name},
                               {"attachments": _("Wrong file size.")}, code="attachment_size")
        out.append(Upload(f.name, f.content_type or "", f.read()))
    return out


def _unit_or_404(user, perm, unit_id):
    if unit_id is None:
        return None
    unit = OrgUnit.objects.filter(units_q(user, perm), pk=unit_id).first()
    if unit is None:
        raise NotFound()
    return unit


def _top_unit(user, perm):
    """The highest unit the user may use ``perm`` at (the default of coverage and forms)."""
    return OrgUnit.objects.filter(units_q(user, perm), valid_to__isnull=True).order_by("depth", "path").first()


# --- teams and lecturers ------------------------------------------------------------------------

@requires(TEAM_VIEW, SESSION_VIEW)
def home(request):
    user = request.user
    mine = list(selectors.my_lecturer_profiles(user))
    page = paginate(request, selectors.teams(user))
    form = None
    if has_anywhere(user, services.MANAGE):
        units = OrgUnit.objects.filter(units_q(user, services.MANAGE), valid_to__isnull=True,
                                       level__lte=Level.TOWNSHIP).order_by("path")
        form = TeamForm(request.POST or None, units=units)
        team = submit(request, form, lambda d: services.create_team(user, **d))
        if team:
            messages.success(request, _("Team created: %(n)s") % {"n": team.name})
            return redirect("activities:team_detail", team_id=team.pk)
    return render(request, "activities/home.html", {
        "page": page, "qs": querystring_without(request, "page"), "mine": mine, "form": form},
        status=getattr(form, "status", 200))


@requires(TEAM_VIEW)
def team_detail(request, team_id: int):
    team = services.get_team(request.user, team_id)
    page = paginate(request, selectors.lecturers(request.user, team=team))
    return render(request, "activities/team_detail.html", {
        "team": team, "page": page, "qs": querystring_without(request, "page"),
        "can_manage": allows(request.user, services.MANAGE, team)})


# --- sessions -----------------------------------------------------------------------------------

@requires(SESSION_VIEW)
def session_list(request):
    f = SessionFilterForm(request.GET)
    d = f.cleaned_data if f.is_valid() else {}
    unit = _unit_or_404(request.user, SESSION_VIEW, d.get("unit"))
    qs = selectors.sessions(request.user, unit=unit, start=d.get("start"), end=d.get("end"))
    return render(request, "activities/session_list.html", {
        "page": paginate(request, qs), "qs": querystring_without(request, "page"), "unit": unit,
        "can_record": has_anywhere(request.user, RECORD)})


def _session_form(request, data=None, files=None):
    """Lecturers offered: one's own profiles (a lecturer), else those of teams at or above one's
    units and those one sees. Places: one's units, and the areas of one's own teams. The service
    decides again (``record_session``)."""
    user = request.user
    mine = list(selectors.my_lecturer_profiles(user))
    lecturers = Lecturer.objects.filter(active=True).select_related("person", "team")
    places = OrgUnit.objects.filter(units_q(user, RECORD))
    if mine:
        lecturers = lecturers.filter(pk__in=[m.pk for m in mine])
        for m in mine:
            places = places | OrgUnit.objects.filter(path__startswith=m.team.unit.path)
    else:
        lecturers = lecturers.filter(pk__in=Lecturer.objects.restrict(user, "view").values("pk")) | \
            lecturers.filter(team__unit_id__in=_ancestor_ids(user))
    places = places.filter(valid_to__isnull=True, level__in=(Level.TOWNSHIP, Level.VILLAGE)).order_by("path")
    return SessionForm(data, files, lecturers=lecturers.distinct().order_by("team_id", "id"),
                       places=places.distinct())


def _ancestor_ids(user) -> list[int]:
    top = _top_unit(user, RECORD)
    return top.ancestor_ids() if top else []


@requires(RECORD)
def session_new(request):
    form = _session_form(request, request.POST or None)
    initial_order = None
    if request.GET.get("order", "").isdigit() and len(request.GET["order"]) < 10:
        initial_order = selectors.orders(request.user).filter(pk=request.GET["order"],
                                                              state=OrderState.ACCEPTED).first()
        if initial_order and request.method == "GET":
            form.initial.update({"lecturer": initial_order.lecturer_id, "place": initial_order.unit_id,
                                 "topic": initial_order.topic, "audience": initial_order.audience})

    def call(d):
        return services.record_session(request.user, uploads=_uploads(request), order=initial_order, **d)

    s = submit(request, form, call)
    if s:
        messages.success(request, _("Session recorded. Show the QR code to the attendees for their feedback."))
        return redirect("activities:session_detail", session_id=s.pk)
    return render(request, "activities/session_form.html", {"form": form, "order": initial_order},
                  status=form.status)


@requires(SESSION_VIEW)
def session_detail(request, session_id: int):
    s = selectors.get_session(request.user, session_id)
    return render(request, "activities/session_detail.html", {
        "s": s, "photos": s.photos.all(), "feedback": s.feedback.all()[:20],
        "feedback_open": timezone.localdate() <= s.held_on + timedelta(days=services.FEEDBACK_DAYS)})


@requires(SESSION_VIEW)
def photo(request, photo_id: int):
    ph = SessionPhoto.objects.restrict(request.user, "view").filter(pk=photo_id).first()
    if ph is None:
        raise NotFound()
    resp = FileResponse(ph.file.open("rb"), as_attachment=False, filename=ph.name, content_type=ph.content_type)
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


# --- coverage -----------------------------------------------------------------------------------

@requires(SESSION_VIEW)
def coverage(request):
    f = CoverageForm(request.GET)
    d = f.cleaned_data if f.is_valid() else {}
    unit = _unit_or_404(request.user, SESSION_VIEW, d.get("unit")) or _top_unit(request.user, SESSION_VIEW)
    today = timezone.localdate()
    start = d.get("start") or date(today.year, 1, 1)
    end = d.get("end") or today
    if end < start:
        start, end = end, start
    rows = selectors.coverage(request.user, unit, start=start, end=end) if unit else None
    summary = selectors.coverage_summary(request.user, unit, start=start, end=end) if unit else None
    page = paginate(request, rows, per_page=100) if rows is not None else None
    districts = OrgUnit.objects.filter(units_q(request.user, SESSION_VIEW), valid_to__isnull=True,
                                       level__in=(Level.COUNTY, Level.TOWNSHIP)).order_by("path")[:200]
    return render(request, "activities/coverage.html", {
        "unit": unit, "start": start, "end": end, "summary": summary, "page": page,
        "cells": [(r, selectors.shade(r.sessions)) for r in page] if page is not None else [],
        "view": d.get("view") or "grid", "districts": districts, "qs": querystring_without(request, "page"),
        "qs_view": querystring_without(request, "view", "page")})


# --- orders -------------------------------------------------------------------------------------

@requires(ORDER_VIEW)
def order_list(request):
    user = request.user
    form = None
    if has_anywhere(user, services.ORDER):
        units = OrgUnit.objects.filter(units_q(user, services.ORDER), valid_to__isnull=True,
                                       level__gte=Level.TOWNSHIP, level__lte=Level.VILLAGE).order_by("path")
        form = OrderForm(request.POST or None, units=units)
        o = submit(request, form, lambda d: services.create_order(user, **d))
        if o:
            messages.success(request, _("Lecture ordered: %(t)s") % {"t": o.topic})
            return redirect("activities:order_detail", order_id=o.pk)
    state = request.GET.get("state", "")
    state = state if state in OrderState.values else ""
    return render(request, "activities/order_list.html", {
        "page": paginate(request, selectors.orders(user, state=state)), "qs": querystring_without(request, "page"),
        "form": form, "state": state, "states": OrderState.choices}, status=getattr(form, "status", 200))


@requires(ORDER_VIEW)
def order_detail(request, order_id: int):
    user = request.user
    o = services.get_order(user, order_id)
    can_match = o.state in (OrderState.OPEN, OrderState.MATCHED) and allows(user, services.MATCH, o)
    can_accept = (o.state == OrderState.MATCHED and o.lecturer is not None and o.lecturer.user_id == user.pk)
    if request.method == "POST":
        act = request.POST.get("act")
        if act == "match" and can_match:
            services.match_order(user, o, lecturer=request.POST.get("lecturer") or None,
                                 version=request.POST.get("version"))
            messages.success(request, _("Order matched."))
        elif act == "accept" and can_accept:
            services.accept_order(user, o, version=request.POST.get("version"))
            messages.success(request, _("Order accepted. Record the session after the lecture."))
        else:
            raise ServiceError(_("This action is not available."))
        return redirect("activities:order_detail", order_id=o.pk)
    cands = list(selectors.candidates(o, now=timezone.now())[:10]) if can_match else []
    return render(request, "activities/order_detail.html", {
        "o": o, "can_match": can_match, "can_accept": can_accept, "candidates": cands,
        "can_record": o.state == OrderState.ACCEPTED and can_accept is False and o.lecturer is not None
        and o.lecturer.user_id == user.pk})


# --- the public feedback link -------------------------------------------------------------------

def _token_page(view):
    """The feedback link is a key: ``same-origin`` keeps it out of other sites' ``Referer`` while
    the page's own POST still carries its real ``Origin`` for the CSRF check (as the loop's
    demand page)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        resp = view(request, *args, **kwargs)
        resp["Referrer-Policy"] = "same-origin"
        return resp

    return wrapper


@never_cache
@_token_page
def feedback(request, feedback_token: str):
    from bihuan.loop import public

    s = services.session_by_token(feedback_token)  # NotFound → 404
    device = request.COOKIES.get(DEVICE_COOKIE, "")
    form = FeedbackForm(request.POST or None)
    ctx = {"s": s, "form": form, "done": False}
    if request.method == "POST":
        ip = getattr(request, "client_ip", "") or request.META.get("REMOTE_ADDR", "") or "unknown"
        if not public.throttle_hit(f"lecture-feedback:{ip}", limit=public.public_rate_limit()):
            ctx["throttled"] = True
            return render(request, "activities/public_feedback.html", ctx, status=429)

        def call(d):
            with acting_as(None, username="attendee", ip=ip):
                return services.give_feedback(feedback_token, device=device, rating=d["rating"],
                                              comment=d["comment"], now=timezone.now())

        if submit(request, form, call):
            messages.success(request, _("Thank you for your rating."))
            return redirect("activities:feedback", feedback_token=s.feedback_token)
        resp = render(request, "activities/public_feedback.html", ctx, status=form.status)
    else:
        resp = render(request, "activities/public_feedback.html", ctx)
    if not device:
        resp.set_cookie(DEVICE_COOKIE, secrets.token_urlsafe(24), max_age=365 * 86400, httponly=True,
                        samesite="Lax", secure=request.is_secure())
    return resp


# --- party life: re-election (换届), contact points (联系点), on-site reviews (观摩评比) ------------
# Issue 15 items 7–9. Party organisations are orgs.PartyOrg, scoped by their unit.

ELECTION_VIEW = "activities.election.view"
CONTACT_VIEW = "activities.contact.view"
REVIEW_VIEW = "activities.review.view"


@requires(ELECTION_VIEW)
def election_list(request):
    """换届: current terms, overdue and due within six months first; ``state`` filters."""
    now = timezone.now()
    state = request.GET.get("state", "")
    state = state if state in ("overdue", "due") else ""
    qs = selectors.elections(request.user, now=now, state=state)
    return render(request, "activities/election_list.html", {
        "page": paginate(request, qs), "qs": querystring_without(request, "page"), "state": state,
        "summary": selectors.election_summary(request.user, now=now),
        "missing": selectors.party_orgs_without_term(request.user)[:20],
        "can_export": has_anywhere(request.user, "activities.election.export")})


@requires("activities.election.export")
def election_export(request):
    """The re-elections list as XLSX (Chinese headers), as the page filters it."""
    import io

    from django.http import HttpResponse

    from bihuan.core.tabular.writers import write_xlsx

    now = timezone.now()
    state = request.GET.get("state", "")
    state = state if state in ("overdue", "due") else ""
    status_zh = {"overdue": "已逾期", "due": "6个月内到期", "current": "任期内"}
    kind_zh = {"committee": "党委", "general_branch": "党总支", "branch": "党支部"}
    rows = ([t.party_org.name, kind_zh.get(t.party_org.kind, t.party_org.kind), t.party_org.unit.name,
             t.party_org.unit.code, t.started_on, t.years, t.due_on, status_zh[t.status],
             f"#{t.matter_id}" if t.matter_id else ""]
            for t in selectors.elections(request.user, now=now, state=state).iterator(chunk_size=500))
    buf = io.BytesIO()
    n = write_xlsx(buf, ["党组织", "类型", "所在单位", "单位编码", "本届开始", "任期(年)", "应换届日期", "状态",
                         "督办事项"], rows, sheet_title="换届", widths=[30, 8, 16, 16, 12, 8, 12, 12, 10])
    services.record_export(request.user, "election", rows=n, now=now)
    resp = HttpResponse(buf.getvalue(),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = "attachment; filename*=UTF-8''elections.xlsx"
    return resp


@requires(ELECTION_VIEW, CONTACT_VIEW)
def party_org_detail(request, party_org_id: int):
    """A party organisation: its terms (record the re-election here) and its contact points with
    their visits."""
    from .forms import ElectionForm

    user = request.user
    perm = ELECTION_VIEW if has_anywhere(user, ELECTION_VIEW) else CONTACT_VIEW
    po = selectors.party_org_in_scope(user, party_org_id, perm)
    form = None
    if allows(user, services.ELECTION_RECORD, po.unit):
        form = ElectionForm(request.POST or None)
        t = submit(request, form, lambda d: services.record_election(user, po, **d))
        if t:
            messages.success(request, _("Re-election recorded; the next is due on %(d)s.") % {"d": t.due_on})
            return redirect("activities:party_org_detail", party_org_id=po.pk)
    now = timezone.now()
    current = selectors.elections(user, now=now).filter(party_org=po).first()
    return render(request, "activities/party_org_detail.html", {
        "po": po, "current": current, "terms": list(selectors.terms_of(user, po)[:20]), "form": form,
        "contacts": list(selectors.contacts(user, party_org=po)[:50]),
        "visits": list(selectors.visits(user, party_org=po)[:20])}, status=getattr(form, "status", 200))


@requires(CONTACT_VIEW)
def contact_list(request):
    """联系点: mine first, then every contact point in scope; the manager links members here."""
    from django.contrib.auth import get_user_model

    from bihuan.orgs.models import PartyOrg

    from .forms import ContactForm

    user = request.user
    form = None
    if has_anywhere(user, services.CONTACT_MANAGE):
        units = OrgUnit.objects.filter(units_q(user, services.CONTACT_MANAGE))
        members = (get_user_model().objects.filter(is_active=True, bindings__unit__in=units).distinct()
                   .order_by("username"))
        orgs = (PartyOrg.objects.filter(units_q(user, services.CONTACT_MANAGE, prefix="unit__"),
                                        kind__in=("branch", "general_branch")).order_by("unit__path", "id"))
        form = ContactForm(request.POST or None, members=members, party_orgs=orgs)
        c = submit(request, form, lambda d: services.link_contact(user, **d))
        if c:
            messages.success(request, _("Contact point linked."))
            return redirect("activities:contact_detail", contact_id=c.pk)
    return render(request, "activities/contact_list.html", {
        "mine": list(selectors.contacts(user, member=user)[:50]),
        "page": paginate(request, selectors.contacts(user)), "qs": querystring_without(request, "page"),
        "form": form}, status=getattr(form, "status", 200))


@requires(CONTACT_VIEW)
def member_contacts(request, user_id: int):
    """A committee member's contact points and visits (404 when none is in one's scope)."""
    from django.contrib.auth import get_user_model

    member = get_user_model().objects.filter(pk=user_id).first()
    contacts = list(selectors.contacts(request.user, member=member)[:50]) if member else []
    if not contacts:
        raise NotFound()
    return render(request, "activities/member_contacts.html", {
        "member": member, "contacts": contacts,
        "visits": list(selectors.visits(request.user, member=member)[:30])})


@requires(CONTACT_VIEW)
def contact_detail(request, contact_id: int):
    """One contact point: record a visit; turn a visit's problems into a loop matter (one click)."""
    from .forms import VisitForm

    user = request.user
    c = services.get_contact(user, contact_id)
    can_visit = c.ended_on is None and allows(user, services.CONTACT_VISIT, c)
    form = VisitForm(request.POST if request.POST.get("act") == "visit" else None,
                     initial={"visited_on": timezone.localdate()}) if can_visit else None
    if request.method == "POST":
        act = request.POST.get("act")
        if act == "matter" and can_visit:
            pk = request.POST.get("visit", "")
            if not (pk.isdigit() and len(pk) < 10 and selectors.visits(user, contact=c).filter(pk=pk).exists()):
                raise NotFound()
            v = services.visit_to_matter(user, int(pk))
            messages.success(request, _("Matter #%(n)d opened for the problems found.") % {"n": v.matter_id})
            return redirect("activities:contact_detail", contact_id=c.pk)
        if act != "visit" or form is None:
            raise ServiceError(_("This action is not available."))
        v = submit(request, form, lambda d: services.record_visit(user, c, **d))
        if v:
            messages.success(request, _("Visit recorded."))
            return redirect("activities:contact_detail", contact_id=c.pk)
    return render(request, "activities/contact_detail.html", {
        "c": c, "form": form, "can_visit": can_visit,
        "page": paginate(request, selectors.visits(user, contact=c)), "qs": querystring_without(request, "page")},
        status=getattr(form, "status", 200) if form is not None else 200)


@requires(REVIEW_VIEW)
def review_list(request):
    from .forms import ReviewForm

    user = request.user
    form = None
    if has_anywhere(user, services.REVIEW_MANAGE):
        units = OrgUnit.objects.filter(units_q(user, services.REVIEW_MANAGE), valid_to__isnull=True,
                                       level__lte=Level.TOWNSHIP).order_by("path")
        visitable = OrgUnit.objects.filter(units_q(user, services.REVIEW_MANAGE), valid_to__isnull=True,
                                           level__in=(Level.TOWNSHIP, Level.VILLAGE)).order_by("path")[:500]
        today = timezone.localdate()
        form = ReviewForm(request.POST or None, units=units, visitable=OrgUnit.objects.filter(
            pk__in=[u.pk for u in visitable]).order_by("path"),
            initial={"year": today.year, "quarter": (today.month - 1) // 3 + 1, "held_on": today})
        r = submit(request, form, lambda d: services.create_review(user, **d))
        if r:
            messages.success(request, _("Review created."))
            return redirect("activities:review_detail", review_id=r.pk)
    return render(request, "activities/review_list.html", {
        "page": paginate(request, selectors.reviews(user)), "qs": querystring_without(request, "page"),
        "form": form}, status=getattr(form, "status", 200))


@requires(REVIEW_VIEW)
def review_detail(request, review_id: int):
    """The units visited ranked by their (trimmed) mean; a reviewer scores each unit once."""
    from .forms import ScoreForm

    user = request.user
    r = services.get_review(user, review_id)
    rows = selectors.ranking(r)
    mine = selectors.my_scores(user, r)
    form = None
    if allows(user, services.REVIEW_SCORE, r):
        todo = [x.unit for x in rows if x.unit_id not in mine]
        if todo:
            form = ScoreForm(request.POST or None, units=todo)
            s = submit(request, form, lambda d: services.score_unit(user, r, **d))
            if s:
                messages.success(request, _("Score saved."))
                return redirect("activities:review_detail", review_id=r.pk)
    return render(request, "activities/review_detail.html", {
        "r": r, "rows": rows, "mine": mine, "form": form}, status=getattr(form, "status", 200))


# --- party meetings (三会一课), compliance, member development (发展党员), issue 15 items 5–6 -------

MEETING_VIEW = "activities.meeting.view"
APPLICANT_VIEW = "activities.applicant.view"


def _party_filter(request):
    from .forms import PartyFilterForm

    f = PartyFilterForm(request.GET)
    return f.cleaned_data if f.is_valid() else {}


@requires(MEETING_VIEW)
def meeting_list(request):
    d = _party_filter(request)
    org = selectors.get_party_org(request.user, d["org"]) if d.get("org") else None
    qs = selectors.meetings(request.user, org=org)
    return render(request, "activities/meeting_list.html", {
        "page": paginate(request, qs), "qs": querystring_without(request, "page"), "org": org,
        "can_record": has_anywhere(request.user, services.MEETING_RECORD)})


def _members_and_choice(request, org):
    """Attendees (checked) and absentees (unchecked, with a reason) from the member list."""
    members = list(services.org_members(org).order_by("name", "id")[: services.MAX_MEETING_PEOPLE])
    if request.method != "POST":
        return members, [], []
    present = set(request.POST.getlist("present")[: services.MAX_MEETING_PEOPLE])
    attendees, absentees = [], []
    for m in members:
        if str(m.pk) in present:
            attendees.append(m.pk)
        else:
            reason = request.POST.get(f"reason_{m.pk}", "")[:200].strip()
            if reason:
                absentees.append((m.pk, reason))
    return members, attendees, absentees


@requires(services.MEETING_RECORD)
def meeting_new(request):
    from .forms import MeetingForm

    user = request.user
    orgs = selectors.party_orgs(user, services.MEETING_RECORD, branches_only=False)
    d = _party_filter(request)
    org = orgs.filter(pk=d["org"]).first() if d.get("org") else None
    if org is None and d.get("org"):
        raise NotFound()
    if org is None:
        only = list(orgs[:2])
        org = only[0] if len(only) == 1 else None
    if org is None:
        return render(request, "activities/meeting_form.html", {"orgs": orgs[:500], "org": None})
    form = MeetingForm(request.POST or None, initial={"held_on": timezone.localdate()})
    members, attendees, absentees = _members_and_choice(request, org)

    def call(d):
        return services.record_meeting(user, org=org, attendees=attendees, absentees=absentees,
                                       uploads=_uploads(request), **d)

    m = submit(request, form, call)
    if m:
        messages.success(request, _("Meeting recorded."))
        return redirect("activities:meeting_detail", meeting_id=m.pk)
    return render(request, "activities/meeting_form.html", {
        "form": form, "org": org, "members": members, "orgs": None,
        "present": {str(p) for p in request.POST.getlist("present")} if request.method == "POST"
        else {str(m.pk) for m in members}}, status=form.status)


@requires(MEETING_VIEW)
def meeting_detail(request, meeting_id: int):
    m = selectors.get_meeting(request.user, meeting_id)
    return render(request, "activities/meeting_detail.html", {"m": m, "photos": m.photos.all(),
                                                               "attendance": m.attendance.all()})


@requires(MEETING_VIEW)
def meeting_photo(request, meeting_photo_id: int):
    from .models import MeetingPhoto

    ph = MeetingPhoto.objects.restrict(request.user, "view").filter(pk=meeting_photo_id).first()
    if ph is None:
        raise NotFound()
    resp = FileResponse(ph.file.open("rb"), as_attachment=False, filename=ph.name, content_type=ph.content_type)
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


@requires(MEETING_VIEW)
def compliance(request):
    from .party_rules import MeetingKind, quarter_of

    d = _party_filter(request)
    org = selectors.get_party_org(request.user, d["org"]) if d.get("org") else None
    quarter = (d.get("quarter") or quarter_of(timezone.localdate())).upper()
    page = paginate(request, selectors.party_orgs(request.user, under=org), per_page=50)
    rows = selectors.compliance_rows(list(page), quarter, now=timezone.now())
    committees = selectors.party_orgs(request.user, branches_only=False).exclude(kind="branch")[:200]
    return render(request, "activities/compliance.html", {
        "page": page, "rows": rows.values(), "quarter": quarter, "org": org, "committees": committees,
        "rules": [(MeetingKind(k).label, v) for k, v in services.meeting_rules().items()],
        "qs": querystring_without(request, "page")})


@requires(APPLICANT_VIEW)
def applicant_list(request):
    from bihuan.people.models import Person

    from .forms import ApplicantForm
    from .party_rules import Stage

    user = request.user
    d = _party_filter(request)
    stage = d.get("stage") if d.get("stage") in Stage.values else ""
    due = bool(d.get("due"))
    form = None
    if has_anywhere(user, services.APPLICANT_MANAGE):
        orgs = selectors.party_orgs(user, services.APPLICANT_MANAGE, branches_only=False)
        units = OrgUnit.objects.filter(units_q(user, "people.person.view"), valid_to__isnull=True,
                                       level__in=(Level.VILLAGE, Level.GRID)).order_by("path")
        form = ApplicantForm(request.POST or None, orgs=orgs, units=units)

        def call(d):
            found = list(Person.objects.restrict(user, "view").filter(unit=d["unit"], name=d["name"])[:2])
            if len(found) != 1:
                raise ServiceError(_("There must be exactly one registered person named %(n)s at %(u)s.") % {
                    "n": d["name"], "u": d["unit"].name}, {"name": _("Not found, or not unique.")})
            return services.register_applicant(user, person=found[0], org=d["org"], applied_on=d["applied_on"])

        a = submit(request, form, call)
        if a:
            messages.success(request, _("Application registered."))
            return redirect("activities:applicant_detail", applicant_id=a.pk)
    qs = (selectors.due_applicants(user, now=timezone.now()) if due
          else selectors.applicants(user, stage=stage))
    if due and stage:
        qs = qs.filter(stage=stage)
    page = paginate(request, qs)
    top = _top_unit(user, APPLICANT_VIEW)
    return render(request, "activities/applicant_list.html", {
        "page": page, "rows": selectors.with_next_steps(page), "stage": stage, "due": due,
        "stages": Stage.choices, "form": form, "qs": querystring_without(request, "page"),
        "counts": selectors.stage_counts(user, top) if top else None, "top": top},
        status=getattr(form, "status", 200))


@requires(APPLICANT_VIEW)
def applicant_detail(request, applicant_id: int):
    from .forms import StepForm
    from .party_rules import STEP_BY_CODE, STEPS, Stage

    user = request.user
    a = services.get_applicant(user, applicant_id)
    form = None
    if allows(user, services.APPLICANT_MANAGE, a.org.unit) and a.stage != Stage.FORMAL:
        form = StepForm(request.POST or None, steps=[s for s in STEPS if s.stage == a.stage],
                        initial={"version": a.version, "taken_on": timezone.localdate()})
        done = submit(request, form, lambda d: services.take_step(user, a, **d))
        if done:
            messages.success(request, _("Step recorded."))
            return redirect("activities:applicant_detail", applicant_id=a.pk)
    (a,) = selectors.with_next_steps([a])
    steps = [(STEP_BY_CODE[s.step].label if s.step in STEP_BY_CODE else _("Application"), s)
             for s in a.steps.all()]
    return render(request, "activities/applicant_detail.html", {
        "a": a, "steps": steps, "form": form, "review": services.may_read_review(user, a)},
        status=getattr(form, "status", 200))


@requires(services.MEETING_RULES_PERM)
def meeting_rules(request):
    """The city changes how often a kind of meeting is required (monthly or quarterly)."""
    from .party_rules import MEETING_RULES, MeetingKind

    if request.method == "POST":
        services.set_meeting_rule(request.user, kind=request.POST.get("kind", "")[:20],
                                  every_months=request.POST.get("every_months", "")[:3])
        messages.success(request, _("Meeting rule changed."))
        return redirect("activities:meeting_rules")
    rules = services.meeting_rules()
    return render(request, "activities/meeting_rules.html", {
        "rules": [(k, MeetingKind(k).label, rules[k], MEETING_RULES.get(k)) for k in MeetingKind.values]})
