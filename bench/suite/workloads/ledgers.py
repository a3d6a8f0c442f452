"""Registers (issue 16): queries over JSON entries vs the same queries by hand, in one run.

A capacity-like register of 20 fields is filled by every village (``ROWS`` entries, written in
SQL as benchmark data: 100k at smoke, 300k at county, 1M at city). Measured, each against
baselines in the same run:

* ``sum_county`` — ``selectors.summary`` (count and sum of a numeric field per county, through
  the scope gate and ``KT()``) vs the same GROUP BY written by hand on the same JSON, and vs a
  hand-made table with ordinary typed columns and indexes (target p95 ≤ 2× and < 200 ms);
* ``list_filtered`` — a page of 25 entries filtered on two fields (a choice and a numeric
  minimum), newest first, vs raw SQL on the JSON and on the typed table;
* ``import`` — ``run_import`` of an XLSX of ``IMPORT_ROWS`` entries through the services (one
  validator, history and audit per row) vs ``COPY`` of the same rows.
"""

from __future__ import annotations

import io
import time

NAME = "ledgers"
ROWS = {"smoke": 100_000, "county": 300_000, "city": 1_000_000}
IMPORT_ROWS = {"smoke": 2_000, "county": 10_000, "city": 100_000}
ROUNDS = {"smoke": 20, "county": 30, "city": 30}
KINDS = ["岗位", "学位", "床位", "托位"]

FIELDS = [
    {"key": "kind", "label": "类别", "type": "choice", "required": True, "listed": True, "choices": KINDS},
    {"key": "provider", "label": "提供单位", "type": "text", "required": True, "listed": True},
    {"key": "capacity", "label": "总量", "type": "number", "required": True, "listed": True, "min": 0},
    {"key": "occupied", "label": "已用", "type": "number", "listed": True, "min": 0},
    {"key": "free", "label": "空余", "type": "number", "listed": True, "min": 0},
    *[{"key": f"f{i:02d}", "label": f"指标{i:02d}", "type": "number" if i % 2 else "text"} for i in range(6, 21)],
]

SUM_SQL = """
SELECT g.id, g.name, g.code, count(*), sum((e.data->>'capacity')::numeric)
FROM ledgers_entry e JOIN orgs_orgunit u ON u.id = e.unit_id JOIN orgs_orgunit t ON t.id = u.parent_id
JOIN orgs_orgunit g ON g.id = t.parent_id
WHERE e.register_id = %(r)s GROUP BY g.id, g.name, g.code ORDER BY g.code"""

SUM_TYPED = """
SELECT g.id, g.name, g.code, count(*), sum(e.capacity)
FROM bench_ledger_typed e JOIN orgs_orgunit u ON u.id = e.unit_id JOIN orgs_orgunit t ON t.id = u.parent_id
JOIN orgs_orgunit g ON g.id = t.parent_id
GROUP BY g.id, g.name, g.code ORDER BY g.code"""

LIST_SQL = """
SELECT e.id, e.data, u.name FROM ledgers_entry e JOIN orgs_orgunit u ON u.id = e.unit_id
WHERE e.register_id = %(r)s AND e.data->>'kind' = %(k)s AND (e.data->>'capacity')::numeric >= %(m)s
ORDER BY e.id DESC LIMIT 25"""

LIST_TYPED = """
SELECT e.id, e.kind, e.capacity, u.name FROM bench_ledger_typed e JOIN orgs_orgunit u ON u.id = e.unit_id
WHERE e.kind = %(k)s AND e.capacity >= %(m)s ORDER BY e.id DESC LIMIT 25"""


def _reset(raw) -> None:
    # The suite's database only (its name contains "bench"): start from no registers.
    with raw.cursor() as cur:
        cur.execute("TRUNCATE ledgers_roundescalation, ledgers_submission, ledgers_round, ledgers_entrychange, "
                    "ledgers_entry, ledgers_registerversion, ledgers_register CASCADE")
        cur.execute("DROP TABLE IF EXISTS bench_ledger_typed")
        cur.execute("DROP TABLE IF EXISTS bench_ledger_copy")
    raw.commit()


