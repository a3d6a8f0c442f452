"""The one web plumbing every app's pages use.

* ``@requires(perm)`` — login, then 403 when the user holds ``perm`` nowhere; what they may reach
  is then up to ``restrict()`` and ``core.scope.require`` (the one gate);
* ``paginate`` and ``querystring_without`` — every list is paginated, and its links keep filters;
* ``submit(request, form, call)`` — the form → service → form errors pattern;
* ``ServiceErrorMiddleware`` — a ``ServiceError`` a view does not catch becomes the same page
  everywhere: ``NotFound`` → 404, ``PermissionDenied`` → 403, any other refusal → the message,
  after a POST as a message on the page it came from (post/redirect/get), after a GET as a page
  with the error's status (400/409).

The API has its own single mapping (``api/urls.py``); the rule is the same.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from .errors import NotFound, PermissionDenied, ServiceError
from .forms import apply_service_error
from .scope import has_anywhere

PAGE_SIZE = 25


def requires(*perms: str):
    """View decorator: the user is logged in and holds at least one of ``perms`` somewhere (else 403)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if perms and not any(has_anywhere(request.user, p) for p in perms):
                raise DjangoPermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def paginate(request, qs, per_page: int = PAGE_SIZE, *, count: int | None = None):
    """A page of ``qs``; ``count``, when the caller already knows it (a tab's count), saves the COUNT."""
    paginator = Paginator(qs, per_page)
    if count is not None:
        paginator.count = count  # overrides the cached property
    number = request.GET.get("page")
    if number and len(number) > 9:
        # Past any real page; as an int it would overflow the OFFSET (a 500 on SQLite and PostgreSQL).
        number = paginator.num_pages if number.isdigit() else None
    return paginator.get_page(number)


def querystring_without(request, *names: str) -> str:
    """The current query string minus ``names`` (for pagination links that keep filters)."""
    q = request.GET.copy()
    for n in names:
        q.pop(n, None)
    return q.urlencode()


def submit(request, form, call, *, rename: dict | None = None):
    """On POST: validate ``form`` and ``call(cleaned_data)``; return its result, or None to re-render.

    A refusal lands on the form (field messages, or the overall message) and sets
    ``form.status`` (400, 403, 409) for the re-rendered page. A ``NotFound`` without field
    messages stays a 404: the thing acted on is gone or out of scope."""
    form.status = 200
    if request.method != "POST":
        return None
    if not form.is_valid():
        form.status = 400
        return None
    try:
        return call(form.cleaned_data)
    except ServiceError as exc:
        if isinstance(exc, NotFound) and not exc.field_errors:
            raise Http404 from exc
        apply_service_error(form, exc, rename)
        form.status = exc.status
        return None


def safe_back(request, fallback: str | None = None) -> str:
    """Where to send the user after a refused POST: ``next`` or the referring page, if ours."""
    for candidate in (request.POST.get("next"), request.META.get("HTTP_REFERER")):
        if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()},
                                                         require_https=request.is_secure()):
            return candidate
    return fallback or request.path


class ServiceErrorMiddleware:
    """Maps a ``ServiceError`` that escaped a page view, once for the whole site (not the API)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        if not isinstance(exc, ServiceError) or request.path.startswith("/api/"):
            return None
        if isinstance(exc, NotFound):
            raise Http404 from exc
        if isinstance(exc, PermissionDenied):
            raise DjangoPermissionDenied(str(exc.message)) from exc
        if request.method == "POST":
            messages.error(request, str(exc.message))
            return redirect(safe_back(request))
        return render(request, "web/refused.html", {"message": str(exc.message)}, status=exc.status)
