"""Every page reachable by GET without arguments, fed hostile query strings (issue 11 §1).

The pages are enumerated from the URLconf (not hand-picked); each gets each hostile value in
each of the filter names the site uses, logged in as a city administrator. No answer may be a
5xx. Ids in URLs are bounded by ``<id:…>``: a 19-digit id is a 404, never a database error.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

HOSTILE = ["a%00b", "%ED%A0%80", "9" * 30, "-9" * 20, "1e400", "2026-02-30", "2026-01-01T00:00+25:00",
           "x" * 5000, "%FF%FE"]
FILTERS = ["q", "unit", "page", "state", "kind", "category", "light", "tab", "from", "to", "level", "parent",
           "cursor", "role", "flag", "age_band", "education", "year", "month", "date", "action", "user", "sort"]


def _pages(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _pages(p, route)
        elif isinstance(p, URLPattern) and "<" not in route and "(?P" not in route:
            yield "/" + route.lstrip("^").rstrip("$")


@pytest.fixture
def admin(client, users):
    client.force_login(users.city_admin)
    return client


def test_no_page_answers_a_hostile_query_with_a_5xx(admin):
    pages = [p for p in _pages() if not p.startswith(("/api/", "/static/", "/media/")) and "logout" not in p]
    assert len(pages) > 20
    bad = []
    for page in pages:
        # Each value in every filter at once (a page reads the ones it knows), then the most
        # dangerous class — a number beyond 64 bits — in each filter alone (one may hide another).
        queries = ["&".join(f"{n}={v}" for n in FILTERS if n != "tab") for v in HOSTILE]
        queries += [f"{n}={'9' * 30}" for n in FILTERS]
        for query in queries:
            r = admin.get(f"{page}?{query}")
            if r.status_code >= 500:
                bad.append(f"{page}?{query[:60]} → {r.status_code}")
    assert not bad, "\n".join(bad[:40])


@pytest.mark.parametrize("path", ["/loop/{}/", "/people/{}/", "/orgs/{}/", "/audit/{}/"])
def test_an_id_beyond_64_bits_in_a_url_is_a_404(admin, path):
    assert admin.get(path.format("9" * 19)).status_code == 404
    assert admin.get(path.format("9" * 40)).status_code == 404
