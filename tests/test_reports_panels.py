"""The command dashboard's panels that apps register (core.registry.register_dashboard_panel): the
loop's open / yellow / red, backlog by age and hotspots, the children grid by worst light, the
plans' campaign countdown; and the home page as each role's work (register_home_card)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from django.urls import reverse

from bihuan.core import registry
from bihuan.loop import services as loop
from bihuan.plans.models import CampaignTarget
from bihuan.plans.services import campaigns
from bihuan.reports import selectors
from tests.loop_helpers import at, new_matter
from tests.reports_helpers import NOW, make_week
from tests.series_helpers import one_by_one

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(tree, users):
    """make_week (仙营社区: one matter dispatched on 11-02, overdue by NOW), plus in 李营街道 one
    matter awaiting dispatch (registered 11-11) and one dispatched to 芦庙村 this morning (green)."""
    cache.clear()
    road = make_week(tree, users)
    new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-11 09:00"), title="井盖缺失")
    m = new_matter(users.lumiao_secretary, road, tree.lumiao_g2, at("2026-11-12 08:00"), title="路灯不亮")
    loop.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=at("2026-11-12 08:30"))
    return road


def _panel(data, name):
    return next(p for p in data["panels"] if p["name"] == name)


def test_loop_panel_counts_lights_backlog_by_age_and_hotspots(tree, users, week):
    d = selectors.dashboard(tree.rencheng, NOW)
    p = _panel(d, "loop.matters")
    # 井盖缺失 has waited past its dispatch warning point: yellow
    assert (p["open"], p["red"], p["yellow"], p["green"]) == (3, 1, 1, 1)
    ages = {b["age"]: b for b in p["backlog"]}
    assert [b["age"] for b in p["backlog"]] == ["<3", "3-7", "7-15", "15-30", ">30"]
    assert ages["7-15"]["red"] == 1 and (ages["<3"]["green"], ages["<3"]["yellow"]) == (1, 1) and ages[">30"] == {**ages[">30"], "red": 0}
    assert [(u["unit_name"], u["open"], u["red"]) for u in p["top_units"]] == [("李营街道", 2, 0), ("仙营街道", 1, 1)]
    assert p["top_categories"][0]["category"] == "道路破损" and p["top_categories"][0]["open"] == 3
    assert p["child_lights"] == {str(tree.liying.pk): "yellow", str(tree.xianying.pk): "red"}
    # the grid takes the worst light: 仙营街道 has an overdue matter
    assert {c["unit_name"]: c["light"] for c in d["children"]}["仙营街道"] == "red"
    # a township's panel counts its own subtree only
    p = _panel(selectors.dashboard(tree.liying, NOW), "loop.matters")
    assert (p["open"], p["red"], p["yellow"]) == (2, 0, 1) and [u["unit_name"] for u in p["top_units"]] == ["芦庙村"]


def test_panels_on_the_page_and_in_the_api(client, tree, users, week, token_for):
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("reports:dashboard") + f"?unit={tree.rencheng.pk}")
    assert r.status_code == 200 and 'data-testid="panel-loop"' in r.text and 'data-testid="loop-backlog-chart"' in r.text
    assert 'data-testid="loop-top-units"' in r.text and "仙营街道" in r.text
    r = client.get(reverse("reports:dashboard") + "?part=1", HTTP_HX_REQUEST="true")
    assert 'data-testid="panel-loop"' in r.text
    data = client.get("/api/v1/dashboard", {"unit": tree.rencheng.pk},
                      HTTP_AUTHORIZATION=f"Bearer {token_for(users.rencheng_admin)}").json()
    p = _panel(data, "loop.matters")
    assert p["open"] == 3 and p["charts"][0]["id"] == "backlog"
    # out of scope: 404, nothing counted
    assert client.get("/api/v1/dashboard", {"unit": tree.yanzhou.pk},
                      HTTP_AUTHORIZATION=f"Bearer {token_for(users.rencheng_admin)}").status_code == 404


def test_campaign_countdown(client, tree, users):
    cache.clear()
    c = campaigns.create_campaign(None, unit=tree.city, title="大干五十天", starts_on=date(2026, 10, 24),
                                  ends_on=date(2026, 12, 12), target_unit="万元", cadence="daily", grace_days=1,
                                  targets=[(tree.liying, 100), (tree.xianying, 80), (tree.longqiao, 60)],
                                  now=at("2026-10-20 09:00"))
    campaigns.check_in(users.liying_staff, CampaignTarget.objects.get(campaign=c, unit=tree.liying), value=30,
                       now=at("2026-11-11 15:00"))
    p = _panel(selectors.dashboard(tree.rencheng, NOW), "plans.campaigns")
    got = p["campaigns"][0]
    assert (got["title"], got["day"], got["days_total"], got["days_left"]) == ("大干五十天", 20, 50, 30)
    assert (got["units"], got["reporting"], got["target"], got["value"], got["pct"]) == (2, 1, 180.0, 30.0, 16.7)
    # 兖州区's dashboard counts its own township only; after the campaign there is no panel
    assert _panel(selectors.dashboard(tree.yanzhou, NOW), "plans.campaigns")["campaigns"][0]["target"] == 60.0
    cache.clear()
    assert all(p["name"] != "plans.campaigns" for p in selectors.dashboard(tree.rencheng, at("2026-12-13 09:00"))["panels"])


def test_panel_names_are_unique():
    panel = registry.DASHBOARD_PANELS["loop.matters"]
    assert registry.register_dashboard_panel(panel) is panel
    with pytest.raises(ValueError):
        registry.register_dashboard_panel(registry.DashboardPanel("loop.matters", "x", "t.html", lambda u, n: None))


def test_home_is_each_roles_work(client, tree, users, week):
    client.force_login(users.lumiao_secretary)
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-loop-work"' in r.text and 'data-testid="home-tab-to_accept"' in r.text
    assert "路灯不亮" in r.text  # dispatched to 芦庙村, waiting for acceptance
    assert 'data-testid="home-dashboard"' not in r.text
    client.force_login(users.lumiao_grid)
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-report"' in r.text and 'data-testid="home-loop-work"' in r.text
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-dashboard"' in r.text and 'data-testid="home-loop-work"' not in r.text
    assert 'data-testid="home-panel-loop.matters"' in r.text


def test_home_care_card_shows_todays_round_and_board(client, tree, users):
    from tests.care_helpers import make_care_today

    c = make_care_today(tree, users)
    client.force_login(c.volunteer)
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-care-round"' in r.text and "李大爷" in r.text
    client.force_login(users.lumiao_secretary)
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-care-board"' in r.text


def test_home_checkins_due_this_week_or_late(client, tree, users):
    from tests.plans_helpers import make_current_plan

    make_current_plan(tree, users.city_admin)
    client.force_login(users.lumiao_secretary)
    r = client.get(reverse("web:home"))
    assert r.status_code == 200
    # the June milestone of 建成幸福食堂 was missed: late, on the village secretary's home page
    assert 'data-testid="home-checkins"' in r.text and "建成幸福食堂" in r.text
    client.force_login(users.nobody)
    assert 'data-testid="home-checkins"' not in client.get(reverse("web:home")).text


def test_every_template_names_registered_sections_only():
    from bihuan.reports import kinds

    for t in kinds.TEMPLATES.values():
        assert set(t.sections) <= set(registry.SECTIONS), t.code


def test_figures_pages_link_to_the_chart_and_xlsx(client, tree, users):
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("loop:performance"))
    assert r.status_code == 200 and "section=loop.metrics" in r.text
    r = client.get(reverse("activities:coverage") + f"?unit={tree.rencheng.pk}")
    assert r.status_code == 200 and "section=activities.lectures" in r.text
    r = client.get(reverse("reports:figures") + f"?section=activities.lectures&unit={tree.rencheng.pk}")
    assert r.status_code == 200 and "李营街道" in r.text


def test_quarterly_bulletin_carries_every_registered_section(tree, users, week):
    from bihuan.reports import render, services

    b = services.draft(users.rencheng_admin, template="quarterly_evaluation", unit=tree.rencheng, period="2026-Q4",
                       now=NOW)
    names = [s["name"] for s in b.snapshot["sections"]]
    assert names == ["evaluation.stars", "loop.metrics", "plans.progress", "care.visits", "activities.lectures",
                     "ledgers.registers"]
    for fmt in ("pdf", "docx", "xlsx"):
        assert render.render(b, fmt)


def test_trend_series_in_one_query_equals_week_by_week(tree, users, week):
    from datetime import timedelta

    from bihuan.reports import kinds

    week0 = kinds.period_bounds("week", kinds.current("week", NOW))[0]
    weeks = [week0 - timedelta(weeks=i) for i in range(12, 0, -1)]
    units = [tree.rencheng, tree.liying, tree.xianying]
    got = registry.compute_series("loop.on_time_rate", units, starts=weeks, end=week0, now=NOW)
    bounds = [*weeks, week0]
    want = {u.pk: [registry.compute("loop.on_time_rate", [u], start=bounds[i], end=bounds[i + 1], now=NOW)[u.pk]
                   for i in range(12)] for u in units}
    assert got == want
    assert got[tree.xianying.pk][-1] == 0.0 and got[tree.liying.pk][-1] == 1.0  # the week of 11-02
    # the dashboard's trend shows it as a percentage
    series = selectors.dashboard(tree.rencheng, NOW)["trend"]["series"]
    assert any(s["values"][-1] == 50.0 for s in series)


# --- h-reports2: star ratings and care visits as dashboard panels --------------------------------

def test_star_ratings_panel_counts_the_latest_public_run_below_the_unit(client, tree, users, token_for):
    from bihuan.evaluation import services as evaluation
    from tests.evaluation_helpers import H1, score_all, some_matters, village_set

    cache.clear()
    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users, value=90)
    run = evaluation.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00"))
    # computed but not published: nothing to show
    assert all(p["name"] != "evaluation.stars" for p in selectors.dashboard(tree.rencheng, NOW)["panels"])
    evaluation.publish(users.city_admin, run, now=at("2026-07-03 10:00"))
    cache.clear()
    p = _panel(selectors.dashboard(tree.rencheng, NOW), "evaluation.stars")
    # 任城区's villages: 芦庙村 2 stars, 仙营社区 5 (薛庙社区 is 兖州区's)
    assert {d["stars"]: d["count"] for d in p["distribution"]} == {5: 1, 4: 0, 3: 0, 2: 1, 1: 0}
    assert p["rated"] == 2 and p["period"] == H1 and p["url"] == reverse("evaluation:run_detail", args=[run.pk])
    assert p["charts"][0]["series"][0]["values"] == [1, 0, 0, 1, 0]
    p = _panel(selectors.dashboard(tree.city, NOW), "evaluation.stars")
    assert p["rated"] == 3 and p["distribution"][0]["count"] == 2
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("reports:dashboard") + f"?unit={tree.rencheng.pk}")
    assert 'data-testid="panel-stars"' in r.text and 'data-testid="stars-chart"' in r.text
    assert reverse("evaluation:run_detail", args=[run.pk]) in r.text
    data = client.get("/api/v1/dashboard", {"unit": tree.rencheng.pk},
                      HTTP_AUTHORIZATION=f"Bearer {token_for(users.rencheng_admin)}").json()
    assert _panel(data, "evaluation.stars")["rated"] == 2
    # the ranking it links to opens for the county
    assert client.get(p["url"]).status_code == 200


def test_the_score_of_all_periods_at_once_equals_period_by_period(tree, users, django_assert_max_num_queries):
    from datetime import timedelta

    from bihuan.evaluation import services as evaluation
    from tests.evaluation_helpers import H1, score_all, some_matters, village_set

    some_matters(tree, users)
    s = village_set(tree, users.city_admin)
    score_all(s, tree, users, value=90)
    evaluation.publish(users.city_admin, evaluation.compute_run(users.city_admin, s, H1, now=at("2026-07-03 09:00")),
                       now=at("2026-07-03 10:00"))
    starts = [at("2026-05-01 00:00") + timedelta(weeks=4 * i) for i in range(4)]
    end = starts[-1] + timedelta(weeks=4)
    units = [tree.city, tree.lumiao, tree.xianying_v, tree.xuemiao]
    with django_assert_max_num_queries(1):
        got = registry.compute_series("evaluation.score", units, starts=starts, end=end, now=NOW)
    assert got == one_by_one("evaluation.score", units, starts=starts, end=end, now=NOW)
    assert got[tree.city.pk] == [None] * 4 and sum(v is not None for v in got[tree.lumiao.pk]) == 1


def test_care_visits_panel_done_due_missed_in_the_subtree(client, tree, users, token_for):
    from bihuan.care import services as care
    from tests.care_helpers import make_care

    cache.clear()
    make_care(tree, users, start=date(2026, 3, 1))
    care.generate(date(2026, 3, 2), now=at("2026-03-01 20:00"))
    now = at("2026-03-02 14:00")  # lunch (11:00–12:30) missed, the afternoon visit still due
    p = _panel(selectors.dashboard(tree.rencheng, now), "care.visits")
    assert (p["total"], p["done"], p["due"], p["missed"]) == (2, 0, 1, 1)
    assert p["top_missed"] == [{"unit_id": tree.liying.pk, "unit_name": "李营街道", "missed": 1}]
    p = _panel(selectors.dashboard(tree.lumiao, now), "care.visits")
    assert p["top_missed"][0]["unit_name"] == "芦庙村第一网格"
    # 兖州区 has no care visits today: no panel; nor has 任城区 the next day (nothing generated)
    assert all(p["name"] != "care.visits" for p in selectors.dashboard(tree.yanzhou, now)["panels"])
    cache.clear()
    assert all(p["name"] != "care.visits" for p in selectors.dashboard(tree.rencheng, at("2026-03-03 14:00"))["panels"])


def test_care_visits_panel_on_the_page_and_in_the_api(client, tree, users, token_for):
    from tests.care_helpers import make_care_today

    cache.clear()
    make_care_today(tree, users)  # real today: lunch on now, the visit in half an hour
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("reports:dashboard") + f"?unit={tree.rencheng.pk}")
    assert 'data-testid="panel-care"' in r.text
    assert reverse("care:board") + f"?unit={tree.rencheng.pk}" in r.text
    data = client.get("/api/v1/dashboard", {"unit": tree.rencheng.pk},
                      HTTP_AUTHORIZATION=f"Bearer {token_for(users.rencheng_admin)}").json()
    p = _panel(data, "care.visits")
    assert (p["total"], p["done"], p["due"], p["missed"]) == (2, 0, 2, 0)
    # the board it links to opens for the county
    assert client.get(reverse("care:board") + f"?unit={tree.rencheng.pk}").status_code == 200


def test_supervision_board_as_a_chart_and_xlsx(client, tree, users, week):
    import io

    from openpyxl import load_workbook

    client.force_login(users.rencheng_admin)
    r = client.get(reverse("loop:board_unit", args=[tree.rencheng.pk]))
    assert r.status_code == 200 and "section=loop.board" in r.text
    url = reverse("reports:figures") + f"?section=loop.board&unit={tree.rencheng.pk}"
    r = client.get(url)
    assert r.status_code == 200 and "李营街道" in r.text and "仙营街道" in r.text
    ws = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").content)).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    head = rows[1]
    assert head[:2] == ["名次", "单位"]
    assert head[2:] == ["在办（件）", "待交办（件）", "已超期（件）", "即将超期（件）", "挂牌督办（件）", "待签收（件）", "待评估（件）"]
    got = {row[1]: row for row in rows[2:]}
    open_col = next(i for i, h in enumerate(head) if "在办" in str(h))
    # the board's figures: 李营街道 two in work (one awaiting dispatch), 仙营街道 one
    assert (got["李营街道"][open_col], got["仙营街道"][open_col]) == ("2", "1"), rows
    png = client.get(url + "&format=png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # a snapshot: asked for by name only, never among the dashboard's period sections
    assert "loop.board" not in [s["name"] for s in selectors.dashboard(tree.rencheng, NOW)["sections"]]
    # out of scope: no figures
    assert client.get(reverse("reports:figures") + f"?section=loop.board&unit={tree.yanzhou.pk}").status_code == 404
