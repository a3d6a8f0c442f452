"""Every change in evaluation (the only code here that writes): one room per concern.

* ``sets`` — indicator sets and their indicators (weights sum to 100);
* ``runs`` — assessment runs (compute, publish, freeze, correct), manual scores, objections;
* ``points`` — household credit points, the points store and redemptions (a ledger; balances
  never negative, also under concurrent redemptions).
"""

from .points import approve_entry, award, create_item, create_rule, expire_points, redeem, restock, reverse
from .points_auto import auto_award, rotate_link  # points2
from .runs import (
    approve_incident,
    approve_score,
    compute_run,
    correct,
    enter_score,
    freeze_due,
    get_run,
    lodge_objection,
    missing_list,
    peer_group_of,
    penalty_for,
    points_for,
    publish,
    record_incident,
    stars_for,
    targets_of,
)
from .selections import create_round, get_round, name_selection, nominate, publicise, review
from .sets import create_set, snapshot, validate_indicators

__all__ = [
    "approve_entry", "approve_incident", "approve_score", "award", "compute_run", "correct", "create_item",
    "auto_award", "rotate_link", "create_round", "create_rule", "expire_points", "get_round", "name_selection", "nominate", "publicise", "review", "create_set", "enter_score", "freeze_due", "get_run", "lodge_objection", "missing_list",
    "peer_group_of", "penalty_for", "points_for", "publish", "record_incident", "redeem", "restock", "reverse",
    "snapshot", "stars_for", "targets_of", "validate_indicators",
]
