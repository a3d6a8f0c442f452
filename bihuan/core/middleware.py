from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from django.utils.cache import patch_vary_headers

from .context import Actor, new_request_id, reset_actor, set_actor

_RID = re.compile(r"^[A-Za-z0-9-]{8,32}$")

# Everything is served from our own origin; no inline script anywhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def client_ip(request) -> str:
    # Behind a reverse proxy set BIHUAN_TRUST_PROXY=1 and let it set X-Forwarded-For.
    from django.conf import settings

    if getattr(settings, "BIHUAN_TRUST_PROXY", False):
        fwd = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if fwd:
            return fwd.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class SessionRefreshMiddleware:
    """The idle timeout slides without a session write on every request.

    A session expires ``SESSION_COOKIE_AGE`` after it was last saved. Saving it on every request
    (``SESSION_SAVE_EVERY_REQUEST``) cost a transaction per page and per API call; here it is saved
    at most once per ``REFRESH_SECONDS``, so a user idle for the whole age is still logged out, up to
    a minute later than the age says. Sits after Django's ``SessionMiddleware``.
    """

    REFRESH_SECONDS = 60
    KEY = "_refreshed"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import time

        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty() and not session.modified:
            now = int(time.time())
            if now - int(session.get(self.KEY, 0)) >= self.REFRESH_SECONDS:
                session[self.KEY] = now  # marks it modified: SessionMiddleware saves it, new expiry
        return response


class RequestContextMiddleware:
    """Gives each request an id and makes (user, ip, request id) the audit actor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = rid if _RID.match(rid) else new_request_id()
        request.client_ip = client_ip(request)
        user = getattr(request, "user", None)
        authed = bool(user and user.is_authenticated)
        token = set_actor(Actor(
            user_id=user.pk if authed else None,
            username=user.username if authed else "anonymous",
            ip=request.client_ip,
            request_id=request.request_id,
        ))
        try:
            response = self.get_response(request)
        finally:
            reset_actor(token)
        response["X-Request-ID"] = request.request_id
        return response


def _csp() -> str:
    """CSP, with the city's own map tile server (``BIHUAN_TILE_URL``) added to ``img-src`` when set."""
    from urllib.parse import urlsplit

    from django.conf import settings

    parts = urlsplit(getattr(settings, "BIHUAN_TILE_URL", "") or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return CSP.replace("img-src 'self' data:;", f"img-src 'self' data: {parts.scheme}://{parts.netloc};")
    return CSP


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", _csp())
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
        return response


class LocaleMiddleware:
    """Chinese first: pages are zh-Hans unless the user switched language (cookie).

    The browser's Accept-Language is deliberately ignored for pages — a township office PC set
    to English must still show Chinese — but honoured by the API, whose clients ask for it.
    """

    API_PREFIXES = ("/api/", "/open311/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation

        if request.path.startswith(self.API_PREFIXES):
            lang = translation.get_language_from_request(request)
        else:
            cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            supported = dict(settings.LANGUAGES)
            lang = cookie if cookie in supported else settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        is_api = request.path.startswith(self.API_PREFIXES)
        patch_vary_headers(response, ("Accept-Language",) if is_api else ("Cookie",))
        return response


class InputGuardMiddleware:
    """Refuses, before any view runs, input no view should have to think about.

    * A body over ``BIHUAN_MAX_REQUEST_BYTES`` (file uploads in ``multipart/form-data`` excepted:
      those stream to disk and imports check their own limit) → 413. The default fits the largest
      attachment the API accepts, base64-encoded in JSON, with room for the rest of the request.
    * NUL or a lone surrogate (``core.text.unstorable``) in a header (cookies, the bearer token)
      or a query-string field, or a query string that is not UTF-8 → 400. (Form fields: their forms refuse NUL, services clean text.)
      JSON bodies get the same check in the API's parser (``api/urls.py``).

    The answer is problem+json under ``/api/``, Open311's error list under ``/open311/``, and a
    plain page elsewhere, in the request's language (after ``LocaleMiddleware``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils.translation import gettext as _

        from .text import unstorable

        limit = settings.BIHUAN_MAX_REQUEST_BYTES
        ctype = request.META.get("CONTENT_TYPE", "")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        too_big = _("The request is too large: at most %(mb).1f MB.") % {"mb": limit / 1024 / 1024}
        if length > limit and not ctype.startswith("multipart/form-data"):
            return refusal(request, 413, too_big)
        bad_chars = _("The request contains a character that cannot be stored (NUL or a lone surrogate).")
        try:
            # A lone surrogate can only arrive as bytes that are not UTF-8 (%ED%A0%80); Django would
            # quietly turn them into U+FFFD, so the raw query string is checked as well.
            unquote_to_bytes(request.META.get("QUERY_STRING", "").replace("+", " ")).decode("utf-8")
        except UnicodeDecodeError:
            return refusal(request, 400, bad_chars)
        # Headers and cookies reach the database too (a bearer token, a session key): on
        # PostgreSQL a NUL in either was a 500 before any view ran.
        if any(unstorable(v) for k, v in request.META.items() if k.startswith("HTTP_") and isinstance(v, str)):
            return refusal(request, 400, bad_chars)
        # Form bodies are left to their forms (Django's CharField refuses NUL) and services (which
        # clean text, as Open311's POST does); the query string is nobody's form.
        for key, values in request.GET.lists():
            if unstorable(key) or any(unstorable(v) for v in values):
                return refusal(request, 400, bad_chars)
        return self.get_response(request)

    def process_exception(self, request, exc):
        """A backstop for page views: a value out of the database's range is the client's error.

        Pages parse their own filters; one that forgot a bound (``int("9" * 30)`` reaching a
        query) answers 400 here instead of 500, and the gap is logged to be fixed where it is."""
        from django.db import DataError
        from django.utils.translation import gettext as _

        if not isinstance(exc, DataError | OverflowError):
            return None
        import logging

        logging.getLogger(__name__).warning("input reached the database unchecked: %s %s: %s",
                                            request.method, request.path, exc)
        return refusal(request, 400, _("A value in the request is out of range."))


def refusal(request, status: int, detail: str):
    """The error answer for a request refused before its view: in the format its client reads."""
    import json

    from django.http import HttpResponse, JsonResponse
    from django.utils.html import escape
    from django.utils.translation import gettext as _

    titles = {400: _("Bad request"), 413: _("Request too large")}
    title = titles.get(status, _("Error"))
    path = request.path
    if path.startswith("/api/"):
        body = {"type": f"https://bihuan.example/problems/{status}", "title": title, "status": status,
                "detail": detail}
        if getattr(request, "request_id", None):
            body["request_id"] = request.request_id
        return JsonResponse(body, status=status, content_type="application/problem+json",
                            json_dumps_params={"ensure_ascii": False})
    if path.startswith("/open311/"):
        # GeoReport v2's own error list (loop/open311.py), in the format the path asks for.
        if path.endswith(".xml"):
            xml = (f"<?xml version='1.0' encoding='utf-8'?>\n<errors><error><code>{status}</code>"
                   f"<description>{escape(detail)}</description></error></errors>")
            return HttpResponse(xml.encode(), status=status, content_type="text/xml; charset=utf-8")
        return HttpResponse(json.dumps([{"code": status, "description": detail}], ensure_ascii=False),
                            status=status, content_type="application/json; charset=utf-8")
    html = f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(detail)}</p>"
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
