"""The loop's pages, one module per area (``loop/urls.py`` maps them):

* ``matters`` — inbox, report, matter detail with its actions, attachments, reporter phone reveal;
* ``supervision`` — board, backlog, hotspots (未诉先办);
* ``config`` — notification centre, categories, routing rules, the working-day calendar;
* ``public`` — the residents' demand form, tracking page and rating (no account).

Each parses, reads through ``restrict``/``loop.selectors``, writes through ``loop.services`` and
renders; plumbing from ``core.views``; refusals mapped once by ``ServiceErrorMiddleware``.
"""
