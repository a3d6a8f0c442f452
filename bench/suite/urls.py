"""Bihuan's URLs, plus ``/bench/empty``: an empty Django view behind the same middleware and server."""

from django.http import HttpResponse
from django.urls import path

from bihuan.urls import handler403, handler404  # noqa: F401
from bihuan.urls import urlpatterns as bihuan_urlpatterns


def empty(request):
    return HttpResponse(b"", content_type="text/plain")


urlpatterns = [path("bench/empty", empty), *bihuan_urlpatterns]
