"""Synthetic residents and households for the seeded tree, deterministic for a given seed.

Proportions follow the source (seed/FACTS.md) and public figures for Jining: about 2.86
persons per household; party members about 6% of residents; ~1,200 lecturers and ~20,000
reserve talents city-wide (thousands per county); about 1% flagged as vulnerable. Every grid
has a grid worker, and each household is linked to a party member of its grid where the grid
has one (划片定岗联户). 芦庙村 always holds ten vulnerable elderly households, as in the article
(温暖的守护): a 78-year-old man living alone with a chronic illness, and nine more.

Names are synthetic (surname + given name drawn from character lists): no real person's
name from the article is ever used.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count

from bihuan.core import audit, protect
from bihuan.orgs.models import Level, OrgUnit

from . import bulk
from .choices import Education, Gender, GridRole, PartyStatus, Relation
from .models import Household, Person, Vulnerability
from .pinyin import initials
from .validators import build_id_number

# Households per grid: full-size trees get the city's density (2.9M households / ~30,000 grids).
HOUSEHOLDS_PER_GRID = {"demo": (6, 10), "county": (80, 115), "city": (80, 115)}
SIZES = [(1, 0.15), (2, 0.30), (3, 0.25), (4, 0.18), (5, 0.12)]  # mean ≈ 2.82 persons
P_PARTY = 0.06 / 0.82  # of adults (about 82% of residents are 18+), so ~6% of residents
P_RESERVE = 0.0024 * 3  # of residents aged 22–45 (about a third): ~20,000 at city scale
P_LECTURER = 0.000145
P_VOLUNTEER = 0.03
P_VULNERABLE = 0.01
CODE_LUMIAO = "370811008201"

_SURNAMES = list("王李张刘陈杨赵孙周吴徐马朱胡郭何高林郑梁宋韩唐冯于董程曹袁许沈彭吕苏卢蒋蔡贾丁魏叶潘杜"
                 "戴夏田任姜范方石姚谭邹金陆郝孔白崔康毛邱秦史顾侯邵孟段雷钱汤尹常武乔贺颜曾")
_GIVEN = list("文明华建国军平志伟丽敏静秀英娟霞红燕芳玉兰桂凤洪海涛波鹏飞宇浩然子涵梓萱欣怡雨泽晨阳"
              "俊杰嘉琪佳乐思远一诺晓东春梅秋菊冬雪永庆德福学勤立新振兴广庆长青翠云荣")
_SKILLS = ["种植", "养殖", "电商", "财会", "农机", "法律", "教育", "医疗", "建筑", "物流", "文艺", "网格管理"]
_EDU = [Education.JUNIOR, Education.SENIOR, Education.COLLEGE, Education.BACHELOR, Education.BACHELOR,
        Education.POSTGRADUATE]


def _name(rng: random.Random) -> str:
    given = rng.choice(_GIVEN) + (rng.choice(_GIVEN) if rng.random() < 0.75 else "")
    return rng.choice(_SURNAMES) + given


def _born(rng: random.Random, today: date, lo: int, hi: int) -> date:
    return today - timedelta(days=rng.randint(lo * 365 + 1, hi * 365 - 1))


class _Ids:
    """Unique ID numbers: region code + birth date + a per-(region, date) sequence."""

    def __init__(self):
        self.next: dict[tuple[str, date], int] = {}

    def make(self, region: str, born: date, gender: str) -> str:
        key = (region, born)
        n = self.next.get(key, 0)
        # The 3rd sequence digit carries the gender: odd for men.
        seq = n * 2 + (1 if gender == Gender.MALE else 0)
        self.next[key] = n + 1
        return build_id_number(region, born, seq % 1000)


def _person(pid: int, unit: OrgUnit, hid: int, relation: str, name: str, gender: str, born: date,
            ids: _Ids, rng: random.Random, address: str) -> Person:
    number = ids.make(unit.code[:6], born, gender)
    p = Person(id=pid, unit_id=unit.pk, household_id=hid, relation=relation, name=name,
               name_initials=initials(name), gender=gender, birth_date=born, address=address,
               id_number_enc=protect.encrypt(number), id_number_bidx=protect.blind_index(number, "id_number"),
               id_number_masked=protect.mask_id_number(number))
    if rng.random() < 0.6:
        phone = f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}"
        p.phone_enc, p.phone_bidx, p.phone_masked = (protect.encrypt(phone), protect.blind_index(phone, "phone"),
                                                     protect.mask_phone(phone))
    return p


def _address(village: OrgUnit, rng: random.Random, n: int) -> str:
    if village.name.endswith("社区"):
        return f"{village.name}{rng.randint(1, 30)}号楼{rng.randint(1, 4)}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
    return f"{village.name}{n}号"


def _household_people(rng, today, size):
    """(relation, gender, birth date) for one household."""
    head_g = Gender.MALE if rng.random() < 0.8 else Gender.FEMALE
    head_born = _born(rng, today, 25, 85)
    out = [(Relation.HEAD, head_g, head_born)]
    head_age = (today - head_born).days // 365
    if size >= 2:
        out.append((Relation.SPOUSE, Gender.FEMALE if head_g == Gender.MALE else Gender.MALE,
                    _born(rng, today, max(20, head_age - 5), min(90, head_age + 4))))
    for _ in range(size - 2):
        if head_age > 45 and rng.random() < 0.3:
            out.append((Relation.GRANDCHILD, rng.choice([Gender.MALE, Gender.FEMALE]), _born(rng, today, 1, 17)))
        else:
            lo = max(0, head_age - 40)
            out.append((Relation.CHILD, rng.choice([Gender.MALE, Gender.FEMALE]),
                        _born(rng, today, lo, max(lo + 2, head_age - 20))))
    return out


def _size(rng) -> int:
    r, acc = rng.random(), 0.0
    for n, p in SIZES:
        acc += p
        if r < acc:
            return n
    return SIZES[-1][0]


def _roles(p: Person, rng, today, vuls: list, grid_has_worker: bool):
    age = (today - p.birth_date).days // 365
    if age >= 18 and rng.random() < P_PARTY:
        p.party_status = PartyStatus.PROBATIONARY if rng.random() < 0.05 else PartyStatus.FORMAL
        p.party_joined = _born(rng, today, 0, max(1, age - 18))
    elif 18 <= age < 40 and rng.random() < 0.002:
        p.party_status = rng.choice([PartyStatus.APPLICANT, PartyStatus.TARGET])
    if 22 <= age <= 45 and rng.random() < P_RESERVE:
        p.is_reserve, p.education, p.skills = True, rng.choice(_EDU), rng.choice(_SKILLS)
    if 16 <= age <= 70 and rng.random() < P_VOLUNTEER:
        p.is_volunteer = True
    if 25 <= age <= 75 and rng.random() < P_LECTURER:
        p.is_lecturer = True
    if not grid_has_worker and 25 <= age <= 60:
        p.grid_role = GridRole.GRID_WORKER
    if rng.random() < P_VULNERABLE:
        if age >= 65:
            flags = {"elderly": True, "living_alone": rng.random() < 0.4, "chronic_illness": rng.random() < 0.5}
        elif age < 16:
            flags = {"left_behind_child": True}
        else:
            flags = {rng.choice(["hardship", "disability", "chronic_illness"]): True}
        vuls.append(Vulnerability(person_id=p.id, **flags))


def _lumiao(rng, today, village: OrgUnit, grid: OrgUnit, ids: _Ids, pid, hid):
    """Ten vulnerable elderly households in 芦庙村 (synthetic names)."""
    households, persons, vuls = [], [], []
    for i in range(10):
        h = next(hid)
        age = 78 if i == 0 else rng.randint(70, 88)
        gender = Gender.MALE if i == 0 or rng.random() < 0.5 else Gender.FEMALE
        born = today - timedelta(days=age * 365 + rng.randint(30, 300))
        p = _person(next(pid), grid, h, Relation.HEAD, _name(rng), gender, born, ids, rng, f"芦庙村{i + 1}号")
        households.append(Household(id=h, code=f"{grid.code}-9{i:03d}", unit_id=grid.pk, address=p.address,
                                    head_id=p.id))
        persons.append(p)
        flags = {"elderly": True, "living_alone": True, "chronic_illness": True} if i == 0 else {
            "elderly": True, ("living_alone" if i % 2 else "hardship"): True}
        vuls.append(Vulnerability(person_id=p.id, surveyed_on=today - timedelta(days=30), **flags))
    return households, persons, vuls


@transaction.atomic
def seed_people(scale: str = "demo", seed: int = 2022, *, progress: bool = True, today: date | None = None,
                grid_batch: int = 200) -> dict:
    """Households and residents for every grid of the tree. One transaction, one audit entry."""
    from tqdm import tqdm

    started = time.perf_counter()
    today = today or date(2022, 11, 15)  # the date of the source; ages stay stable between runs
    if Person.objects.exists():
        return {"skipped": True, **people_counts()}
    rng = random.Random(seed * 7 + 3)
    ids = _Ids()
    lo, hi = HOUSEHOLDS_PER_GRID.get(scale, HOUSEHOLDS_PER_GRID["demo"])
    grids = list(OrgUnit.objects.filter(level=Level.GRID, valid_to__isnull=True).select_related("parent")
                 .order_by("code"))
    totals = {"households": 0, "persons": 0}
    bar = tqdm(total=len(grids), desc="people", unit=" grids", disable=None if progress else True, leave=False)
    for start in range(0, len(grids), grid_batch):
        chunk = grids[start:start + grid_batch]
        plan = [(g, rng.randint(lo, hi)) for g in chunk]
        n_h = sum(n for _, n in plan) + (10 if any(g.parent.code == CODE_LUMIAO for g in chunk) else 0)
        hid = iter(bulk.take_ids(Household, n_h))
        sizes = [[_size(rng) for _ in range(n)] for _, n in plan]
        pid = iter(bulk.take_ids(Person, sum(map(sum, sizes)) + 10))
        households, persons, vuls = [], [], []
        for (grid, _n), grid_sizes in zip(plan, sizes, strict=True):
            village = grid.parent
            grid_members: list[tuple[Household, Person]] = []
            has_worker = False
            if village.code == CODE_LUMIAO and grid.code.endswith("001"):
                hh, pp, vv = _lumiao(rng, today, village, grid, ids, pid, hid)
                households += hh
                persons += pp
                vuls += vv
                grid_members += list(zip(hh, pp, strict=True))
            for i, size in enumerate(grid_sizes, start=1):
                h = Household(id=next(hid), code=f"{grid.code}-{i:04d}", unit_id=grid.pk,
                              address=_address(village, rng, int(grid.code[-3:]) * 1000 + i))
                surname = rng.choice(_SURNAMES)
                for relation, gender, born in _household_people(rng, today, size):
                    name = _name(rng)
                    if relation in (Relation.CHILD, Relation.GRANDCHILD):
                        name = surname + name[1:]
                    elif relation == Relation.HEAD:
                        name = surname + name[1:]
                    p = _person(next(pid), grid, h.id, relation, name, gender, born, ids, rng, h.address)
                    _roles(p, rng, today, vuls, has_worker)
                    has_worker = has_worker or p.grid_role == GridRole.GRID_WORKER
                    if relation == Relation.HEAD:
                        h.head_id = p.id
                    persons.append(p)
                    grid_members.append((h, p))
                households.append(h)
            # 划片定岗联户: the grid's party members share its households between them.
            members = [p for _h, p in grid_members if p.party_status in (PartyStatus.FORMAL, PartyStatus.PROBATIONARY)]
            if members:
                seen = set()
                for k, (h, _p) in enumerate(grid_members):
                    if h.id not in seen:
                        seen.add(h.id)
                        h.carer_id = members[k % len(members)].id
        bulk.insert(Household, households)
        bulk.insert(Person, persons)
        bulk.insert(Vulnerability, vuls)
        totals["households"] += len(households)
        totals["persons"] += len(persons)
        bar.update(len(chunk))
    bar.close()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE people_person; ANALYZE people_household; ANALYZE people_vulnerability")
    counts = people_counts()
    root = OrgUnit.objects.filter(parent__isnull=True).first()
    audit.record("seed.people", object_type="people.person", unit=root,
                 after={"scale": scale, "seed": seed, "counts": counts,
                        "seconds": round(time.perf_counter() - started, 1)})
    return counts


def people_counts() -> dict:
    """Counted by the database."""
    agg = Person.objects.aggregate(
        persons=Count("id"), party_members=Count("id", filter=_q(party_status__in=["formal", "probationary"])),
        reserve=Count("id", filter=_q(is_reserve=True)), lecturers=Count("id", filter=_q(is_lecturer=True)),
        volunteers=Count("id", filter=_q(is_volunteer=True)))
    agg["households"] = Household.objects.count()
    agg["vulnerable"] = Vulnerability.objects.count()
    return agg


def _q(**kw):
    from django.db.models import Q

    return Q(**kw)


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The residents' step of ``bihuan seed`` (skipped when people already exist)."""
    return seed_people(scale, seed, progress=progress)
