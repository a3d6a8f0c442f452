"""Request size and error language at the API's edge (issue 11 §1).

* An attachment of the largest accepted size, base64-encoded in JSON, is accepted (it once hit
  Django's 10 MB body limit and got an HTML 400); a body over ``BIHUAN_MAX_REQUEST_BYTES`` is a 413
  problem+json.
* Refusals before and after the schema come in the request's language (zh-Hans).
"""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings

from bihuan.loop.models import Attachment, Matter

from .loop_helpers import make_categories

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}


@pytest.fixture
def auth(tree, users, token_for):
    make_categories()
    return token_for(users.lumiao_grid)


def _body(tree, **kw):
    return {"category": "road", "location_unit": tree.lumiao_g1.pk, "title": "井盖缺失", "description": "路口井盖丢了",
            **kw}


def _png(size: int) -> str:
    """A real photo-sized PNG (noise does not compress) padded after IEND to exactly ``size`` bytes:
    attachments are checked as images, so a header followed by zeros is refused."""
    import io
    import os

    from PIL import Image

    side = int(((size - 64 * 1024) / 3) ** 0.5)
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    data = buf.getvalue()
    assert len(data) <= size
    return base64.b64encode(data + b"\0" * (size - len(data))).decode()


@pytest.mark.parametrize("mb", [8, 10])
def test_an_attachment_up_to_the_documented_size_passes_in_json(client, tree, auth, mb):
    size = mb * 1024 * 1024
    assert size <= settings.BIHUAN_MAX_ATTACHMENT_BYTES
    body = _body(tree, attachments=[{"name": "现场.png", "content_type": "image/png", "data_base64": _png(size)}])
    r = client.post("/api/v1/matters", json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 201, r.content[:300]
    assert Attachment.objects.get().size == size


def test_a_body_over_the_limit_is_a_413_problem_in_chinese(client, tree, auth):
    big = "x" * (settings.BIHUAN_MAX_REQUEST_BYTES + 1)
    r = client.post("/api/v1/matters", json.dumps(_body(tree, description=big)), content_type="application/json",
                    **auth, **ZH)
    assert r.status_code == 413 and r["Content-Type"] == "application/problem+json"
    assert r.json()["title"] == "请求过大" and "MB" in r.json()["detail"]
    assert Matter.objects.count() == 0


def test_refusals_speak_the_requests_language(client, tree, auth):
    nul = client.post("/api/v1/matters", json.dumps(_body(tree, title="a\u0000b")), content_type="application/json",
                      **auth, **ZH)
    assert nul.status_code == 400 and nul.json()["title"] == "请求无效" and "NUL" in nul.json()["detail"]
    lat = client.post("/api/v1/matters", json.dumps(_body(tree, lat=999)), content_type="application/json",
                      **auth, **ZH)
    assert lat.status_code == 422 and lat.json()["title"] == "输入无效" and "lat" in lat.json()["errors"]
    neg = client.get("/api/v1/matters?limit=-1", **auth, **ZH)
    assert neg.status_code == 422 and neg.json()["title"] == "输入无效"
    cursor = client.get("/api/v1/matters?cursor=WyJ4Il0", **auth, **ZH)
    assert cursor.status_code == 400 and cursor.json()["errors"]["cursor"] == "无效的游标。"
    query = client.get("/api/v1/matters?q=a%00b", **auth, **ZH)
    assert query.status_code == 400 and query.json()["title"] == "请求无效"
    assert Matter.objects.count() == 0


def test_open311_refuses_impossible_dates_in_its_own_format(client, db):
    for value in ("2026-02-30", "2026-01-01T00:00:00+25:00", "0001-01-01T00:00:00+01:00", "2026-13-01T00:00Z"):
        r = client.get(f"/open311/v2/requests.json?start_date={value}")
        assert r.status_code == 400 and r.json()[0]["code"] == 400, (value, r.content[:200])
    assert client.get("/open311/v2/requests/" + "9" * 30 + ".json").status_code == 404
    assert client.get("/open311/v2/requests.json?service_request_id=" + "9" * 30).status_code == 200
