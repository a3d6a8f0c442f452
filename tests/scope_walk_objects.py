"""Objects of later apps in 兖州区, for the scope walker (tests/test_scope_walk.py).

Each app adds a ``tests/scope_walk_<app>.py`` with ``make(tree, users) -> dict`` mapping URL
parameter names to the id of an object in 兖州区's subtree; this module merges them.
"""

from __future__ import annotations

import importlib

APPS = ("people", "loop", "imports", "plans", "care", "activities", "ledgers", "evaluation", "reports",
        "party_life")


def make_foreign_objects(tree, users) -> dict:
    values: dict = {}
    for app in APPS:
        try:
            mod = importlib.import_module(f"tests.scope_walk_{app}")
        except ImportError:
            continue
        values.update(mod.make(tree, users))
    return values