def _fill(raw, register, n: int, now) -> int:
    """``n`` entries over every village, in SQL (benchmark data, not through the service)."""
    extra = ", ".join(f"'f{i:02d}', " + (f"(g %% {97 + i})" if i % 2 else f"'值' || (g %% {13 + i})")
                      for i in range(6, 21))
    with raw.cursor() as cur:
        cur.execute("""
            WITH v AS (SELECT id, row_number() OVER (ORDER BY path) - 1 AS k, count(*) OVER () AS n
                       FROM orgs_orgunit WHERE level = 4 AND valid_to IS NULL)
            INSERT INTO ledgers_entry (register_id, unit_id, data, protected, blind, search, register_version, version,
                                       created_at, updated_at)
            SELECT %(r)s, v.id,
                   jsonb_build_object('kind', (ARRAY['岗位','学位','床位','托位'])[1 + g %% 4],
                                      'provider', '提供单位' || (g %% 997), 'capacity', 10 + g %% 390,
                                      'occupied', (10 + g %% 390) / 2, 'free', (10 + g %% 390) - (10 + g %% 390) / 2,
                                      """ + extra + """),
                   '{}'::jsonb, '{}'::jsonb, '提供单位' || (g %% 997), 1, 1, %(now)s, %(now)s
            FROM generate_series(0, %(n)s - 1) AS g JOIN v ON v.k = g %% v.n""", {"r": register.pk, "n": n, "now": now})
        made = cur.rowcount
        cur.execute("""CREATE TABLE bench_ledger_typed AS
                       SELECT id, unit_id, data->>'kind' AS kind, (data->>'capacity')::int AS capacity,
                              (data->>'free')::int AS free FROM ledgers_entry WHERE register_id = %(r)s""",
                    {"r": register.pk})
        cur.execute("ALTER TABLE bench_ledger_typed ADD PRIMARY KEY (id)")
        cur.execute("CREATE INDEX ON bench_ledger_typed (unit_id)")
        cur.execute("CREATE INDEX ON bench_ledger_typed (kind, capacity)")
        cur.execute("ANALYZE ledgers_entry")
        cur.execute("ANALYZE bench_ledger_typed")
    raw.commit()
    return made


def _import(raw, register, n: int, now) -> dict:
    from openpyxl import Workbook

    from bihuan.core import tabular as tb
    from bihuan.ledgers.tabular import kind_for
    from bihuan.orgs.models import Level, OrgUnit

    codes = list(OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True).values_list("code", flat=True)[:500])
    kind = kind_for(register)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(kind.spec.headers[1:])
    for i in range(n):
        ws.append([codes[i % len(codes)], KINDS[i % 4], f"导入单位{i}", 10 + i % 390, 5, 5 + i % 390,
                   *[(i % 97) if k % 2 else f"值{i % 13}" for k in range(6, 21)]])
    buf = io.BytesIO()
    wb.save(buf)
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as fh:
        fh.write(buf.getvalue())
        path = fh.name
    t = time.perf_counter()
    result = tb.run_import(kind, tb.open_source(path), now=now)
    import_s = time.perf_counter() - t
    assert result.applied and result.created == n, result.summary()
    # COPY of the same rows (as stored) into a copy of the table with its indexes
    cols = "register_id, unit_id, data, protected, blind, search, register_version, version, created_at, updated_at"
    data = io.BytesIO()
    with raw.cursor() as cur:
        with cur.copy(f"COPY (SELECT {cols} FROM ledgers_entry WHERE register_id = %s ORDER BY id DESC LIMIT %s) "
                      "TO STDOUT", (register.pk, n)) as cp:
            for chunk in cp:
                data.write(chunk)
        cur.execute("CREATE TABLE bench_ledger_copy (LIKE ledgers_entry INCLUDING ALL)")
    raw.commit()
    body = data.getvalue()
    t = time.perf_counter()
    with raw.cursor() as cur:
        with cur.copy(f"COPY bench_ledger_copy ({cols}) FROM STDIN") as cp:
            for i in range(0, len(body), 1 << 20):
                cp.write(body[i:i + (1 << 20)])
    raw.commit()
    copy_s = time.perf_counter() - t
    with raw.cursor() as cur:
        cur.execute("DROP TABLE bench_ledger_copy")
    raw.commit()
    import os

    os.unlink(path)
    return {"rows": n, "seconds": round(import_s, 2), "copy_seconds": round(copy_s, 3)}


