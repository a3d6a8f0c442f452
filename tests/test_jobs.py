"""Background jobs: ``bihuan worker`` on django-q2, schedules, sealing after commit, web imports
as jobs with a progress page, and the cleanup of stored uploads."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from bihuan.core import audit, imports, jobs
from bihuan.core import tabular as tb
from bihuan.core.context import acting_as
from bihuan.core.models import AuditEntry, ImportJob
from bihuan.orgs.models import OrgUnit

HEADER = "编码,名称,层级,上级编码,生效日期,失效日期\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "var" / "media"
    return settings.MEDIA_ROOT


def villages_csv(path: Path, n: int, *, foreign: bool = False) -> Path:
    lines = [f"3708110082{i:02d},新村{i},村社区,370811008000,," for i in range(10, 10 + n)]
    if foreign:
        lines.append("370812002004,越界社区,村社区,370812002000,,")
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def upload(client, path: Path):
    with open(path, "rb") as fh:
        return client.post(reverse("web:orgs_import"), {"file": fh})


# --- schedules and the worker ------------------------------------------------------------------------

def test_worker_keeps_one_schedule_per_registered_job(db, monkeypatch):
    now = timezone.now()
    # The platform's own jobs, with their cadence; every app's job (care, activities, ledgers,
    # evaluation, reports…) gets one schedule the same way.
    core = {"audit.seal": 1, "imports.cleanup": 24 * 60, "loop.sweep": 1, "plans.supervise": 15,
            "sessions.clear": 24 * 60, "accounts.login_failures": 24 * 60, "reports.produce": 5}
    assert core.keys() <= jobs.REGISTRY.keys()
    assert dict(jobs.ensure_schedules(now)) == dict.fromkeys(jobs.REGISTRY, "created")
    assert dict(jobs.ensure_schedules(now + timedelta(hours=1))) == dict.fromkeys(jobs.REGISTRY, "unchanged")
    minutes = dict(Schedule.objects.values_list("name", "minutes"))
    assert minutes == {f"bihuan:{name}": job.minutes for name, job in jobs.REGISTRY.items()}
    assert {name: minutes[f"bihuan:{name}"] for name in core} == core
    # A job registered later gets its schedule; one no longer registered loses it; others are left alone.
    Schedule.objects.create(name="by hand", func="math.floor", args="1.5")
    monkeypatch.setitem(jobs.REGISTRY, "test.every20s", jobs.Job("test.every20s", 20, lambda now: None))
    monkeypatch.delitem(jobs.REGISTRY, "imports.cleanup")
    assert dict(jobs.ensure_schedules(now))["test.every20s"] == "created"
    assert Schedule.objects.get(name="bihuan:test.every20s").minutes == 1  # a minute at least
    assert not Schedule.objects.filter(name="bihuan:imports.cleanup").exists()
    assert Schedule.objects.filter(name="by hand").exists()


def test_the_scheduler_runs_due_jobs_with_the_time_of_the_run(db, users, monkeypatch):
    from django_q.scheduler import scheduler

    seen = []
    monkeypatch.setitem(jobs.REGISTRY, "test.clock", jobs.Job("test.clock", 60, seen.append))
    jobs.ensure_schedules(timezone.now() - timedelta(seconds=1))
    pending = list(AuditEntry.objects.filter(seq__isnull=True).values_list("id", flat=True))
    assert pending
    before = timezone.now()
    scheduler()  # what the worker's cluster does about every 30 s (tasks run inline in the tests)
    assert len(seen) == 1 and seen[0] >= before
    # audit.seal ran too (other jobs of the same pass may write entries the next seal takes).
    assert not AuditEntry.objects.filter(id__in=pending, seq__isnull=True).exists()
    # Not due again for a minute.
    scheduler()
    assert len(seen) == 1
    assert Schedule.objects.get(name="bihuan:test.clock").next_run > timezone.now()


def test_worker_once_runs_every_job_and_prints_what_it_did(users, capsys):
    call_command("worker", "--once")
    out = capsys.readouterr().out
    assert "audit.seal: " in out and "loop.sweep" in out and "imports.cleanup: {'files_removed'" in out
    assert not AuditEntry.objects.filter(seq__isnull=True).exists()


# --- sealing right after the commit ---------------------------------------------------------------------

@pytest.fixture
def seal_on_commit(settings, monkeypatch):
    settings.BIHUAN_AUDIT_SEAL_ON_COMMIT = True
    monkeypatch.setattr(audit, "_last_enqueue", float("-inf"))
    monkeypatch.setattr(audit, "_trailing_armed", False)
    clock = {"t": 1000.0, "armed": []}
    monkeypatch.setattr(audit.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(audit, "_arm_trailing", lambda delay: clock["armed"].append(delay))  # fired by hand
    return clock


def test_an_entry_is_sealed_as_soon_as_its_transaction_commits(db, seal_on_commit,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = audit.record("test.one")
    first.refresh_from_db()
    assert first.seq is not None
    # Within the debounce window the same process does not ask at once: it arms one trailing
    # request for the window's end.
    seal_on_commit["t"] += 1
    with django_capture_on_commit_callbacks(execute=True):
        second = audit.record("test.two")
    second.refresh_from_db()
    assert second.seq is None and seal_on_commit["armed"] == [pytest.approx(1.0)]
    with django_capture_on_commit_callbacks(execute=True):
        audit.record("test.two-and-a-half")
    assert len(seal_on_commit["armed"]) == 1  # one trailing request per window
    audit._trailing_seal()  # the timer fires
    second.refresh_from_db()
    assert second.seq is not None and not audit._trailing_armed
    seal_on_commit["t"] += 2
    with django_capture_on_commit_callbacks(execute=True):
        third = audit.record("test.three")
    assert AuditEntry.objects.filter(pk__in=[second.pk, third.pk], seq__isnull=True).count() == 0
    assert audit.verify().ok


@pytest.mark.queued_jobs
def test_sealing_requests_are_debounced_per_process(db, seal_on_commit, django_capture_on_commit_callbacks):
    before = OrmQ.objects.count()
    for _ in range(50):  # a burst of writes, each in its own transaction
        with django_capture_on_commit_callbacks(execute=True):
            audit.record("test.burst")
        seal_on_commit["t"] += 0.01
    assert OrmQ.objects.count() == before + 1  # one task for the worker, not fifty
    assert len(seal_on_commit["armed"]) == 1  # plus one trailing request at the window's end
    seal_on_commit["t"] += 2
    with django_capture_on_commit_callbacks(execute=True):
        audit.record("test.later")
    assert OrmQ.objects.count() == before + 2


@pytest.mark.skipif(connection.vendor != "sqlite", reason="file sessions are the SQLite set-up")
def test_reading_pages_writes_nothing_to_sqlite(users, login):
    """SQLite has one writer, and a long import holds it. A signed-in user's pages and an
    import's progress poll write nothing to the database (sessions are files), so they are not
    queued behind the import."""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    c = login(users.liying_staff)
    for url in ("/people/", "/loop/", "/"):
        with CaptureQueriesContext(conn) as ctx:
            assert c.get(url).status_code == 200
        writes = [q["sql"] for q in ctx.captured_queries
                  if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE", "REPLACE")]
        assert writes == [], (url, writes)


def test_the_trailing_seal_runs_in_its_own_thread(transactional_db, settings, monkeypatch):
    """The real timer: an entry committed inside the window is sealed by a timer thread with its
    own database connection, without waiting for the minute job. The test holds the timer the
    sealer arms and fires it itself (no waiting for the window, no polling while the thread
    writes: SQLite would refuse the concurrent read with "database table is locked")."""
    settings.BIHUAN_AUDIT_SEAL_ON_COMMIT = True
    settings.BIHUAN_AUDIT_SEAL_DEBOUNCE_SECONDS = 30
    monkeypatch.setattr(audit, "_last_enqueue", float("-inf"))
    monkeypatch.setattr(audit, "_trailing_armed", False)
    armed = []
    monkeypatch.setattr(audit, "_arm_trailing", lambda delay: armed.append((delay, audit._trailing_timer(delay))))
    first = audit.record("test.first")  # autocommit: the commit hook runs at once
    second = audit.record("test.second")
    assert AuditEntry.objects.get(pk=first.pk).seq is not None
    assert AuditEntry.objects.get(pk=second.pk).seq is None
    [(delay, timer)] = armed
    assert 29 < delay <= 30 and timer.daemon and timer.function is audit._trailing_seal
    timer.interval = 0  # the window has passed
    timer.start()
    timer.join(timeout=60)
    assert not timer.is_alive()
    assert AuditEntry.objects.get(pk=second.pk).seq is not None and not audit._trailing_armed
    assert audit.verify().ok


@pytest.mark.queued_jobs
@pytest.mark.django_db(transaction=True)
def test_queueing_a_task_never_closes_the_callers_connection():
    """django-q2's broker closes "old" connections when it enqueues in autocommit mode; a seal
    requested from inside a loop over a cursor must not pull the connection from under it."""
    connection.ensure_connection()
    raw = connection.connection
    connection.close_at = time.monotonic() - 1  # past CONN_MAX_AGE: close_old_connections() would close it
    jobs.enqueue(jobs.RUN_JOB, "audit.seal", name="audit.seal")
    assert connection.connection is raw and OrmQ.objects.count() == 1


def test_a_rolled_back_entry_asks_for_nothing(db, seal_on_commit, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                audit.record("test.rolled_back")
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == [] and not AuditEntry.objects.filter(action="test.rolled_back").exists()


# --- web imports as jobs -------------------------------------------------------------------------------

def test_web_import_runs_as_a_job_and_its_page_shows_the_result(users, tree, login, media, tmp_path, settings):
    c = login(users.rencheng_admin)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = upload(c, villages_csv(tmp_path / "v.csv", 3, foreign=True))
    job = ImportJob.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("web:import_job", args=[job.pk])
    assert job.dry_run and job.status == "done" and job.rows_done == 4 and job.user_id == users.rencheng_admin.pk
    html = c.get(r["Location"]).content.decode()
    assert 'data-status="done"' in html and "hx-trigger" not in html  # finished: no more polling
    assert "Preview only: nothing has been written yet." in html and "outside your scope" in html
    report = c.get(reverse("web:import_job_report", args=[job.pk]))
    ws = openpyxl.load_workbook(io.BytesIO(report.content)).worksheets[0]
    assert "outside your scope" in ws["G5"].value
    last = AuditEntry.objects.order_by("-id").first().pk
    r = c.post(reverse("web:orgs_import_apply"), {"file": job.token, "valid_only": "1"})
    html = c.get(r["Location"]).content.decode()
    assert "The valid rows were imported" in html
    assert OrgUnit.objects.filter(code__in=["370811008210", "370811008211", "370811008212"]).count() == 3
    # One audit entry for the import, in the name of who pressed the button.
    [entry] = AuditEntry.objects.filter(pk__gt=last)
    assert entry.action == "orgs.unit.import" and entry.actor_name == "rencheng_admin"
    assert entry.extra["result"] == "partial" and entry.extra["created"] == 3


def test_only_the_owner_sees_a_job(users, tree, login, media, tmp_path):
    c = login(users.rencheng_admin)
    upload(c, villages_csv(tmp_path / "v.csv", 1, foreign=True))
    job = ImportJob.objects.get()
    urls = [reverse(name, args=[job.pk]) for name in ("web:import_job", "web:import_job_status",
                                                      "web:import_job_report")]
    assert [c.get(u).status_code for u in urls] == [200, 200, 200]
    # The city administrator may import the tree too, but this is not their job.
    other = login(users.city_admin)
    assert [other.get(u).status_code for u in urls] == [404, 404, 404]
    assert other.get(reverse("web:import_job", args=[job.pk + 1])).status_code == 404
    # Nor may they apply the file behind it.
    assert other.post(reverse("web:orgs_import_apply"), {"file": job.token}).status_code == 404


def test_the_owner_applies_a_checked_file_from_a_new_session(users, tree, login, media, tmp_path):
    """Upload and check today, sign in again (another browser, a new session), open the job page
    and press apply: the job says whose file it is, not the session."""
    upload(login(users.rencheng_admin), villages_csv(tmp_path / "v.csv", 2))
    job = ImportJob.objects.get()
    c = login(users.rencheng_admin)  # a fresh client: a new session
    r = c.post(reverse("web:orgs_import_apply"), {"file": job.token})
    assert r.status_code == 302
    applied = ImportJob.objects.exclude(pk=job.pk).get()
    assert not applied.dry_run and applied.status == "done" and applied.result["applied"]


@pytest.mark.queued_jobs
def test_without_a_worker_the_page_says_the_job_is_waiting(users, tree, login, media, tmp_path, settings):
    c = login(users.rencheng_admin)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = upload(c, villages_csv(tmp_path / "v.csv", 2))
    job = ImportJob.objects.get()
    assert job.status == "queued" and job.rows_total == 2
    assert OrmQ.objects.count() == 1  # the task waits in the database for `bihuan worker`
    html = c.get(r["Location"]).content.decode()
    assert 'data-testid="import-queued"' in html and "background worker picks it up" in html
    status_url = reverse("web:import_job_status", args=[job.pk])
    assert f'hx-get="{status_url}"' in html and 'hx-trigger="every 1s"' in html
    assert 'data-testid="import-no-worker"' not in html
    # Still queued a while later: the page says why.
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    assert 'data-testid="import-no-worker"' in c.get(status_url).content.decode()
    # Running: the bar shows how far it is.
    ImportJob.objects.filter(pk=job.pk).update(status="running", rows_total=2500)
    imports.jobs_dir().mkdir(parents=True, exist_ok=True)
    imports._ProgressFile(job.pk)(1000)
    html = c.get(status_url).content.decode()
    assert "1,000 of about 2,500 rows" in html and 'aria-valuenow="40"' in html and "hx-trigger" in html
    # Running far longer than a task may: the worker died on it, and the page says so.
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=2))
    assert 'data-testid="import-stalled"' in c.get(status_url).content.decode()
    # The worker takes it (as `bihuan worker` would): the poll now answers with the result and stops.
    ImportJob.objects.filter(pk=job.pk).update(status="queued")
    assert imports.run(job.pk)["result"] == "preview"
    html = c.get(status_url).content.decode()
    assert 'data-status="done"' in html and "hx-trigger" not in html and 'data-testid="import-counts"' in html
    assert imports.run(job.pk) == {"job": job.pk, "skipped": "not queued"}  # delivered twice: runs once


@pytest.mark.queued_jobs
def test_a_job_whose_file_is_gone_fails_with_a_message(users, tree, login, media, tmp_path, settings):
    c = login(users.rencheng_admin)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = upload(c, villages_csv(tmp_path / "v.csv", 2))
    job = ImportJob.objects.get()
    (imports.imports_dir() / job.token).unlink()
    imports.run(job.pk)
    html = c.get(r["Location"]).content.decode()
    assert 'data-testid="import-failed"' in html and "no longer stored" in html
    assert not OrgUnit.objects.filter(code="370811008210").exists()


def test_rows_are_estimated_for_the_progress_bar(tmp_path):
    small = villages_csv(tmp_path / "s.csv", 5)
    assert imports.estimate_rows(small, "csv") == 5
    big = villages_csv(tmp_path / "b.csv", 40)
    big.write_text(HEADER + "".join(f"370811008{i:03d},新村{i},村社区,370811008000,,\n" for i in range(20000)),
                   encoding="utf-8")
    assert 19000 < imports.estimate_rows(big, "csv") < 21000
    path = tmp_path / "b.xlsx"
    tb.write_xlsx(path, ["a", "b"], ([i, f"row {i}"] for i in range(30000)))
    assert 28000 < imports.estimate_rows(path, "xlsx") < 32000
    wb = openpyxl.Workbook()  # a workbook as Excel saves it, with its dimension
    for i in range(12):
        wb.active.append([i])
    wb.save(tmp_path / "d.xlsx")
    assert imports.estimate_rows(tmp_path / "d.xlsx", "xlsx") == 11
    (tmp_path / "bad.xlsx").write_text("not a zip")
    assert imports.estimate_rows(tmp_path / "bad.xlsx", "xlsx") is None


# --- cleanup of stored uploads --------------------------------------------------------------------------

def test_daily_cleanup_removes_old_uploads_and_keeps_recent_and_pending_ones(users, tree, media, settings):
    settings.BIHUAN_IMPORT_KEEP_DAYS = 30
    now = timezone.now()
    d = imports.imports_dir()
    d.mkdir(parents=True)
    imports.jobs_dir().mkdir()

    def stored(name, age_days):
        p = d / name
        p.write_text("x")
        t = (now - timedelta(days=age_days)).timestamp()
        os.utime(p, (t, t))
        return p

    old, old_meta = stored("a" * 64 + ".xlsx", 31), stored("a" * 64 + ".xlsx.json", 31)
    fresh = stored("b" * 64 + ".csv", 29)
    pending = stored("c" * 64 + ".csv", 40)  # its job is still waiting for the worker
    report = stored("jobs/7-errors.xlsx", 31)
    leftover = stored(".upload-1-2.part", 31)
    ImportJob.objects.create(kind="orgs", token=pending.name, filename="p.csv", mode="atomic", user_id=users.city_admin.pk,
                             created_at=now - timedelta(days=40))
    done = ImportJob.objects.create(kind="orgs", token=old.name, filename="o.xlsx", mode="atomic",
                                    user_id=users.city_admin.pk, status="done", created_at=now - timedelta(days=31))
    with acting_as(None):
        assert jobs.run_job("imports.cleanup", now) == {"files_removed": 4, "jobs_removed": 1}
    assert not any(p.exists() for p in (old, old_meta, report, leftover))
    assert fresh.exists() and pending.exists()
    assert not ImportJob.objects.filter(pk=done.pk).exists()
    # Run again: nothing more to do; with a shorter limit the fresh file goes too.
    assert jobs.run_job("imports.cleanup", now)["files_removed"] == 0
    settings.BIHUAN_IMPORT_KEEP_DAYS = 7
    assert jobs.run_job("imports.cleanup", now)["files_removed"] == 1 and not fresh.exists()


# --- the real worker process ------------------------------------------------------------------------------

def worker_env(tmp_path, settings) -> tuple[dict, Path | None]:
    """The environment for a `bihuan` subprocess on the test database. An in-memory SQLite test
    database is copied to a file first (returned as the second value, to copy work back)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(BIHUAN_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1", BIHUAN_QUEUE_LOG_LEVEL="INFO",
               # The same keys: django-q2 signs its tasks with the secret key.
               BIHUAN_SECRET_KEY=settings.SECRET_KEY, BIHUAN_DATA_KEY=settings.BIHUAN_DATA_KEY,
               BIHUAN_AUDIT_KEY=settings.BIHUAN_AUDIT_KEY)
    s = connection.settings_dict
    copy = None
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    elif connection.is_in_memory_db():
        copy = tmp_path / "worker.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(copy) as dst:
            connection.connection.backup(dst)
        env["DATABASE_URL"] = f"sqlite:///{copy}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{s['NAME']}"
    return env, copy


