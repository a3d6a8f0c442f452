"""/api/v1/docs renders in real Chromium with the CSP in place and no internet (issue 11 §9)."""

from __future__ import annotations

import pytest

from bihuan.core.middleware import CSP

pytestmark = pytest.mark.browser


def test_api_docs_page_lists_the_operations_under_the_csp(transactional_db, live_server, page):
    violations, outside = [], []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    # Any request that leaves the live server (a CDN) is recorded and refused, as offline.
    def _route(route):
        if not route.request.url.startswith(live_server.url):
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", _route)
    resp = page.goto(f"{live_server.url}/api/v1/docs")
    assert resp.status == 200
    assert resp.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP.split("script-src")[1].split(";")[0]
    page.locator(".opblock").first.wait_for()
    # The operations list of our API: the tags and a known operation are shown.
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(s.startswith("/api/v1/me") for s in summaries)
    assert page.locator(".opblock-tag", has_text="accounts").count() == 1
    assert violations == [] and outside == []

