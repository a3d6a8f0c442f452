"""Organisation-tree benchmark on PostgreSQL (see bench/README.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bihuan_bench_tree .venv/bin/python -m bench.tree_bench

Seeds the city-scale Jining tree into a benchmark database (created if missing; its
tables are emptied first, so the name must contain "bench"), then measures, each
against a baseline taken in the same run:

(a) the first page of a county admin's unit list through ``OrgUnit.objects.restrict``
    and ``cursor_page`` (as ``GET /api/v1/orgs`` does it), p50/p95 over N requests,
    vs the same SELECT sent as raw SQL through psycopg;
(b) moving a township subtree to another county (``services.move_subtree``, one
    transaction, with a code change) vs the same UPDATEs as raw SQL in one transaction;
(c) seeding the city tree (``bihuan.orgs.seed.seed_tree``) vs PostgreSQL COPY of the
    same unit and party-organisation rows into bare tables (no indexes or constraints).

With ``--sqlite`` it also times the tree seed (demo and city) on fresh SQLite files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def machine_info(pg_version: str) -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import django

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "python": platform.python_version(), "django": django.get_version(), "postgresql": pg_version}


def ensure_database(url: str) -> None:
    import psycopg

    u = urlparse(url)
    name = u.path.lstrip("/")
    if u.scheme not in ("postgres", "postgresql"):
        sys.exit("tree_bench needs DATABASE_URL=postgres://…")
    if "bench" not in name:
        sys.exit(f"refusing to use database {name!r}: its tables are emptied; use a name containing 'bench'")
    admin = psycopg.connect(host=u.hostname or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                            password=u.password, dbname="postgres", autocommit=True)
    with admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def raw_connection(url: str):
    import psycopg

    u = urlparse(url)
    # No server-side prepared statements: Django's backend does not use them either.
    return psycopg.connect(host=u.hostname or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                           password=u.password, dbname=u.path.lstrip("/"), prepare_threshold=None)


def empty_tables() -> None:
    from django.db import connection

    from bihuan.accounts.models import User
    from bihuan.core.models import AuditEntry, ChainHead
    from bihuan.orgs.models import OrgUnit

    tables = [m._meta.db_table for m in (OrgUnit, User, AuditEntry, ChainHead)]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        cur.execute("DROP TABLE IF EXISTS bench_bare_orgunit, bench_bare_partyorg")


def bench_seed(seed: int) -> dict:
    from django.db import connection

    from bihuan.accounts import seed as account_seed
    from bihuan.core.context import acting_as
    from bihuan.orgs import seed as org_seed

    out = {}
    t = time.perf_counter()
    plan = org_seed.build_plan("city", seed)
    org_seed.validate_plan(plan)
    out["plan_build_s"] = round(time.perf_counter() - t, 3)

    with acting_as(None, username="bench"):
        empty_tables()
        t = time.perf_counter()
        org_seed.seed_tree("demo", seed, progress=False)
        out["demo_seed_s"] = round(time.perf_counter() - t, 3)
        empty_tables()
        t = time.perf_counter()
        res = org_seed.seed_tree("city", seed, progress=True)
        out["city_seed_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        account_seed.ensure_demo_users()
        out["demo_users_s"] = round(time.perf_counter() - t, 3)
    out["counts"] = res.counts
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return out


def bench_copy(url: str) -> dict:
    """COPY the seeded rows into bare tables: the floor for writing this much data."""
    from bihuan.orgs.models import OrgUnit, PartyOrg

    unit_cols = ["id", "parent_id", "level", "code", "name", "path", "depth", "valid_from", "valid_to", "sort"]
    party_cols = ["id", "unit_id", "parent_id", "kind", "name", "established"]
    units = list(OrgUnit.objects.order_by("id").values_list(*unit_cols))
    parties = list(PartyOrg.objects.order_by("id").values_list(*party_cols))
    with raw_connection(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_orgunit, bench_bare_partyorg")
        conn.execute(f"CREATE TABLE bench_bare_orgunit (LIKE {OrgUnit._meta.db_table})")
        conn.execute(f"CREATE TABLE bench_bare_partyorg (LIKE {PartyOrg._meta.db_table})")
        conn.commit()
        t = time.perf_counter()
        with conn.transaction():
            with conn.cursor() as cur:
                with cur.copy(f"COPY bench_bare_orgunit ({', '.join(unit_cols)}) FROM STDIN") as cp:
                    for row in units:
                        cp.write_row(row)
                with cur.copy(f"COPY bench_bare_partyorg ({', '.join(party_cols)}) FROM STDIN") as cp:
                    for row in parties:
                        cp.write_row(row)
        copy_s = time.perf_counter() - t
        # The same COPY into tables with the real tables' indexes and constraints (no FKs).
        conn.execute("DROP TABLE bench_bare_orgunit, bench_bare_partyorg")
        conn.execute(f"CREATE TABLE bench_bare_orgunit (LIKE {OrgUnit._meta.db_table} INCLUDING ALL)")
        conn.execute(f"CREATE TABLE bench_bare_partyorg (LIKE {PartyOrg._meta.db_table} INCLUDING ALL)")
        conn.commit()
        t = time.perf_counter()
        with conn.transaction():
            with conn.cursor() as cur:
                with cur.copy(f"COPY bench_bare_orgunit ({', '.join(unit_cols)}) FROM STDIN") as cp:
                    for row in units:
                        cp.write_row(row)
                with cur.copy(f"COPY bench_bare_partyorg ({', '.join(party_cols)}) FROM STDIN") as cp:
                    for row in parties:
                        cp.write_row(row)
        copy_indexed_s = time.perf_counter() - t
        conn.execute("DROP TABLE bench_bare_orgunit, bench_bare_partyorg")
        conn.commit()
    return {"copy_s": round(copy_s, 3), "copy_indexed_s": round(copy_indexed_s, 3), "rows": len(units) + len(parties)}


def bench_list(url: str, username: str, requests: int) -> dict:
    from django.db import connection

    from bihuan.accounts.models import User
    from bihuan.core.pagination import cursor_page
    from bihuan.orgs.models import OrgUnit

    user = User.objects.get(username=username)
    path = user.bindings.get().unit.path
    subtree = OrgUnit.objects.filter(path__startswith=path).count()

    def orm_request():
        user.forget_bindings()  # a new request loads the bindings again
        return cursor_page(OrgUnit.objects.restrict(user, "view"), order=["code", "id"], cursor=None, limit=50)

    scoped = OrgUnit.objects.restrict(user, "view")

    def orm_page_only():
        return cursor_page(scoped, order=["code", "id"], cursor=None, limit=50)

    sql = ("SELECT id, parent_id, level, code, name, path, depth, valid_from, valid_to, sort FROM orgs_orgunit "
           "WHERE path LIKE %s ORDER BY code, id LIMIT 51")
    raw = raw_connection(url)
    raw.autocommit = True

    def raw_request():
        with raw.cursor() as cur:
            cur.execute(sql, [path + "%"])
            return cur.fetchall()

    assert [u.pk for u in orm_request().items] == [r[0] for r in raw_request()[:50]]
    fns = {"orm_request": orm_request, "orm_page_only": orm_page_only, "raw_sql": raw_request}
    for fn in fns.values():
        for _ in range(20):
            fn()  # warm-up
    # Interleaved, so background load on the machine hits the ORM and the baseline alike.
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(requests):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t)
    timings = {name: {"p50_ms": _ms(statistics.median(v)), "p95_ms": _ms(_pct(v, 95))}
               for name, v in samples.items()}
    with connection.cursor() as cur:
        qs = scoped.order_by("code", "id")[:51]
        s, params = qs.query.sql_with_params()
        cur.execute("EXPLAIN ANALYZE " + s, params)
        plan = [r[0] for r in cur.fetchall()]
    raw.close()
    return {"user": username, "subtree_units": subtree, "requests": requests, **timings,
            "ratio_p50_orm_request_vs_raw": round(timings["orm_request"]["p50_ms"] / timings["raw_sql"]["p50_ms"], 2),
            "ratio_p50_orm_page_vs_raw": round(timings["orm_page_only"]["p50_ms"] / timings["raw_sql"]["p50_ms"], 2),
            "explain": plan}


def bench_users() -> list[str]:
    """Users bound at the end of the code order (邹城市), where a code-ordered scan is longest."""
    from bihuan.accounts import services
    from bihuan.accounts.models import Role
    from bihuan.accounts.seed import DEMO_PASSWORD
    from bihuan.orgs.models import Level, OrgUnit

    zoucheng = OrgUnit.objects.get(code="370883")
    town = OrgUnit.objects.filter(parent=zoucheng, level=Level.TOWNSHIP).order_by("-code").first()
    village = OrgUnit.objects.filter(parent=town).order_by("-code").first()
    made = []
    for username, unit, role in (("bench_zoucheng_admin", zoucheng, "county_admin"),
                                 ("bench_zoucheng_staff", town, "township_staff"),
                                 ("bench_zoucheng_secretary", village, "village_secretary")):
        services.create_user(None, username=username, password=DEMO_PASSWORD, unit=unit,
                             role=Role.objects.get(code=role), must_change_password=False)
        made.append(username)
    return made


def bench_move(url: str, rounds: int) -> dict:
    from bihuan.accounts.models import User
    from bihuan.core.context import acting_as
    from bihuan.orgs import services
    from bihuan.orgs.models import Level, OrgUnit

    admin = User.objects.get(username="city_admin")
    rencheng = OrgUnit.objects.get(code="370811")
    yanzhou = OrgUnit.objects.get(code="370812")
    # The largest synthetic township of 任城区 (not one the demo users are bound to).
    town = (OrgUnit.objects.filter(parent=rencheng, level=Level.TOWNSHIP).exclude(code="370811008000")
            .order_by("-code").first())
    size = OrgUnit.objects.filter(path__startswith=town.path).count()
    home_code, away_code = town.code, "370812" + "150" + "000"
    assert not OrgUnit.objects.filter(code=away_code).exists()

    service_s = []
    with acting_as(admin):
        for _ in range(rounds):
            for target, code in ((yanzhou, away_code), (rencheng, home_code)):
                t = time.perf_counter()
                services.move_subtree(admin, town, target, new_code=code)
                service_s.append(time.perf_counter() - t)
                town.refresh_from_db()
    assert town.code == home_code and town.parent_id == rencheng.pk

    raw = raw_connection(url)
    raw_s = []
    for _ in range(rounds):
        for target, code in ((yanzhou, away_code), (rencheng, home_code)):
            t = time.perf_counter()
            with raw.transaction(), raw.cursor() as cur:
                cur.execute("SELECT id, code, path, depth FROM orgs_orgunit WHERE id = %s FOR UPDATE", [town.pk])
                _, old_code, old_path, depth = cur.fetchone()
                cur.execute("SELECT path, depth FROM orgs_orgunit WHERE id = %s", [target.pk])
                parent_path, parent_depth = cur.fetchone()
                new_path = f"{parent_path}{town.pk}/"
                cur.execute("UPDATE orgs_orgunit SET code = %s || substr(code, 10) "
                            "WHERE path LIKE %s AND code LIKE %s",
                            [code[:9], old_path + "%", old_code[:9] + "%"])
                cur.execute("UPDATE orgs_orgunit SET path = %s || substr(path, %s), depth = depth + %s "
                            "WHERE path LIKE %s",
                            [new_path, len(old_path) + 1, parent_depth + 1 - depth, old_path + "%"])
                cur.execute("UPDATE orgs_orgunit SET parent_id = %s WHERE id = %s", [target.pk, town.pk])
            raw_s.append(time.perf_counter() - t)
    raw.close()
    town.refresh_from_db()
    assert town.code == home_code and town.parent_id == rencheng.pk
    assert OrgUnit.objects.filter(path__startswith=town.path).count() == size
    return {"township": town.name, "subtree_units": size, "moves": len(service_s),
            "service_p50_ms": _ms(statistics.median(service_s)), "service_max_ms": _ms(max(service_s)),
            "raw_sql_p50_ms": _ms(statistics.median(raw_s)),
            "ratio_p50_service_vs_raw": round(statistics.median(service_s) / statistics.median(raw_s), 2)}


_SQLITE_SEED = """
import json, os, sys, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from bihuan.accounts.seed import ensure_demo_users
from bihuan.core.context import acting_as
from bihuan.orgs.seed import seed_tree
t = time.perf_counter()
with acting_as(None, username="bench"):
    seed_tree(sys.argv[1], int(sys.argv[2]), progress=False)
    tree = time.perf_counter() - t
    ensure_demo_users()
