from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bihuan import __version__
from bihuan.accounts import services as account_services
from bihuan.core.errors import ServiceError
from bihuan.core.views import paginate

from .forms import LoginForm, PasswordChangeForm, apply_service_error


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
    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


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
            messages.success(request, _("Your password has been changed."))
            return redirect("web:home")
    return render(request, "web/password_change.html", {"form": form})


@login_required
def home(request):
    units = request.user.scope_units().order_by("path")
    return render(request, "web/home.html", {"page": paginate(request, units, 50)})
