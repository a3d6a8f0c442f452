"""The demo organisation tree of Jining (济宁市), deterministic for a given seed.

Real places come from the source document (``seed/FACTS.md``): the city, its 11
county-level units with their GB/T 2260 codes, and the streets and villages the
paper names (仙营街道, 李营街道 → 芦庙村, 酒仙桥街道 → 邓家窑社区, 龙桥街道 → 薛庙社区).
Everything else gets a plausible synthetic name and a code that passes
``services.validate_code``.

Codes follow the statistical division code conventions:

* township ``county6 + NNN + 000``: 街道 001–099, 镇 101–199, 乡 201–299;
* village ``township9 + NNN``: 社区 (居委会) 001–199, 村 (村委会) 201–399;
* grid ``village12 + NNN``, numbered 001 upwards.

``build_plan`` is pure Python (``random.Random(seed)`` only, no dict/set iteration,
no clock), so the same seed gives the same codes, names and structure.
``seed_tree`` writes the plan level by level with ``bulk_create`` and sets the
materialized ``path``/``depth`` of each level with one UPDATE, in one transaction,
with one audit entry for the whole run.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace

from django.db import transaction
from django.db.models import CharField, Count, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

from bihuan.core import audit
from bihuan.core.errors import ServiceError

from . import services
from .models import Level, OrgUnit, PartyOrg, PartyOrgKind

DEFAULT_SEED = 2022
SCALES = ("demo", "county", "city")
VALID_FROM = date(2022, 1, 1)

CITY = ("370800", "济宁市")

# code, name, kind of county-level unit (区 district, 县 county, 市 county-level city),
# and how many townships and streets the full-size tree gives it (about 150 in all).
COUNTIES = [
    ("370811", "任城区", "district", 15),
    ("370812", "兖州区", "district", 10),
    ("370826", "微山县", "county", 15),
    ("370827", "鱼台县", "county", 11),
    ("370828", "金乡县", "county", 13),
    ("370829", "嘉祥县", "county", 15),
    ("370830", "汶上县", "county", 14),
    ("370831", "泗水县", "county", 13),
    ("370832", "梁山县", "county", 14),
    ("370881", "曲阜市", "city", 12),
    ("370883", "邹城市", "city", 16),
]

# Real streets and villages named in the source. Codes are plausible, not official.
REAL_TOWNSHIPS = {
    "370811": [("370811003000", "仙营街道", []),
               ("370811008000", "李营街道", [("370811008201", "芦庙村")])],
    "370812": [("370812001000", "酒仙桥街道", [("370812001001", "邓家窑社区")]),
               ("370812002000", "龙桥街道", [("370812002003", "薛庙社区")])],
}

# Units the demo users are bound to (see accounts.seed).
CODE_CITY = "370800"
CODE_RENCHENG = "370811"
CODE_YANZHOU = "370812"
CODE_LIYING = "370811008000"
CODE_LUMIAO = "370811008201"
CODE_LUMIAO_GRID = "370811008201001"

# (townships per county, villages per township, grids per village) as inclusive ranges.
DEMO_SIZE = ((2, 4), (3, 6), (2, 4))
FULL_VILLAGES = (28, 52)
FULL_GRIDS = (3, 7)

# --- synthetic names -----------------------------------------------------------------
_TOWN_FIRST = list("安长南北东西新兴柳石马金太平高林杨龙凤唐汉泉双三梁白黄青云清仁义文武康宁丰泰和福"
                   "永昌万寿古圣孔颜孟阳湖河桥沙")
_TOWN_SECOND = list("口集店庄桥河湖山城阳营屯坊园泉林岭楼沟堤寺丰安平兴源湾台铺洼里")
_SURNAMES = list("王李张刘陈杨赵孙周吴徐马朱胡郭何高林郑梁宋韩唐冯于董程曹袁许沈彭吕苏卢蒋蔡贾丁"
                 "魏叶阎潘杜戴夏田任姜范方石姚谭邹金陆郝孔白崔康毛邱秦史顾侯邵孟段雷钱汤尹常武乔贺")
_VILLAGE_SUFFIX = ["庄", "楼", "集", "屯", "营", "店", "洼", "桥", "寨", "堂", "口", "坊", "园", "庙",
                   "官庄", "家庄", "家村", "家楼", "家洼", "家店", "家集", "家营", "家湾", "家寨"]
_DIRECTIONS = list("东西南北前后大小上中下")
_COMMUNITY_CHARS = list("和平安康福兴华盛锦绣翠苑景新春丽阳光明泉溪湖馨嘉怡悦祥瑞花桂荷松柏竹梅兰"
                        "金玉龙凤文德仁礼建民润泽")
_CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (1–99)."""
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def grid_name(village_name: str, n: int) -> str:
    return f"{village_name}第{cn_number(n)}网格" if n < 100 else f"{village_name}第{n}网格"