print(json.dumps({"tree_s": round(tree, 3), "tree_and_users_s": round(time.perf_counter() - t, 3)}))
"""


def bench_sqlite(seed: int) -> dict:
    """Time the tree seed (and demo users) for demo and city on fresh SQLite files, in subprocesses.

    Only the organisation tree: ``bihuan seed`` also runs the later apps' seeds (people,
    matters), whose cost is theirs to report.
    """
    out = {}
    for scale in ("demo", "city"):
        with tempfile.TemporaryDirectory() as tmp:
            env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
            env.update(BIHUAN_VAR_DIR=tmp, DJANGO_SETTINGS_MODULE="bihuan.settings")
            res = subprocess.run([sys.executable, "-c", _SQLITE_SEED, scale, str(seed)], env=env, check=True,
                                 cwd=ROOT, capture_output=True, text=True)
            out[scale] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--move-rounds", type=int, default=10, help="there-and-back moves")
    ap.add_argument("--sqlite", action="store_true", help="also time seeding on SQLite")
    ap.add_argument("--json", help="write the results to this file as JSON")
    args = ap.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    ensure_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bihuan.settings")
    os.environ.setdefault("BIHUAN_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]

    results = {"machine": machine_info(pg_version)}
    print("seeding the city tree …", flush=True)
    results["seed"] = bench_seed(args.seed)
    results["copy"] = bench_copy(url)
    results["seed"]["ratio_city_seed_vs_copy"] = round(results["seed"]["city_seed_s"] / results["copy"]["copy_s"], 1)
    results["seed"]["ratio_city_seed_vs_copy_indexed"] = round(
        results["seed"]["city_seed_s"] / results["copy"]["copy_indexed_s"], 1)
    print("listing …", flush=True)
    extra_users = bench_users()
    results["list"] = {u: bench_list(url, u, args.requests)
                       for u in ("rencheng_admin", "liying_staff", *extra_users)}
    print("moving …", flush=True)
    results["move"] = bench_move(url, args.move_rounds)
    if args.sqlite:
        print("SQLite seeds …", flush=True)
        try:
            results["sqlite_seed"] = bench_sqlite(args.seed)
        except subprocess.CalledProcessError as exc:
            results["sqlite_seed"] = {"error": f"{exc.cmd[2:]} failed with exit status {exc.returncode}"}

    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
