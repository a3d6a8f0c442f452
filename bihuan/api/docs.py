"""The ``/api/v1/docs`` page: Swagger UI from our own static files, no CDN, no inline script.

django-ninja's own page loads Swagger UI from a CDN with an inline script when ``ninja`` is not
an installed app; our CSP (``core.middleware.CSP``: ``script-src 'self'``) blocks both, so the
page was blank. This page uses the assets vendored under ``web/static/vendor/swagger-ui``
(version in ``VERSIONS.md``) and ``api/static/api/swagger-init.js``.
"""

from __future__ import annotations

from django.shortcuts import render
from ninja.openapi.docs import Swagger


class VendoredSwagger(Swagger):
    template = "api/swagger.html"

    def render_page(self, request, api, **kwargs):
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        # A dict for json_script, which escapes it for the page; ninja passes a pre-dumped string.
        # The session auth checks CSRF, so "Try it out" from the browser must send the token.
        auth = api.auth if isinstance(api.auth, list | tuple) else []
        add_csrf = any(getattr(a, "csrf", False) for a in auth)
        return render(request, self.template, {"swagger_settings": settings, "api": api, "add_csrf": add_csrf})