def _unique(rng: random.Random, make, taken: set[str]) -> str:
    for _ in range(200):
        name = make(rng)
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("could not find a free synthetic name")  # pragma: no cover


def _town_base(rng: random.Random) -> str:
    a = rng.choice(_TOWN_FIRST)
    b = rng.choice(_TOWN_SECOND)
    return a + b if a != b else a + "家" + b


def _village_name(rng: random.Random) -> str:
    roll = rng.random()
    surname, suffix = rng.choice(_SURNAMES), rng.choice(_VILLAGE_SUFFIX)
    if roll < 0.35:
        base = f"{rng.choice(_DIRECTIONS)}{surname}{suffix}"
    elif roll < 0.45:
        base = f"{surname}{rng.choice(_SURNAMES)}{suffix}"
    else:
        base = f"{surname}{suffix}"
    return base if base.endswith("村") else base + "村"


def _community_name(rng: random.Random) -> str:
    a, b = rng.sample(_COMMUNITY_CHARS, 2)
    if rng.random() < 0.2:
        return f"{rng.choice(_SURNAMES)}{rng.choice(['家', '庄', '营', '楼'])}社区"
    return f"{a}{b}社区"


# --- the plan ------------------------------------------------------------------------
@dataclass
class UnitSpec:
    code: str
    name: str
    level: int
    parent_code: str | None
    sort: int = 0
    kind: str = ""  # 街道/镇/乡, 社区/村: drives party organisation names
    children: list[UnitSpec] = field(default_factory=list)


@dataclass
class Plan:
    scale: str
    seed: int
    root: UnitSpec

    def by_level(self) -> dict[int, list[UnitSpec]]:
        """Units per level, parents before children, siblings in code order."""
        out: dict[int, list[UnitSpec]] = {lvl: [] for lvl in Level.values}
        stack = [self.root]
        while stack:
            spec = stack.pop()
            out[spec.level].append(spec)
            stack.extend(reversed(spec.children))
        for lvl in out:
            out[lvl].sort(key=lambda s: s.code)
        return out


def _township_kinds(rng: random.Random, county_kind: str, n: int) -> list[str]:
    street_share = {"district": 0.6, "city": 0.35, "county": 0.15}[county_kind]
    kinds = []
    for _ in range(n):
        r = rng.random()
        if r < street_share:
            kinds.append("街道")
        elif county_kind == "county" and r > 0.9:
            kinds.append("乡")
        else:
            kinds.append("镇")
    return kinds


_KIND_BASE = {"街道": 1, "镇": 101, "乡": 201, "社区": 1, "村": 201}


def _next_number(kind: str, used: set[int]) -> int:
    n = _KIND_BASE[kind]
    while n in used:
        n += 1
    if n >= _KIND_BASE[kind] + (99 if kind in ("街道", "镇", "乡") else 199):
        raise RuntimeError(f"too many {kind} units under one parent")  # pragma: no cover
    used.add(n)
    return n


def _villages(rng: random.Random, township: UnitSpec, n: int, fixed: list, names_taken: set[str]) -> None:
    used = {int(code[9:12]) for code, _ in fixed}
    specs = [UnitSpec(code, name, Level.VILLAGE, township.code, kind="社区" if name.endswith("社区") else "村")
             for code, name in fixed]
    names_taken.update(name for _, name in fixed)
    community_share = {"街道": 0.7, "镇": 0.08, "乡": 0.03}[township.kind]
    for _ in range(max(0, n - len(fixed))):
        kind = "社区" if rng.random() < community_share else "村"
        maker = _community_name if kind == "社区" else _village_name
        name = _unique(rng, maker, names_taken)
        code = f"{township.code[:9]}{_next_number(kind, used):03d}"
        specs.append(UnitSpec(code, name, Level.VILLAGE, township.code, kind=kind))
    specs.sort(key=lambda s: s.code)
    for i, s in enumerate(specs):
        s.sort = i
    township.children = specs


