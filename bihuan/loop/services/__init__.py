"""The loop's services: the only code that changes matters. One package, one room per concern:

* ``base`` — loading through the scope, version and transition checks, ``_commit`` (the one
  versioned write + event + audit path every transition uses);
* ``matters`` — registering and every transition, one function each, and ``perform`` (the same by
  action name, a dispatch table);
* ``attachments`` — accepted files and their storage;
* ``routing`` — the township above a place, routing rules, the peers of a similar-case sweep;
* ``progress`` — the lead unit's interim progress notes (办理进展), no state change;
* ``reveal`` — a reporter's full phone (permission, reason, audit); free text as a user may see it;
* ``recalc`` — deadlines counted again once a year's calendar is entered.

What may be done to a matter is decided in ``loop.transitions.check``; time limits are computed
in ``loop.deadlines``. Callers use ``from bihuan.loop import services; services.perform(...)``.
"""

from .attachments import ALLOWED_ATTACHMENTS, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, Upload, validate_uploads
from .base import MAX_COMMENT, MAX_DESCRIPTION, MAX_TITLE, get_matter
from .matters import (
    PERFORM,
    accept,
    available_actions,
    create_matter,
    create_proactive,
    decide_extension,
    dispatch,
    evaluate,
    flag,
    merge,
    perform,
    rate,
    rate_by_resident,
    remind,
    reopen,
    report_done,
    request_extension,
    send_back,
    similar_sweep,
)
from .progress import add_progress
from .recalc import recalculate_deadlines, recalculate_deadlines_task
from .reveal import can_reveal, reveal_phone, text_for
from .routing import suggest_handling_unit, township_of

__all__ = [
    "ALLOWED_ATTACHMENTS", "MAX_ATTACHMENTS", "MAX_ATTACHMENT_BYTES", "MAX_COMMENT", "MAX_DESCRIPTION", "MAX_TITLE",
    "PERFORM", "Upload", "accept", "add_progress", "available_actions", "can_reveal", "create_matter", "create_proactive",
    "decide_extension", "dispatch", "evaluate", "flag", "get_matter", "merge", "perform", "rate", "rate_by_resident",
    "recalculate_deadlines", "recalculate_deadlines_task", "remind", "reopen", "report_done", "request_extension",
    "reveal_phone", "send_back", "similar_sweep", "suggest_handling_unit", "text_for", "township_of", "validate_uploads",
]
