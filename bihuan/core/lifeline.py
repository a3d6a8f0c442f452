"""Child processes die with their parent (Linux ``prctl(PR_SET_PDEATHSIG)``).

``bihuan worker`` forks a django-q2 cluster (a sentinel, which forks task processes, a pusher and
a monitor); ``bihuan demo`` starts gunicorn and the worker. If the parent is killed outright
(SIGKILL, OOM) nothing else would stop its children, and a restarted worker would run beside an
orphaned cluster polling the same queue. Elsewhere than Linux these are no-ops.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

_prctl = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up now: safe to call right after a fork
    except (OSError, AttributeError):
        _prctl = None

_forker = 0
_installed = False


def die_with_parent(sig: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent exits. With ``parent`` (the
    pid that started us), exit at once if that parent is already gone (the race before prctl)."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _before_fork() -> None:
    global _forker
    _forker = os.getpid()


def _after_fork_in_child() -> None:
    die_with_parent(signal.SIGKILL, parent=_forker)


def forked_children_die_with_parent() -> None:
    """From now on every process this one forks (and they fork, and so on) gets SIGKILL when
    its parent dies. The setting is not inherited through fork, hence the at-fork hook, which is."""
    global _installed
    if not _installed and _prctl is not None:
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _installed = True


def preexec_die_with_parent(sig: int = signal.SIGTERM):
    """A ``preexec_fn`` for ``subprocess.Popen``: the started program gets ``sig`` when we die."""
    parent = os.getpid()
    return lambda: die_with_parent(sig, parent=parent)
