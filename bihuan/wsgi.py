"""The WSGI application, loaded once in gunicorn's master (``--preload``, ``bihuan serve``).

Everything a worker needs at start-up (settings, apps, models, the URLconf with every view and API
schema) is imported here, before the fork, so the workers share those pages with the master instead
of each holding its own copy. ``gc.freeze()`` then moves those objects out of the collector's
generations: a collection never walks (and so never writes to, un-sharing the page) the start-up
heap, and the occasional full collection under load stops costing ~100 ms. See docs/performance.md
("Memory per web worker").
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bihuan.settings")
application = get_wsgi_application()


def _warm() -> None:
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module and builds the API
    connections.close_all()  # a connection opened before the fork must not be shared by the workers
    gc.collect()
    gc.freeze()


_warm()
