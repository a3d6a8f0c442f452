"""People benchmark on PostgreSQL: import throughput vs COPY, search/list p95 vs raw SQL.

    .venv/bin/python bench/people_bench.py import --rows 1000000 [--format xlsx]
    .venv/bin/python bench/people_bench.py search --scale county --requests 200

Each run creates its own database (``bihuan_people_bench_<what>``), migrates it and seeds
the tree, and reports figures as ratios to a baseline measured in the same run:

* import: ``bihuan.core.tabular.run_import("people", CSV or XLSX)`` (validation, ID checksums,
  duplicate checks, encryption, blind index, pinyin, COPY) vs ``COPY`` of the same rows (CSV)
  into a bare table of text columns, and vs ``COPY`` of the rows the import wrote into an
  empty table with people_person's indexes (the floor for any importer into this schema);
* search: the product's selector + keyset page (ORM, scope filter, masking columns) vs the
  equivalent hand-written SQL, each query shape 200 times, p50/p95.

Keep the database with ``--keep`` to look at plans afterwards.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG.replace("postgres://", "postgresql://") + "/postgres", autocommit=True) as c:
        c.execute(sql)


def _exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(PG.replace("postgres://", "postgresql://") + "/postgres", autocommit=True) as c:
        return c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def prepare(name: str, scale: str, keep_existing: bool, template: bool = False) -> dict:
    env = {**os.environ, "DATABASE_URL": f"{PG}/{name}", "BIHUAN_VAR_DIR": str(ROOT / "var" / "bench")}
    seeded = f"{name}_seeded"  # --template: the migrated, seeded database kept for the next run
    if not keep_existing and template and _exists(seeded):
        _admin(f'DROP DATABASE IF EXISTS "{name}"')
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{seeded}"')
    elif not keep_existing:
        _admin(f'DROP DATABASE IF EXISTS "{name}"')  # only the bench's own database
        _admin(f'CREATE DATABASE "{name}"')
        cli = [sys.executable, "-m", "bihuan.cli"]
        subprocess.run([*cli, "migrate", "-v0"], env=env, check=True)
        t = time.perf_counter()
        # the search bench reads persons only: the loop's millions of matters are left out
        subprocess.run([*cli, "seed", "--scale", scale, "--no-users", "--skip", "loop", "-v0"], env=env, check=True)
        print(f"seeded {scale} in {time.perf_counter() - t:.0f} s", flush=True)
        if template:
            _admin(f'CREATE DATABASE "{seeded}" TEMPLATE "{name}"')
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bihuan.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return env


HEADERS = ["姓名", "身份证号", "联系电话", "住址", "所属单位代码", "户编号", "与户主关系", "政治面貌", "独居"]


def bare_copy_seconds(connection, csv_path: Path) -> float:
    """The issue's yardstick: seconds to COPY the CSV into a bare table of text columns
    (``bench_people_copy``, left in place for the caller to compare or drop)."""
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_people_copy")
        cur.execute("CREATE TABLE bench_people_copy (" + ", ".join(f"c{i} text" for i in range(len(HEADERS))) + ")")
    t = time.perf_counter()
    with connection.cursor() as cur, open(csv_path, "rb") as fh:
        with cur.cursor.copy("COPY bench_people_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
    return time.perf_counter() - t


def write_csv(path: Path, n: int, grids: list[str]) -> None:
    from bihuan.people.validators import build_id_number

    names = ["张晓明", "王芳", "李军", "刘秀英", "陈建国", "杨丽", "赵文", "黄海涛"]
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        for i in range(n):
            born = date(1930, 1, 1) + timedelta(days=(i // 500) % 30000)
            # Region 370899 is not used by the seed, so no row is a duplicate of a seeded person.
            number = build_id_number(f"3708{99 - (i // 15_000_000):02d}", born, (i % 500) + (i // 15_000_000))
            grid = grids[(i // 300) % len(grids)]
            w.writerow([names[i % 8], number, f"13{i % 10}{i:08d}"[-11:], f"某村{i}号", grid, f"B{i // 3}",
                        "户主" if i % 3 == 0 else "子女", "中共党员" if i % 16 == 0 else "群众",
                        "是" if i % 100 == 0 else "否"])


def write_xlsx(csv_path: Path, path: Path) -> None:
    """The same rows as the CSV, as an XLSX a village would send (all cells text)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员")
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        for r in csv.reader(fh):
            ws.append(r)
    wb.save(path)


