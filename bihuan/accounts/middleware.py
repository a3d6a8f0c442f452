"""What a logged-in user must do before anything else: the second factor, then their password.

* ``SecondFactorMiddleware``: after the password step a session is in one of three states
  (``otp.SESSION_KEY``): ``verify`` (enrolled: give a code), ``enrol`` (2FA required but not set
  up) or ``ok``. Until ``ok`` the user reaches only that page and logout; the API treats such a
  session as no session (401), so a password alone never reaches data.
* ``PasswordChangeRequiredMiddleware``: a temporary password (``must_change_password``) or an
  expired one (``BIHUAN_PASSWORD_MAX_AGE_DAYS``, checked at login) must be changed first.

The state is decided once per login (``signals._logged_in``) and kept in the server-side
session, so pages pay nothing for it; a session from before this existed is decided on its
first request.
"""

from django.contrib.auth.models import AnonymousUser
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from . import otp, validators

OPEN_PREFIXES = ("/static/", "/i18n/")


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            state = request.session.get(otp.SESSION_KEY)
            if state is None:
                state = otp.state_after_password(user)
                request.session[otp.SESSION_KEY] = state
            if state != otp.VERIFIED:
                if request.path.startswith("/api/"):
                    request.user = AnonymousUser()  # half logged in is not logged in
                    return self.get_response(request)
                target = reverse("web:otp_verify" if state == otp.NEEDS_CODE else "web:otp_setup")
                if request.path not in {target, reverse("web:logout")} and not request.path.startswith(OPEN_PREFIXES):
                    query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
                    return redirect(f"{target}?{query}" if query else target)
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """Users created with a temporary password must set their own before anything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and (
                getattr(user, "must_change_password", False) or request.session.get(validators.PASSWORD_EXPIRED_KEY)):
            # The second-factor pages come first (SecondFactorMiddleware), so they stay reachable.
            allowed = {reverse("web:password_change"), reverse("web:logout"), reverse("web:otp_setup"),
                       reverse("web:otp_verify")}
            if request.path not in allowed and not request.path.startswith(("/static/", "/api/", "/i18n/")):
                return redirect("web:password_change")
        return self.get_response(request)
