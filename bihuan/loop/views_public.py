"""Pages for residents, without an account: submit a demand, follow it, rate it.

The tracking link (``/demand/<token>/``) is the resident's key: it shows their own matter's
progress and nothing of anyone else (see ``loop.public``). Submissions and ratings are throttled
per client address with a database counter.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bihuan.core.context import acting_as
from bihuan.core.errors import NotFound, ServiceError
from bihuan.core.forms import apply_service_error

from . import public, services
from .forms import PublicDemandForm, PublicRatingForm
from .models import Kind, Rating, Source, State
from .views import uploads_from


def _ip(request) -> str:
    return getattr(request, "client_ip", "") or request.META.get("REMOTE_ADDR", "") or "unknown"


def _too_many(request, template: str, ctx: dict):
    ctx["throttled"] = True
    return render(request, template, ctx, status=429)


@never_cache
def demand_form(request):
    categories = public.public_categories()
    place_choices = ()
    data = request.POST if request.method == "POST" else None
    initial = {}
    qr = public.place_by_code(request.GET.get("unit", "")) if request.method == "GET" else None
    if qr is not None:  # a village's QR code (一村一码) fills in the place
        initial["place"] = qr.name
    places = []
    if data is not None:
        places = public.find_places(data.get("place", ""))
        if len(places) > 1:
            place_choices = [(str(u.pk), f"{u.name}（{u.parent.name if u.parent else ''}）") for u in places]
    form = PublicDemandForm(data, initial=initial, categories=categories, place_choices=place_choices)
    ctx = {"form": form, "has_categories": categories.exists()}
    if request.method != "POST":
        return render(request, "loop/public/demand_form.html", ctx)
    if not public.throttle_hit(f"demand:{_ip(request)}", limit=public.public_submit_limit()):
        return _too_many(request, "loop/public/demand_form.html", ctx)
    if not form.is_valid():
        return render(request, "loop/public/demand_form.html", ctx, status=400)
    d = form.cleaned_data
    unit = None
    if len(places) == 1:
        unit = places[0]
    elif len(places) > 1:
        chosen = d.get("place_choice")
        unit = next((u for u in places if str(u.pk) == chosen), None)
        if unit is None:
            form.add_error("place_choice", _("Several places have this name; choose yours."))
    else:
        form.add_error("place", _("We found no village, community or township of this name. Check the spelling."))
    if unit is None:
        return render(request, "loop/public/demand_form.html", ctx, status=400)
    cat = d["category"]
    try:
        with acting_as(None, username="public", ip=_ip(request)):
            m = services.create_matter(
                None, category=cat, location_unit=unit, title=f"{cat.name}：{d['description'][:40]}"[:120],
                description=d["description"], kind=Kind.DEMAND, source=Source.PUBLIC, reporter_name=d["name"],
                reporter_phone=d["phone"], address=d["address"], uploads=uploads_from(request),
                now=timezone.now())
    except ServiceError as exc:
        apply_service_error(form, exc, {"reporter_phone": "phone", "reporter_name": "name"})
        return render(request, "loop/public/demand_form.html", ctx, status=400)
    messages.success(request, _("Your demand no. %(id)d was received. Keep the link of this page (below) to "
                                "follow it and to rate the result.") % {"id": m.pk})
    return redirect("loop:demand_status", token=m.public_token)


def _status_context(m, **extra) -> dict:
    rated = Rating.objects.filter(matter=m, round=m.rounds).first()
    ctx = {
        "m": m, "public_state": public.public_state(m), "state_label": State(m.state).label,
        "steps": public.public_steps(m), "agency": public.agency(m), "description": public.public_description(m),
        "reporter_name": public.mask_name(m.reporter_name), "reporter_phone": m.reporter_phone_masked,
        "rating": rated, "can_rate": m.state == State.CLOSED and rated is None,
        "rating_form": PublicRatingForm(), "token": m.public_token,
    }
    ctx.update(extra)
    return ctx


@never_cache
def demand_status(request, token: str):
    try:
        m = public.by_token(token)
    except NotFound:
        raise Http404
    resp = render(request, "loop/public/demand_status.html", _status_context(m))
    resp["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return resp


@never_cache
@require_POST
def demand_rate(request, token: str):
    try:
        m = public.by_token(token)
    except NotFound:
        raise Http404
    form = PublicRatingForm(request.POST)
    if not public.throttle_hit(f"rate:{_ip(request)}", limit=public.public_rate_limit()):
        return render(request, "loop/public/demand_status.html", _status_context(m, rating_form=form,
                                                                                 throttled=True), status=429)
    if form.is_valid():
        d = form.cleaned_data
        try:
            with acting_as(None, username="resident", ip=_ip(request)):
                services.rate_by_resident(m.public_token, satisfaction=d["satisfaction"], resolved=d["resolved"],
                                          comment=d["comment"], now=timezone.now())
        except NotFound:
            raise Http404
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            if d["satisfaction"] == "dissatisfied":
                messages.warning(request, _("Thank you. Your dissatisfaction was passed to %(unit)s, who may reopen "
                                            "the matter.") % {"unit": m.dispatch_unit.name})
            else:
                messages.success(request, _("Thank you for your rating."))
            return redirect("loop:demand_status", token=m.public_token)
    m = public.by_token(token)
    return render(request, "loop/public/demand_status.html", _status_context(m, rating_form=form), status=400)
