from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bihuan import __version__
from bihuan.accounts import otp
from bihuan.accounts import services as account_services
from bihuan.accounts.validators import PASSWORD_EXPIRED_KEY
from bihuan.core.errors import ServiceError
from bihuan.core.views import paginate
from bihuan.loop import selectors

from ..forms import LoginForm, OTPCodeForm, OTPEnrolForm, PasswordChangeForm, apply_service_error


@require_GET
@never_cache
def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    return JsonResponse({"status": "ok", "database": connection.vendor, "version": __version__})


def not_found(request, exception=None):
    return render(request, "web/404.html", status=404)


def forbidden(request, exception=None):
    # A refusal from a service carries a message worth showing; Django's bare one does not.
    message = str(exception) if exception is not None and str(exception) else ""
    return render(request, "web/403.html", {"message": message}, status=403)


class LoginView(auth_views.LoginView):
    """The password step. Throttling and lock-out are in the backend (accounts/backends.py); a
    second factor, if any, follows on ``otp_verify`` (accounts/middleware.py sends the user there)."""

    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def _next_or_home(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("web:home")


@login_required
@never_cache
def otp_verify(request):
    """The second step of a login: a code from the authenticator app, or a recovery code."""
    if request.session.get(otp.SESSION_KEY) != otp.NEEDS_CODE:
        return redirect(_next_or_home(request))
    form = OTPCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        device = otp.verify(request.user, form.cleaned_data["code"], ip=getattr(request, "client_ip", ""))
        if device is not None:
            _second_factor_done(request)
            if device.name == otp.RECOVERY_NAME:
                messages.warning(request, _("You used a recovery code; %(n)d left. Each works only once.")
                                 % {"n": otp.recovery_codes_left(request.user)})
            return redirect(_next_or_home(request))
        form.add_error("code", _("The code is not right."))
        status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "web/otp_verify.html", {"form": form, "next": request.GET.get("next", "")},
                  status=status)


def _second_factor_done(request) -> None:
    request.session.cycle_key()  # a new session id once fully logged in
    request.session[otp.SESSION_KEY] = otp.VERIFIED


@login_required
@never_cache
def otp_setup(request):
    """Two-factor login for oneself: set it up (QR code and secret, then a code), see its state,
    get new recovery codes. Recovery codes are shown once, on the response that makes them."""
    user = request.user
    if otp.is_enrolled(user):
        if request.method == "POST" and request.POST.get("action") == "renew":
            if request.session.get(otp.SESSION_KEY) != otp.VERIFIED:
                return redirect("web:otp_verify")
            codes = otp.renew_recovery_codes(user)
            return render(request, "web/otp_setup.html", {"enrolled": True, "codes": codes})
        return render(request, "web/otp_setup.html", {
            "enrolled": True, "codes_left": otp.recovery_codes_left(user), "required": otp.required_for(user)})
    # The pending secret (unconfirmed device) is not audited: enrolment is, once confirmed.
    device = otp.start_enrolment(user)
    form = OTPEnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = otp.confirm_enrolment(user, form.cleaned_data["code"])
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            _second_factor_done(request)
            return render(request, "web/otp_setup.html", {"enrolled": True, "codes": codes, "just_enrolled": True,
                                                          "next": _next_or_home(request)})
    return render(request, "web/otp_setup.html", {
        "form": form, "qr_svg": otp.qr_svg(device), "secret": otp.secret_base32(device),
        "required": otp.required_for(user), "next": request.GET.get("next", "") or request.POST.get("next", ""),
    }, status=400 if form.errors else 200)


@login_required
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account_services.set_password(request.user, request.user, form.cleaned_data["new_password1"])
        except ServiceError as exc:
            apply_service_error(form, exc, {"password": "new_password1"})
        else:
            update_session_auth_hash(request, request.user)  # stay logged in after the change
            request.session.pop(PASSWORD_EXPIRED_KEY, None)
            messages.success(request, _("Your password has been changed."))
            return redirect("web:home")
    return render(request, "web/password_change.html", {
        "form": form, "expired": request.session.get(PASSWORD_EXPIRED_KEY, False)})


HOME_REPORTS = 5


@login_required
def home(request):
    units = request.user.scope_units().order_by("path")
    ctx = {"page": paginate(request, units, 50)}
    if request.user.has_perm_anywhere("loop.matter.create"):
        # 我上报的: where the user's latest reports stand (state, lead unit, light); all on the inbox tab.
        ctx["my_reports"] = list(selectors.with_light(selectors.reported_by(request.user), timezone.now())
                                 .select_related("location_unit", "handling_unit")
                                 .order_by("-created_at", "-id")[:HOME_REPORTS])
    # The user's work: cards that apps register (core.registry.register_home_card).
    from bihuan.core.registry import home_cards

    ctx["cards"] = home_cards(request, timezone.now())
    return render(request, "web/home.html", ctx)
