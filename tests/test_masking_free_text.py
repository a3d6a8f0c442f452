"""Phone and ID numbers typed into free text are masked in every output (issue 11 §4).

A grid worker (no reveal permission) types a mobile in groups, a landline and an ID number into
a matter. They come back masked on the page, in the API (detail, list, timeline), in the
notification to the dispatching township, and in the access log of the real server; the matter
keeps the full text, which a city administrator (who holds ``loop.matter.reveal``) sees.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from bihuan.core.management.commands.serve import gunicorn_argv
from bihuan.core.protect import id_check_ok, mask_text
from bihuan.loop import services
from bihuan.loop.models import Matter, Notification
from bihuan.people import services as people_services
from bihuan.people.validators import build_id_number

from .loop_helpers import at, make_categories

ID = build_id_number("370811", date(1990, 1, 1), 123)
ID_GROUPED = f"{ID[:6]} {ID[6:14]} {ID[14:]}"
MOBILE = "138 1234 5678"
LANDLINE = "0537-2345678"


def test_mask_text_finds_the_forms_people_type():
    assert id_check_ok(ID) and not id_check_ok(ID[:17] + ("0" if ID[17] != "0" else "1"))
    assert mask_text(f"电话{MOBILE}") == "电话138 **** 5678"
    assert mask_text("+86-138-1234-5678") == "+86-138-****-5678"
    assert mask_text("13812345678号") == "138****5678号"
    assert mask_text(f"座机{LANDLINE}转801") == "座机0537-***5678转801"
    assert mask_text("(0537)12345678") == "(0537)****5678"
    assert mask_text(f"身份证 {ID_GROUPED}") == f"身份证 {ID[:6]} ******** {ID[14:]}"
    assert mask_text(ID) == ID[:6] + "*" * 8 + ID[14:]
    # Not numbers of a person: dates, amounts, a grouped 18 digits whose check digit is wrong, ids.
    wrong = f"{ID[:6]} {ID[6:14]} {ID[14:17]}{'0' if ID[17] != '0' else '1'}"
    for text in ("2026-11-02 09:00", "金额 1500 元", "订单 2026110212345", wrong, "#12345"):
        assert mask_text(text) == text


@pytest.fixture
def matter(tree, users):
    road, _ = make_categories()
    return services.create_matter(
        users.lumiao_grid, category=road, location_unit=tree.lumiao_g1, title=f"请回电 {MOBILE}",
        description=f"联系人身份证 {ID_GROUPED}，座机 {LANDLINE}。", address=f"芦庙村 3 号（{MOBILE}）",
        now=at("2026-11-02 09:00"))


def _numbers_absent(text: str) -> None:
    for number in (MOBILE, MOBILE.replace(" ", ""), ID, ID_GROUPED, LANDLINE):
        assert number not in text


def test_the_page_masks_numbers_for_a_user_without_the_permission(client, users, matter):
    client.force_login(users.lumiao_grid)
    html = client.get(f"/loop/{matter.pk}/").content.decode()
    assert "138 **** 5678" in html and "0537-***5678" in html
    _numbers_absent(html)
    client.force_login(users.city_admin)
    assert MOBILE in client.get(f"/loop/{matter.pk}/").content.decode()
    assert Matter.objects.get(pk=matter.pk).title == f"请回电 {MOBILE}"  # stored as typed


def test_the_api_masks_detail_list_and_timeline(client, users, matter, token_for):
    grid = token_for(users.lumiao_grid)
    services.dispatch(users.liying_staff, matter.pk, version=1, handling_unit=matter.location_unit.parent,
                      comment=f"请联系 {LANDLINE}", now=at("2026-11-02 10:00"))
    detail = client.get(f"/api/v1/matters/{matter.pk}", **grid).content.decode()
    listing = client.get("/api/v1/matters", **grid).content.decode()
    events = client.get(f"/api/v1/matters/{matter.pk}/events", **grid).content.decode()
    for body in (detail, listing, events):
        _numbers_absent(json.loads(json.dumps(body)))
    assert "138 **** 5678" in json.loads(detail)["title"] and "0537-***5678" in events
    full = client.get(f"/api/v1/matters/{matter.pk}", **token_for(users.city_admin)).json()
    assert full["title"] == f"请回电 {MOBILE}" and ID_GROUPED in full["description"]


def test_the_notification_title_is_masked(client, users, matter, token_for):
    n = Notification.objects.get(matter=matter, kind="new")
    assert "138 **** 5678" in n.title
    _numbers_absent(n.title)
    body = client.get("/api/v1/notifications", **token_for(users.liying_staff)).content.decode()
    _numbers_absent(body)
    client.force_login(users.liying_staff)
    _numbers_absent(client.get("/loop/notifications/").content.decode())


def test_a_search_by_number_goes_through_post(client, tree, users, token_for):
    people_services.create_person(None, unit=tree.lumiao, name="王五", phone="13812345678")
    auth = token_for(users.liying_staff)
    r = client.post("/api/v1/people/search", json.dumps({"q": "13812345678"}), content_type="application/json",
                    **auth)
    assert r.status_code == 200 and [p["name"] for p in r.json()["items"]] == ["王五"]
    assert r.json()["items"][0]["phone"] == "138****5678"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_access_log_of_the_real_server_never_has_the_query(tmp_path):
    """gunicorn as ``bihuan serve`` starts it: its access lines carry the path, not the query."""
    port = _free_port()
    env = {**os.environ, "BIHUAN_VAR_DIR": str(tmp_path), "PYTHONPATH": str(Path(__file__).parents[1])}
    env.pop("DATABASE_URL", None)
    argv = gunicorn_argv("127.0.0.1", port, 1)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        lines = []
        for line in proc.stdout:  # wait for the server to listen (no sleeps)
            lines.append(line)
            if "Booting worker" in line:
                break
        for url in (f"/healthz?q={MOBILE.replace(' ', '')}", f"/api/v1/people?q={ID}",
                    f"/people/?q={MOBILE.replace(' ', '%20')}"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=30).read()
            except urllib.error.HTTPError:
                pass
        proc.terminate()
        out = "".join(lines) + proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    access = [ln for ln in out.splitlines() if '"GET /' in ln]
    assert len(access) >= 3, out[-2000:]  # the page redirects to the login (its query dropped too)
    assert any('"GET /healthz HTTP/1.1"' in ln for ln in access)
    for number in (MOBILE.replace(" ", ""), ID, "13812345678"):
        assert number not in out
    assert sys.executable == argv[0]