@pytest.mark.queued_jobs
@pytest.mark.django_db(transaction=True)
def test_bihuan_worker_runs_a_queued_import_and_stops_on_sigterm(tree, users, client, media, tmp_path,
                                                                 settings):
    """Start `bihuan worker` on the test database, let it run a web import, stop it with SIGTERM."""
    client.force_login(users.rencheng_admin)
    upload(client, villages_csv(tmp_path / "v.csv", 3))
    job = ImportJob.objects.get()
    assert job.status == "queued"
    r = client.post(reverse("web:orgs_import_apply"), {"file": job.token})
    apply_job = ImportJob.objects.get(pk=int(r["Location"].rstrip("/").split("/")[-1]))

    env, copy = worker_env(tmp_path, settings)

    def statuses():
        if copy:
            with sqlite3.connect(copy, timeout=10) as db:
                return dict(db.execute("SELECT id, status FROM core_importjob").fetchall())
        return dict(ImportJob.objects.values_list("id", "status"))

    proc = subprocess.Popen([sys.executable, "-m", "bihuan.cli", "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if set(statuses().values()) == {"done"}:
                break
            time.sleep(0.5)
        assert set(statuses().values()) == {"done"}, statuses()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "worker: schedule audit.seal every 1 min" in out and "worker: stopped" in out
    if copy:
        with sqlite3.connect(copy) as src:
            src.backup(connection.connection)
    apply_job.refresh_from_db()
    assert apply_job.result["result"] == "applied" and apply_job.result["created"] == 3
    assert OrgUnit.objects.filter(code__in=["370811008210", "370811008211", "370811008212"]).count() == 3
    assert AuditEntry.objects.get(action="orgs.unit.import").actor_name == "rencheng_admin"
    # The page the user was looking at now shows the result.
    html = client.get(reverse("web:import_job", args=[apply_job.pk])).content.decode()
    assert 'data-status="done"' in html


# --- stopping: the worker and the demo stop on SIGTERM/SIGINT, to the process or its group -------------

def _proc_stat(pid: int) -> list[str] | None:
    """Fields after the command name of /proc/PID/stat (state, ppid, pgrp, ...); None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")  # a zombie has exited, it only awaits its reaper


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _proc_stat(int(name))):
            children.setdefault(int(stat[1]), []).append(int(name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _group(pgid: int) -> set[int]:
    return {int(n) for n in os.listdir("/proc") if n.isdigit() and (st := _proc_stat(int(n)))
            and int(st[2]) == pgid and st[0] not in ("Z", "X")}


def _start(argv, env, log: Path, ready, expect_procs: int):
    """Start a `bihuan` process in its own session (so its group is ours to signal) and wait,
    with a deadline, until it is ready and has its processes. Returns (proc, all their pids)."""
    fh = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "bihuan.cli", *argv], env=env, stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)
    fh.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        pids = _descendants(proc.pid)
        if ready(log.read_text()) and len(pids) >= expect_procs:
            return proc, {proc.pid, *pids}
        time.sleep(0.2)  # waiting for another process to start, not synchronising threads
    proc.kill()
    raise AssertionError(f"did not start: {log.read_text()[-3000:]}")


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("target, sig", [("process", signal.SIGTERM), ("process", signal.SIGINT),
                                         ("group", signal.SIGTERM), ("group", signal.SIGINT),
                                         ("process", signal.SIGKILL)])
def test_bihuan_worker_stops_within_10_s_and_leaves_no_process(tmp_path, settings, target, sig):
    env, _ = worker_env(tmp_path, settings)
    env["BIHUAN_WORKER_PROCESSES"] = "2"
    # the main process, the sentinel, two task processes, the pusher and the monitor
    proc, pids = _start(["worker"], env, tmp_path / "worker.log", lambda out: "task processes" in out, expect_procs=5)
    try:
        t0 = time.monotonic()
        (os.kill if target == "process" else os.killpg)(proc.pid, sig)
        proc.wait(timeout=10)
        left = _gone_within(pids, 10 - (time.monotonic() - t0))
        assert left == set(), (left, (tmp_path / "worker.log").read_text()[-3000:])
        assert _group(proc.pid) == set()
        if sig != signal.SIGKILL:
            out = (tmp_path / "worker.log").read_text()
            assert proc.returncode == 0 and "worker: stopped" in out, out[-3000:]
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("target, sig", [("process", signal.SIGTERM), ("group", signal.SIGINT),
                                         ("process", signal.SIGKILL)])
def test_bihuan_demo_stops_web_and_worker_within_10_s(tmp_path, settings, target, sig):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env, _ = worker_env(tmp_path, settings)
    env["BIHUAN_WORKER_PROCESSES"] = "1"
    # demo, gunicorn and its worker, the worker with its sentinel, task process, pusher and monitor
    proc, pids = _start(["demo", "--port", str(port), "--workers", "1"], env, tmp_path / "demo.log",
                        lambda out: "Stop with Ctrl-C." in out, expect_procs=6)
    try:
        t0 = time.monotonic()
        (os.kill if target == "process" else os.killpg)(proc.pid, sig)
        proc.wait(timeout=10)
        left = _gone_within(pids, 10 - (time.monotonic() - t0))
        assert left == set(), (left, (tmp_path / "demo.log").read_text()[-3000:])
        assert _group(proc.pid) == set()
        with socket.socket() as s:  # nobody answers on the port any more
            assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