def run(ctx) -> dict:
    from bihuan.accounts.models import User
    from bihuan.ledgers import selectors, services
    from bihuan.orgs.models import OrgUnit

    from ..common import interleaved, ratio, summary

    raw, now = ctx.raw, ctx.now
    n = ROWS.get(ctx.scale, 100_000)
    rounds = ROUNDS.get(ctx.scale, 20)
    _reset(raw)
    city = OrgUnit.objects.get(parent__isnull=True)
    register = services.create_register(None, code="bench_capacity", name="岗位学位床位托位（bench）", level=4,
                                        unit=city, fields=FIELDS, now=now)
    t = time.perf_counter()
    made = _fill(raw, register, n, now)
    ctx.say(f"ledgers: {made:,} entries written in {time.perf_counter() - t:.0f} s")
    city_user = User.objects.get(username="bench_city")

    def orm_sum():
        city_user.forget_bindings()
        return selectors.summary(city_user, register, level=2, field="capacity")

    def raw_rows(sql, params):
        with raw.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        raw.commit()
        return rows

    def orm_list():
        city_user.forget_bindings()
        qs = selectors.entries(city_user, register, filters={"kind": "床位", "capacity__min": "300"})
        return [(e.pk, e.unit.name) for e in qs[:25]]

    s1, s2 = orm_sum(), raw_rows(SUM_SQL, {"r": register.pk})
    assert [(r["unit_id"], r["count"]) for r in s1] == [(r[0], r[3]) for r in s2], (s1[:3], s2[:3])
    assert [e[0] for e in orm_list()] == [r[0] for r in raw_rows(LIST_SQL, {"r": register.pk, "k": "床位", "m": 300})]
    times = interleaved({
        "sum_orm": orm_sum, "sum_sql": lambda: raw_rows(SUM_SQL, {"r": register.pk}),
        "sum_typed": lambda: raw_rows(SUM_TYPED, {}),
        "list_orm": orm_list, "list_sql": lambda: raw_rows(LIST_SQL, {"r": register.pk, "k": "床位", "m": 300}),
        "list_typed": lambda: raw_rows(LIST_TYPED, {"k": "床位", "m": 300})}, rounds)
    s = {k: summary(v) for k, v in times.items()}
    imp = _import(raw, register, IMPORT_ROWS.get(ctx.scale, 2_000), now)
    ctx.say(f"ledgers: import of {imp['rows']:,} rows in {imp['seconds']} s (COPY {imp['copy_seconds']} s)")
    out = {"entries": made, "fields": len(FIELDS)}
    for key in ("sum", "list"):
        out[key] = {"orm": s[f"{key}_orm"], "raw_sql": s[f"{key}_sql"], "typed_table": s[f"{key}_typed"],
                    "ratio_p95": ratio(s[f"{key}_orm"]["p95_ms"], s[f"{key}_sql"]["p95_ms"]),
                    "ratio_p95_typed": ratio(s[f"{key}_orm"]["p95_ms"], s[f"{key}_typed"]["p95_ms"])}
    out["import"] = {**imp, "ratio": ratio(imp["seconds"], imp["copy_seconds"])}
    return out


def rows(r: dict) -> list[tuple]:
    def ok(cond):
        return "ok" if cond else "MISSED"

    out = []
    for key, label in (("sum", "grouped sum per county"), ("list", "filtered page (2 fields)")):
        x = r[key]
        out.append((f"ledgers {label}, {r['entries']:,} entries × {r['fields']} fields p95", f"{x['orm']['p95_ms']} ms",
                    f"JSON SQL {x['raw_sql']['p95_ms']} ms / typed {x['typed_table']['p95_ms']} ms",
                    f"{x['ratio_p95']} / {x['ratio_p95_typed']}", "≤ 2× typed, < 200 ms",
                    ok((x["ratio_p95_typed"] or 99) <= 2 and (x["orm"]["p95_ms"] or 1e9) < 200)))
    i = r["import"]
    out.append((f"ledgers import ({i['rows']:,} rows, services)", f"{i['seconds']} s", f"COPY {i['copy_seconds']} s",
                i["ratio"], "≤ 10×", ok((i["ratio"] or 999) <= 10)))
    return out
