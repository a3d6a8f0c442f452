"""Lectures demo data: Yanzhou district's 理论宣讲"微课堂" (seed/FACTS.md), through the services.

兖州区 forms lecture teams of the seven kinds (4 teams with about 40 lecturers at ``--scale demo``;
22 teams with 1,200 lecturers at ``--scale city``). Lecturers are residents already registered
in the district (the people step), a few named city-level excellent lecturers. Over the last
season the teams lecture in about three quarters of the district's villages and communities —
the rest are the coverage gaps — to targeted audiences; attendees rate some sessions through
the public link. Two villages have open lecture orders (点单). At demo scale one lecturer can log
in as ``yanzhou_lecturer`` (the demo password) to record their own sessions. Deterministic per ``seed``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from bihuan.orgs.models import Level, OrgUnit

from . import services
from .models import Audience, Lecturer, LectureTeam, TeamKind

CODE_YANZHOU = "370812"
TEAMS = [
    ("兖州区老干部宣讲团", TeamKind.VETERAN, "党史故事、红色家风、习近平新时代中国特色社会主义思想"),
    ("兖州区劳模工匠宣讲团", TeamKind.MODEL_WORKER, "工匠精神、劳模故事、安全生产"),
    ("兖州区青年宣讲团", TeamKind.YOUTH, "党的二十大精神、青春建功、网络文明"),
    ("兖州区巾帼宣讲团", TeamKind.WOMEN, "家风家教、移风易俗、妇女权益"),
    ("兖州区中小学校长宣讲团", TeamKind.PRINCIPAL, "思政教育、家校共育、青少年成长"),
    ("兖州区教师宣讲团", TeamKind.TEACHER, "传统文化、儒家文化、心理健康"),
    ("兖州区基层党组织书记宣讲团", TeamKind.SECRETARY, "乡村振兴、基层治理、惠民政策"),
]
SCALE = {"demo": (4, 40), "county": (10, 300), "city": (22, 1200)}  # teams, lecturers
AUDIENCE_OF = {TeamKind.VETERAN: ["members", "elderly"], TeamKind.MODEL_WORKER: ["workers", "villagers"],
               TeamKind.YOUTH: ["youth", "members"], TeamKind.WOMEN: ["villagers", "elderly"],
               TeamKind.PRINCIPAL: ["youth"], TeamKind.TEACHER: ["youth", "villagers"],
               TeamKind.SECRETARY: ["members", "villagers", "cadres"]}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "建国秀英志强丽娟海燕文华明军红梅春生玉兰德胜凤霞"


def _team_specs(n: int) -> list[tuple[str, str, str]]:
    out = []
    for i in range(n):
        name, kind, topics = TEAMS[i % len(TEAMS)]
        if i >= len(TEAMS):
            name = name.replace("兖州区", f"兖州区第{i // len(TEAMS) + 1}")
        out.append((name, kind, topics))
    return out


def _persons(district: OrgUnit, n: int, rng: random.Random):
    """Residents of the district to lecture (existing ones first; synthetic ones when too few)."""
    from bihuan.people import services as people_services
    from bihuan.people.models import Person

    found = list(Person.objects.filter(unit__path__startswith=district.path).order_by("id")[: n * 3])
    rng.shuffle(found)
    out = found[:n]
    places = list(OrgUnit.objects.filter(path__startswith=district.path, level=Level.VILLAGE,
                                         valid_to__isnull=True).order_by("path"))
    i = 0
    while len(out) < n and places:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
        out.append(people_services.create_person(None, unit=places[i % len(places)], name=name))
        i += 1
    return out


def seed_lectures(scale: str = "demo", seed: int = 2022, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    if LectureTeam.objects.exists():
        return {"teams": LectureTeam.objects.count(), "skipped": True}
    district = OrgUnit.objects.filter(code=CODE_YANZHOU, valid_to__isnull=True).first()
    if district is None:
        return {"teams": 0}
    rng = random.Random(seed)
    n_teams, n_lecturers = SCALE.get(scale, SCALE["demo"])
    created = now - timedelta(days=200)
    teams = [services.create_team(None, unit=district, name=n, kind=k, topics=t, now=created)
             for n, k, t in _team_specs(n_teams)]
    lecturers = []
    for i, p in enumerate(_persons(district, n_lecturers, rng)):
        team = teams[i % len(teams)]
        topics = "、".join(rng.sample(team.topic_list, k=min(2, len(team.topic_list))))
        lecturers.append(services.add_lecturer(None, team, person=p, topics=topics,
                                               audiences=AUDIENCE_OF[team.kind], excellent=rng.random() < 0.05,
                                               now=created))
    villages = list(OrgUnit.objects.filter(path__startswith=district.path, level=Level.VILLAGE,
                                           valid_to__isnull=True).order_by("path"))
    covered = [v for v in villages if rng.random() < 0.75]
    today = timezone.localtime(now).date()
    season_start = today - timedelta(days=90)
    sessions = 0
    feedback = 0
    for v in covered:
        for _k in range(rng.choice([1, 1, 2, 3])):
            lec = rng.choice(lecturers)
            held = season_start + timedelta(days=rng.randrange(90))
            aud = rng.choice(lec.audiences.split(","))
            s = services.record_session(None, lecturer=lec, place=v, held_on=held, audience=aud,
                                        topic=rng.choice(lec.team.topic_list), attendance=rng.randint(15, 120),
                                        now=datetime.combine(held, datetime.min.time(),
                                                             tzinfo=timezone.get_default_timezone())
                                        + timedelta(hours=20))
            sessions += 1
            if held >= today - timedelta(days=services.FEEDBACK_DAYS) and scale == "demo":
                for d in range(rng.randint(0, 4)):
                    services.give_feedback(s.feedback_token, device=f"seed-{s.pk}-{d}",
                                           rating=rng.choice([5, 5, 4, 4, 3]), now=now)
                    feedback += 1
    gaps = [v for v in villages if v not in covered] or villages
    orders = 0
    for v, (topic, aud) in zip(gaps[:2], [("乡村振兴", Audience.VILLAGERS), ("党的二十大精神", Audience.MEMBERS)],
                               strict=False):
        services.create_order(None, unit=v, topic=topic, audience=aud, wanted_from=today + timedelta(days=14),
                              wanted_to=today + timedelta(days=45), expected=50, now=now)
        orders += 1
    login = _demo_lecturer(lecturers[0]) if scale == "demo" and lecturers else None
    return {"teams": len(teams), "lecturers": len(lecturers), "sessions": sessions, "villages": len(villages),
            "covered": len(covered), "feedback": feedback, "orders": orders,
            **({"lecturer_login": login} if login else {})}


def _demo_lecturer(lec: Lecturer) -> str | None:
    """``yanzhou_lecturer`` (demo password), bound with the lecturer role (own records) to the
    lecturer's own unit."""
    from bihuan.accounts import services as account_services
    from bihuan.accounts.models import Role, User
    from bihuan.accounts.seed import DEMO_PASSWORD

    if User.objects.filter(username="yanzhou_lecturer").exists():
        return None
    user = account_services.create_user(None, username="yanzhou_lecturer", password=DEMO_PASSWORD,
                                        display_name=f"{lec.person.name}（宣讲员，演示）", unit=lec.person.unit,
                                        role=Role.objects.get(code="lecturer"), must_change_password=False)
    services.link_login(None, lec, login=user)
    return user.username


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The lectures' step of ``bihuan seed`` (skipped when a team exists), then party life (terms,
    contact points, reviews), then party meetings and member development (skipped when any exist)."""
    out = {**seed_lectures(scale, seed), **seed_party_life(scale, seed)}
    out.update({f"party_{k}": v for k, v in seed_party(scale, seed).items()})
    return out


# --- party life: re-election (换届), contact points (联系点), on-site reviews (观摩评比) ------------

def seed_party_life(scale: str = "demo", seed: int = 2022, *, now: datetime | None = None) -> dict:
    """For 兖州区 and 李营街道: every party organisation's current term — most in term, one due
    within three months, one overdue (its matter opened by the job) —; contact points of
    ``yanzhou_admin`` and ``liying_staff`` with visits, one problem turned into a matter; and a
    review of this quarter's theme with four reviewers' scores (trimmed mean). Skipped when a
    term exists."""
    from bihuan.orgs.models import PartyOrg

    from .models import PartyTerm

    now = now or timezone.now()
    if PartyTerm.objects.exists():
        return {"party_terms": PartyTerm.objects.count(), "party_skipped": True}
    units = list(OrgUnit.objects.filter(code__in=[CODE_YANZHOU, "370811008000"], valid_to__isnull=True))
    if not units:
        return {}
    from django.db.models import Q

    q = Q()
    for u in units:
        q |= Q(unit__path__startswith=u.path)
    orgs = list(PartyOrg.objects.filter(q).select_related("unit").order_by("unit__path", "id")[:2000])
    if not orgs:
        return {}
    rng = random.Random(seed)
    today = timezone.localtime(now).date()
    terms = 0
    for i, po in enumerate(orgs):
        years = services.default_term_years(po)
        if i == 1:  # overdue: due two months ago
            started = services.add_years(today - timedelta(days=60), -years)
        elif i == 2:  # due soon: in about three months
            started = services.add_years(today + timedelta(days=90), -years)
        else:
            started = today - timedelta(days=rng.randrange(60, 365 * years - 240))
        services.record_election(None, po, held_on=started, now=now)
        terms += 1
    matters = services.open_overdue_elections(now)
    contacts, visits, review_scores = _seed_contacts(orgs, today, now, rng), 0, 0
    visits = sum(n for _c, n in contacts)
    review_scores = _seed_review(today, now, rng)
    return {"party_terms": terms, "election_matters": matters, "contact_points": len(contacts),
            "contact_visits": visits, "review_scores": review_scores}


def _seed_contacts(orgs, today, now, rng) -> list:
    from bihuan.accounts.models import User

    out = []
    topics = ["主题党日指导", "党员发展谈心", "基层治理调研", "为民办实事回访"]
    problems = ["村党群服务中心活动室屋顶漏雨，需尽快维修", "部分老党员反映组织生活通知不及时", ""]
    for username in ("yanzhou_admin", "liying_staff"):
        member = User.objects.filter(username=username, is_active=True).first()
        if member is None:
            continue
        from bihuan.core.scope import covers

        branches = [po for po in orgs if po.kind in ("branch", "general_branch")
                    and covers(member, services.CONTACT_VISIT, po.unit)][:2]
        for po in branches:
            c = services.link_contact(None, member=member, party_org=po, since=today - timedelta(days=200), now=now)
            n = 0
            for k in range(2):
                v = services.record_visit(None, c, visited_on=today - timedelta(days=150 - 60 * k),
                                          topic=rng.choice(topics), problems=problems[(len(out) + k) % 3], now=now)
                n += 1
                if not out and k == 0 and v.problems:
                    services.visit_to_matter(None, v, now=now)
            out.append((c, n))
    return out


def _seed_review(today, now, rng) -> int:
    """This quarter's (or, early in a quarter, the last one's) review of 兖州区: up to five
    villages and communities visited, four reviewers, the extremes dropped."""
    from bihuan.accounts import services as account_services
    from bihuan.accounts.models import Role, User
    from bihuan.accounts.seed import DEMO_PASSWORD

    district = OrgUnit.objects.filter(code=CODE_YANZHOU, valid_to__isnull=True).first()
    visited = list(OrgUnit.objects.filter(path__startswith=district.path, level=Level.VILLAGE,
                                          valid_to__isnull=True).order_by("path")[:5]) if district else []
    if not visited:
        return 0
    held = today - timedelta(days=7)
    r = services.create_review(None, unit=district, year=held.year, quarter=(held.month - 1) // 3 + 1,
                               theme="抓党建促乡村振兴现场观摩", held_on=held, units=visited, drop_extremes=True,
                               now=now)
    reviewers = [u for u in User.objects.filter(username__in=["yanzhou_admin", "city_admin"]).order_by("username")]
    role = Role.objects.filter(code="township_staff").first()
    for i in (1, 2):
        name = f"yanzhou_reviewer{i}"
        u = User.objects.filter(username=name).first()
        if u is None and role is not None:
            u = account_services.create_user(None, username=name, password=DEMO_PASSWORD,
                                             display_name=f"兖州区观摩评委{i}（演示）", unit=district, role=role,
                                             must_change_password=False)
        if u is not None:
            reviewers.append(u)
    n = 0
    for u in reviewers:
        for unit in visited:
            services.score_unit(u, r, unit=unit, score=rng.randint(700, 980) / 10, now=now)
            n += 1
    return n




# --- party meetings and member development (issue 15 items 5–6) ---------------------------------
# The demo branches are the party branches of 李营街道's villages (芦庙村 first, where the demo's
# village secretary works). Their members are the village's registered party members, linked to
# the branch through ``people.services.update_person``. A year of meetings by the rules, except
# that the second branch held no 支委会 in the last two months (behind on its 支委会); and
# applicants at every stage, walked through their steps by the services.

CODE_LIYING = "370811008000"
CODE_LUMIAO = "370811008201"
DEMO_BRANCHES = 4
ABSENCE_REASONS = ["外出务工", "病假", "事假", "在外地就医"]
TOPICS = {"committee": "研究部署本月党建工作", "members": "学习党的二十届四中全会精神", "group": "党小组学习",
          "lecture": "书记讲党课", "theme_day": "主题党日：志愿服务进网格"}


def _tz_at(d, hour=19):
    return datetime.combine(d, datetime.min.time(), tzinfo=timezone.get_default_timezone()) + timedelta(hours=hour)


def _members(branch, rng, now) -> list:
    from bihuan.people import services as people_services
    from bihuan.people.models import Person

    mine = list(services.org_members(branch)[:12])
    if len(mine) >= 3:
        return mine
    found = list(Person.objects.filter(unit__path__startswith=branch.unit.path, party_status__in=["formal",
                                                                                                  "probationary"],
                                       party_branch__isnull=True).order_by("id")[:12])
    for p in found:
        people_services.update_person(None, p, party_branch=branch, now=now)
    places = list(OrgUnit.objects.filter(path__startswith=branch.unit.path, valid_to__isnull=True)
                  .order_by("-level", "path")[:1]) or [branch.unit]
    for i in range(max(0, 5 - len(found))):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
        people_services.create_person(None, unit=places[0], name=f"{name}{i}", party_branch=branch,
                                      party_status="formal", now=now)
    return list(services.org_members(branch)[:12])


def _meetings_for(branch, members, rng, today, *, behind: bool) -> int:
    from .party_rules import add_months

    n = 0
    first = add_months(today.replace(day=1), -12)
    for k in range(13):
        month = add_months(first, k)
        last_day = min(add_months(month, 1) - timedelta(days=1), today)
        if month > today:
            break
        kinds = ["committee", "group", "theme_day"]
        if month.month in (3, 6, 9, 12):
            kinds += ["members", "lecture"]
        for kind in kinds:
            if behind and kind == "committee" and month >= add_months(today.replace(day=1), -2):
                continue
            held = month + timedelta(days=rng.randrange(max(1, (last_day - month).days + 1)))
            if held > today:
                continue
            absent = [m for m in members if rng.random() < 0.12][:2]
            present = [m for m in members if m not in absent] or members[:1]
            absent = [m for m in absent if m not in present]
            services.record_meeting(None, org=branch, kind=kind, held_on=held, topic=TOPICS[kind],
                                    minutes=f"{TOPICS[kind]}。应到{len(members)}人，实到{len(present)}人。",
                                    attendees=present, absentees=[(m, rng.choice(ABSENCE_REASONS)) for m in absent],
                                    now=_tz_at(held))
            n += 1
    return n


# The steps taken to reach each stage, and how long ago the application was (months).
STAGE_PATHS = {
    "applicant": ([], 1),
    "activist": (["talk", "activist", "training"], 14),  # activist for 13 months: due to become a target
    "target": (["talk", "activist", "training", "target", "review"], 26),
    "probationary": (["talk", "activist", "training", "target", "review", "notice", "vote", "approval"], 30),
    "formal": (["talk", "activist", "training", "target", "review", "notice", "vote", "approval", "full"], 44),
}


def _walk(a, steps, applied, today):
    """Take ``steps`` in order, each at its earliest date or a little after (never after today)."""
    from .party_rules import STEP_BY_CODE, earliest

    day = applied
    for code in steps:
        a.refresh_from_db()
        s = STEP_BY_CODE[code]
        day = min(max(day + timedelta(days=20), earliest(s, a.stage_since)), today)
        services.take_step(None, a, step=code, taken_on=day,
                           note="政审合格，本人及直系亲属政治历史清楚。" if code == "review" else "",
                           version=a.version, now=_tz_at(today, 9))


def seed_party(scale: str = "demo", seed: int = 2022, *, now: datetime | None = None) -> dict:
    from bihuan.orgs.models import PartyOrg
    from bihuan.people import services as people_services

    from .models import Applicant, PartyMeeting
    from .party_rules import MEETING_ORG_KINDS, add_months

    now = now or timezone.now()
    if PartyMeeting.objects.exists() or Applicant.objects.exists():
        return {"meetings": PartyMeeting.objects.count(), "skipped": True}
    township = OrgUnit.objects.filter(code=CODE_LIYING, valid_to__isnull=True).first()
    if township is None:
        return {"meetings": 0}
    rng = random.Random(seed + 15)
    branches = list(PartyOrg.objects.filter(unit__path__startswith=township.path, kind__in=MEETING_ORG_KINDS,
                                            unit__valid_to__isnull=True).select_related("unit")
                    .order_by("unit__path")[: DEMO_BRANCHES * 3])
    branches.sort(key=lambda b: (b.unit.code != CODE_LUMIAO, b.unit.path))
    branches = branches[:DEMO_BRANCHES]
    today = timezone.localtime(now).date()
    meetings, behind = 0, None
    for i, b in enumerate(branches):
        members = _members(b, rng, now)
        meetings += _meetings_for(b, members, rng, today, behind=(i == 1))
        if i == 1:
            behind = b.name
    applicants = 0
    for i, (_stage, (steps, months)) in enumerate(list(STAGE_PATHS.items()) * 2):
        b = branches[i % len(branches)] if branches else None
        if b is None:
            break
        name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
        p = people_services.create_person(None, unit=b.unit, name=f"{name}{i}", now=now)
        applied = add_months(today, -months)
        a = services.register_applicant(None, person=p, org=b, applied_on=applied, now=_tz_at(applied, 9))
        _walk(a, steps, applied, today)
        applicants += 1
    return {"party_branches": len(branches), "meetings": meetings, "behind_on_committee": behind or "",
            "applicants": applicants}