def build_plan(scale: str = "demo", seed: int = DEFAULT_SEED) -> Plan:
    """The whole tree as specs. Same (scale, seed) → same plan, on any machine."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    rng = random.Random(seed)
    root = UnitSpec(CITY[0], CITY[1], Level.CITY, None)
    town_names_taken: set[str] = set()
    for _, townships in sorted(REAL_TOWNSHIPS.items()):
        town_names_taken.update(name.removesuffix("街道") for _, name, _ in townships)
    for ci, (ccode, cname, ckind, full_townships) in enumerate(COUNTIES):
        county = UnitSpec(ccode, cname, Level.COUNTY, root.code, sort=ci, kind=ckind)
        root.children.append(county)
        full = scale == "city" or (scale == "county" and ccode == CODE_RENCHENG)
        fixed = REAL_TOWNSHIPS.get(ccode, [])
        n_town = full_townships if full else rng.randint(*DEMO_SIZE[0])
        n_town = max(n_town, len(fixed))
        used = {int(code[6:9]) for code, _, _ in fixed}
        towns = [(UnitSpec(code, name, Level.TOWNSHIP, ccode, kind="街道"), villages)
                 for code, name, villages in fixed]
        for kind in _township_kinds(rng, ckind, n_town - len(fixed)):
            base = _unique(rng, _town_base, town_names_taken)
            code = f"{ccode}{_next_number(kind, used):03d}000"
            towns.append((UnitSpec(code, base + kind, Level.TOWNSHIP, ccode, kind=kind), []))
        towns.sort(key=lambda t: t[0].code)
        for ti, (town, fixed_villages) in enumerate(towns):
            town.sort = ti
            county.children.append(town)
            n_vil = rng.randint(*(FULL_VILLAGES if full else DEMO_SIZE[1]))
            _villages(rng, town, max(n_vil, len(fixed_villages)), fixed_villages, set())
            for village in town.children:
                n_grid = rng.randint(*(FULL_GRIDS if full else DEMO_SIZE[2]))
                village.children = [
                    UnitSpec(f"{village.code}{g:03d}", grid_name(village.name, g), Level.GRID, village.code,
                             sort=g - 1, kind="网格")
                    for g in range(1, n_grid + 1)]
    return Plan(scale, seed, root)


def validate_plan(plan: Plan) -> None:
    """Every code valid for its level and parent (``services.validate_code``), and unique."""
    seen: set[str] = set()
    for level, specs in plan.by_level().items():
        for s in specs:
            parent = SimpleNamespace(code=s.parent_code) if s.parent_code else None
            errors = services.validate_code(s.code, level, parent)
            if errors or s.code in seen:
                raise ValueError(f"bad seed code {s.code} ({s.name}): {errors or 'duplicate'}")
            seen.add(s.code)


# --- writing it ------------------------------------------------------------------------
@dataclass
class SeedResult:
    root: OrgUnit
    created: bool
    counts: dict[str, int]
    seconds: float = 0.0


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=" rows", disable=None if enabled else True, leave=False)


def _assign_level_paths(level: int) -> None:
    """One UPDATE: path = parent.path || id || '/' for the new rows of ``level``."""
    parent_path = Subquery(OrgUnit.objects.filter(pk=OuterRef("parent_id")).values("path")[:1])
    OrgUnit.objects.filter(level=level, path="").update(
        path=Concat(parent_path, Cast("id", output_field=CharField()), Value("/"), output_field=CharField()),
        depth=level - 1)


def _party_name(unit: UnitSpec) -> tuple[str, str]:
    if unit.level in (Level.CITY, Level.COUNTY):
        return PartyOrgKind.COMMITTEE, f"中共{unit.name}委员会"
    if unit.level == Level.TOWNSHIP:
        if unit.kind == "街道":
            return PartyOrgKind.COMMITTEE, f"中共{unit.name}工作委员会"
        return PartyOrgKind.COMMITTEE, f"中共{unit.name}委员会"
    if unit.kind == "社区" or len(unit.children) >= 7:
        return PartyOrgKind.GENERAL_BRANCH, f"中共{unit.name}总支部委员会"
    return PartyOrgKind.BRANCH, f"中共{unit.name}支部委员会"


def existing_root() -> OrgUnit | None:
    return OrgUnit.objects.filter(parent__isnull=True).order_by("id").first()


def tree_counts() -> dict[str, int]:
    """Units per level and party organisations per kind, counted by the database."""
    by_level = {row["level"]: row["n"] for row in OrgUnit.objects.values("level").annotate(n=Count("id"))}
    by_kind = {row["kind"]: row["n"] for row in PartyOrg.objects.values("kind").annotate(n=Count("id"))}
    counts = {Level(lvl).name.lower(): by_level.get(lvl, 0) for lvl in Level.values}
    counts.update({f"party_{k}": by_kind.get(k, 0) for k in PartyOrgKind.values})
    return counts


BATCH = 2000


@transaction.atomic
def seed_tree(scale: str = "demo", seed: int = DEFAULT_SEED, *, progress: bool = True) -> SeedResult:
    """Write the plan for (scale, seed) into an empty tree. One transaction, one audit entry."""
    started = time.perf_counter()
    if existing_root() is not None:
        raise ServiceError("The organisation tree already has a root unit; seed into an empty tree.")
    plan = build_plan(scale, seed)
    validate_plan(plan)
    levels = plan.by_level()
    total = sum(len(v) for v in levels.values())
    counts: Counter[str] = Counter()
    ids: dict[str, int] = {}
    party_ids: dict[str, int] = {}  # unit code → its party organisation id

    root = services.create_unit(None, parent=None, level=Level.CITY, code=plan.root.code, name=plan.root.name,
                                valid_from=VALID_FROM, audit_entry=False)
    ids[root.code] = root.pk
    counts["city"] = 1
    with _progress(total, "units", progress) as bar:
        bar.update(1)
        for level in (Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE, Level.GRID):
            specs = levels[level]
            for i in range(0, len(specs), BATCH):
                chunk = specs[i:i + BATCH]
                objs = OrgUnit.objects.bulk_create(
                    [OrgUnit(parent_id=ids[s.parent_code], level=level, code=s.code, name=s.name,
                             valid_from=VALID_FROM, sort=s.sort, path="", depth=level - 1) for s in chunk])
                for s, obj in zip(chunk, objs, strict=True):
                    ids[s.code] = obj.pk
                bar.update(len(chunk))
            _assign_level_paths(level)
            counts[Level(level).name.lower()] = len(specs)

    # Party organisations: 党委 at city, county, township; 党总支/党支部 at villages.
    party_specs = [s for lvl in (Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE) for s in levels[lvl]]
    with _progress(len(party_specs), "party organisations", progress) as bar:
        for level in (Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE):
            specs = levels[level]
            for i in range(0, len(specs), BATCH):
                chunk = specs[i:i + BATCH]
                objs = []
                for s in chunk:
                    kind, name = _party_name(s)
                    objs.append(PartyOrg(unit_id=ids[s.code], kind=kind, name=name,
                                         parent_id=party_ids.get(s.parent_code) if s.parent_code else None))
                    counts[f"party_{kind}"] += 1
                for s, obj in zip(chunk, PartyOrg.objects.bulk_create(objs), strict=True):
                    party_ids[s.code] = obj.pk
                bar.update(len(chunk))

    root.refresh_from_db()
    seconds = time.perf_counter() - started
    result_counts = {k: counts.get(k, 0) for k in ("city", "county", "township", "village", "grid")}
    result_counts.update({f"party_{k}": counts.get(f"party_{k}", 0) for k in PartyOrgKind.values})
    audit.record("seed", object_type="orgs.orgunit", object_id=root.pk, unit=root,
                 after={"scale": scale, "seed": seed, "counts": result_counts})
    return SeedResult(root=root, created=True, counts=result_counts, seconds=seconds)


# Near 芦庙村 (任城区), where the demo's grid worker works: the centre of its first grid.
LUMIAO_GRID_CENTRE = (35.40650, 116.60520)


def set_demo_centres(seed: int = DEFAULT_SEED) -> int:
    """Give every grid a centre point (made up, deterministic): grids of a village lie within a
    few hundred metres of each other, villages spread over the city around Jining. The report
    form's "use my location" suggests the nearest of them (loop.geo)."""
    rng = random.Random(seed)
    grids = list(OrgUnit.objects.filter(level=Level.GRID, valid_to__isnull=True).order_by("path"))
    village_centre: dict[int, tuple[float, float]] = {}
    for g in grids:
        if g.parent_id not in village_centre:
            village_centre[g.parent_id] = (35.20 + rng.random() * 0.55, 116.30 + rng.random() * 0.70)
        if g.code == CODE_LUMIAO_GRID:
            g.centre_lat, g.centre_lon = LUMIAO_GRID_CENTRE
            continue
        lat, lon = village_centre[g.parent_id]
        g.centre_lat, g.centre_lon = round(lat + rng.uniform(-0.004, 0.004), 6), round(lon + rng.uniform(-0.004, 0.004), 6)
    lumiao = [g for g in grids if g.code.startswith(CODE_LUMIAO) and g.code != CODE_LUMIAO_GRID]
    for i, g in enumerate(lumiao, start=1):  # the other 芦庙村 grids: a few hundred metres east
        g.centre_lat, g.centre_lon = LUMIAO_GRID_CENTRE[0] + 0.0015 * i, LUMIAO_GRID_CENTRE[1] + 0.0030 * i
    OrgUnit.objects.bulk_update(grids, ["centre_lat", "centre_lon"], batch_size=BATCH)
    return len(grids)


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The tree's step of ``bihuan seed``: build it, or reuse an existing one when asked."""
    root = existing_root()
    if root is not None:
        if not reuse:
            raise ServiceError(f"The organisation tree already has a root unit ({root.name} {root.code}). "
                               "Use --if-empty to reuse it, or seed into an empty database.")
        return {"reused": f"{root.name} ({root.code})", **tree_counts()}
    seed_tree(scale, seed, progress=progress)
    if scale == "demo":
        set_demo_centres(seed)
    return tree_counts()