def bench_import(rows: int, keep: bool, fmt: str, db: str, template: bool = False) -> None:
    prepare(db, "demo", keep_existing=False, template=template)
    from django.db import connection

    from bihuan.core import tabular as tb
    from bihuan.orgs.models import Level, OrgUnit

    grids = list(OrgUnit.objects.filter(level=Level.GRID).values_list("code", flat=True)[:200])
    path = ROOT / "var" / "bench" / f"people-{rows}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["BIHUAN_MAX_IMPORT_BYTES"] = str(10 * 1024 ** 3)
    from django.conf import settings

    settings.BIHUAN_MAX_IMPORT_BYTES = 10 * 1024 ** 3
    settings.BIHUAN_MAX_IMPORT_ROWS = rows + 1
    t = time.perf_counter()
    write_csv(path, rows, grids)
    print(f"wrote {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s", flush=True)
    source = path
    if fmt == "xlsx":
        source = path.with_suffix(".xlsx")
        t = time.perf_counter()
        write_xlsx(path, source)
        print(f"wrote the same rows as XLSX ({source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s",
              flush=True)

    # Baseline: COPY of the same rows (the CSV) into a bare table.
    copy_s = bare_copy_seconds(connection, path)

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM people_person")
        before = cur.fetchone()[0]
    t, cpu = time.perf_counter(), time.process_time()
    result = tb.run_import("people", tb.open_source(source))
    import_s, import_cpu = time.perf_counter() - t, time.process_time() - cpu
    assert result.applied and result.created == rows, (result.file_error, result.errors[:3])

    # Second baseline, the floor for any importer into this schema: COPY of the very rows the
    # import wrote (encrypted, indexed) into an empty table with people_person's indexes.
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_people_like")
        cur.execute("CREATE TABLE bench_people_like (LIKE people_person INCLUDING ALL)")
        encoded = path.with_suffix(".encoded.copy")
        with open(encoded, "wb") as fh, cur.cursor.copy(
                f"COPY (SELECT * FROM people_person WHERE id > {int(before)}) TO STDOUT") as cp:
            for chunk in cp:
                fh.write(chunk)
        t = time.perf_counter()
        with open(encoded, "rb") as fh, cur.cursor.copy("COPY bench_people_like FROM STDIN") as cp:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        floor_s = time.perf_counter() - t
        cur.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'people_person'")
        n_indexes = cur.fetchone()[0]
        encoded.unlink()
    load = os.getloadavg()[0]
    print(f"\nIMPORT {rows:,} rows from {fmt.upper()} (PostgreSQL; load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"  COPY into a bare table           : {copy_s:8.1f} s  {rows / copy_s:10,.0f} rows/s")
    print(f"  COPY of the imported rows into a : {floor_s:8.1f} s  {rows / floor_s:10,.0f} rows/s"
          f"  (table like people_person, {n_indexes} indexes)")
    print(f"  bihuan import people             : {import_s:8.1f} s  {rows / import_s:10,.0f} rows/s"
          f"  (Python CPU {import_cpu:.0f} s)")
    print(f"  ratio import/COPY                : {import_s / copy_s:8.1f}x")
    print(f"  ratio import/COPY with indexes   : {import_s / floor_s:8.1f}x", flush=True)
    if not keep:
        connection.close()
        _admin(f'DROP DATABASE IF EXISTS "{db}"')


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def bench_search(scale: str, requests: int, keep: bool, reuse: bool) -> None:
    prepare(f"bihuan_people_bench_{scale}", scale, keep_existing=reuse)
    from django.db import connection

    from bihuan.accounts.models import Role
    from bihuan.accounts.services import create_user
    from bihuan.core import protect
    from bihuan.core.pagination import cursor_page
    from bihuan.orgs.models import Level, OrgUnit
    from bihuan.people import selectors
    from bihuan.people.models import Person
    from bihuan.people.services import id_number_bidx, phone_bidx

    n = Person.objects.count()
    county = OrgUnit.objects.get(code="370811")
    township = OrgUnit.objects.filter(level=Level.TOWNSHIP, path__startswith=county.path).order_by("code")[3]
    # The township seeded last: its persons sit at the end of the id order (the worst case for
    # any list that walked ids).
    last_town = OrgUnit.objects.filter(level=Level.TOWNSHIP).order_by("-id")[0]

    def user(name, unit, role):
        from bihuan.accounts.models import User

        u = User.objects.filter(username=name).first()
        return u or create_user(None, username=name, password="Bench-Pass-2026!", unit=unit,
                                role=Role.objects.get(code=role), must_change_password=False)

    city_u = user("bench_city", OrgUnit.objects.get(parent__isnull=True), "city_admin")
    town_u = user("bench_town", township, "township_staff")
    last_u = user("bench_town_last", last_town, "township_staff")
    sample = Person.objects.filter(unit__path__startswith=township.path).exclude(phone_enc="").order_by("id")[100]
    number, phone = protect.decrypt(sample.id_number_enc), protect.decrypt(sample.phone_enc)
    ini = sample.name_initials
    raw_cols = "p.id, p.name, p.gender, p.birth_date, p.id_number_masked, p.phone_masked, u.code, u.name"
    raw_from = "FROM people_person p JOIN orgs_orgunit u ON u.id = p.unit_id"
    cases = [
        # Lists are ordered grid by grid, (unit_id, id), as the pages and the API order them.
        ("list, city admin, page 1", lambda: cursor_page(selectors.persons(city_u).select_related("unit"),
                                                          order=["unit_id", "id"], cursor=None, limit=50),
         f"SELECT {raw_cols} {raw_from} ORDER BY p.unit_id, p.id LIMIT 51", []),
        ("list, township staff", lambda: cursor_page(selectors.persons(town_u).select_related("unit"),
                                                     order=["unit_id", "id"], cursor=None, limit=50),
         f"SELECT {raw_cols} {raw_from} WHERE u.path LIKE %s ORDER BY p.unit_id, p.id LIMIT 51",
         [township.path + "%"]),
        ("list, last-seeded township", lambda: cursor_page(selectors.persons(last_u).select_related("unit"),
                                                           order=["unit_id", "id"], cursor=None, limit=50),
         f"SELECT {raw_cols} {raw_from} WHERE u.path LIKE %s ORDER BY p.unit_id, p.id LIMIT 51",
         [last_town.path + "%"]),
        ("pinyin initials, township", lambda: cursor_page(selectors.persons(town_u, selectors.PersonFilter(q=ini))
                                                         .select_related("unit"), order=["id"], cursor=None,
                                                         limit=50),
         f"SELECT {raw_cols} {raw_from} WHERE u.path LIKE %s AND p.name_initials LIKE %s ORDER BY p.id LIMIT 51",
         [township.path + "%", ini + "%"]),
        ("pinyin initials, city", lambda: cursor_page(selectors.persons(city_u, selectors.PersonFilter(q=ini))
                                                     .select_related("unit"), order=["id"], cursor=None, limit=50),
         f"SELECT {raw_cols} {raw_from} WHERE p.name_initials LIKE %s ORDER BY p.id LIMIT 51", [ini + "%"]),
        ("exact ID number, township", lambda: cursor_page(
            selectors.persons(town_u, selectors.PersonFilter(q=number)).select_related("unit"), order=["id"],
            cursor=None, limit=50),
         f"SELECT {raw_cols} {raw_from} WHERE u.path LIKE %s AND p.id_number_bidx = %s ORDER BY p.id LIMIT 51",
         [township.path + "%", id_number_bidx(number)]),
        ("exact phone, city", lambda: cursor_page(selectors.persons(city_u, selectors.PersonFilter(q=phone))
                                                 .select_related("unit"), order=["id"], cursor=None, limit=50),
         f"SELECT {raw_cols} {raw_from} WHERE p.phone_bidx = %s ORDER BY p.id LIMIT 51", [phone_bidx(phone)]),
    ]
    print(f"\nSEARCH / LIST at scale={scale}: {n:,} persons, {requests} requests each (PostgreSQL)")
    print(f"  {'query':<28} {'bihuan p50':>10} {'p95':>8} {'raw SQL p50':>12} {'p95':>8} {'p95 ratio':>10}")
    for label, fn, sql, params in cases:
        fn()
        ours = _timed(fn, requests)

        def raw(sql=sql, params=params):
            with connection.cursor() as cur:
                cur.execute(sql, params)
                cur.fetchall()

        raw()
        base = _timed(raw, requests)
        print(f"  {label:<28} {_p(ours, .5):9.2f}ms {_p(ours, .95):7.2f}ms {_p(base, .5):11.2f}ms "
              f"{_p(base, .95):7.2f}ms {_p(ours, .95) / max(_p(base, .95), 1e-6):9.1f}x")
    print(f"  (mean of all bihuan requests: {statistics.mean(ours):.2f} ms for the last query)")
    if not keep:
        connection.close()
        _admin(f'DROP DATABASE IF EXISTS "bihuan_people_bench_{scale}"')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("import")
    a.add_argument("--rows", type=int, default=100_000)
    a.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="file format imported")
    a.add_argument("--db", default="bihuan_people_bench_import", help="database created (and dropped) for the run")
    a.add_argument("--keep", action="store_true")
    a.add_argument("--template", action="store_true",
                   help="keep the seeded database as <db>_seeded and start from it next time (no seed)")
    b = sub.add_parser("search")
    b.add_argument("--scale", choices=["demo", "county", "city"], default="county")
    b.add_argument("--requests", type=int, default=200)
    b.add_argument("--keep", action="store_true", help="keep the seeded database for the next run")
    b.add_argument("--reuse", action="store_true", help="reuse a database kept by an earlier --keep run")
    args = ap.parse_args()
    if args.what == "import":
        bench_import(args.rows, args.keep, args.format, args.db, args.template)
    else:
        bench_search(args.scale, args.requests, args.keep, args.reuse)


if __name__ == "__main__":
    main()
