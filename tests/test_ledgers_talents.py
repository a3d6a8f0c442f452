"""后备人才: the pool's size and age bands per county / township, in SQL, in scope, as a page with
a chart and as XLSX."""

from __future__ import annotations

import io

import openpyxl
import pytest

from bihuan.ledgers import selectors, services
from tests.ledgers_helpers import load

pytestmark = pytest.mark.django_db


def _talent(r, unit, name, age):
    return services.create_entry(None, r, unit=unit, values={"name": name, "age": age})


@pytest.fixture
def pool(tree):
    r = load()["reserve_talents"]
    for i, age in enumerate([22, 30, 31, 35, 36, 41, 45, 46, 58]):
        _talent(r, tree.lumiao, f"芦庙{i}", age)
    _talent(r, tree.xianying_v, "仙营一", 33)
    _talent(r, tree.xuemiao, "薛庙一", 40)
    _talent(r, tree.xuemiao, "薛庙二", 50)
    return r


def test_bands_per_county_and_township_in_sql(tree, users, pool, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        rows = selectors.age_structure(users.city_admin, pool, level=2)
    by = {x["unit_name"]: x for x in rows}
    assert by["任城区"]["total"] == 10 and by["任城区"]["bands"] == [2, 3, 1, 2, 2]
    assert by["兖州区"]["total"] == 2 and by["兖州区"]["bands"] == [0, 0, 1, 0, 1]
    towns = {x["unit_name"]: x for x in selectors.age_structure(users.rencheng_admin, pool, level=3)}
    assert set(towns) == {"李营街道", "仙营街道"}  # 兖州区 is out of scope
    assert towns["仙营街道"]["bands"] == [0, 1, 0, 0, 0]


def test_page_chart_and_xlsx_in_scope(client, tree, users, pool):
    client.force_login(users.rencheng_admin)
    body = client.get("/ledgers/talents/ages/").content.decode()
    assert "任城区" in body and "兖州区" not in body and 'data-testid="ages-chart"' in body
    assert 'data-testid="ages-total">10<' in body
    body = client.get("/ledgers/talents/ages/", {"level": "3"}).content.decode()
    assert "李营街道" in body and "仙营街道" in body
    assert client.get("/ledgers/talents/ages/", {"level": "x'--", "page": "9" * 30}).status_code == 200
    resp = client.get("/ledgers/talents/ages.xlsx", {"level": "3"})
    assert resp.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("组织单元", "区划代码", "人才库人数", "≤30岁")
    assert ["李营街道", "370811008000", 9, 2, 2, 1, 2, 2] in [list(r) for r in rows]
    assert rows[-1][2] == 10
    client.force_login(users.nobody)
    assert client.get("/ledgers/talents/ages/").status_code in (403, 404)
