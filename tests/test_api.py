"""/api/v1: scope, pagination, problem+json in the caller's language."""


def test_openapi_is_served(client, db):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/me" in paths and "/api/v1/orgs" in paths and "/api/v1/orgs/{unit_id}" in paths


def test_orgs_list_is_scope_filtered(client, users, tree, token_for):
    r = client.get(f"/api/v1/orgs?parent={tree.rencheng.pk}", **token_for(users.rencheng_admin))
    assert {u["name"] for u in r.json()["items"]} == {"李营街道", "仙营街道"}
    r = client.get(f"/api/v1/orgs?parent={tree.yanzhou.pk}", **token_for(users.rencheng_admin))
    assert r.json()["items"] == []


def test_orgs_detail_out_of_scope_is_404_problem(client, users, tree, token_for):
    r = client.get(f"/api/v1/orgs/{tree.xuemiao.pk}", **token_for(users.rencheng_admin))
    assert r.status_code == 404
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 404
    ok = client.get(f"/api/v1/orgs/{tree.lumiao.pk}", **token_for(users.rencheng_admin))
    assert ok.status_code == 200 and ok.json()["code"] == "370811008201"


def test_cursor_pagination_walks_everything_once(client, users, tree, token_for):
    auth = token_for(users.city_admin)
    seen, cursor = [], None
    while True:
        url = "/api/v1/orgs?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, **auth).json()
        seen += [u["id"] for u in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    from bihuan.orgs.models import OrgUnit

    assert sorted(seen) == sorted(OrgUnit.objects.values_list("id", flat=True))
    assert len(seen) == len(set(seen))


def test_bad_cursor_is_a_clear_400(client, users, token_for):
    r = client.get("/api/v1/orgs?cursor=!!!", **token_for(users.city_admin))
    assert r.status_code == 400 and r["Content-Type"] == "application/problem+json"


def test_validation_error_is_problem_json(client, users, token_for):
    r = client.get("/api/v1/orgs?parent=abc", **token_for(users.city_admin))
    assert r.status_code == 422
    assert "parent" in r.json()["errors"]


def test_problem_follows_accept_language(client, users, tree, token_for):
    auth = token_for(users.rencheng_admin)
    en = client.get(f"/api/v1/orgs/{tree.xuemiao.pk}", HTTP_ACCEPT_LANGUAGE="en", **auth).json()
    zh = client.get(f"/api/v1/orgs/{tree.xuemiao.pk}", HTTP_ACCEPT_LANGUAGE="zh-CN", **auth).json()
    assert en["title"] == "Not found"
    assert zh["title"] != en["title"]


def test_no_token_is_401(client, db):
    r = client.get("/api/v1/orgs")
    assert r.status_code == 401 and r["WWW-Authenticate"] == "Bearer"


def test_pages_are_chinese_first_whatever_the_browser_says(client, db):
    r = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "登录" in r.content.decode()
    client.cookies["django_language"] = "en"
    r = client.get("/login/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "Log in" in r.content.decode()


def test_login_page_points_residents_to_the_demand_form(client, db):
    body = client.get("/login/").content.decode()
    assert 'href="/demand/"' in body and "无需账号" in body
