"""Bihuan's settings plus an empty view (the request-overhead baseline) and bench-sized import limits."""

import os

from bihuan.settings import *  # noqa: F403

ROOT_URLCONF = "bench.suite.urls"
BIHUAN_MAX_IMPORT_BYTES = int(os.environ.get("BIHUAN_MAX_IMPORT_BYTES", str(4 * 1024 ** 3)))
BIHUAN_MAX_IMPORT_ROWS = int(os.environ.get("BIHUAN_MAX_IMPORT_ROWS", "5000000"))
