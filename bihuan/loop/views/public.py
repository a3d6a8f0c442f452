"""Pages for residents, without an account: submit a demand, follow it, rate it.

The tracking link (``/demand/<token>/``) is the resident's key: it shows their own matter's
progress and nothing of anyone else (see ``loop.public``). Submissions and ratings are throttled
per client address with a database counter.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bihuan.core.context import acting_as
from bihuan.core.errors import ServiceError
from bihuan.core.views import submit

from .. import public, services
from ..forms import PublicDemandForm, PublicRatingForm
from ..models import Kind, Rating, Source, State
from .matters import uploads_from


def _ip(request) -> str:
    return getattr(request, "client_ip", "") or request.META.get("REMOTE_ADDR", "") or "unknown"


def _too_many(request, template: str, ctx: dict):
    ctx["throttled"] = True
    return render(request, template, ctx, status=429)


def _place(places, chosen):
    """The one place the resident means: the only match, or the one they chose among several."""
    if len(places) == 1:
        return places[0]
    if len(places) > 1:
        unit = next((u for u in places if str(u.pk) == chosen), None)
        if unit is None:
            msg = _("Several places have this name; choose yours.")
            raise ServiceError(msg, {"place_choice": msg})
        return unit
    msg = _("We found no village, community or township of this name. Check the spelling.")
    raise ServiceError(msg, {"place": msg})


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

    def create(d):
        unit = _place(places, d.get("place_choice"))
        cat = d["category"]
        with acting_as(None, username="public", ip=_ip(request)):
            return services.create_matter(
                None, category=cat, location_unit=unit, title=f"{cat.name}：{d['description'][:40]}"[:120],
                description=d["description"], kind=Kind.DEMAND, source=Source.PUBLIC, reporter_name=d["name"],
                reporter_phone=d["phone"], address=d["address"], uploads=uploads_from(request),
                now=timezone.now())

    m = submit(request, form, create, rename={"reporter_phone": "phone", "reporter_name": "name"})
    if m is None:
        return render(request, "loop/public/demand_form.html", ctx, status=form.status)
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


def _token_page(view):
    """The tracking link (``/demand/<token>/…``) is a key: the token must not leave the site in a
    ``Referer``. ``same-origin`` sends no referrer to any other site, while the page's own POSTs
    (the rating) still carry their real ``Origin``, which Django's CSRF check compares with the
    host. (``no-referrer`` made the browser send ``Origin: null`` and every rating a 403.)"""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        resp = view(request, *args, **kwargs)
        resp["Referrer-Policy"] = "same-origin"
        return resp

    return wrapper


@never_cache
@_token_page
def demand_status(request, token: str):
    m = public.by_token(token)  # NotFound → 404 (ServiceErrorMiddleware)
    return render(request, "loop/public/demand_status.html", _status_context(m))


@never_cache
@_token_page
@require_POST
def demand_rate(request, token: str):
    m = public.by_token(token)
    form = PublicRatingForm(request.POST)
    if not public.throttle_hit(f"rate:{_ip(request)}", limit=public.public_rate_limit()):
        return render(request, "loop/public/demand_status.html", _status_context(m, rating_form=form,
                                                                                 throttled=True), status=429)

    def rate(d):
        with acting_as(None, username="resident", ip=_ip(request)):
            return services.rate_by_resident(m.public_token, satisfaction=d["satisfaction"], resolved=d["resolved"],
                                             comment=d["comment"], now=timezone.now())

    rating = submit(request, form, rate)
    if rating is None:
        m = public.by_token(token)
        return render(request, "loop/public/demand_status.html", _status_context(m, rating_form=form),
                      status=form.status)
    if rating.satisfaction == "dissatisfied":
        messages.warning(request, _("Thank you. Your dissatisfaction was passed to %(unit)s, who may reopen "
                                    "the matter.") % {"unit": m.dispatch_unit.name})
    else:
        messages.success(request, _("Thank you for your rating."))
    return redirect("loop:demand_status", token=m.public_token)
