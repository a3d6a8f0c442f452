"""The peer: django-helpdesk (PyPI), set up at run time in its own virtualenv and project.

Nothing of the peer is kept in the repository. This script:

1. creates ``bench/.peer-venv`` (git-ignored) and installs ``django-helpdesk``, ``gunicorn`` and
   ``psycopg`` from the package registry (once; later runs reuse it);
2. writes a minimal Django project into ``bench/.peer-project`` (git-ignored): settings that
   turn on helpdesk's REST API with DRF token authentication, PostgreSQL on the same server
   as Bihuan (its own database, ``helpdesk_bench_peer``), a dummy e-mail backend (helpdesk
   mails on every change; Bihuan's in-app notifications are database rows, so neither side
   talks to a mail server);
3. migrates, and creates one staff user, one queue and an API token.

It is driven over HTTP by ``bench.suite`` with the same gunicorn settings as Bihuan.

    .venv/bin/python -m bench.peer setup      # prints the JSON the suite uses
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".peer-venv"
PROJECT = ROOT / "bench" / ".peer-project"
PEER_PACKAGES = ["django-helpdesk==2.6.1", "gunicorn", "psycopg[binary]"]
PEER_DB = "helpdesk_bench_peer"

SETTINGS = '''
import os
BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "bench-peer-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.sites", "django.contrib.humanize", "django.contrib.staticfiles",
    "rest_framework", "rest_framework.authtoken", "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peerproject.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.debug", "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth", "django.contrib.messages.context_processors.messages"]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": os.environ.get("PEER_DB", "%(db)s"),
    "HOST": os.environ.get("PEER_PGHOST", "127.0.0.1"), "PORT": os.environ.get("PEER_PGPORT", "5432"),
    "USER": os.environ.get("PEER_PGUSER", "postgres"), "CONN_MAX_AGE": 60,
}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
SITE_ID = 1
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")
MEDIA_ROOT = os.path.join(BASE_DIR, "media")
LOGIN_URL = "helpdesk:login"
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
}
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "root": {"handlers": [], "level": "WARNING"}}
'''

URLS = '''
from django.contrib import admin
from django.urls import include, path
urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
'''

WSGI = '''
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproject.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
'''

PREPARE = '''
import json, django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue
User = get_user_model()
u, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True, "is_superuser": True,
                                                              "email": "bench@example.org"})
u.is_staff = u.is_superuser = True
u.set_password("bench-peer-password")
u.save()
q, _ = Queue.objects.get_or_create(slug="bench", defaults={"title": "Bench queue", "allow_public_submission": False})
tok, _ = Token.objects.get_or_create(user=u)
s = SessionStore()
s["_auth_user_id"] = str(u.pk)
s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
s["_auth_user_hash"] = u.get_session_auth_hash()
s.create()
print(json.dumps({"user_id": u.pk, "queue_id": q.pk, "token": tok.key, "session": s.session_key}))
'''


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(log=print) -> None:
    if python().exists() and subprocess.run([str(python()), "-c", "import helpdesk, gunicorn, psycopg"],
                                            capture_output=True).returncode == 0:
        return
    log("peer: creating bench/.peer-venv and installing django-helpdesk from PyPI (once) …")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)


def write_project(db: str = PEER_DB) -> None:
    pkg = PROJECT / "peerproject"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "settings.py").write_text(SETTINGS % {"db": db})
    (pkg / "urls.py").write_text(URLS)
    (pkg / "wsgi.py").write_text(WSGI)


def peer_env(pg: dict, db: str = PEER_DB) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "BIHUAN_"))}
    env.update(DJANGO_SETTINGS_MODULE="peerproject.settings", PYTHONPATH=str(PROJECT), PEER_DB=db,
               PEER_PGHOST=pg["host"], PEER_PGPORT=str(pg["port"]), PEER_PGUSER=pg["user"])
    return env


def version() -> str:
    out = subprocess.run([str(python()), "-c", "import importlib.metadata as m; print(m.version('django-helpdesk'),"
                          " m.version('django'), m.version('djangorestframework'))"],
                         capture_output=True, text=True, check=True)
    hd, dj, drf = out.stdout.split()
    return f"django-helpdesk {hd} (Django {dj}, DRF {drf})"


def setup(pg: dict, *, fresh: bool = True, log=print) -> dict:
    """Venv, project, a fresh database of our own, migrations, user, queue, token, session."""
    import psycopg

    ensure_venv(log)
    write_project()
    admin = psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname="postgres", autocommit=True)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PEER_DB]).fetchone()
        if exists and fresh:
            admin.execute(f'DROP DATABASE "{PEER_DB}"')  # ours: created by this script
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{PEER_DB}"')
    env = peer_env(pg)
    subprocess.run([str(python()), "-m", "django", "migrate", "-v0"], env=env, check=True, cwd=PROJECT)
    out = subprocess.run([str(python()), "-c", PREPARE], env=env, check=True, cwd=PROJECT, capture_output=True,
                         text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    info["version"] = version()
    return info


def gunicorn_argv(host: str, port: int, workers: int) -> list[str]:
    """Exactly Bihuan's ``bihuan serve`` flags (bihuan/core/management/commands/serve.py), minus the access log."""
    return [str(python()), "-m", "gunicorn", "peerproject.wsgi:application", "--bind", f"{host}:{port}",
            "--workers", str(workers), "--threads", "2", "--timeout", "120"]


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        print(json.dumps(setup({"host": "127.0.0.1", "port": 5432, "user": "postgres"}), indent=2))
    else:
        sys.exit(__doc__)
