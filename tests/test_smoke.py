def test_healthz_reports_database(client, db):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] in {"sqlite", "postgresql"}


def test_me_lists_bindings_and_scope_units(client, users, token_for):
    r = client.get("/api/v1/me", **token_for(users.liying_staff))
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "liying_staff"
    assert [b["unit_name"] for b in body["bindings"]] == ["李营街道"]
    assert [u["name"] for u in body["scope_units"]] == ["李营街道"]
