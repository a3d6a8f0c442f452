"""``bihuan backup`` / ``bihuan restore`` run as a user would: the real CLI on a seeded database.

The database is the one this run uses (SQLite file, or PostgreSQL when DATABASE_URL points there):
a source database seeded with ``bihuan seed --scale demo`` is backed up, restored into a NEW
database (PostgreSQL: ``bihuan_backup_restore_test_<random>``, created and dropped here; SQLite: a
temporary file), and the restored copy is checked: row counts, ``bihuan audit verify`` and the
personal numbers read back with the data key.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.conf import settings

IS_PG = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
CLI = [sys.executable, "-m", "bihuan.cli"]


def run(env: dict, *args, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert proc.returncode == 0, f"bihuan {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


class Databases:
    """New, empty databases of this run's vendor, removed afterwards."""

    def __init__(self, tmp: Path):
        self.tmp, self.created = tmp, []
        self.suffix = secrets.token_hex(4)
        db = settings.DATABASES["default"]
        self.pg = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432,
                   "user": db.get("USER") or "postgres", "password": db.get("PASSWORD") or None}

    def _admin(self):
        import psycopg

        return psycopg.connect(dbname="postgres", autocommit=True, **self.pg)

    def new(self, label: str) -> str:
        if not IS_PG:
            return f"sqlite:///{self.tmp / f'{label}.sqlite3'}"
        name = f"bihuan_backup_restore_test_{self.suffix}" + ("" if label == "restored" else f"_{label}")
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        auth = self.pg["user"] + (f":{self.pg['password']}" if self.pg["password"] else "")
        return f"postgres://{auth}@{self.pg['host']}:{self.pg['port']}/{name}"

    def drop_all(self):
        if not self.created:
            return
        with self._admin() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def query(self, url: str, sql: str) -> list[tuple]:
        if not IS_PG:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()

    def tables(self, url: str) -> list[str]:
        if not IS_PG:
            sql = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        return sorted(r[0] for r in self.query(url, sql))

    def counts(self, url: str) -> dict[str, int]:
        return {t: self.query(url, f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in self.tables(url)}


@pytest.fixture
def dbs(tmp_path):
    d = Databases(tmp_path)
    yield d
    d.drop_all()


def env_for(var_dir: Path, url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BIHUAN_", "DJANGO_", "PYTEST")) and k != "DATABASE_URL"}
    env.update(BIHUAN_VAR_DIR=str(var_dir), DATABASE_URL=url, BIHUAN_AUDIT_SEAL_ON_COMMIT="0", **extra)
    return env


def members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive) as tar:
        return {m.name: m for m in tar.getmembers()}


def read_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        return tar.extractfile(name).read()


def test_backup_restores_into_a_new_database_with_counts_audit_and_personal_data(dbs, tmp_path):
    var = tmp_path / "var"
    source = dbs.new("src")
    env = env_for(var, source)
    run(env, "migrate", "--noinput", "-v0")
    # The demo seed without its year of matters: the tree, users, residents with encrypted numbers.
    run(env, "seed", "--scale", "demo", "--skip", "loop", "--no-report", "-v0")

    archive = tmp_path / "nightly.tar"
    out = run(env, "backup", "--output", str(archive))
    assert "backup written" in out.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # personal data: owner only
    names = members(archive)
    manifest = json.loads(read_member(archive, "manifest.json"))
    dump_name = "database.pgdump" if IS_PG else "database.sqlite3"
    assert set(names) == {"manifest.json", dump_name}  # no keys unless asked
    assert manifest["vendor"] == ("postgresql" if IS_PG else "sqlite")
    assert manifest["dump"]["sha256"] == hashlib.sha256(read_member(archive, dump_name)).hexdigest()
    source_counts = dbs.counts(source)
    assert set(manifest["row_counts"]) == set(source_counts)
    assert all(manifest["row_counts"][t] == n for t, n in source_counts.items() if t != "core_auditentry")
    assert manifest["row_counts"]["people_person"] > 1000
    # The backup is audited in the live database (after the dump, so one entry more there).
    assert source_counts["core_auditentry"] == manifest["row_counts"]["core_auditentry"] + 1
    assert dbs.query(source, "SELECT COUNT(*) FROM core_auditentry WHERE action = 'core.backup.create'")[0][0] == 1
    # The data key is not in the archive in any form.
    data_key = (var / "data_key").read_text().strip()
    audit_key = (var / "audit_key").read_text().strip()
    raw = archive.read_bytes()
    assert data_key.encode() not in raw and audit_key.encode() not in raw

    target = dbs.new("restored")
    out = run(env, "restore", str(archive), "--database", target)
    assert "counts match the manifest" in out.stdout
    restored = dbs.counts(target)
    assert {t: n for t, n in restored.items() if t != "core_auditentry"} == \
        {t: n for t, n in manifest["row_counts"].items() if t != "core_auditentry"}
    assert restored["core_auditentry"] == manifest["row_counts"]["core_auditentry"] + 1  # + the restore entry
    assert dbs.query(target, "SELECT COUNT(*) FROM core_auditentry WHERE action = 'core.backup.restore'")[0][0] == 1

    verify = run(env_for(var, target), "audit", "verify", "--json")
    report = json.loads(verify.stdout)
    assert report["ok"] and report["broken"] == [] and report["checked"] == restored["core_auditentry"]

    # A restore never goes over a database that holds data.
    again = run(env, "restore", str(archive), "--database", target, ok=False)
    assert again.returncode != 0 and "not empty" in again.stderr
    assert dbs.counts(target) == restored

    # The personal numbers read back with the data key: the unmasked export of both is identical.
    run(env_for(var, source), "export", "people", "--unmasked", "--out", str(tmp_path / "src.csv"))
    run(env_for(var, target), "export", "people", "--unmasked", "--out", str(tmp_path / "dst.csv"))
    src_csv, dst_csv = (tmp_path / "src.csv").read_text("utf-8-sig"), (tmp_path / "dst.csv").read_text("utf-8-sig")
    assert src_csv == dst_csv and src_csv.count("\n") == manifest["row_counts"]["people_person"] + 1


def damage(archive: Path, member: str) -> Path:
    """A copy of ``archive`` with bytes flipped inside ``member`` (not the manifest)."""
    with tarfile.open(archive) as tar:
        info = tar.getmember(member)
    data = bytearray(archive.read_bytes())
    middle = info.offset_data + info.size // 2
    data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    damaged = archive.with_name("damaged-" + archive.name)
    damaged.write_bytes(bytes(data))
    return damaged


def test_restore_refuses_missing_keys_and_damage_and_include_keys_carries_the_keys(dbs, tmp_path):
    var = tmp_path / "var"
    source = dbs.new("src")
    env = env_for(var, source)
    run(env, "migrate", "--noinput", "-v0")
    run(env, "seed", "--scale", "demo", "--skip", "loop", "--skip", "people", "--no-report", "-v0")
    archive = tmp_path / "with-keys.tar"
    out = run(env, "backup", "--output", str(archive), "--include-keys")
    assert "WARNING" in out.stderr and "BIHUAN_DATA_KEY" in out.stderr
    keys = dict(line.split("=", 1) for line in read_member(archive, "keys.env").decode().splitlines()
                if line and not line.startswith("#"))
    assert keys["BIHUAN_DATA_KEY"] == (var / "data_key").read_text().strip()
    assert keys["BIHUAN_AUDIT_KEY"] == (var / "audit_key").read_text().strip()

    # Another installation, other keys: refused before anything is written, saying which keys.
    other = tmp_path / "other-var"
    target = dbs.new("restored")
    refused = run(env_for(other, target), "restore", str(archive), "--database", target, ok=False)
    assert refused.returncode == 1
    assert "data key" in refused.stderr and "BIHUAN_DATA_KEY" in refused.stderr
    assert "audit key" in refused.stderr and "BIHUAN_AUDIT_KEY" in refused.stderr
    assert "keys.env" in refused.stderr
    assert dbs.tables(target) == []

    # With the keys from the archive in the environment, the same installation restores and verifies.
    with_keys = env_for(other, target, BIHUAN_DATA_KEY=keys["BIHUAN_DATA_KEY"],
                        BIHUAN_AUDIT_KEY=keys["BIHUAN_AUDIT_KEY"])
    out = run(with_keys, "restore", str(archive), "--database", target)
    assert "keys: the data and audit keys configured here read this backup" in out.stdout
    report = json.loads(run(with_keys, "audit", "verify", "--json").stdout)
    assert report["ok"] and report["checked"] > 0

    # A damaged dump is refused by its sha256 check, and nothing is written (restore into DATABASE_URL).
    fresh = dbs.new("fresh")
    bad = damage(archive, "database.pgdump" if IS_PG else "database.sqlite3")
    refused = run(with_keys | {"DATABASE_URL": fresh}, "restore", str(bad), ok=False)
    assert refused.returncode == 1 and "damaged" in refused.stderr
    assert dbs.tables(fresh) == []
