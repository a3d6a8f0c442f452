"""CPU accounting of one people import against the indexed COPY (issue 18 §5).

    PYTHONPATH=. .venv/bin/python bench/import_cpu.py N var/bench/people-N.csv [DB]

Needs a run of ``bench/people_bench.py import --rows N --template --db DB`` first (it writes the
CSV and keeps the seeded database as ``DB_seeded``). Copies ``DB_seeded`` to ``DB``, imports the
CSV, then COPYs the imported rows into a table like people_person (its indexes), and prints for
each the wall time and the CPU seconds of the parent, of the worker processes (reaped children)
and of the PostgreSQL backend (``/proc``). On a shared, loaded machine the CPU seconds are the
steadier figure.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = "postgresql://postgres@127.0.0.1:5432"


def backend_cpu(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    rows, csv_path = int(sys.argv[1]), sys.argv[2]
    db = sys.argv[3] if len(sys.argv) > 3 else "bihuan_people_bench_import"
    assert "bench" in db
    with psycopg.connect(PG + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db}"')
        c.execute(f'CREATE DATABASE "{db}" TEMPLATE "{db}_seeded"')
    os.environ.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db}", BIHUAN_VAR_DIR=ROOT + "/var/bench",
                      DJANGO_SETTINGS_MODULE="bihuan.settings")
    sys.path.insert(0, ROOT)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from bihuan.core import tabular as tb

    settings.BIHUAN_MAX_IMPORT_BYTES = 10 * 1024 ** 3
    settings.BIHUAN_MAX_IMPORT_ROWS = rows + 1
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid(), coalesce(max(id), 0) FROM people_person")
        bpid, before = cur.fetchone()
    b0, c0 = backend_cpu(bpid), time.process_time()
    k0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    res = tb.run_import("people", tb.open_source(csv_path))
    wall = time.perf_counter() - t0
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    imp = dict(wall=wall, parent=time.process_time() - c0, server=backend_cpu(bpid) - b0,
               workers=(k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime))
    assert res.applied and res.created == rows, (res.file_error, res.errors[:3])
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_people_like")
        cur.execute("CREATE TABLE bench_people_like (LIKE people_person INCLUDING ALL)")
        enc = ROOT + "/var/bench/encoded.copy"
        with open(enc, "wb") as fh, cur.cursor.copy(
                f"COPY (SELECT * FROM people_person WHERE id > {int(before)}) TO STDOUT") as cp:
            for chunk in cp:
                fh.write(chunk)
        b0, t0 = backend_cpu(bpid), time.perf_counter()
        with open(enc, "rb") as fh, cur.cursor.copy("COPY bench_people_like FROM STDIN") as cp:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        floor = dict(wall=time.perf_counter() - t0, server=backend_cpu(bpid) - b0)
        os.unlink(enc)
    total = imp["parent"] + imp["workers"] + imp["server"]
    print(f"rows={rows:,} load={os.getloadavg()[0]:.1f} cores={os.cpu_count()}")
    print("import        wall {wall:.1f} s  CPU parent {parent:.1f} s, workers {workers:.1f} s, server {server:.1f} s"
          .format(**imp), f"(total {total:.1f} s)")
    print("indexed COPY  wall {wall:.1f} s  CPU server {server:.1f} s".format(**floor))
    print(f"ratios: wall {imp['wall'] / floor['wall']:.2f}x; total CPU / 2 cores vs COPY's server CPU "
          f"{total / 2 / floor['server']:.2f}x; server CPU {imp['server'] / floor['server']:.2f}x")


if __name__ == "__main__":
    main()
