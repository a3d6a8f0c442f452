from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bihuan import __version__


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
    return render(request, "web/403.html", status=403)


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    units = request.user.scope_units().order_by("path")[:50]
    return render(request, "web/home.html", {"scope_units": units})
